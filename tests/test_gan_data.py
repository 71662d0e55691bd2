"""Tests of the captioned datasets of ``gan.data``: generated shapes, MNIST-like, Oxford-102 flowers (on a tiny
archive written here and on the shared copy), safe archive extraction and the ``tf.data`` pipelines."""

import io
import json
import re
import sys
import tarfile
import warnings

import numpy as np
import pytest
from PIL import Image

import gan.data as gd
from gan.data import captions as gcaptions
from gan.data import flowers, shapes
from gan.data.loaders import linear_resize_matrix, to_rgb

SYNONYMS = shapes.SYNONYMS


def foreground(image):
    """Boolean mask of the pixels that differ from the background."""
    return np.any(image != np.asarray(shapes.BACKGROUND, np.uint8), axis=-1)


def coverage(image):
    """The shape's area in pixels, counting antialiased edge pixels by their share (the background is black)."""
    assert not any(shapes.BACKGROUND)
    return image.max(axis=-1).sum(axis=(-1, -2)) / image.max(axis=(-1, -2, -3))


def centroid(image):
    rows, cols = np.nonzero(foreground(image))
    return rows.mean(), cols.mean()


def in_quadrant(image, position):
    size = image.shape[0]
    row, col = centroid(image)
    return (row < size / 2) == position.startswith("top") and (col < size / 2) == position.endswith("left")


def mentioned(text, attribute):
    """The values of ``attribute`` that ``text`` names through one of their synonyms (whole words)."""
    found = []
    for value, words in SYNONYMS[attribute].items():
        if any(re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) for word in words):
            found.append(value)
    return found


# ---------------------------------------------------------------------------------------------------- shapes


def test_import_does_not_start_tensorflow():
    import subprocess

    code = "import sys, gan, gan.data; assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_attribute_vocabulary():
    assert set(shapes.SHAPES) >= {"circle", "square", "triangle", "star"}
    assert len(shapes.COLOURS) >= 6 and len(shapes.SIZES) == 2 and len(shapes.POSITIONS) >= 4
    assert shapes.ATTRIBUTES == {"shape": shapes.SHAPES, "colour": tuple(shapes.COLOURS), "size": shapes.SIZES,
                                 "position": shapes.POSITIONS}
    rgb = np.array(list(shapes.COLOURS.values()), float)
    distances = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1) + np.eye(len(rgb)) * 1e9
    assert distances.min() > 100, "colours must be far apart in RGB"
    assert np.linalg.norm(rgb - np.asarray(shapes.BACKGROUND), axis=-1).min() > 150
    assert gd.DATASETS == ("shapes", "mnist", "fashion_mnist", "flowers102")


@pytest.mark.parametrize("image_size", [64, 32])
def test_render_colour_position_and_size(image_size):
    for shape in shapes.SHAPES:
        for colour, rgb in shapes.COLOURS.items():
            for position in shapes.POSITIONS:
                images = {size: shapes.render(shape, colour, size, position, image_size) for size in shapes.SIZES}
                for size, image in images.items():
                    assert image.shape == (image_size, image_size, 3) and image.dtype == np.uint8
                    mask = foreground(image)
                    # the interior pixels (full coverage) have exactly the named colour
                    full = np.all(image == np.asarray(rgb, np.uint8), axis=-1)
                    share = 0.4 if image_size == 64 else 0.15  # tiny shapes at 32x32 are mostly edge
                    assert full.sum() > share * mask.sum(), (shape, colour, size, position)
                    # antialiased edge pixels lie between the background and the colour
                    edge = image[mask & ~full].astype(float)
                    assert np.all(edge <= np.maximum(rgb, shapes.BACKGROUND) + 0.5)
                    assert in_quadrant(image, position), (shape, colour, size, position)
                assert 2.5 < coverage(images["large"]) / coverage(images["small"]) < 3.5  # (12 / 7)² ≈ 2.9


