"""Text-to-image GAN (GAN-INT-CLS, Reed et al. 2016) and the captioned image datasets that feed it.

Public names are imported lazily, so ``import gan`` (and ``gan.data``) does not start TensorFlow until a model
or a ``tf.data`` pipeline is built.
"""

from zoo.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "TextToImageGAN": "gan.model",
    "DATASETS": "gan.data",
    "load_examples": "gan.data",
    "make_dataset": "gan.data",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
