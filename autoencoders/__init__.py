"""kzoo autoencoders: tied-weight and denoising autoencoders and the Bernoulli RBM.

Public names are imported lazily, so ``import autoencoders`` (and ``kzoo --help``) does not start
TensorFlow until a model is used.
"""

from zoo.lazy import lazy_exports as _lazy_exports

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

__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
