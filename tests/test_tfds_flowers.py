"""Captioned Oxford-102 as a TFDS builder (gan.data.tfds_flowers): prepared from a small folder in the official
layout made here, then read back by the loader that training uses."""

import json

import numpy as np
import pytest

from tests.test_gan_data import TINY_LABELS, tiny_flowers  # noqa: F401  (tiny_flowers: a pytest fixture)

tfds = pytest.importorskip("tensorflow_datasets")


def test_prepared_flowers_hold_reeds_split_colours_and_both_caption_sets(tiny_flowers, tmp_path):  # noqa: F811
    from gan.data.flower_captions import HELDOUT_TEMPLATES, TRAINING_TEMPLATES
    from gan.data.tfds_flowers import prepared_builder

    builder = prepared_builder(tiny_flowers, 32, cache_dir=tmp_path / "cache")
    assert builder.info.full_name.startswith("captioned_flowers102/32/")
    train = list(tfds.as_numpy(builder.as_dataset(split="train")))
    test = list(tfds.as_numpy(builder.as_dataset(split="test")))
    # label 41 is a Reed training class, 1 and 2 test classes; images 3 and 6 do not decode
    assert [int(e["id"]) for e in train] == [2, 5, 8, 9, 11, 12]
    assert [int(e["id"]) for e in test] == [1, 4, 7, 10]
    for example in train + test:
        label = TINY_LABELS[int(example["id"]) - 1]
        assert example["label"] == label - 1 and example["image"].shape == (32, 32, 3)
        petal = builder.info.features["petal_colour"].int2str(example["petal_colour"])
        assert petal == {1: "red", 2: "green", 41: "blue"}[label]
        assert len(example["captions"]) == len(TRAINING_TEMPLATES)
        assert len(example["heldout_captions"]) == len(HELDOUT_TEMPLATES)
        assert not set(example["captions"]) & set(example["heldout_captions"])
        assert all(petal.encode() in caption for caption in example["heldout_captions"])


def test_the_prepared_shards_give_what_load_flowers102_gives(tiny_flowers, tmp_path):  # noqa: F811
    """gan.data.tfds_flowers.load_prepared (what training reads, through load_examples) against the loader that
    decodes and measures in the process."""
    from gan.data import flowers, load_examples
    from gan.data.tfds_flowers import load_prepared

    prepared = load_prepared(tiny_flowers, "train", 32, cache_dir=tmp_path / "cache")
    assert (tmp_path / "cache" / "tfds").is_dir()
    direct = flowers.load_flowers102(tiny_flowers, "train", 32, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(prepared.ids, direct.ids)
    for key in ("class", "petal", "centre"):
        np.testing.assert_array_equal(prepared.labels[key], direct.labels[key])
    assert prepared.caption_groups == direct.caption_groups and prepared.captions == direct.captions
    # the images went through PNG, losslessly
    np.testing.assert_array_equal(prepared.images, direct.images)
    subset = load_prepared(tiny_flowers, "train", 32, cache_dir=tmp_path / "cache", limit=3, seed=4)
    assert len(subset) == 3 and set(subset.ids) <= set(prepared.ids)
    assert list(subset.ids) == list(flowers.subset_ids(prepared.ids, 3, 4))
    json.dumps(subset.captions)  # plain str, not bytes
    through_the_pipeline = load_examples("flowers102", "train", 32, data_dir=tiny_flowers, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(through_the_pipeline.ids, prepared.ids)
    assert through_the_pipeline.caption_groups == prepared.caption_groups


def test_preparing_keeps_stdout_clean_and_a_copy_of_the_same_files_reuses_the_shards(tiny_flowers, tmp_path,  # noqa: F811
                                                                                   capsys):
    """TFDS prints "Downloading and preparing dataset ..." to stdout, where `kzoo evaluate` writes its JSON: the
    preparation sends it to stderr. The cache is keyed by the files' contents, so copying the folder (new file
    times) does not prepare it again, and a changed file does."""
    import os
    import shutil

    from scipy.io import loadmat, savemat

    from gan.data.tfds_flowers import prepared_builder

    cache = tmp_path / "cache"
    first = prepared_builder(tiny_flowers, 32, cache_dir=cache)
    out, err = capsys.readouterr()
    assert out == "" and "Downloading and preparing dataset" in err
    copy = shutil.copytree(tiny_flowers, tmp_path / "copy", copy_function=shutil.copy)  # fresh file times
    os.utime(copy / "setid.mat", ns=(1, 1))
    assert prepared_builder(copy, 32, cache_dir=cache).data_dir == first.data_dir
    out, err = capsys.readouterr()
    assert out == "" and "Downloading and preparing" not in err
    savemat(copy / "setid.mat", {**{k: v for k, v in loadmat(copy / "setid.mat").items() if not k.startswith("__")},
                                 "note": "same split, other bytes"})
    assert prepared_builder(copy, 32, cache_dir=cache).data_dir != first.data_dir
