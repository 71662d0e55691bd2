"""MNIST and Fashion-MNIST as arrays: from a folder of IDX files through their TFDS builder, or from TensorFlow
Datasets' own copy."""

from __future__ import annotations

import os

import numpy as np

from zoo.data.idx import SPLIT_FILES, TFDS_NAMES

#: Where TensorFlow Datasets downloads MNIST and Fashion-MNIST from.
DOWNLOAD_HOST = "storage.googleapis.com"


def can_reach(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``host`` opens within ``timeout`` seconds (a download would otherwise retry for
    minutes before failing)."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def load_mnist_like(name: str, data_dir: str | os.PathLike | None = None,
                    split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST or Fashion-MNIST ``split`` as (images uint8 [n, 28, 28], labels uint8 [n]).

    With ``data_dir`` the IDX files in that folder are read through their TensorFlow Datasets builder
    (:func:`zoo.data.tfds_idx.load_prepared`: prepared once into kzoo's cache, then read from its shards); without
    it TensorFlow Datasets' own ``tfds.load(name, split=split)`` is used, which downloads on first use.
    """
    if name not in TFDS_NAMES:
        raise ValueError(f"name must be one of {', '.join(TFDS_NAMES)}, got {name!r}")
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be one of {', '.join(SPLIT_FILES)}, got {split!r}")
    if data_dir is not None:
        from zoo.data.tfds_idx import load_prepared

        return load_prepared(name, data_dir, split)
    import tensorflow_datasets as tfds

    if not tfds.builder(name).is_prepared() and not can_reach(DOWNLOAD_HOST):
        from zoo.data.paths import ENV_VAR
        from zoo.validation import NAME_ONLY, MissingPathError

        raise MissingPathError(
            "{data_dir} is needed: " + name + " is not on disk (no shared data folder with " + name + "/, set "
            + ENV_VAR + " to one) and TensorFlow Datasets cannot download it (" + DOWNLOAD_HOST + " cannot be "
            "reached); pass the folder with its four IDX files", data_dir=NAME_ONLY)
    from zoo.data.tfds_prepare import tfds_messages_to_stderr

    with tfds_messages_to_stderr():  # a first use downloads and prepares
        dataset = tfds.load(name, split=split, as_supervised=True, batch_size=-1)
    images, labels = tfds.as_numpy(dataset)
    return images[..., 0].astype(np.uint8), labels.astype(np.uint8)