def bbox_fill(image):
    mask = foreground(image)
    rows, cols = np.nonzero(mask)
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    return np.count_nonzero(np.all(image != 0, axis=-1) | mask) / box


def test_shapes_differ_in_fill_ratio():
    fill = {shape: bbox_fill(shapes.render(shape, "white", "large", "top left")) for shape in shapes.SHAPES}
    assert fill["square"] > 0.95
    assert 0.72 < fill["circle"] < 0.86  # pi / 4 plus antialiased edge pixels
    assert 0.45 < fill["triangle"] < 0.65
    assert fill["star"] < 0.5
    # the triangle points up: its top rows are narrower than its bottom rows
    mask = foreground(shapes.render("triangle", "white", "large", "top left"))
    rows = np.nonzero(mask.any(axis=1))[0]
    assert mask[rows[1]].sum() < mask[rows[-2]].sum()


def test_render_jitter_stays_close():
    rng = np.random.default_rng(3)
    exact = shapes.render("circle", "red", "large", "bottom right")
    moved = [shapes.render("circle", "red", "large", "bottom right", jitter_rng=rng) for _ in range(20)]
    assert any(not np.array_equal(image, exact) for image in moved)
    for image in moved:
        assert in_quadrant(image, "bottom right")
        brightest = image[foreground(image)].max(axis=0).astype(int)
        assert np.all(np.abs(brightest - np.asarray(shapes.COLOURS["red"])) <= 10)


def test_render_rejects_unknown_values():
    with pytest.raises(ValueError, match="unknown shape 'hexagon'.*circle"):
        shapes.render("hexagon", "red", "small", "top left")
    with pytest.raises(ValueError, match="unknown colour 'mauve'"):
        shapes.render("circle", "mauve", "small", "top left")
    with pytest.raises(ValueError, match="image_size"):
        shapes.render("circle", "red", "small", "top left", image_size=4)


def test_captions_name_every_attribute():
    rng = np.random.default_rng(0)
    assert len(shapes.TEMPLATES) >= 10
    for attribute, table in SYNONYMS.items():
        assert set(table) == set(shapes.ATTRIBUTES[attribute])
        assert all(len(words) >= 2 for words in table.values())
    seen_templates = set()
    for combo in shapes.combinations("train") + shapes.combinations("test"):
        for _ in range(3):
            text = shapes.caption(*combo, rng=rng)
            for attribute, value in zip(shapes.ATTRIBUTES, combo):
                assert mentioned(text, attribute) == [value], (text, attribute)
            assert not re.search(r"\ba [aeiou]", text), text
            seen_templates.add(text.split()[0])
    assert len(seen_templates) >= 5
    assert shapes.caption("circle", "red", "small", "top left") == "a small red circle in the top left"


def test_heldout_combinations():
    train, test = shapes.combinations("train"), shapes.combinations("test")
    assert 4 <= len(shapes.HELDOUT_COMBINATIONS) <= 8
    assert {(s, c) for s, c, _, _ in test} == set(shapes.HELDOUT_COMBINATIONS)
    assert not {(s, c) for s, c, _, _ in train} & set(shapes.HELDOUT_COMBINATIONS)
    assert len(train) + len(test) == len(shapes.SHAPES) * len(shapes.COLOURS) * 2 * len(shapes.POSITIONS)
    for shape, colour in shapes.HELDOUT_COMBINATIONS:  # both halves of a held-out pair are seen in training
        assert any(s == shape for s, _, _, _ in train) and any(c == colour for _, c, _, _ in train)
    assert shapes.combinations("heldout") == test


