"""kzoo autoencoders: tied-weight and denoising autoencoders and the Bernoulli RBM.

Public names are imported lazily, so ``import autoencoders`` (and ``kzoo --help``) does not start
TensorFlow until a model is used.
"""

import importlib

_EXPORTS = {
    "DenseTied": "autoencoders.tied",
    "TiedAutoencoder": "autoencoders.tied",
    "untied_param_count": "autoencoders.tied",
    "DenoisingAutoencoder": "autoencoders.denoising",
    "CORRUPTIONS": "autoencoders.denoising",
    "corrupt": "autoencoders.denoising",
    "dense_denoising_autoencoder": "autoencoders.denoising",
    "conv_denoising_autoencoder": "autoencoders.denoising",
    "BernoulliRBM": "autoencoders.rbm",
    "exact_log_partition": "autoencoders.partition",
    "ais_log_partition": "autoencoders.partition",
    "load_images": "autoencoders.data",
    "train_rbm": "autoencoders.training",
    "train_autoencoder": "autoencoders.training",
    "overcomplete_copy_experiment": "autoencoders.experiments",
    "conv_denoising_anchor": "autoencoders.experiments",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autoencoders' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
