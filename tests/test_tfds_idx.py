"""MNIST read through its TFDS builder when its IDX files are given (zoo.data.tfds_idx), checked against the IDX
reader on small files made here."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.test_idx import write_idx, write_split
from zoo.data import idx, mnist

tfds = pytest.importorskip("tensorflow_datasets")


def make_manual_dir(path, counts=(("train", 30), ("test", 10)), seed=0):
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, count in counts:
        write_split(path, split, rng.integers(0, 256, (count, 28, 28)).astype(np.uint8),
                    rng.integers(0, 10, count).astype(np.uint8))
    return path


def test_tfds_load_by_name_gives_mnists_examples_in_file_order(tmp_path):
    from zoo.data.tfds_idx import IdxMnist  # noqa: F401  (registers "idx_mnist")

    manual = make_manual_dir(tmp_path / "manual")
    builder = tfds.builder("idx_mnist/fashion_mnist", data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    for split in ("train", "test"):
        images, labels = idx.load_idx_dataset(manual, split)
        read = list(tfds.as_numpy(builder.as_dataset(split=split, as_supervised=True)))
        assert len(read) == len(images)
        for index, (image, label) in enumerate(read):
            assert image.shape == (28, 28, 1) and image.dtype == np.uint8
            np.testing.assert_array_equal(image[..., 0], images[index])
            assert label == labels[index]


def test_load_mnist_like_reads_through_the_prepared_shards(tmp_path, monkeypatch):
    monkeypatch.setenv("KZOO_CACHE", str(tmp_path / "cache"))
    manual = make_manual_dir(tmp_path / "manual", counts=(("test", 12),))  # a folder may hold one split only
    images, labels = mnist.load_mnist_like("mnist", data_dir=manual, split="test")
    expected_images, expected_labels = idx.load_idx_dataset(manual, "test")
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    assert images.dtype == np.uint8 and labels.dtype == np.uint8
    prepared = list((tmp_path / "cache" / "tfds").glob("*/idx_mnist/mnist/1.0.0/dataset_info.json"))
    assert len(prepared) == 1
    images[:] = 0  # a copy: the next read is unchanged
    np.testing.assert_array_equal(mnist.load_mnist_like("mnist", data_dir=manual, split="test")[0], expected_images)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        mnist.load_mnist_like("mnist", data_dir=manual, split="train")


def test_changed_files_are_prepared_again(tmp_path, monkeypatch):
    monkeypatch.setenv("KZOO_CACHE", str(tmp_path / "cache"))
    manual = make_manual_dir(tmp_path / "manual", counts=(("test", 5),), seed=1)
    first, _ = mnist.load_mnist_like("mnist", data_dir=manual, split="test")
    changed = np.full((5, 28, 28), 7, np.uint8)
    write_idx(manual / idx.SPLIT_FILES["test"][0], changed)
    second, _ = mnist.load_mnist_like("mnist", data_dir=manual, split="test")
    np.testing.assert_array_equal(second, changed)
    assert not np.array_equal(first, second)
    assert len(list((tmp_path / "cache" / "tfds").iterdir())) == 2


def test_corrupt_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("KZOO_CACHE", str(tmp_path / "cache"))
    manual = make_manual_dir(tmp_path / "manual", counts=(("test", 4),))
    write_idx(manual / idx.SPLIT_FILES["test"][1], np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="4 images, 5 labels"):
        mnist.load_mnist_like("mnist", data_dir=manual, split="test")


PREPARE = """
import sys
import numpy as np
from zoo.data import mnist
images, labels = mnist.load_mnist_like("mnist", data_dir=sys.argv[1], split="train")
print("RESULT", int(images.sum()), len(labels))
"""


def test_two_processes_preparing_the_same_files_at_once_both_read_them(tmp_path):
    """pytest-xdist workers, or the workers of a multi-worker run on one machine, ask for the same preparation at
    the same time: one prepares (zoo.cache.exclusive), the other waits, and both read the same examples."""
    manual = make_manual_dir(tmp_path / "manual", counts=(("train", 300),))
    environment = {**os.environ, "KZOO_CACHE": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    processes = [subprocess.Popen([sys.executable, "-c", PREPARE, str(manual)], env=environment, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    images, labels = idx.load_idx_dataset(manual, "train")
    assert [line for out, _ in outputs for line in out.splitlines() if line.startswith("RESULT")] == \
        [f"RESULT {int(images.sum())} {len(labels)}"] * 2
    assert len(list((tmp_path / "cache" / "tfds").glob("*/idx_mnist/mnist/1.0.0/dataset_info.json"))) == 1
