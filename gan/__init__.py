"""Text-to-image GAN (GAN-INT-CLS, Reed et al. 2016) and the captioned image datasets that feed it.

Public names are imported lazily, so ``import gan`` (and ``gan.data``) does not start TensorFlow until a model
or a ``tf.data`` pipeline is built.
"""

import importlib

_EXPORTS = {
    "TextToImageGAN": "gan.model",
    "DATASETS": "gan.data",
    "load_examples": "gan.data",
    "make_dataset": "gan.data",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gan' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
