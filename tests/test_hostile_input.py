"""Hostile inputs (issue 8, section 3): every case gives a clear error (its type, and a message that names the file
or the problem and the fix) or a documented, counted skip; never a hang, never a write outside the output
folder, never a lost earlier result.

Covered elsewhere and not repeated here:
- tar members with ``..``, absolute paths, symbolic/hard links, devices (``extract_archive`` itself), and a file
  that is no tar archive: tests/test_gan_data.py::test_extract_rejects_unsafe_members,
  ::test_extract_archive_safe_members
- a truncated JPEG and a non-image in the flowers archive (counted skip): test_gan_data.py::test_flowers_tiny_archive
- missing caption file, missing official flowers files: test_gan_data.py::test_flowers_text_c10_captions,
  ::test_flowers_missing_files_named
- IDX bad magic, truncated / overlong data, truncated gzip, missing file: tests/test_idx.py
- empty, whitespace-only, long and non-alphabet captions in CharVocab / CharTokenizer: tests/test_text_vocab.py
- ``kzoo generate`` with "", emoji and 10^4 characters: tests/test_t2i_cli.py::test_generate_grid_and_interpolation
- RBM inputs outside [0, 1] or of the wrong width: tests/test_rbm.py::test_inputs_must_lie_in_unit_interval
- ``atomic_path`` keeps the earlier file on failure; ``prepare_out_dir`` errors: tests/test_runtime.py
- a non-finite GAN loss stops training and keeps the last good model: tests/test_gan_model.py
- a preset with a wrong sha256: the presets' own tests.
"""

import contextlib
import gzip
import io
import math
import os
import signal
import struct
import tarfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from gan.data import flowers
from zoo.cli import main
from zoo.data import idx
from zoo.data import mnist as zoo_mnist
from zoo.text import CharVocab

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VOCAB = CharVocab()


@contextlib.contextmanager
def no_hang(seconds=30):
    """Fail (TimeoutError) instead of hanging when the body blocks, e.g. reading a fifo (SIGALRM, main thread)."""
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def listing(folder):
    """Every path under ``folder`` (relative), to show that nothing was written where it should not be."""
    return sorted(str(path.relative_to(folder)) for path in Path(folder).rglob("*"))


def snapshot(folder):
    return {name: (Path(folder) / name).read_bytes() for name in listing(folder) if (Path(folder) / name).is_file()}


def one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    return err


# ------------------------------------------------------------------------------------------- captions, text

# Characters that break naive code: NUL, lone surrogates, emoji (astral plane), the replacement character,
# "İ" (its full lowercase is two code points), Unicode spaces that ASCII stripping keeps, zero-width space.
SPECIAL = ["\x00", "\ud800", "\udfff", "🙂", "🌸", "\ufffd", "İ", " ", "\t", "\n", "\u3000", "\u200b", "A", "a"]
TEXTS = st.lists(st.one_of(st.characters(), st.sampled_from(SPECIAL)), max_size=60).map("".join)


@FUZZ
@given(texts=st.lists(TEXTS, min_size=1, max_size=6), max_length=st.integers(1, 40))
def test_vocab_encodes_any_text_to_fixed_length_ids(texts, max_length):
    ids = VOCAB.encode(texts, max_length)
    assert ids.shape == (len(texts), max_length) and ids.dtype == np.int32
    assert ids.min() >= 0 and ids.max() < VOCAB.size
    for text, row in zip(texts, ids):
        kept = min(len(text.strip(" \t\n\v\f\r")), max_length)  # len() counts code points, surrogates too
        assert (row[:kept] != VOCAB.pad_id).all() and (row[kept:] == VOCAB.pad_id).all()  # NUL is not padding


@pytest.fixture(scope="module")
def tokenizer():
    from zoo.text import CharTokenizer

    return CharTokenizer(VOCAB, max_length=32)


@FUZZ
@given(texts=st.lists(TEXTS, min_size=1, max_size=6), raw=st.lists(st.binary(max_size=200), max_size=3))
def test_tokenizer_takes_any_bytes(tokenizer, texts, raw):
    """Invalid UTF-8 (random bytes, surrogates written with surrogatepass) becomes U+FFFD -> the unknown id;
    valid text gives exactly ``CharVocab.encode``."""
    import tensorflow as tf

    data = [text.encode("utf-8", "surrogatepass") for text in texts] + raw
    ids = tokenizer(tf.constant(data)).numpy()
    assert ids.shape == (len(data), 32) and ids.min() >= 0 and ids.max() < VOCAB.size
    for row in ids:
        content = np.flatnonzero(row != VOCAB.pad_id)
        assert content.size == 0 or content[-1] == content.size - 1, "padding only after the text"
    valid = [text for text in texts if not any(0xD800 <= ord(c) < 0xE000 for c in text)]
    if valid:
        np.testing.assert_array_equal(tokenizer(tf.constant(valid)).numpy(), VOCAB.encode(valid, 32))


def tiny_gan(max_length=24):
    import keras

    from gan.model import TextToImageGAN
    from zoo.text import CharRNNEncoder

    keras.utils.set_random_seed(0)
    encoder = CharRNNEncoder(VOCAB, embedding_dim=8, cell="gru", units=16, output_dim=24)
    model = TextToImageGAN(encoder, image_size=16, z_dim=8, text_proj_dim=8, ngf=8, ndf=8, max_length=max_length)
    model.compile()
    return model