def test_shapes_examples_match_labels_and_are_deterministic():
    a = gd.shapes_examples(600, "train", 64, seed=5)
    b = gd.shapes_examples(600, "train", 64, seed=5)
    c = gd.shapes_examples(600, "train", 64, seed=6)
    assert a.images.shape == (600, 64, 64, 3) and a.images.dtype == np.uint8
    np.testing.assert_array_equal(a.images, b.images)
    assert a.captions == b.captions
    assert not np.array_equal(a.images, c.images)
    names = {key: shapes.ATTRIBUTES[key] for key in a.labels}
    pairs = set()
    rgb = np.array(list(shapes.COLOURS.values()), float)
    for i in range(len(a)):
        value = {key: names[key][a.labels[key][i]] for key in names}
        pairs.add((value["shape"], value["colour"]))
        image = a.images[i]
        assert in_quadrant(image, value["position"])
        brightest = image[foreground(image)].astype(float)
        brightest = brightest[np.argmax(brightest.sum(axis=1))]
        assert shapes.ATTRIBUTES["colour"][np.argmin(np.linalg.norm(rgb - brightest, axis=1))] == value["colour"]
        for attribute in names:
            assert mentioned(a.captions[i], attribute) == [value[attribute]], a.captions[i]
    assert not pairs & set(shapes.HELDOUT_COMBINATIONS)
    assert len(pairs) == len(shapes.SHAPES) * len(shapes.COLOURS) - len(shapes.HELDOUT_COMBINATIONS)
    small = a.labels["size"] == 0
    areas = coverage(a.images)
    assert areas[~small].min() > areas[small].max()


def test_shapes_test_split_is_the_heldout_set():
    examples = gd.load_examples("shapes", "test", image_size=32, limit=200)
    assert examples.images.shape == (200, 32, 32, 3)
    pairs = {(shapes.SHAPES[s], tuple(shapes.COLOURS)[c])
             for s, c in zip(examples.labels["shape"], examples.labels["colour"])}
    assert pairs == set(shapes.HELDOUT_COMBINATIONS)
    assert examples.class_names is None


# --------------------------------------------------------------------------------------- MNIST-like datasets


def test_mnist_captioned_from_class_names(shared_data_dir):
    examples = gd.load_examples("mnist", "test", image_size=64, data_dir=shared_data_dir / "mnist", limit=300)
    assert examples.images.shape == (300, 64, 64, 3) and examples.images.dtype == np.uint8
    np.testing.assert_array_equal(examples.images[..., 0], examples.images[..., 2])
    assert examples.images.max() > 200 and examples.labels["class"].dtype == np.int32
    assert set(examples.labels["class"]) == set(range(10))
    assert len(set(examples.captions)) > 30
    names = [{word, str(digit)} for digit, word in enumerate(gcaptions.zoo_captions.DIGIT_WORDS)]
    for text, label in zip(examples.captions, examples.labels["class"]):
        words = set(re.findall(r"\w+", text))
        assert names[label] & words, text
        assert not set().union(*(names[d] for d in range(10) if d != label)) & words, text
    again = gd.load_examples("mnist", "test", image_size=64, data_dir=shared_data_dir / "mnist", limit=300)
    assert again.captions == examples.captions


def test_fashion_mnist_captions(shared_data_dir, tmp_path, monkeypatch):
    from tests.test_idx import write_subset

    monkeypatch.setenv("KZOO_CACHE", str(tmp_path / "cache"))
    data_dir = write_subset(shared_data_dir / "fashion_mnist", tmp_path / "fashion_mnist", train=500, test=100)
    examples = gd.load_examples("fashion_mnist", "train", image_size=32, data_dir=data_dir, limit=100)
    assert examples.images.shape == (100, 32, 32, 3)
    assert examples.class_names[9] == "Ankle boot"
    names = gcaptions.zoo_captions.CLASS_NAMES["fashion_mnist"]
    for text, label in zip(examples.captions, examples.labels["class"]):
        assert any(name in text for name in names[label]), text
        assert not re.search(r"\ba [aeiou]", text), text


def test_missing_idx_files_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        gd.load_examples("mnist", data_dir=tmp_path)


