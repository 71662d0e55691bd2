"""Image datasets for the autoencoders: MNIST / Fashion-MNIST (IDX files or TFDS) and scikit-learn's 8×8 digits."""

from __future__ import annotations

import os

import numpy as np

DATASETS = ("mnist", "fashion_mnist", "digits")
DIGITS_TRAIN = 1437  # the first 80% of scikit-learn's 1,797 digits; the rest is the test split


def load_images(dataset: str = "mnist", data_dir: str | os.PathLike | None = None, split: str = "train",
                limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 [n, height, width] in [0, 1] and integer labels [n].

    ``mnist`` / ``fashion_mnist``: the IDX files in ``data_dir`` when given, else the shared copy
    (``../shared/data/<name>``, see :mod:`zoo.data.paths`) when present, else TFDS (needs a network).
    ``digits``: scikit-learn's bundled 8×8 digits (always offline), pixel values 0…16 divided by 16.
    ``limit`` keeps the first ``limit`` examples. Images that are not all finite (NaN or Inf: a corrupt source)
    raise a ValueError naming the dataset and the count, before any training starts (see :func:`check_finite`).
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if dataset == "digits":
        from zoo.extras import require

        digits = require("sklearn.datasets", "the digits dataset").load_digits()
        images, labels = digits.images / 16.0, digits.target
        part = slice(None, DIGITS_TRAIN) if split == "train" else slice(DIGITS_TRAIN, None)
        images, labels = images[part], labels[part]
    else:
        from zoo.data import mnist, paths

        if data_dir is None:
            data_dir = paths.default_data_dir(dataset)
        images, labels = mnist.load_mnist_like(dataset, data_dir=data_dir, split=split)
        images = images / 255.0
    images, labels = images[:limit], labels[:limit]
    source = f"{dataset} {split} images" + (f" from {data_dir}" if data_dir is not None else "")
    return check_finite(images.astype(np.float32), source), labels.astype(np.int64)


def check_finite(images: np.ndarray, what: str = "images") -> np.ndarray:
    """``images`` unchanged; a ValueError naming ``what`` and the count when any value is NaN or Inf."""
    bad = int(images.size - np.count_nonzero(np.isfinite(images)))
    if bad:
        raise ValueError(f"{what}: {bad} pixel values are NaN or Inf; the data source is corrupt (download the "
                         f"files again, or replace the bad values before training)")
    return images