@pytest.fixture(scope="module")
def gan():
    return tiny_gan()


@pytest.fixture(scope="module")
def saved_gan(gan, tmp_path_factory):
    from zoo.io import save_model

    folder = tmp_path_factory.mktemp("tiny_t2i")
    save_model(gan, folder / "model.keras")
    return folder


@settings(FUZZ, max_examples=20)
@given(texts=st.lists(TEXTS, min_size=1, max_size=4))
def test_text_encoder_gives_finite_embeddings_for_any_text(gan, texts):
    embedding = gan.encode_text(texts).numpy()
    assert embedding.shape == (len(texts), 24) and np.isfinite(embedding).all()


def test_generate_with_hostile_captions_is_defined(gan):
    """Empty and whitespace-only captions are all padding; long ones are cut at max_length (quickly); NUL, emoji
    and lone surrogates are the unknown character; NUL does not end the caption."""
    import time

    captions = ["", "   ", "\t\n ", "a" * 24, "a" * 10_000, "a" * 10_000_000, "🙂", "\x00", "\ud800", "€",
                "a\x00b", "a b"]
    z = gan.fixed_noise(2, seed=3)  # the same noise for every caption
    images = np.stack([gan.generate([caption], n=2, z=z)[0] for caption in captions])
    assert images.shape == (len(captions), 2, 16, 16, 3) and np.isfinite(images).all()
    assert np.abs(images).max() <= 1.0
    same = {(0, 1), (0, 2), (3, 4), (3, 5), (6, 7), (6, 8), (6, 9)}  # padding; truncation; unknown character
    for a, b in same:
        np.testing.assert_array_equal(images[a], images[b], err_msg=f"{captions[a][:9]!r} vs {captions[b][:9]!r}")
    embedding = gan.encode_text(captions).numpy()
    for a, b in same:
        np.testing.assert_array_equal(embedding[a], embedding[b])
    assert np.abs(embedding[10] - embedding[0]).max() > 1e-4 and np.abs(embedding[10] - embedding[6]).max() > 1e-4
    assert np.abs(embedding[10] - embedding[11]).max() > 1e-4, "NUL is a character of its own, not a space"
    ids = VOCAB.encode(["a\x00b"], 24)[0]
    assert list(ids[:4]) == [VOCAB.encode("a")[0, 0], VOCAB.unk_id, VOCAB.encode("b")[0, 0], 0]
    started = time.perf_counter()
    gan.generate(["x" * 10_000_000] * 4, n=1)  # 10 MB each
    assert time.perf_counter() - started < 10, "a 10 MB caption must cost no more than a short one"


