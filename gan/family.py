"""The ``gan`` family, registered with kzoo through the ``kzoo.families`` entry point (setup.cfg): ``kzoo train
t2i``, ``kzoo generate``, ``kzoo evaluate t2i`` and the ``t2i`` preset kind."""

from zoo.families import Family, PresetKind

FAMILY = Family(
    name="gan",
    packages=("gan",),
    commands=("gan.commands:register",),
    kinds={
        "t2i": PresetKind("gan.model", "TextToImageGAN", "text-to-image model", "kzoo train t2i",
                          evaluate="gan.metrics:evaluate_preset",
                          key_metrics=("attribute_accuracy", "diversity_ratio")),
    },
)
