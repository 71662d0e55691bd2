"""Tests of the IDX reader (``zoo.data.idx``) on files written here and on the shared MNIST copies."""

import gzip
import struct

import numpy as np
import pytest

from zoo.data import idx, mnist


def write_idx(path, array, code=0x08, compress=None):
    """Write ``array`` as an IDX file (the oracle: the format written out by hand with struct)."""
    array = np.asarray(array)
    dtype = idx.IDX_DTYPES[code]
    payload = struct.pack(">BBBB", 0, 0, code, array.ndim)
    payload += struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.astype(dtype).tobytes()
    compress = str(path).endswith(".gz") if compress is None else compress
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def write_split(directory, split, images, labels):
    names = idx.SPLIT_FILES[split]
    write_idx(directory / names[0], images)
    write_idx(directory / names[1], labels)


def write_subset(source, folder, train, test):
    """The first ``train`` and ``test`` real images and labels of the IDX files in ``source`` written into
    ``folder``: for tests that need real digits but not all 70,000 (preparing and reading the whole set as TFDS
    shards takes 15-20 s; the code path is the same)."""
    folder.mkdir()
    for split, count in (("train", train), ("test", test)):
        images, labels = (idx.read_idx(source / name)[:count] for name in idx.SPLIT_FILES[split])
        write_split(folder, split, images, labels)
    return folder


@pytest.mark.parametrize("code", sorted(idx.IDX_DTYPES))
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_every_dtype(tmp_path, code, compress):
    rng = np.random.default_rng(code)
    array = (rng.normal(size=(3, 4, 5)) * 50).astype(idx.IDX_DTYPES[code].newbyteorder("="))
    if idx.IDX_DTYPES[code].kind == "u":
        array = rng.integers(0, 256, size=(3, 4, 5)).astype(np.uint8)
    path = write_idx(tmp_path / ("a.idx.gz" if compress else "a.idx"), array, code, compress)
    read = idx.read_idx(path)
    assert read.shape == (3, 4, 5)
    assert read.dtype == idx.IDX_DTYPES[code].newbyteorder("=")
    np.testing.assert_array_equal(read, array)


def test_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    path = write_idx(tmp_path / "plain-name", array, compress=True)
    np.testing.assert_array_equal(idx.read_idx(path), array)


@pytest.mark.parametrize("header, match", [
    (b"\x01\x00\x08\x01", "bad magic"),
    (b"\x00\x00\x07\x01", "bad magic"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00", "too short"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated inside its header"),
])
def test_bad_header_names_the_file(tmp_path, header, match):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(header)
    with pytest.raises(ValueError, match=match) as error:
        idx.read_idx(path)
    assert str(path) in str(error.value)


def test_truncated_and_overlong_data(tmp_path):
    path = write_idx(tmp_path / "images.gz", np.zeros((4, 28, 28), np.uint8))
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-5]))
    with pytest.raises(ValueError, match="truncated") as error:
        idx.read_idx(path)
    assert str(path) in str(error.value)
    path.write_bytes(gzip.compress(raw + b"\x00"))
    with pytest.raises(ValueError, match="longer than its header"):
        idx.read_idx(path)


def test_truncated_gzip_stream_names_the_file(tmp_path):
    path = write_idx(tmp_path / "images.gz", np.ones((50, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(ValueError, match="gzip") as error:
        idx.read_idx(path)
    assert str(path) in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.gz"):
        idx.read_idx(tmp_path / "nothing.gz")


def test_load_idx_dataset(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, size=7).astype(np.uint8)
    write_split(tmp_path, "test", images, labels)
    read_images, read_labels = idx.load_idx_dataset(tmp_path, split="test")
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    assert read_images.dtype == np.uint8 and read_labels.dtype == np.uint8
    read_images, _ = mnist.load_mnist_like("fashion_mnist", data_dir=tmp_path, split="test")
    np.testing.assert_array_equal(read_images, images)


def test_load_idx_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz") as error:
        idx.load_idx_dataset(tmp_path, "train")
    assert "download" in str(error.value)
    with pytest.raises(ValueError, match="split"):
        idx.load_idx_dataset(tmp_path, "validation")
    with pytest.raises(FileNotFoundError, match="not-here"):
        idx.load_idx_dataset(tmp_path / "not-here")
    write_split(tmp_path, "train", np.zeros((3, 28, 28), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="3 images, 4 labels"):
        idx.load_idx_dataset(tmp_path, "train")
    write_idx(tmp_path / idx.SPLIT_FILES["train"][1], np.zeros((3, 2), np.uint8))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz"):
        idx.load_idx_dataset(tmp_path, "train")


def test_load_mnist_like_validates_name(tmp_path):
    with pytest.raises(ValueError, match="name must be one of mnist, fashion_mnist"):
        mnist.load_mnist_like("cifar10", data_dir=tmp_path)


@pytest.mark.parametrize("name, first_label", [("mnist", 7), ("fashion_mnist", 9)])
def test_shared_test_split(shared_data_dir, name, first_label):
    images, labels = idx.load_idx_dataset(shared_data_dir / name, split="test")
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)
    assert labels[0] == first_label
    assert np.bincount(labels, minlength=10).min() >= 800
    assert images.max() == 255 and images.min() == 0


def test_deprecated_load_mnist_like_still_reads_the_files(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_split(tmp_path, "test", images, np.array([3, 4], np.uint8))
    with pytest.warns(DeprecationWarning, match="zoo.data.mnist.load_mnist_like"):
        read_images, read_labels = idx.load_mnist_like("mnist", data_dir=tmp_path, split="test")
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, [3, 4])