def test_linear_resize_matches_tensorflow():
    import tensorflow as tf

    image = np.random.default_rng(0).integers(0, 256, size=(2, 28, 28)).astype(np.uint8)
    ours = to_rgb(image, 64)[..., 0].astype(float)
    theirs = tf.image.resize(image[..., None].astype(np.float32), (64, 64)).numpy()[..., 0]
    assert np.abs(ours - theirs).max() <= 1.0
    np.testing.assert_allclose(linear_resize_matrix(6, 3).sum(axis=1), 1.0, rtol=1e-6)


# ------------------------------------------------------------------------------------ archive extraction


def add_bytes(tar, name, data=b"x", **fields):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_extract_rejects_unsafe_members(tmp_path, kind):
    archive = tmp_path / "bad.tgz"
    outside = tmp_path / "evil.txt"
    with tarfile.open(archive, "w:gz") as tar:
        add_bytes(tar, "jpg/ok.jpg")
        if kind == "dotdot":
            add_bytes(tar, "jpg/../../evil.txt")
            member = "jpg/../../evil.txt"
        elif kind == "absolute":
            add_bytes(tar, str(outside))
            member = str(outside)
        elif kind == "symlink":
            info = tarfile.TarInfo("jpg/link")
            info.type, info.linkname = tarfile.SYMTYPE, str(outside)
            tar.addfile(info)
            member = "jpg/link"
        elif kind == "hardlink":
            info = tarfile.TarInfo("jpg/hard")
            info.type, info.linkname = tarfile.LNKTYPE, "jpg/ok.jpg"
            tar.addfile(info)
            member = "jpg/hard"
        else:
            info = tarfile.TarInfo("jpg/dev")
            info.type = tarfile.CHRTYPE
            tar.addfile(info)
            member = "jpg/dev"
    target = tmp_path / "out"
    with pytest.raises(ValueError, match=re.escape(f"archive member {member!r}")):
        flowers.extract_archive(archive, target)
    assert not target.exists(), "nothing may be written when a member is rejected"
    assert not outside.exists()


def test_extract_archive_safe_members(tmp_path):
    archive = tmp_path / "good.tar"
    with tarfile.open(archive, "w") as tar:
        add_bytes(tar, "jpg/a.txt", b"hello")
    target = flowers.extract_archive(archive, tmp_path / "out")
    assert (target / "jpg" / "a.txt").read_bytes() == b"hello"
    (tmp_path / "junk.tgz").write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="junk.tgz is not a readable tar archive"):
        flowers.extract_archive(tmp_path / "junk.tgz", tmp_path / "out2")


# ------------------------------------------------------------------------------------ flowers (tiny archive)

# Image k has label TINY_LABELS[k - 1]: labels 1 and 2 are Reed et al.'s test classes, 41 a training class.
TINY_LABELS = [1, 41, 41, 2, 41, 41, 1, 41, 41, 2, 41, 41]
TINY_COLOURS = {1: (220, 30, 30), 2: (30, 200, 30), 41: (40, 60, 230)}
TRAIN_IDS, VALID_IDS, TEST_IDS = [1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]
CORRUPT_ID, GARBAGE_ID = 3, 6


