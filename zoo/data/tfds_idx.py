"""MNIST and Fashion-MNIST as a TensorFlow Datasets builder prepared from the official IDX files in a folder::

    import tensorflow_datasets as tfds
    from zoo.data.tfds_idx import IdxMnist  # registers "idx_mnist"

    builder = tfds.builder("idx_mnist/mnist")                 # or "idx_mnist/fashion_mnist"
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir="path/to/mnist"))
    train = builder.as_dataset(split="train", as_supervised=True)

The examples are those of TFDS's own ``mnist`` (``image`` uint8 28×28×1, ``label`` 0-9), so a pipeline written for
``tfds.load("mnist")`` reads this one unchanged; the difference is where the files come from: ``manual_dir`` holds
``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
``t10k-labels-idx1-ubyte.gz`` (``../shared/data/mnist`` in kzoo's checkout), read by :mod:`zoo.data.idx`.

:func:`load_prepared` is how kzoo's training reads a folder of IDX files: prepared once into the cache (keyed by
the files' sha256, so other files get their own copy), then read from the prepared shards.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from zoo.cache import cache_dir, exclusive
from zoo.data.idx import SPLIT_FILES, TFDS_NAMES, check_idx_files, load_idx_dataset
from zoo.data.tfds_prepare import download_and_prepare
from zoo.hashing import sha256_file, sha256_text


@dataclasses.dataclass
class IdxMnistConfig(tfds.core.BuilderConfig):
    """Which set the folder holds: ``mnist`` or ``fashion_mnist`` (their classes are 0-9 either way)."""


class IdxMnist(tfds.core.GeneratorBasedBuilder):
    """MNIST or Fashion-MNIST, with TFDS ``mnist``'s features, from the IDX files in ``manual_dir``."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = [
        IdxMnistConfig(name="mnist", description="handwritten digits (LeCun et al.)"),
        IdxMnistConfig(name="fashion_mnist", description="Zalando's clothing images (Xiao et al. 2017)"),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put the four IDX files of the set (" + ", ".join(SPLIT_FILES["train"] + SPLIT_FILES["test"])
        + ") in the manual_dir of tfds.download.DownloadConfig.")

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                # Raw bytes rather than PNG: the same uint8 [28, 28, 1] tensors, read several times faster.
                "image": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
                "label": tfds.features.ClassLabel(num_classes=10),
            }),
            supervised_keys=("image", "label"),
            disable_shuffling=True,  # the IDX files' order, so that a seeded subset picks the same rows
            homepage="http://yann.lecun.com/exdb/mnist/",
        )

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(dl_manager.manual_dir, split) for split in present_splits(
            dl_manager.manual_dir)}

    def _generate_examples(self, manual_dir, split: str):
        images, labels = load_idx_dataset(manual_dir, split)
        for index in range(len(images)):
            yield index, {"image": images[index][..., None], "label": int(labels[index])}


def present_splits(data_dir: str | os.PathLike) -> list[str]:
    """The splits whose image and label files are both in ``data_dir`` (a folder may hold only ``test``)."""
    return [split for split, files in SPLIT_FILES.items()
            if all((Path(data_dir).expanduser() / file).is_file() for file in files)]


def _files_key(data_dir: str | os.PathLike, split: str) -> str:
    check_idx_files(data_dir, split)
    files = [Path(data_dir).expanduser() / file for split in present_splits(data_dir) for file in SPLIT_FILES[split]]
    return sha256_text("\n".join(f"{path.name} {sha256_file(path)}" for path in files), length=16)


def prepared_builder(name: str, data_dir: str | os.PathLike, split: str = "train") -> IdxMnist:
    """The ``idx_mnist/<name>`` builder of the IDX files in ``data_dir``, prepared under kzoo's cache.

    The cache folder is keyed by the sha256 of the files, so it is prepared once per set of files; a changed file
    gets a fresh preparation. Every split whose two files are present is prepared; ``split``'s must be (else
    FileNotFoundError naming the missing file).
    """
    if name not in TFDS_NAMES:
        raise ValueError(f"name must be one of {', '.join(TFDS_NAMES)}, got {name!r}")
    return _prepared_builder(name, data_dir, _files_key(data_dir, split))


def _prepared_builder(name: str, data_dir: str | os.PathLike, key: str) -> IdxMnist:
    folder = cache_dir("tfds", key)
    with exclusive(folder / name):  # one process prepares, others running at the same time wait for it
        builder = IdxMnist(config=name, data_dir=str(folder))
        if not builder.is_prepared():
            for split in present_splits(data_dir):  # bad files fail here, with the IDX reader's message
                load_idx_dataset(data_dir, split)
        download_and_prepare(builder, data_dir)
    return builder


def load_prepared(name: str, data_dir: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``split`` of the IDX files in ``data_dir`` through their prepared TFDS shards, as (images uint8
    [n, 28, 28], labels uint8 [n]) in the files' order.

    Reading the shards takes seconds, so the arrays of the last few (files, split) are kept in memory and
    returned as fresh copies.
    """
    if name not in TFDS_NAMES:
        raise ValueError(f"name must be one of {', '.join(TFDS_NAMES)}, got {name!r}")
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be one of {', '.join(SPLIT_FILES)}, got {split!r}")
    images, labels = _read_prepared(name, str(Path(data_dir).expanduser()), _files_key(data_dir, split), split)
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=4)
def _read_prepared(name: str, data_dir: str, key: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    builder = _prepared_builder(name, data_dir, key)
    dataset = builder.as_dataset(split=split, batch_size=-1, as_supervised=True, shuffle_files=False)
    images, labels = tfds.as_numpy(dataset)
    return images[..., 0].astype(np.uint8), labels.astype(np.uint8)