def test_kzoo_generate_with_hostile_captions(saved_gan, tmp_path, capsys):
    """NUL, a 10 MB caption, emoji and a lone surrogate draw (with warnings for what the model cannot read);
    an empty or blank caption is refused in one line before anything is written. (From a shell a 10 MB argument
    never reaches kzoo: Linux refuses any one argument over 128 KiB with E2BIG.)"""
    captions = ["a\x00b", "x" * 10_000_000, "🌸 \ud800 \ufffd"]
    output = tmp_path / "grid.png"
    with pytest.warns(UserWarning):
        assert main(["generate", "--model", str(saved_gan), *captions, "--n", "2", "-o", str(output)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert np.asarray(Image.open(output)).shape[0] == len(captions) * 18 + 2  # one 16 px row per caption
    assert listing(tmp_path) == ["grid.png"], "no temporary files left"
    for blank in ("   ", ""):
        assert main(["generate", "--model", str(saved_gan), "a flower", blank, "-o", str(tmp_path / "b.png")]) == 2
        assert "caption 2 is empty" in one_line_error(capsys)
    assert listing(tmp_path) == ["grid.png"]


# ------------------------------------------------------------------------------ flowers: archive, images, files


def add_member(tar, name, data=b"x", **fields):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if info.isfile() else None)


def image_bytes(image, kind="JPEG", **kwargs):
    buffer = io.BytesIO()
    image.save(buffer, kind, **kwargs)
    return buffer.getvalue()


def make_flowers(directory, images, labels=None):
    """An official-layout flowers folder: ``images`` maps image number -> file bytes; train = all, test = the last."""
    from scipy.io import savemat

    directory.mkdir(parents=True, exist_ok=True)
    count = max(images)
    labels = labels if labels is not None else [1 + i % 3 for i in range(count)]
    with tarfile.open(directory / "102flowers.tgz", "w:gz") as tar:
        for image_id, data in sorted(images.items()):
            add_member(tar, f"jpg/image_{image_id:05d}.jpg", data)
    savemat(directory / "imagelabels.mat", {"labels": np.array([labels], np.uint8)})
    savemat(directory / "setid.mat", {"trnid": np.arange(1, count, dtype=np.uint16)[None],
                                      "valid": np.array([[count]], np.uint16), "tstid": np.array([[count]], np.uint16)})
    return directory


def good_jpeg(colour=(200, 40, 40), size=(48, 40)):
    return image_bytes(Image.new("RGB", size, colour), quality=95)


def png_bomb(width=20_000, height=20_000):
    """A PNG header declaring width x height RGB pixels (over twice PIL's decompression-bomb limit)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def load(directory, tmp_path, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        examples = flowers.load_flowers102(directory, cache_dir=tmp_path / "cache",
                                           **{"protocol": "official", "captions": "class", **kwargs})
    return examples, [str(w.message) for w in caught]


def test_flowers_images_of_any_mode_and_shape_load_and_broken_ones_are_counted(tmp_path):
    rgb = Image.new("RGB", (60, 40), (30, 160, 40))
    nan_float = np.full((20, 30), np.nan, np.float32)
    nan_float[0, 0] = np.inf
    images = {
        1: good_jpeg(),
        2: image_bytes(rgb.convert("L")),                      # grey
        3: image_bytes(rgb.convert("CMYK")),                   # 4 channels, CMYK
        4: image_bytes(rgb.convert("RGBA"), "PNG"),            # 4 channels, alpha; a PNG named .jpg
        5: image_bytes(rgb.convert("P"), "GIF"),               # palette
        6: good_jpeg(size=(1, 1)),                             # one pixel
        7: good_jpeg(size=(400, 3)),                           # extreme aspect ratios
        8: image_bytes(Image.new("RGB", (3, 400), (9, 9, 9)), "PNG"),
        9: image_bytes(rgb, "PNG")[:60],                       # truncated PNG
        10: b"",                                               # empty file
        11: png_bomb(),                                        # decompression bomb
        12: image_bytes(Image.fromarray(np.full((20, 30), 60000, np.uint16)), "PNG"),  # 16-bit
        13: image_bytes(Image.fromarray(nan_float, mode="F"), "TIFF"),  # float with NaN / Inf
        14: good_jpeg()[:200],                                 # JPEG cut after its header
    }
    directory = make_flowers(tmp_path / "flowers", images)
    with no_hang():
        examples, messages = load(directory, tmp_path, split="train", image_size=16)
    assert [m for m in messages if "skipped 6 unreadable images of 14 in the train split" in m
            and "image_00009.jpg" in m and "102flowers.tgz again" in m], messages
    assert list(examples.ids) == list(range(1, 9))
    assert examples.images.shape == (8, 16, 16, 3) and examples.images.dtype == np.uint8
    np.testing.assert_array_equal(examples.images[5], np.broadcast_to(examples.images[5][0, 0], (16, 16, 3)))
    (tmp_path / "float.jpg").write_bytes(images[13])
    with pytest.raises(ValueError, match=r"float\.jpg is a F image \(more than 8 bits per channel\)"):
        flowers.decode_image(tmp_path / "float.jpg", 16)


def test_flowers_with_no_readable_image_is_an_error(tmp_path):
    directory = make_flowers(tmp_path / "flowers", {1: b"junk", 2: b"", 3: good_jpeg()[:100]})
    with pytest.raises(ValueError, match="none of the 3 images of the train split could be decoded"):
        load(directory, tmp_path, split="train", image_size=16)


def gzip_tar_bytes(count=8):
    """A gzip tar of ``count`` JPEGs of noise (which compress badly, so that the stream is long)."""
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for image_id in range(1, count + 1):
            noise = Image.fromarray(rng.integers(0, 256, (24, 24, 3)).astype(np.uint8))
            add_member(tar, f"jpg/image_{image_id:05d}.jpg", image_bytes(noise))
    return buffer.getvalue()


@pytest.mark.parametrize("cut", [1, 10, 0.3, 0.7, 0.95])
def test_truncated_archive_is_a_clear_error_and_leaves_no_partial_cache(tmp_path, monkeypatch, cut):
    data = gzip_tar_bytes()
    end = cut if isinstance(cut, int) else int(len(data) * cut)
    directory = make_flowers(tmp_path / "flowers", {i: good_jpeg() for i in range(1, 9)})
    (directory / "102flowers.tgz").write_bytes(data[:end])
    monkeypatch.setenv(flowers.CACHE_ENV, str(tmp_path / "kzoo-cache"))
    with no_hang(), pytest.raises(ValueError, match=r"(?s)102flowers\.tgz is (truncated or corrupt|not a readable "
                                                     r"tar archive).*download it again") as error:
        flowers.load_flowers102(directory, image_size=16)
    assert "\n" not in str(error.value), "one line: the command line prints it as it is"
    assert listing(tmp_path / "kzoo-cache") in ([], ["flowers102"]), "no partial extraction may stay in the cache"


def test_archive_cut_inside_the_gzip_trailer_still_loads(tmp_path, monkeypatch):
    """The tar data ends before gzip's 8-byte trailer (CRC, size), which tarfile never reads: all images load."""
    directory = make_flowers(tmp_path / "flowers", {i: good_jpeg() for i in range(1, 9)})
    (directory / "102flowers.tgz").write_bytes(gzip_tar_bytes()[:-4])
    monkeypatch.setenv(flowers.CACHE_ENV, str(tmp_path / "kzoo-cache"))
    assert len(flowers.load_flowers102(directory, image_size=16, protocol="official")) == 8


def test_corrupt_archive_bytes_are_an_error_or_extract_inside_the_target(tmp_path):
    """Flipped bits inside the compressed stream: a ValueError naming the archive, or (where the stream still
    decodes) files that land inside the target folder; never anything else."""
    data = gzip_tar_bytes()
    rng = np.random.default_rng(1)
    outcomes = set()
    for trial in range(30):
        corrupt = bytearray(data)
        corrupt[rng.integers(10, len(data))] ^= 1 << int(rng.integers(0, 8))
        archive = tmp_path / f"corrupt{trial}.tgz"
        archive.write_bytes(bytes(corrupt))
        target = tmp_path / "out" / str(trial)
        try:
            with no_hang():
                flowers.extract_archive(archive, target)
            outcomes.add("extracted")
        except ValueError as error:
            assert archive.name in str(error) and "download it again" in str(error)
            outcomes.add("error")
    assert "error" in outcomes
    assert all(path.startswith(("corrupt", "out")) for path in listing(tmp_path)), "only inside the targets"


UNSAFE = {
    "dotdot": [("jpg/../../evil.txt", {})],
    "absolute": [("{outside}/evil.txt", {})],
    "backslash_dotdot": [("jpg\\..\\..\\evil.txt", {})],
    "drive": [("C:evil.txt", {})],
    "dotdot_folder": [("jpg/../../evil_dir", {"type": tarfile.DIRTYPE})],
    "symlink_then_write_through_it": [("jpg/link", {"type": tarfile.SYMTYPE, "linkname": "{outside}"}),
                                      ("jpg/link/evil.txt", {})],
    "hardlink_outside": [("jpg/hard", {"type": tarfile.LNKTYPE, "linkname": "{outside}/victim.txt"})],
}


@pytest.mark.parametrize("kind", sorted(UNSAFE))
def test_unsafe_archive_members_through_the_loader_write_nothing_outside(tmp_path, monkeypatch, kind):
    """The loader's path (cached extraction into $KZOO_CACHE) refuses the archive and leaves every folder as it
    was; the member checks themselves are tested in test_gan_data.py."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me")
    directory = make_flowers(tmp_path / "data" / "flowers", {1: good_jpeg()})
    with tarfile.open(directory / "102flowers.tgz", "w:gz") as tar:
        add_member(tar, "jpg/image_00001.jpg", good_jpeg())
        for name, fields in UNSAFE[kind]:
            fields = {key: value.format(outside=outside) if isinstance(value, str) else value
                      for key, value in fields.items()}
            add_member(tar, name.format(outside=outside), b"evil" if not fields else b"", **fields)
    monkeypatch.setenv(flowers.CACHE_ENV, str(tmp_path / "data" / "cache"))
    before = listing(tmp_path)
    with pytest.raises(ValueError, match=r"archive member .* refusing to extract"):
        flowers.load_flowers102(directory, image_size=16)
    assert [p for p in listing(tmp_path) if p not in before] in ([], ["data/cache", "data/cache/flowers102"])
    assert (outside / "victim.txt").read_text() == "keep me"
    assert not list(tmp_path.rglob("evil*"))


def mat_bytes(**variables):
    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, variables)
    return buffer.getvalue()


@pytest.mark.parametrize("name, data, match", [
    ("setid.mat", b"", "not a readable MATLAB file"),
    ("setid.mat", b"MATLAB 5.0 MAT-file" + b"\x00" * 30, "not a readable MATLAB file"),
    ("setid.mat", np.random.default_rng(0).bytes(300), "not a readable MATLAB file"),
    ("imagelabels.mat", mat_bytes(labels=np.arange(1, 200)[None])[:150], "not a readable MATLAB file"),
    ("imagelabels.mat", mat_bytes(labels=np.arange(1, 200)[None])[:-20], "not a readable MATLAB file"),
    ("imagelabels.mat", mat_bytes(labels=np.array([[1.0, np.nan, 3.0]])), "'labels' should hold whole numbers"),
    ("imagelabels.mat", mat_bytes(labels=np.array([[1.0, np.inf, 3.0]])), "'labels' should hold whole numbers"),
    ("setid.mat", mat_bytes(trnid=np.array([[1.5, 2.0]]), valid=[[3]], tstid=[[3]]), "'trnid' should hold whole"),
    ("setid.mat", mat_bytes(trnid=np.array([[np.nan]]), valid=[[3]], tstid=[[3]]), "'trnid' should hold whole"),
    ("imagelabels.mat", mat_bytes(labels=np.array([[1, 2, 250]])), r"labels outside 1\.\.102"),
    ("setid.mat", mat_bytes(trnid=[[1, 2]], valid=[[9]], tstid=[[3]]), r"names images outside 1\.\.3"),
    ("setid.mat", mat_bytes(trnid=[[1, 2]], tstid=[[3]]), "has no variable 'valid' .*official setid.mat"),
])
def test_corrupt_or_wrong_mat_files_name_the_file(tmp_path, name, data, match):
    directory = make_flowers(tmp_path / "flowers", {1: good_jpeg(), 2: good_jpeg(), 3: good_jpeg()})
    (directory / name).write_bytes(data)
    with no_hang(), pytest.raises(ValueError, match=match) as error:
        load(directory, tmp_path, split="train", image_size=16)
    assert name in str(error.value)


@pytest.mark.parametrize("content, match", [(b"{not json", "is not valid JSON text"),
                                            (b"\xff\xfe{}", "is not valid JSON text"),
                                            (b'["rose"]', "holds a JSON list"),
                                            (b'{"1": "rose"}', "lacks names for labels 2, 3")])
def test_bad_class_names_json_names_the_file(tmp_path, content, match):
    directory = make_flowers(tmp_path / "flowers", {1: good_jpeg(), 2: good_jpeg()})
    (directory / "class_names.json").write_bytes(content)
    with pytest.raises(ValueError, match=match) as error:
        load(directory, tmp_path, image_size=16)
    assert "class_names.json" in str(error.value)


def write_captions(root, lines_of):
    for image_id, data in lines_of.items():
        folder = root / "text_c10" / f"class_{1 + (image_id - 1) % 3:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"image_{image_id:05d}.txt").write_bytes(data)
    return root


def test_caption_files_with_invalid_utf8_are_replaced_and_counted(tmp_path):
    """Documented in ``flowers.text_captions``: undecodable bytes become U+FFFD (the unknown character), and the
    files are counted in one warning; NUL, emoji and a 10 MB line are kept as they are (the tokenizer cuts
    them)."""
    import tensorflow as tf

    from gan.data import make_dataset
    from zoo.text import CharTokenizer

    # label 41: a class of Reed et al.'s training split, which make_dataset uses
    directory = make_flowers(tmp_path / "flowers", {i: good_jpeg() for i in range(1, 5)}, labels=[41] * 4)
    captions = write_captions(tmp_path / "captions", {
        1: b"a pink flower\nwith \xff\xfe broken bytes\n",
        2: "un caf\xe9 fleuri\n".encode("latin-1"),
        3: "a rose \x00 with NUL\n🌸🌸 emoji only line\n".encode(),
        4: ("x" * 10_000_000 + "\n").encode(),
    })
    examples, messages = load(directory, tmp_path, split="train", image_size=16, captions_dir=captions)
    assert [m for m in messages if "2 of 4 caption files are not valid UTF-8" in m and
            "class_00001/image_00001.txt" in m and "U+FFFD" in m], messages
    groups = dict(zip(examples.ids, examples.caption_groups))
    assert groups[1] == ["a pink flower", "with \ufffd\ufffd broken bytes"] and groups[2] == ["un caf\ufffd fleuri"]
    assert groups[3][0] == "a rose \x00 with NUL" and len(groups[4][0]) == 10_000_000
    tokenizer = CharTokenizer(VOCAB, max_length=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = make_dataset("flowers102", "train", batch_size=4, image_size=16, data_dir=directory,
                               captions_dir=captions, cache_dir=tmp_path / "cache")
    batch = next(iter(dataset.map(lambda b: {**b, "ids": tokenizer(b["caption"])})))
    assert batch["ids"].shape == (4, 40) and int(tf.reduce_max(batch["ids"])) < VOCAB.size
    assert VOCAB.unk_id in VOCAB.encode(groups[2][0])[0]


@pytest.mark.parametrize("kind", ["empty", "whitespace", "fifo", "folder"])
def test_unusable_caption_files_are_errors_naming_them_never_a_hang(tmp_path, kind):
    directory = make_flowers(tmp_path / "flowers", {1: good_jpeg(), 2: good_jpeg()})
    captions = write_captions(tmp_path / "captions", {1: b"a flower\n", 2: b"another\n"})
    bad = captions / "text_c10" / "class_00002" / "image_00002.txt"
    bad.unlink()
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "whitespace":
        bad.write_bytes(b" \t\n\r\n   \n")
    elif kind == "fifo":
        os.mkfifo(bad)
    else:
        bad.mkdir()
    match = "is empty; it should hold one caption per line" if kind in ("empty", "whitespace") else \
        "is not a regular file; replace it"
    with no_hang(20), pytest.raises(ValueError, match=match) as error:
        load(directory, tmp_path, captions_dir=captions, image_size=16)
    assert str(bad) in str(error.value)


def test_fifos_in_place_of_data_files_are_refused_without_reading_them(tmp_path, capsys):
    """A fifo would block the first read forever: every loader checks for a regular file first."""
    fifo = tmp_path / "input.txt"
    os.mkfifo(fifo)
    with no_hang(20):
        assert main(["train", "charlm", "--text", str(fifo), "--out", str(tmp_path / "run")]) == 2
        assert str(fifo) in one_line_error(capsys)
        with pytest.raises(FileNotFoundError, match="fifo-idx3-ubyte"):
            idx.read_idx(_fifo(tmp_path / "fifo-idx3-ubyte"))
        directory = make_flowers(tmp_path / "flowers", {1: good_jpeg(), 2: good_jpeg()})
        (directory / "setid.mat").unlink()
        _fifo(directory / "setid.mat")
        with pytest.raises(FileNotFoundError, match=r"lacks setid\.mat"):
            load(directory, tmp_path, image_size=16)
    assert not (tmp_path / "run").exists()


def _fifo(path):
    os.mkfifo(path)
    return path


# ------------------------------------------------------------------------------------------------------ IDX


@st.composite
def idx_files(draw):
    """IDX-like byte strings: valid and broken magic, dtype codes and dimension counts, sizes that agree with the
    data or not (including sizes whose product overflows 64 bits), truncation, gzip (whole or cut)."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=80))
    zeros = draw(st.sampled_from([b"\x00\x00", b"\x00\x01", b"\x1f\x00"]))
    code = draw(st.sampled_from([*idx.IDX_DTYPES, 0x00, 0x0A, 0xFF]))
    ndim = draw(st.integers(0, 4))
    dims = draw(st.lists(st.one_of(st.integers(0, 5), st.sampled_from([2**16, 2**32 - 1])),
                         min_size=ndim, max_size=ndim))
    header = zeros + bytes([code, ndim]) + struct.pack(f">{ndim}I", *dims)
    itemsize = idx.IDX_DTYPES[code].itemsize if code in idx.IDX_DTYPES else 1
    size = math.prod(dims) * itemsize
    if size <= 512 and draw(st.booleans()):
        data = draw(st.binary(min_size=size, max_size=size))
    else:
        data = draw(st.binary(max_size=64))
    payload = header + data
    payload = payload[:draw(st.integers(0, len(payload)))] if draw(st.booleans()) else payload
    if draw(st.booleans()):
        payload = gzip.compress(payload)
        payload = payload[:draw(st.integers(0, len(payload)))] if draw(st.booleans()) else payload
    return payload


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("idx_fuzz")


@settings(max_examples=150, deadline=None)
@given(data=idx_files())
def test_idx_reader_gives_an_array_or_a_value_error_naming_the_file(fuzz_dir, data):
    path = fuzz_dir / "fuzz-idx3-ubyte.gz"
    path.write_bytes(data)
    try:
        array = idx.read_idx(path)
    except ValueError as error:
        assert str(path) in str(error)
    else:
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        assert array.shape == struct.unpack(f">{raw[3]}I", raw[4:4 + 4 * raw[3]])
        assert array.dtype == idx.IDX_DTYPES[raw[2]].newbyteorder("=")


@pytest.mark.parametrize("shape", [(2**16,) * 4, (0, 2**32 - 1, 2**32 - 1)])
def test_idx_shapes_too_large_for_any_array_name_the_file(tmp_path, shape):
    """Found by the fuzzer: 2**64 items (int64 product 0) or a zero axis beside huge ones, with 0 data bytes,
    once passed the size check and failed in NumPy's reshape with an error that did not name the file."""
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape))
    with pytest.raises(ValueError, match=r"huge-idx3-ubyte declares shape .* too large for any array"):
        idx.read_idx(path)