def jpeg_bytes(colour, size=(120, 80)):
    image = Image.new("RGB", size, colour)
    image.paste((255, 255, 255), (20, 0, 45, 80))  # a white stripe at the left of the centre square, to see flips
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture
def tiny_flowers(tmp_path):
    """A data folder in the official layout with 12 images (image 3 truncated, image 6 not an image)."""
    from scipy.io import savemat

    directory = tmp_path / "flowers"
    directory.mkdir()
    with tarfile.open(directory / "102flowers.tgz", "w:gz") as tar:
        for image_id, label in enumerate(TINY_LABELS, start=1):
            data = jpeg_bytes(TINY_COLOURS[label])
            if image_id == CORRUPT_ID:
                data = data[: len(data) // 2]
            if image_id == GARBAGE_ID:
                data = b"definitely not a jpeg"
            add_bytes(tar, f"jpg/image_{image_id:05d}.jpg", data)
    savemat(directory / "imagelabels.mat", {"labels": np.array([TINY_LABELS], np.uint8)})
    savemat(directory / "setid.mat", {"trnid": np.array([TRAIN_IDS], np.uint16),
                                      "valid": np.array([VALID_IDS], np.uint16),
                                      "tstid": np.array([TEST_IDS], np.uint16)})
    return directory


def load_tiny(directory, tmp_path, **kwargs):
    """The official setid.mat split with class-name captions, unless ``kwargs`` say otherwise."""
    kwargs = {"protocol": "official", "captions": "class", **kwargs}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        examples = flowers.load_flowers102(directory, cache_dir=tmp_path / "cache", **kwargs)
    return examples, [str(w.message) for w in caught]


def test_flowers_tiny_archive(tiny_flowers, tmp_path):
    before = sorted(p.name for p in tiny_flowers.iterdir())
    examples, messages = load_tiny(tiny_flowers, tmp_path, split="train", image_size=32)
    assert [m for m in messages if "skipped 2 unreadable images of 8" in m], messages
    assert list(examples.ids) == [1, 2, 4, 5, 7, 8]
    assert examples.images.shape == (6, 32, 32, 3)
    np.testing.assert_array_equal(examples.labels["class"], [TINY_LABELS[i - 1] - 1 for i in examples.ids])
    for image, label in zip(examples.images, examples.labels["class"]):
        centre = image[8:24, 16:30].reshape(-1, 3).mean(axis=0)
        assert np.abs(centre - TINY_COLOURS[label + 1]).max() < 20
    assert examples.class_names == list(gcaptions.FLOWER_NAMES)  # no class_names.json in this folder
    for text, label in zip(examples.captions, examples.labels["class"]):
        assert gcaptions.FLOWER_NAMES[label] in text
    assert sorted(p.name for p in tiny_flowers.iterdir()) == before, "the data folder must stay untouched"
    test, _ = load_tiny(tiny_flowers, tmp_path, split="test", image_size=32)
    assert list(test.ids) == TEST_IDS


def test_flowers_extraction_is_cached(tiny_flowers, tmp_path, monkeypatch):
    monkeypatch.setenv(flowers.CACHE_ENV, str(tmp_path / "kzoo-cache"))
    assert flowers.cache_root() == tmp_path / "kzoo-cache" / "flowers102"
    first = flowers.cached_extraction(tiny_flowers / "102flowers.tgz")
    assert first.parent == flowers.cache_root() and (first / ".complete").is_file()
    assert len(list((first / "jpg").iterdir())) == len(TINY_LABELS)
    marker = (first / "jpg" / "image_00001.jpg").stat().st_mtime_ns
    assert flowers.cached_extraction(tiny_flowers / "102flowers.tgz") == first
    assert (first / "jpg" / "image_00001.jpg").stat().st_mtime_ns == marker
    assert [p.name for p in flowers.cache_root().iterdir()] == [first.name], "no partial folders left behind"


def test_flowers_text_c10_captions(tiny_flowers, tmp_path):
    text_dir = tmp_path / "captions" / "text_c10"
    for image_id, label in enumerate(TINY_LABELS, start=1):
        folder = text_dir / f"class_{label:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = [f"flower {image_id} caption {k} with {label} petals" for k in range(10)]
        (folder / f"image_{image_id:05d}.txt").write_text("\n".join(lines) + "\n")
    examples, _ = load_tiny(tiny_flowers, tmp_path, split="test", image_size=32, captions_dir=tmp_path / "captions")
    for image_id, text, group in zip(examples.ids, examples.captions, examples.caption_groups):
        assert text.startswith(f"flower {image_id} caption ") and text in group and len(group) == 10
    (text_dir / f"class_{TINY_LABELS[11]:05d}" / "image_00012.txt").unlink()
    flowers._load.cache_clear()
    with pytest.raises(FileNotFoundError, match="image_00012.txt"):
        load_tiny(tiny_flowers, tmp_path, split="test", image_size=32, captions_dir=text_dir)


def test_flowers_missing_files_named(tiny_flowers, tmp_path):
    (tiny_flowers / "setid.mat").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks setid\.mat.*robots\.ox\.ac\.uk/~vgg/data/flowers/102/setid"):
        flowers.load_flowers102(tiny_flowers, cache_dir=tmp_path / "cache", protocol="official")
    with pytest.raises(FileNotFoundError, match=r"102flowers\.tgz, imagelabels\.mat, setid\.mat"):
        gd.load_examples("flowers102", data_dir=tmp_path / "empty_does_not_exist")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"lacks 102flowers\.tgz, imagelabels\.mat, setid\.mat"):
        gd.make_dataset("flowers102", data_dir=tmp_path / "empty")


