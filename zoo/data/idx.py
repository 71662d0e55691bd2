"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al., http://yann.lecun.com/exdb/mnist/).

An IDX file is a big-endian header followed by the raw array::

    bytes 0-1   0x00 0x00
    byte  2     dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4·d bytes   the size of each dimension, big-endian uint32
    the data    prod(sizes) items of that dtype, big-endian, row-major

Files may be gzip-compressed (``.gz``, detected by the gzip magic bytes, not the name).
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np

IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

TFDS_NAMES = ("mnist", "fashion_mnist")

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as error:
        raise ValueError(f"IDX file {path} is a corrupt or truncated gzip stream ({error}); "
                         f"download the file again") from error


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzip) into a native-endian array of the shape its header gives.

    Raises ``FileNotFoundError`` when ``path`` is missing and ``ValueError`` naming the file when the
    header is invalid (bad magic, unknown dtype code, zero dimensions) or the data is truncated / too long.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} not found")
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"IDX file {path} is too short ({len(data)} bytes) to hold the 4-byte magic number")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise ValueError(f"IDX file {path} has a bad magic number {data[:4].hex()} "
                         f"(expected 0000 followed by a dtype code in "
                         f"{', '.join(f'{code:02x}' for code in IDX_DTYPES)} and the number of dimensions)")
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    if ndim == 0:
        raise ValueError(f"IDX file {path} declares 0 dimensions; expected at least 1")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"IDX file {path} is truncated inside its header: {len(data)} bytes, "
                         f"the {ndim} dimension sizes need {header}")
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    # Python ints: np.prod would wrap around at 2**63; NumPy refuses shapes this large even with a size-0 axis
    if math.prod(size for size in shape if size) * dtype.itemsize > np.iinfo(np.intp).max:
        raise ValueError(f"IDX file {path} declares shape {shape}, too large for any array; its header is corrupt, "
                         f"download the file again")
    expected = math.prod(shape) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        state = "truncated" if actual < expected else "longer than its header says"
        raise ValueError(f"IDX file {path} is {state}: header shape {shape} of {dtype.name} needs "
                         f"{expected} data bytes, found {actual}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def check_idx_files(directory: str | os.PathLike, split: str = "train") -> list[Path]:
    """The paths of ``split``'s image and label files in ``directory``; FileNotFoundError naming a missing one
    and where to get it."""
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be one of {', '.join(SPLIT_FILES)}, got {split!r}")
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"IDX data directory {directory} not found; pass the folder that holds "
                                f"{', '.join(SPLIT_FILES['train'] + SPLIT_FILES['test'])}")
    paths = [directory / name for name in SPLIT_FILES[split]]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                f"IDX file {path} not found; download {path.name} from http://yann.lecun.com/exdb/mnist/ "
                f"(MNIST) or https://github.com/zalandoresearch/fashion-mnist (Fashion-MNIST) into {directory}, "
                f"or use the shared copies in ../shared/data/<name>")
    return paths


def load_idx_dataset(directory: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images ``uint8 [n, 28, 28]`` and labels ``uint8 [n]`` of ``split`` from the four standard MNIST files.

    ``directory`` holds ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (MNIST or Fashion-MNIST).
    """
    paths = check_idx_files(directory, split)
    images, labels = (read_idx(path) for path in paths)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"IDX file {paths[0]} should hold uint8 images [n, rows, cols], "
                         f"got {images.dtype.name} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(f"IDX file {paths[1]} should hold uint8 labels [n], got {labels.dtype.name} {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"IDX files {paths[0]} and {paths[1]} disagree: {len(images)} images, {len(labels)} labels")
    return images, labels


def load_mnist_like(name: str, data_dir: str | os.PathLike | None = None,
                    split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Deprecated: :func:`zoo.data.mnist.load_mnist_like` (which reads a folder through its TFDS builder).

    Kept working as before: the IDX files of ``data_dir`` read directly, or TensorFlow Datasets' own copy.
    """
    import warnings

    warnings.warn("zoo.data.idx.load_mnist_like is deprecated and will be removed; use "
                  "zoo.data.mnist.load_mnist_like", DeprecationWarning, stacklevel=2)
    if name not in TFDS_NAMES:
        raise ValueError(f"name must be one of {', '.join(TFDS_NAMES)}, got {name!r}")
    if data_dir is not None:
        return load_idx_dataset(data_dir, split)
    import tensorflow_datasets as tfds

    images, labels = tfds.as_numpy(tfds.load(name, split=split, as_supervised=True, batch_size=-1))
    return images[..., 0].astype(np.uint8), labels.astype(np.uint8)
