"""Captioned MNIST as a TFDS builder, prepared from IDX files in a manual_dir (made here, small)."""

import numpy as np
import pytest

from tests.test_idx import write_split

tfds = pytest.importorskip("tensorflow_datasets")


def test_prepared_from_manual_dir_with_the_loaders_captions(tmp_path):
    from gan.data.mnist import load_mnist_like
    from gan.data.tfds_mnist import CaptionedMnist

    manual = tmp_path / "manual"
    manual.mkdir()
    rng = np.random.default_rng(0)
    for split, count in (("train", 30), ("test", 10)):
        write_split(manual, split, rng.integers(0, 256, (count, 28, 28)).astype(np.uint8),
                    rng.integers(0, 10, count).astype(np.uint8))
    builder = CaptionedMnist(config="fashion_mnist", data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    for split, count in (("train", 30), ("test", 10)):
        expected = load_mnist_like("fashion_mnist", split, data_dir=manual)
        read = list(tfds.as_numpy(builder.as_dataset(split=split)))
        assert sorted(int(e["id"]) for e in read) == list(range(count))
        for example in read:
            index = int(example["id"])
            np.testing.assert_array_equal(example["image"][..., 0], expected.images[index])
            assert example["label"] == expected.labels["class"][index]
            assert example["caption"].decode() == expected.captions[index]
            assert [c.decode() for c in example["captions"]] == expected.caption_groups[example["label"]]


def test_missing_files_in_manual_dir_name_them(tmp_path):
    from gan.data.tfds_mnist import CaptionedMnist

    builder = CaptionedMnist(config="mnist", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path)))