def test_flowers_pipeline_augments(tiny_flowers, tmp_path):
    def batches(seed):
        dataset = gd.make_dataset("flowers102", "train", batch_size=3, image_size=32, seed=seed,
                                  data_dir=tiny_flowers, cache_dir=tmp_path / "cache", repeat=True)
        return [batch for _, batch in zip(range(6), dataset)]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first, again, other = batches(0), batches(0), batches(1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a["image"].numpy(), b["image"].numpy())
    assert any(not np.array_equal(a["image"].numpy(), b["image"].numpy()) for a, b in zip(first, other))
    images = np.concatenate([batch["image"].numpy() for batch in first])
    assert images.shape == (18, 32, 32, 3) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    # the white stripe of every source image is on the left; random flips move it to the right in some
    left = images[:, :, :2].mean(axis=(1, 2, 3))
    right = images[:, :, -2:].mean(axis=(1, 2, 3))
    assert (left > right + 0.3).any() and (right > left + 0.3).any()
    labels = np.concatenate([batch["label"].numpy() for batch in first])
    assert set(labels) == {40}  # Reed et al.'s split: only label 41 is a training class here
    for batch in first:  # captions from the pixels: the blue of every training image
        for text in batch["caption"].numpy():
            assert "blue" in text.decode(), text


# ----------------------------------------------------------------------------------- flowers (shared data)


def test_flowers_shared_data(shared_data_dir, tmp_path):
    directory = shared_data_dir / "oxford_flowers102"
    if not directory.is_dir():
        pytest.skip(f"{directory} not found")
    examples = flowers.load_flowers102(directory, "train", 64, limit=24, cache_dir=tmp_path / "cache",
                                       protocol="official", captions="class")
    assert examples.images.shape == (24, 64, 64, 3) and examples.images.std() > 20
    ids, labels = flowers.split_ids(directory, "train", protocol="official")
    assert len(ids) == 2040 and len(labels) == 8189
    assert set(examples.ids) <= set(ids)
    names = json.loads((directory / "class_names.json").read_text())
    assert examples.class_names[0] == names["1"] == "pink primrose" and len(examples.class_names) == 102
    for text, label, image_id in zip(examples.captions, examples.labels["class"], examples.ids):
        assert label == labels[image_id - 1] - 1
        assert examples.class_names[label] in text
    test_ids, _ = flowers.split_ids(directory, "test", protocol="official")
    assert len(test_ids) == 6149 and not set(test_ids) & set(ids)


def test_reed_split_is_the_published_one(shared_data_dir):
    directory = shared_data_dir / "oxford_flowers102"
    published = directory / "reed_split.json"
    if not published.is_file():
        pytest.skip(f"{published} not found")
    split = json.loads(published.read_text())
    assert sorted(flowers.REED_TEST_CLASSES) == sorted(split["test_classes"])
    assert sorted(flowers.REED_VAL_CLASSES) == sorted(split["val_classes"])
    assert sorted(flowers.REED_TRAIN_CLASSES) == sorted(split["train_classes"])
    train, labels = flowers.split_ids(directory, "train")
    test, _ = flowers.split_ids(directory, "test")
    assert (len(train), len(test)) == (split["image_counts"]["trainval"], split["image_counts"]["test"]) == (7034, 1155)
    assert not set(train) & set(test) and len(set(train) | set(test)) == 8189
    assert set(labels[test - 1]) == set(range(1, 21)) and set(labels[train - 1]) == set(range(21, 103))