@pytest.mark.parametrize("images", [np.zeros((2, 28, 28, 3), np.uint8), np.zeros((2, 28, 28), np.float32),
                                    np.zeros((2, 784), np.uint8)])
def test_idx_images_of_the_wrong_shape_or_type_name_the_file(tmp_path, images):
    def write(path, array, code):
        path.write_bytes(gzip.compress(struct.pack(">BBBB", 0, 0, code, array.ndim)
                                       + struct.pack(f">{array.ndim}I", *array.shape)
                                       + array.astype(idx.IDX_DTYPES[code]).tobytes()))

    write(tmp_path / "train-images-idx3-ubyte.gz", images, 0x0D if images.dtype == np.float32 else 0x08)
    write(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(2, np.uint8), 0x08)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz should hold uint8 images \[n, rows, cols\]"):
        idx.load_idx_dataset(tmp_path, "train")


# --------------------------------------------------------------------------------------------- .keras files


# A Python lambda, which Keras stores as bytecode; when run it creates the file $KZOO_TEST_MARKER: the proof
# that code from the file ran. (No default arguments or closure: Keras cannot reload those.)
TOUCH = lambda x: (open(__import__("os").environ["KZOO_TEST_MARKER"], "w").close(), x)[1]  # noqa: E731


@pytest.fixture
def marker(tmp_path, monkeypatch):
    path = tmp_path / "code-ran"
    monkeypatch.setenv("KZOO_TEST_MARKER", str(path))
    return path


