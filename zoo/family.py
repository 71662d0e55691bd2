"""The ``zoo`` family: the base's own commands (gradients, text models, ``kzoo models``), its preset kinds and the
layers any saved model may contain; registered through the ``kzoo.families`` entry point (setup.cfg)."""

from zoo.families import Family, PresetKind

FAMILY = Family(
    name="zoo",
    packages=("zoo",),
    commands=("zoo.gradients_commands:register", "zoo.text.commands:register", "zoo.presets_commands:register"),
    serializables=("zoo.layers", "zoo.cells"),
    kinds={
        "charlm": PresetKind("zoo.text.language_model", "CharLanguageModel", "character language model",
                             "kzoo train charlm", evaluate="zoo.text.language_model:evaluate_preset",
                             key_metrics=("val_nats_per_char", "val_bits_per_char")),
        "seq2seq": PresetKind("zoo.text.seq2seq", "CharSeq2Seq", "character encoder-decoder", "kzoo train seq2seq",
                              evaluate="zoo.text.seq2seq:evaluate_preset", key_metrics=("exact_match",)),
    },
)
