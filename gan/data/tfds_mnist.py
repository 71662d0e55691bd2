"""Captioned MNIST and Fashion-MNIST as a TensorFlow Datasets builder, prepared from the official IDX files::

    import tensorflow_datasets as tfds
    import gan.data.tfds_mnist  # registers "captioned_mnist"

    builder = tfds.builder("captioned_mnist/mnist")           # or "captioned_mnist/fashion_mnist"
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir="path/to/mnist"))
    train = builder.as_dataset(split="train")

``manual_dir`` holds the four files ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (``../shared/data/mnist`` in kzoo's checkout).
Each example holds its ``id`` (the row of the IDX file), the 28×28 grey ``image``, the class ``label``, the
``caption`` :func:`gan.data.mnist.load_mnist_like` gives it ("a handwritten digit seven", seed 0) and every
caption of its class (``captions``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from gan.data.captions import CLASS_NAMES, class_caption_lists, pick_captions
from zoo.data.idx import SPLIT_FILES, load_idx_dataset


@dataclasses.dataclass
class CaptionedMnistConfig(tfds.core.BuilderConfig):
    """Which of the two sets (``dataset``: ``mnist`` or ``fashion_mnist``) and the caption seed."""

    dataset: str = "mnist"
    seed: int = 0


class CaptionedMnist(tfds.core.GeneratorBasedBuilder):
    """MNIST or Fashion-MNIST images with captions from their class names."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: the captions of kzoo's text-to-image and DS-SJE demos."}
    BUILDER_CONFIGS = [
        CaptionedMnistConfig(name="mnist", description="handwritten digits", dataset="mnist"),
        CaptionedMnistConfig(name="fashion_mnist", description="Zalando's clothing images", dataset="fashion_mnist"),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put the four IDX files of the set (" + ", ".join(SPLIT_FILES["train"] + SPLIT_FILES["test"])
        + ") in the manual_dir of tfds.download.DownloadConfig.")

    def _info(self) -> tfds.core.DatasetInfo:
        names = CLASS_NAMES[self.builder_config.dataset]
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "id": tfds.features.Scalar(dtype=np.int64, doc="row of the IDX file"),
                "image": tfds.features.Image(shape=(28, 28, 1)),
                "label": tfds.features.ClassLabel(names=list(names)),
                "caption": tfds.features.Text(),
                "captions": tfds.features.Sequence(tfds.features.Text()),
            }),
            supervised_keys=("image", "caption"),
            homepage="http://yann.lecun.com/exdb/mnist/",
        )

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(dl_manager.manual_dir, split) for split in ("train", "test")}

    def _generate_examples(self, manual_dir, split: str):
        config = self.builder_config
        images, labels = load_idx_dataset(manual_dir, split)
        labels = labels.astype(np.int64)
        groups = class_caption_lists(config.dataset, seed=config.seed)
        captions = pick_captions(groups, labels, config.seed)
        for index in range(len(images)):
            yield index, {"id": index, "image": images[index][..., None], "label": int(labels[index]),
                          "caption": captions[index], "captions": groups[int(labels[index])]}