def lambda_model(path, marker):
    """A .keras file whose Lambda layer would create ``marker`` when run."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(TOUCH)])
    model.save(path)
    marker.unlink(missing_ok=True)  # building the model ran it
    return path


def t2i_with_lambda_encoder(saved_gan, path, marker):
    """The saved tiny t2i model with its text encoder's config replaced by a Lambda layer's (so that the file
    passes any check of the model class and reaches the deserialisation of the Lambda)."""
    import json
    import zipfile

    import keras

    with zipfile.ZipFile(saved_gan / "model.keras") as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["text_encoder"] = keras.saving.serialize_keras_object(keras.layers.Lambda(TOUCH))
                data = json.dumps(config).encode()
            target.writestr(item, data)
    return path


def test_keras_file_with_a_lambda_layer_is_refused_without_running_it(saved_gan, tmp_path, capsys, marker):
    import keras

    t2i = t2i_with_lambda_encoder(saved_gan, tmp_path / "t2i.keras", marker)
    grid = tmp_path / "grid.png"
    assert main(["generate", "--model", str(t2i), "a flower", "-o", str(grid)]) == 2
    message = one_line_error(capsys)
    assert "Lambda" in message and "safe_mode" in message and "t2i.keras" in message
    folder = tmp_path / "charlm"
    folder.mkdir()
    lambda_model(folder / "model.keras", marker)
    assert main(["sample", "charlm", "--model", str(folder)]) == 2
    assert "Lambda" in one_line_error(capsys)
    assert not marker.exists() and not grid.exists()
    keras.saving.load_model(folder / "model.keras", safe_mode=False)  # the control: unsafe loading runs the code
    assert marker.exists()


def damaged_copy(source, target, damage):
    """``source`` (a .keras file) written to ``target`` with one kind of damage."""
    import zipfile

    data = bytearray(source.read_bytes())
    if damage == "flipped byte":  # inside the weights member: the zip's CRC check fails
        with zipfile.ZipFile(source) as archive:
            info = archive.getinfo("model.weights.h5")
        data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF
        target.write_bytes(bytes(data))
        return target
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for item in archive.infolist():
            member = archive.read(item.filename)
            if item.filename == "model.weights.h5":
                if damage == "truncated weights":
                    member = member[: len(member) // 3]
                else:  # "wrong member": the weights under another name
                    item = zipfile.ZipInfo("weights.bin")
            out.writestr(item, member)
    return target


@pytest.mark.parametrize("damage", ["flipped byte", "truncated weights", "wrong member"])
def test_a_damaged_model_file_is_one_line_naming_it(saved_gan, tmp_path, capsys, damage):
    """Through `kzoo generate` (a .keras file and a training folder) and `kzoo sample charlm`: exit 2, one line
    that names the file, nothing written."""
    from zoo.io import save_model
    from zoo.text import CharLanguageModel

    broken = damaged_copy(saved_gan / "model.keras", tmp_path / "broken.keras", damage)
    grid = tmp_path / "grid.png"
    assert main(["generate", "--model", str(broken), "a flower", "-o", str(grid)]) == 2
    message = one_line_error(capsys)
    assert str(broken) in message and ("damaged" in message or "could not be loaded" in message), message
    folder = tmp_path / "charlm"
    folder.mkdir()
    lm = CharLanguageModel(VOCAB, embedding_dim=4, units=8, layers=1)
    lm(np.zeros((1, 4), "int32"))
    save_model(lm, tmp_path / "lm.keras")
    damaged_copy(tmp_path / "lm.keras", folder / "model.keras", damage)
    assert main(["sample", "charlm", "--model", str(folder), "--length", "5"]) == 2
    message = one_line_error(capsys)
    assert "model.keras" in message and ("damaged" in message or "could not be loaded" in message), message
    assert not grid.exists()


@pytest.mark.parametrize("cut", [0, 100, 0.5, -30])
def test_truncated_keras_file_is_a_clear_error(saved_gan, tmp_path, capsys, cut):
    data = (saved_gan / "model.keras").read_bytes()
    end = cut if isinstance(cut, int) else int(len(data) * cut)
    (tmp_path / "model.keras").write_bytes(data[:end])
    assert main(["generate", "--model", str(tmp_path), "a flower", "-o", str(tmp_path / "grid.png")]) == 2
    assert str(tmp_path / "model.keras") in one_line_error(capsys)
    assert not (tmp_path / "grid.png").exists()


# ------------------------------------------------------------------------------------------ NaN / Inf in data


@pytest.fixture
def nan_images(monkeypatch):
    """MNIST-like data whose images hold NaN and Inf (as a corrupt float source would give)."""
    def fake_load(name, data_dir=None, split="train"):
        images = np.random.default_rng(0).random((20, 8, 8)) * 255
        images[3, 2, 2], images[7, 0, 1] = np.nan, np.inf
        return images, np.arange(20, dtype=np.uint8) % 10

    monkeypatch.setattr(zoo_mnist, "load_mnist_like", fake_load)


@pytest.mark.parametrize("command", [["train", "rbm", "--hidden", "4"],
                                     ["train", "autoencoder", "--kind", "tied", "--hidden", "4", "--code-dim", "2"]])
def test_nan_images_stop_training_before_it_starts(nan_images, tmp_path, capsys, command):
    out = tmp_path / "run"
    out.mkdir()
    (out / "rbm.keras").write_bytes(b"an earlier model")
    (out / "autoencoder.keras").write_bytes(b"an earlier model")
    before = snapshot(out)
    assert main([*command, "--dataset", "mnist", "--data-dir", str(tmp_path), "--epochs", "1", "--verbose", "0",
                 "--out", str(out)]) == 2
    message = one_line_error(capsys)
    assert "mnist train images" in message and "2 pixel values are NaN or Inf" in message and "download" in message
    assert snapshot(out) == before, "nothing written, the earlier results kept"


def test_rbm_python_api_refuses_nan_inputs():
    from autoencoders.rbm import BernoulliRBM

    x = np.random.default_rng(0).random((10, 4)).astype(np.float32)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"hold 1 NaN/Inf values; drop or repair"):
        BernoulliRBM(4, 3).fit(x, epochs=1, verbose=0)


def test_rbm_with_binarize_refuses_nan_inputs():
    from autoencoders.rbm import BernoulliRBM

    x = np.random.default_rng(0).random((10, 4)).astype(np.float32)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BernoulliRBM(4, 3, binarize=0.5).fit(x, epochs=1, verbose=0)


@pytest.mark.parametrize("shape", [(8, 16, 16, 1), (8, 16, 16, 4), (8, 32, 32, 3)])
def test_gan_training_images_of_the_wrong_shape_are_refused(gan, shape):
    import tensorflow as tf

    data = tf.data.Dataset.from_tensors({"image": tf.zeros(shape), "text_ids": tf.zeros((8, 24), tf.int32)})
    with pytest.raises(ValueError, match=r"expected shape=\(None, 16, 16, 3\), found shape=\(8, |expected axis -1 "
                                         r"of input shape to have value 3, but received input with shape \(8, "):
        gan.train_step(next(iter(data)))


# ------------------------------------------------------------------------------ output folders, earlier results


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text("to be or not to be, that is the question. " * 40)
    return path


def cli_commands(text_file):
    return {
        "t2i": ["train", "t2i", "--limit", "16", "--batch-size", "8", "--pretrain-steps", "1", "--epochs", "1"],
        "rbm": ["train", "rbm", "--dataset", "digits", "--hidden", "4", "--epochs", "1", "--verbose", "0"],
        "charlm": ["train", "charlm", "--text", str(text_file), "--units", "4", "--layers", "1", "--epochs", "1"],
    }


@pytest.mark.parametrize("model", ["t2i", "rbm", "charlm"])
@pytest.mark.parametrize("where", ["file", "under_a_file", "not_writable"])
def test_output_folder_that_is_a_file_or_not_writable(tmp_path, monkeypatch, capsys, text_file, model, where):
    monkeypatch.chdir(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    out = {"file": blocker, "under_a_file": blocker / "run", "not_writable": tmp_path / "locked"}[where]
    if where == "not_writable":
        out.mkdir()
        real_access = os.access
        # root may write anywhere, whatever the mode bits: make os.access say what it says to other users
        monkeypatch.setattr(os, "access", lambda path, mode, *args, **kwargs: False
                            if Path(path) == out and mode & os.W_OK else real_access(path, mode, *args, **kwargs))
    before, files = listing(tmp_path), snapshot(tmp_path)
    assert main([*cli_commands(text_file)[model], "--out", str(out)]) == 2
    message = one_line_error(capsys)
    assert str(out) in message
    expected = {"file": "exists and is not a directory; choose another output folder",
                "under_a_file": "is a file; choose another path",
                "not_writable": "is not writable; choose another output folder"}[where]
    assert expected in message
    assert listing(tmp_path) == before and snapshot(tmp_path) == files, "nothing written anywhere"


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: mode bits do not stop root from writing")
def test_output_folder_without_write_permission(tmp_path, capsys):
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o500)
    try:
        assert main(["train", "rbm", "--dataset", "digits", "--hidden", "4", "--epochs", "1", "--out", str(out)]) == 2
        assert "is not writable; choose another output folder" in one_line_error(capsys)
        assert listing(out) == []
    finally:
        out.chmod(0o700)


def test_generate_output_that_is_a_folder_keeps_the_folder(saved_gan, tmp_path, capsys):
    target = tmp_path / "grid.png"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    assert main(["generate", "--model", str(saved_gan), "a flower", "--n", "1", "-o", str(target)]) == 2
    assert "is a directory; give a file name" in one_line_error(capsys)
    assert listing(tmp_path) == ["grid.png", "grid.png/keep.txt"], "no temporary file left beside it"


def test_generate_output_under_a_file_is_a_one_line_error(saved_gan, tmp_path, capsys):
    (tmp_path / "blocker").write_text("a file")
    assert main(["generate", "--model", str(saved_gan), "a flower", "-o", str(tmp_path / "blocker" / "g.png")]) == 2
    assert "blocker" in one_line_error(capsys)


def test_a_failing_save_keeps_the_earlier_model_byte_identical(gan, tmp_path, monkeypatch):
    """The epoch-end save of a run (SampleGrid -> save_model) dies half-way through writing."""
    from gan.model import TextToImageGAN
    from gan.train import SampleGrid
    from zoo.io import save_model

    save_model(gan, tmp_path / "model.keras")
    before = snapshot(tmp_path)

    def broken_save(self, path, *args, **kwargs):
        Path(path).write_bytes(b"half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TextToImageGAN, "save", broken_save)
    grid = SampleGrid(tmp_path, ["a red flower"], columns=1, seed=0)
    grid.set_model(gan)
    grid.on_epoch_begin(0)
    with pytest.raises(OSError, match="No space left"):
        grid.on_epoch_end(0)
    after = snapshot(tmp_path)
    assert after.pop("samples/epoch_0001.png") and after == before, "model.keras unchanged, no temporary file"


def test_a_failing_rerun_keeps_earlier_results(tmp_path, capsys, text_file):
    """Reruns into a folder that holds results, with input that fails: nothing there changes."""
    earlier = {"model.keras": b"earlier model", "metrics.json": b'{"loss": 1.0}\n', "history.json": b"[]\n",
               "samples/epoch_0001.png": b"png"}
    out = tmp_path / "run"
    for name, data in earlier.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    bad_text = tmp_path / "latin1.txt"
    bad_text.write_bytes("caf\xe9 ".encode("latin-1") * 50)
    assert main(["train", "charlm", "--text", str(bad_text), "--out", str(out)]) == 2
    assert "is not UTF-8 text" in one_line_error(capsys) and snapshot(out) == earlier
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    (mnist / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 20)[:-8])
    (mnist / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x00"))
    assert main(["train", "t2i", "--dataset", "mnist", "--data-dir", str(mnist), "--pretrain-steps", "1",
                 "--out", str(out)]) == 2
    assert "train-images-idx3-ubyte.gz is a corrupt or truncated gzip stream" in one_line_error(capsys)
    assert snapshot(out) == earlier  # config.json too is only written once the data loaded


def test_mnist_neither_on_disk_nor_downloadable_is_one_line(tmp_path, monkeypatch, capsys):
    """No --data-dir, no shared data folder, no prepared TFDS copy, no network: one line naming the flag and the
    folder that would provide the data, exit 2, within seconds (TFDS itself retries for minutes)."""
    monkeypatch.setenv("KZOO_SHARED_DATA", str(tmp_path / "no-shared-data"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setattr(zoo_mnist, "can_reach", lambda host, **_: False)
    for command in (["train", "rbm", "--dataset", "mnist"], ["train", "t2i", "--dataset", "fashion_mnist"]):
        assert main([*command, "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
        message = one_line_error(capsys)
        assert "--data-dir is needed" in message and "KZOO_SHARED_DATA" in message, message
    assert zoo_mnist.can_reach("localhost", port=9, timeout=0.5) is False  # nothing listens on the discard port