def test_pixel_captions_on_real_flowers(shared_data_dir, tmp_path):
    """Pixel captions of a few real images, measured in the process: ten captions each, in the colours that
    the extractor measures on the same image, with the class name in the templates that name it."""
    from gan.data.flower_captions import TRAINING_TEMPLATES
    from gan.data.flower_colours import COLOUR_NAMES, flower_colours

    directory = shared_data_dir / "oxford_flowers102"
    if not directory.is_dir():
        pytest.skip(f"{directory} not found")
    examples = flowers.load_flowers102(directory, "test", 64, limit=6, cache_dir=tmp_path / "cache")
    assert set(examples.labels) == {"class", "petal", "centre"}
    for index, group in enumerate(examples.caption_groups):
        petal, centre = (COLOUR_NAMES[examples.labels[key][index]] for key in ("petal", "centre"))
        assert (petal, centre) == flower_colours(examples.images[index])
        name = examples.class_names[examples.labels["class"][index]]
        assert len(group) == len(TRAINING_TEMPLATES) == 10 and group[0] == (
            f"this flower has {petal} petals and a {centre} center")
        assert sum(name in caption for caption in group) >= 4
        assert examples.captions[index] in group
        assert examples.labels["class"][index] < 20  # Reed's test classes are labels 1-20


# ------------------------------------------------------------------------------------------- pipelines


def test_shapes_pipeline_batches():
    dataset = gd.make_dataset("shapes", "train", batch_size=16, image_size=32, seed=1, limit=40)
    batches = list(dataset)
    assert len(batches) == 2  # 40 examples, incomplete batch dropped
    batch = batches[0]
    assert batch["image"].shape == (16, 32, 32, 3) and batch["image"].dtype.name == "float32"
    assert set(batch["label"]) == {"shape", "colour", "size", "position"}
    images = batch["image"].numpy()
    assert images.min() == -1.0 and images.max() <= 1.0
    for i, text in enumerate(batch["caption"].numpy()):
        text = text.decode()
        for attribute, values in shapes.ATTRIBUTES.items():
            assert mentioned(text, attribute) == [values[batch["label"][attribute][i]]], text
        assert in_quadrant(((images[i] + 1) * 127.5).round().astype(np.uint8),
                           shapes.POSITIONS[batch["label"]["position"][i]])
    test = list(gd.make_dataset("shapes", "test", batch_size=16, image_size=32, limit=40))
    assert [len(b["caption"]) for b in test] == [16, 16, 8]
    again = next(iter(gd.make_dataset("shapes", "train", batch_size=16, image_size=32, seed=1, limit=40)))
    np.testing.assert_array_equal(again["image"].numpy(), images)
    assert list(again["caption"].numpy()) == list(batch["caption"].numpy())


def test_mnist_pipeline_matches_examples(shared_data_dir):
    directory = shared_data_dir / "mnist"
    examples = gd.load_examples("mnist", "test", image_size=64, data_dir=directory, limit=50)
    dataset = gd.make_dataset("mnist", "test", batch_size=50, image_size=64, data_dir=directory, limit=50,
                              shuffle=False)
    batch = next(iter(dataset))
    pixels = (batch["image"].numpy() + 1) * 127.5
    assert np.abs(pixels - examples.images).max() <= 1.01
    np.testing.assert_array_equal(batch["label"].numpy(), examples.labels["class"])
    assert [c.decode() for c in batch["caption"].numpy()] == examples.captions


