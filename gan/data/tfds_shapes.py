"""The captioned shapes as a TensorFlow Datasets builder, so that any ``tf.data`` pipeline can read them::

    import numpy as np
import tensorflow_datasets as tfds
    import gan.data.tfds_shapes  # registers "captioned_shapes"

    train = tfds.load("captioned_shapes/32", split="train")   # or "captioned_shapes/64"

Each example holds its ``id`` (the index in the generated split), the ``image`` (uint8 S×S×3), the ``caption`` it
is trained with, every caption of its group (``captions``: the other phrasings of the same attributes), and the
four attributes as class labels. The data are
generated (:func:`gan.data.shapes.shapes_examples`, seed 0), so ``download_and_prepare`` needs no download; the
``test`` split holds the held-out shape-colour pairs (:data:`gan.data.shapes.HELDOUT_COMBINATIONS`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from gan.data.shapes import ATTRIBUTES, DEFAULT_SIZES, shapes_examples


@dataclasses.dataclass
class CaptionedShapesConfig(tfds.core.BuilderConfig):
    """One image size and the number of examples of each split."""

    image_size: int = 32
    train_examples: int = DEFAULT_SIZES["train"]
    test_examples: int = DEFAULT_SIZES["test"]
    seed: int = 0


class CaptionedShapes(tfds.core.GeneratorBasedBuilder):
    """Coloured shapes at one of four positions, each with a caption that names its shape, colour, size and
    position; held-out shape-colour pairs in the test split."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: the shapes of kzoo's text-to-image quickstart."}
    BUILDER_CONFIGS = [
        CaptionedShapesConfig(name="32", description="32x32 images (kzoo train t2i's default)", image_size=32),
        CaptionedShapesConfig(name="64", description="64x64 images (Reed et al.'s size)", image_size=64),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        size = self.builder_config.image_size
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "id": tfds.features.Scalar(dtype=np.int64, doc="index in the generated split"),
                "image": tfds.features.Image(shape=(size, size, 3)),
                "caption": tfds.features.Text(),
                "captions": tfds.features.Sequence(tfds.features.Text()),
                **{name: tfds.features.ClassLabel(names=list(values)) for name, values in ATTRIBUTES.items()},
            }),
            supervised_keys=("image", "caption"),
            homepage="https://github.com/kzoo",
        )

    def _split_generators(self, dl_manager):
        config = self.builder_config
        return {"train": self._generate_examples("train", config.train_examples),
                "test": self._generate_examples("test", config.test_examples)}

    def _generate_examples(self, split: str, count: int):
        config = self.builder_config
        examples = shapes_examples(count, split, config.image_size, config.seed)
        for index in range(len(examples)):
            yield index, {
                "id": index,
                "image": examples.images[index],
                "caption": examples.captions[index],
                "captions": examples.caption_groups[int(examples.caption_group[index])],
                **{name: int(examples.labels[name][index]) for name in ATTRIBUTES},
            }
