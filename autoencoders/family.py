"""The ``autoencoders`` family, registered with kzoo through the ``kzoo.families`` entry point (setup.cfg):
``kzoo train rbm|autoencoder``, its experiments and benchmarks, and the ``rbm``, ``dae`` and ``autoencoder``
preset kinds."""

from zoo.families import Family, PresetKind

FAMILY = Family(
    name="autoencoders",
    packages=("autoencoders",),
    commands=("autoencoders.commands:register",),
    kinds={
        "rbm": PresetKind("autoencoders.rbm", "BernoulliRBM", "Bernoulli RBM", "kzoo train rbm",
                          evaluate="autoencoders.evaluation:evaluate_rbm_preset",
                          key_metrics=("test_log_likelihood", "test_pseudo_log_likelihood")),
        "dae": PresetKind("autoencoders.denoising", "DenoisingAutoencoder", "denoising autoencoder",
                          "kzoo train autoencoder --kind denoising",
                          evaluate="autoencoders.evaluation:evaluate_autoencoder_preset",
                          key_metrics=("val_bce", "val_bce_clean")),
        "autoencoder": PresetKind("autoencoders.tied", "TiedAutoencoder", "tied-weight autoencoder",
                                  "kzoo train autoencoder --kind tied",
                                  evaluate="autoencoders.evaluation:evaluate_autoencoder_preset",
                                  key_metrics=("val_bce",)),
    },
)