def test_bad_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("KZOO_SHARED_DATA", str(tmp_path))  # an empty shared data folder
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; choose one of shapes, mnist, fashion_mnist, "
                                         "flowers102"):
        gd.load_examples("cifar")
    with pytest.raises(ValueError, match="unknown dataset"):
        gd.make_dataset("cifar")
    with pytest.raises(ValueError, match="split must be one of train, test"):
        gd.load_examples("shapes", "validation")
    with pytest.raises(ValueError, match="`limit` must be a positive integer"):
        gd.load_examples("shapes", limit=0)
    with pytest.raises(ValueError, match="flowers102 needs data_dir"):
        gd.load_examples("flowers102")
    with pytest.raises(ValueError, match="only 10 examples, fewer than batch_size=64"):
        gd.make_dataset("shapes", limit=10)
    with pytest.raises(ValueError, match="takes no data_dir"):
        gd.load_examples("shapes", data_dir="/tmp")


def test_file_backed_sets_default_to_the_shared_data_folder(tmp_path, monkeypatch):
    """Without data_dir, MNIST is read from $KZOO_SHARED_DATA/mnist when that folder exists (as `kzoo train rbm`
    does), and flowers102 from $KZOO_SHARED_DATA/oxford_flowers102."""
    from tests.test_idx import write_split
    from zoo.data import paths

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    (tmp_path / "mnist").mkdir()
    write_split(tmp_path / "mnist", "test", images, np.arange(5, dtype=np.uint8))
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path))
    monkeypatch.setenv("KZOO_CACHE", str(tmp_path / "cache"))
    examples = gd.load_examples("mnist", "test", image_size=28)
    np.testing.assert_array_equal(examples.images[..., 0], images)
    with pytest.raises(ValueError, match=r"flowers102 needs data_dir.*KZOO_SHARED_DATA"):
        gd.load_examples("flowers102", "test", image_size=32)


def test_description_keys_tell_apart_what_the_captions_say():
    """Flowers captioned from their pixels: two images of one class with other petal colours get other description
    keys, so DS-SJE pairs each caption with images of the colours it names and the GAN never takes one caption as
    the other's match; equal labels give equal keys, and a dataset labelled by class alone keys by class."""
    from gan.train import class_captions

    groups = [["a lily with white petals"], ["a lily with red petals"], ["a lily with white petals, again"],
              ["a rose with red petals"]]
    labels = {"class": np.array([0, 0, 0, 1]), "petal": np.array([1, 2, 1, 2]), "centre": np.array([3, 3, 3, 3])}
    examples = gd.Examples(images=np.zeros((4, 8, 8, 3), np.uint8), captions=[g[0] for g in groups], labels=labels,
                           class_names=["lily", "rose"], caption_groups=groups, caption_group=np.arange(4))
    keys = examples.description_keys()
    assert keys[0] == keys[2] and len({keys[0], keys[1], keys[3]}) == 3
    np.testing.assert_array_equal(class_captions(examples)[0], labels["class"])  # the evaluation's classes
    ids, captions = class_captions(examples, by_description=True)  # the pretraining's
    np.testing.assert_array_equal(ids, keys)
    assert captions[ids[0]] == ["a lily with white petals", "a lily with white petals, again"]
    assert captions[ids[1]] == ["a lily with red petals"]
    by_class = gd.Examples(images=examples.images, captions=examples.captions, labels={"class": labels["class"]},
                           class_names=["lily", "rose"], caption_groups=groups, caption_group=np.arange(4))
    np.testing.assert_array_equal(by_class.description_keys(), [0, 0, 0, 1])


def test_pipeline_serves_description_keys_equal_exactly_for_equal_labels():
    from gan.data.loaders import load_raw

    raw = load_raw("shapes", "train", 32, 0, limit=600)
    batch = next(iter(gd.make_dataset("shapes", batch_size=600, image_size=32, examples=raw, shuffle=False)))
    labels = np.stack([batch["label"][name].numpy() for name in sorted(batch["label"])], axis=1)
    same_labels = (labels[:, None] == labels[None]).all(axis=-1)
    keys = batch["description"].numpy()
    np.testing.assert_array_equal(keys[:, None] == keys[None], same_labels)
    assert same_labels.sum() > len(keys) and not same_labels.all()  # some pairs share a description, most do not
