"""Oxford-102 flowers (Nilsback & Zisserman 2008) from the official files, with Reed et al.'s captions.

A data folder holds ``102flowers.tgz`` (``jpg/image_00001.jpg`` ... ``jpg/image_08189.jpg``), ``imagelabels.mat``
(``labels``: 1..102 per image) and ``setid.mat`` (``trnid``, ``valid``, ``tstid``: 1-based image numbers), as
published at https://www.robots.ox.ac.uk/~vgg/data/flowers/102/, and optionally ``class_names.json`` (label as a
string -> name). The images are split by class as Reed et al. (2016) did (:data:`REED_CLASSES`: 7,034 training
images of 82 classes, 1,155 test images of 20 others), or with ``protocol="official"`` by setid.mat (``trnid`` +
``valid``, 2,040 images, against ``tstid``, 6,149).

The archive is extracted once, safely, into a cache folder (``cache_dir``, else ``flowers102`` in kzoo's cache,
:mod:`zoo.cache`); the data folder itself is only read. Captions come from Reed et al.'s
``text_c10/class_<5-digit class>/image_<5-digit image>.txt`` files (e.g. ``class_00077/image_00001.txt``) when
``captions_dir`` is given (https://github.com/reedscot/icml2016), otherwise from each image's colours
(:func:`pixel_captions`) or, with ``captions="class"``, from the class names.
"""

from __future__ import annotations

import concurrent.futures
import functools
import gzip
import json
import os
import re
import shutil
import tarfile
import tempfile
import warnings
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from gan.data.captions import FLOWER_NAMES, class_caption_lists, pick_captions
from gan.data.examples import Examples, check_image_size, check_split
from zoo.cache import ENV_VAR as CACHE_ENV
from zoo.cache import cache_dir as zoo_cache_dir
from zoo.hashing import sha256_file_once
from zoo.validation import check_int

URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/"
REQUIRED_FILES = ("102flowers.tgz", "imagelabels.mat", "setid.mat")
SPLIT_KEYS = {"train": ("trnid", "valid"), "test": ("tstid",)}
#: Reed et al. (2016)'s class-disjoint split (labels as in imagelabels.mat, 1..102), as used by GAN-INT-CLS and
#: StackGAN: the test classes are labels 1-20 (1,155 images), the validation classes 21-40, the training classes
#: 41-102; kzoo trains on train + validation (82 classes, 7,034 images). Reconstructed from the published image
#: counts (see reed_split.json in the shared data folder); tests/test_gan_data.py checks the two agree.
REED_TEST_CLASSES = tuple(range(1, 21))
REED_VAL_CLASSES = tuple(range(21, 41))
REED_TRAIN_CLASSES = tuple(range(41, 103))
REED_CLASSES = {"train": REED_VAL_CLASSES + REED_TRAIN_CLASSES, "test": REED_TEST_CLASSES}
#: How the images are split: ``reed2016`` by class (above), ``official`` by setid.mat (trnid + valid / tstid).
PROTOCOLS = ("reed2016", "official")
REED_CAPTIONS_URL = "https://github.com/reedscot/icml2016 (cvpr2016_flowers.tar.gz, folder text_c10)"

_DRIVE = re.compile(r"^[A-Za-z]:")

# What reading a truncated or corrupt (compressed) tar archive raises.
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


def check_data_dir(data_dir) -> Path:
    """``data_dir`` as a Path; FileNotFoundError naming every missing official file and where to get it."""
    if data_dir is None:
        raise ValueError("flowers102 needs data_dir: the folder that holds "
                         f"{', '.join(REQUIRED_FILES)} (download them from {URL}), unless the shared data folder "
                         "($KZOO_SHARED_DATA) holds them in oxford_flowers102/")
    directory = Path(data_dir).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"flowers102 data folder {directory} not found; it should hold "
                                f"{', '.join(REQUIRED_FILES)} (download them from {URL})")
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"flowers102 data folder {directory} lacks {', '.join(missing)}; download "
                                f"{' and '.join(URL + name for name in missing)} into it")
    return directory


def _check_member(member: tarfile.TarInfo, target: Path) -> None:
    """Raise a ValueError naming ``member`` unless it is a plain file or folder with a relative path inside."""
    name = member.name
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or _DRIVE.match(name):
        raise ValueError(f"archive member {name!r} has an absolute path; refusing to extract it")
    if ".." in path.parts:
        raise ValueError(f"archive member {name!r} contains '..'; refusing to extract outside {target}")
    if member.issym() or member.islnk():
        raise ValueError(f"archive member {name!r} is a link (to {member.linkname!r}); refusing to extract it")
    if not (member.isfile() or member.isdir()):
        raise ValueError(f"archive member {name!r} is not a regular file or folder (a device or fifo); "
                         f"refusing to extract it")
    # relative, no '..' and no links in the archive: the member lands inside target (filter='data' re-checks
    # against links that already exist on disk)


def extract_archive(archive, target_dir) -> Path:
    """Extract the tar archive ``archive`` (any compression) into ``target_dir`` and return that folder.

    Every member is checked before anything is written: absolute paths, ``..`` components, symbolic and hard
    links, devices and fifos raise a ValueError naming the member, and nothing is extracted. A truncated or
    corrupt archive raises a ValueError naming it (what was written by then stays in ``target_dir``;
    :func:`cached_extraction` removes it).
    """
    archive = Path(archive)
    if not archive.is_file():
        raise FileNotFoundError(f"archive {archive} not found")
    target = Path(target_dir).expanduser().resolve()
    try:
        tar = tarfile.open(archive, "r:*")
    except _ARCHIVE_ERRORS as error:
        raise ValueError(f"{archive} is not a readable tar archive ({_one_line(error)}); download it again") \
            from error
    with tar:
        try:
            members = tar.getmembers()
        except _ARCHIVE_ERRORS as error:
            raise ValueError(f"{archive} is truncated or corrupt ({_one_line(error)}); download it again") from error
        for member in members:
            _check_member(member, target)
        target.mkdir(parents=True, exist_ok=True)
        try:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(target, members=members, filter="data")
            else:  # Python without extraction filters: the checks above are the guard
                tar.extractall(target, members=members)
        except _ARCHIVE_ERRORS as error:
            raise ValueError(f"{archive} is truncated or corrupt ({_one_line(error)}); download it again") from error
    return target


def _one_line(error: Exception) -> str:
    """``error`` as one line (tarfile lists what each compression method said on lines of their own)."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def cache_root(cache_dir=None) -> Path:
    """Where extracted archives live: ``cache_dir``, else ``flowers102`` in kzoo's cache (:mod:`zoo.cache`)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return zoo_cache_dir("flowers102")


def cached_extraction(archive, cache_dir=None) -> Path:
    """Extract ``archive`` once into the cache (keyed by its sha256: a copy of the same archive reuses the
    extraction) and return the folder."""
    archive = Path(archive).resolve()
    key = sha256_file_once(archive)[:16]
    root = cache_root(cache_dir)
    final = root / key
    if (final / ".complete").is_file():
        return final
    try:
        root.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f"{key}.partial-", dir=root))
    except OSError as error:
        raise PermissionError(f"cannot create the flowers102 cache folder in {root} ({error}); pass cache_dir "
                              f"or set {CACHE_ENV} to a writable folder") from error
    try:
        extract_archive(archive, partial)
        (partial / ".complete").write_text(f"{archive}\n")
        try:
            os.replace(partial, final)
        except OSError:
            if not (final / ".complete").is_file():  # not a concurrent extraction that finished first
                raise
            shutil.rmtree(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def _loadmat(path: Path) -> dict:
    try:
        from scipy.io import loadmat
        from scipy.io.matlab import MatReadError
    except ImportError as error:
        raise ImportError(f"reading {path.name} needs scipy (pip install scipy)") from error
    try:
        return loadmat(path)
    # a truncated or corrupt file raises any of these, depending on where it breaks
    except (ValueError, TypeError, OSError, IndexError, EOFError, zlib.error, MatReadError) as error:
        raise ValueError(f"{path} is not a readable MATLAB file ({error}); download it again from "
                         f"{URL}{path.name}") from error


def _mat_vector(contents: dict, key: str, path: Path) -> np.ndarray:
    if key not in contents:
        found = ", ".join(k for k in contents if not k.startswith("__"))
        raise ValueError(f"{path} has no variable {key!r} (found: {found or 'none'}); is it the official "
                         f"{path.name} from {URL}?")
    values = np.asarray(contents[key]).reshape(-1)
    if values.dtype.kind not in "iub" and not (
            values.dtype.kind == "f" and np.isfinite(values).all() and (values == np.round(values)).all()):
        raise ValueError(f"{path}: variable {key!r} should hold whole numbers, but its {values.dtype.name} values "
                         f"are not (NaN, Inf, fractions or text); download the official {path.name} again from {URL}")
    return values.astype(np.int64)


def split_ids(data_dir, split: str, protocol: str = "reed2016") -> tuple[np.ndarray, np.ndarray]:
    """(sorted 1-based image numbers of ``split``, all labels 1..102 indexed by image number - 1).

    ``protocol="reed2016"``: every image of the split's classes (:data:`REED_CLASSES`); ``"official"``: the image
    numbers of setid.mat (``trnid`` + ``valid`` for train, ``tstid`` for test)."""
    directory = check_data_dir(data_dir)
    check_split(split)
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    labels = _mat_vector(_loadmat(directory / "imagelabels.mat"), "labels", directory / "imagelabels.mat")
    if protocol == "reed2016":
        return np.flatnonzero(np.isin(labels, REED_CLASSES[split])).astype(np.int64) + 1, labels
    setid = _loadmat(directory / "setid.mat")
    ids = np.sort(np.concatenate([_mat_vector(setid, key, directory / "setid.mat") for key in SPLIT_KEYS[split]]))
    if len(ids) and (ids.min() < 1 or ids.max() > len(labels)):
        raise ValueError(f"setid.mat in {directory} names images outside 1..{len(labels)} "
                         f"(imagelabels.mat has {len(labels)} labels); the two files do not belong together")
    return ids, labels


def class_names(data_dir) -> list[str]:
    """The 102 names: ``class_names.json`` of ``data_dir`` (label string -> name) if present, else the official list."""
    path = Path(data_dir).expanduser() / "class_names.json"
    if not path.is_file():
        return list(FLOWER_NAMES)
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:  # invalid JSON or invalid UTF-8
        raise ValueError(f"{path} is not valid JSON text ({error}); fix it or delete it to use the official "
                         f"names") from error
    if not isinstance(mapping, dict):
        raise ValueError(f"{path} holds a JSON {type(mapping).__name__}; it should map '1'..'102' to flower names")
    missing = [str(label) for label in range(1, len(FLOWER_NAMES) + 1) if str(label) not in mapping]
    if missing:
        raise ValueError(f"{path} lacks names for labels {', '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''}; it should map '1'..'102' to flower names")
    return [str(mapping[str(label)]) for label in range(1, len(FLOWER_NAMES) + 1)]


def text_captions(captions_dir, image_ids) -> list[list[str]]:
    """All caption lines of each image in ``image_ids`` from Reed et al.'s ``text_c10`` layout.

    ``captions_dir`` is the ``text_c10`` folder (``class_00001/image_06734.txt`` ...) or a folder containing it.
    Files are read as UTF-8; bytes that are not valid UTF-8 are replaced by U+FFFD (which the tokenizer maps to
    the unknown character) and the files concerned are counted in one warning. A missing, empty or non-regular
    (fifo, folder) caption file raises an error naming it.
    """
    root = Path(captions_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"captions folder {root} not found; pass the text_c10 folder of "
                                f"{REED_CAPTIONS_URL}")
    if (root / "text_c10").is_dir():
        root = root / "text_c10"
    index = {path.stem: path for path in root.glob("class_*/image_*.txt")}
    result, invalid = [], []
    for image_id in image_ids:
        stem = f"image_{int(image_id):05d}"
        if stem not in index:
            raise FileNotFoundError(f"captions folder {root} has no {stem}.txt (expected class_<5-digit class>/"
                                    f"{stem}.txt as in the text_c10 folder of {REED_CAPTIONS_URL})")
        path = index[stem]
        if not path.is_file():  # reading a fifo would block forever
            raise ValueError(f"caption file {path} is not a regular file; replace it with a text file of captions")
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", errors="replace")
            invalid.append(path)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            raise ValueError(f"caption file {path} is empty; it should hold one caption per line")
        result.append(lines)
    if invalid:
        warnings.warn(f"flowers102: {len(invalid)} of {len(result)} caption files are not valid UTF-8 (e.g. "
                      f"{', '.join(str(path.relative_to(root)) for path in invalid[:3])}); their undecodable bytes "
                      f"were replaced by U+FFFD, the unknown character. Re-save them as UTF-8 to keep them",
                      stacklevel=2)
    return result


def decode_image(path, size: int) -> np.ndarray:
    """uint8 ``[size, size, 3]``: the image's centred square, resized. Raises OSError/ValueError when unreadable.

    Any 8-bit mode (grey, palette, RGBA, CMYK, ...) and any size or aspect ratio is converted; 16/32-bit integer
    and float images (modes ``I``, ``I;16``, ``F``) raise a ValueError: PIL would clip them to 0..255 (and turn
    NaN into 0) without a word.
    """
    from PIL import Image

    with Image.open(path) as image:
        if image.mode in ("I", "F") or image.mode.startswith("I;"):
            raise ValueError(f"{path} is a {image.mode} image (more than 8 bits per channel); expected 8-bit")
        image.draft("RGB", (size, size))  # lets JPEG decode at a reduced scale when the file is much larger
        image = image.convert("RGB")
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.resize((size, size), Image.BICUBIC, box=(left, top, left + side, top + side))
        return np.asarray(image, dtype=np.uint8)


def _decode_or_none(path: Path, size: int):
    from PIL import Image

    try:
        return decode_image(path, size)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


CAPTION_SOURCES = ("pixels", "class")
#: The image sizes of the prepared TFDS dataset (gan.data.tfds_flowers); other sizes decode the archive each run.
PREPARED_IMAGE_SIZES = (32, 38, 64, 76)  # 38 and 76: the load sizes of augmented 32 and 64 (crop)


def load_flowers102(data_dir, split: str = "train", image_size: int = 64, captions_dir=None,
                    limit: int | None = None, seed: int = 0, cache_dir=None, protocol: str = "reed2016",
                    captions: str = "pixels") -> Examples:
    """The images of ``split`` as :class:`Examples` (labels ``class`` 0..101, ``class_names`` the 102 names).

    ``protocol``: ``"reed2016"`` (default) splits by class as Reed et al. did (:data:`REED_CLASSES`: train is all
    7,034 images of the 82 train+val classes, test the 1,155 of the 20 test classes); ``"official"`` by setid.mat.
    Captions: Reed et al.'s ``text_c10`` files when ``captions_dir`` is given; otherwise ``captions="pixels"``, ten
    captions per image from its class name and the petal and centre colours measured in it
    (:mod:`gan.data.flower_colours`, :mod:`gan.data.flower_captions`; labels ``petal`` and ``centre`` hold the
    colours' indices in ``COLOUR_NAMES``), or ``"class"``, captions from the class name alone. This function
    decodes the archive and measures every image (minutes for all of them);
    :func:`gan.data.tfds_flowers.load_prepared` gives the same examples from the ``captioned_flowers102`` TFDS
    dataset, prepared once into kzoo's cache, and is what training reads.

    ``limit`` keeps a seeded random subset of that many images (all when ``None``). Images that cannot be
    decoded (truncated, corrupt, not an image, more than 8 bits per channel: see :func:`decode_image`) are
    skipped and counted in one warning; the others load. Results are cached per process (arrays read-only), keyed by
    the arguments and the sizes and times of the files in ``data_dir`` (not of the caption files).
    """
    directory = check_data_dir(data_dir)
    check_split(split)
    image_size = check_image_size(image_size)
    limit = check_int(limit, "limit", minimum=1, allow_none=True)
    seed = check_int(seed, "seed", minimum=0)
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if captions not in CAPTION_SOURCES:
        raise ValueError(f"captions must be one of {', '.join(CAPTION_SOURCES)}, got {captions!r}")
    captions_key = None if captions_dir is None else str(Path(captions_dir).expanduser().resolve())
    stamp = tuple((path.stat().st_size, path.stat().st_mtime_ns) for path in sorted(directory.glob("*.*")))
    cached = _load(str(directory.resolve()), stamp, split, image_size, captions_key, limit, seed,
                   str(cache_root(cache_dir).resolve()), protocol, captions)
    return Examples(images=cached.images, captions=list(cached.captions), labels=dict(cached.labels),
                    class_names=list(cached.class_names), caption_groups=cached.caption_groups,
                    caption_group=cached.caption_group, ids=cached.ids)


def subset_ids(ids: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """The seeded random subset of ``limit`` image numbers that ``limit`` keeps (sorted; all when ``None``)."""
    if limit is not None and limit < len(ids):
        return np.sort(np.random.default_rng([seed, 31337]).choice(ids, size=limit, replace=False))
    return ids


@functools.lru_cache(maxsize=4)
def _load(directory, stamp, split, image_size, captions_dir, limit, seed, cache_dir, protocol="reed2016",
          captions="pixels") -> Examples:
    """The uncached loader; ``stamp`` (sizes and times of the data files) only keys the cache."""
    directory = Path(directory)
    ids, all_labels = split_ids(directory, split, protocol)
    ids = subset_ids(ids, limit, seed)
    names = class_names(directory)
    texts = text_captions(captions_dir, ids) if captions_dir is not None else None
    images_dir = cached_extraction(directory / "102flowers.tgz", cache_dir) / "jpg"
    paths = [images_dir / f"image_{image_id:05d}.jpg" for image_id in ids]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} images of the {split} split are not in {directory / '102flowers.tgz'} "
                                f"(e.g. {', '.join(missing[:3])}); download the archive again from "
                                f"{URL}102flowers.tgz")
    workers = min(8, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        decoded = list(pool.map(lambda path: _decode_or_none(path, image_size), paths))
    keep = [i for i, image in enumerate(decoded) if image is not None]
    skipped = [paths[i].name for i, image in enumerate(decoded) if image is None]
    if skipped:
        warnings.warn(f"flowers102: skipped {len(skipped)} unreadable images of {len(paths)} in the {split} split "
                      f"(e.g. {', '.join(skipped[:3])}); download {URL}102flowers.tgz again to restore them",
                      stacklevel=3)
    if not keep:
        raise ValueError(f"flowers102: none of the {len(paths)} images of the {split} split could be decoded")
    ids = ids[keep]
    images = np.stack([decoded[i] for i in keep])
    labels = (all_labels[ids - 1] - 1).astype(np.int32)
    if labels.min() < 0 or labels.max() >= len(names):
        raise ValueError(f"imagelabels.mat in {directory} has labels outside 1..{len(names)}")
    label_arrays = {"class": labels}
    if texts is not None:
        groups = [texts[i] for i in keep]
        group_of_example = np.arange(len(ids), dtype=np.int32)
    elif captions == "pixels":
        groups, label_arrays["petal"], label_arrays["centre"] = pixel_captions(
            images, [names[label] for label in labels])
        group_of_example = np.arange(len(ids), dtype=np.int32)
    else:
        groups = class_caption_lists("flowers102", seed=seed, class_names=names)
        group_of_example = labels
    for array in label_arrays.values():
        array.flags.writeable = False
    images.flags.writeable = False
    return Examples(images=images, captions=pick_captions(groups, group_of_example, seed), labels=label_arrays,
                    class_names=names, caption_groups=groups, caption_group=group_of_example, ids=ids)


def pixel_captions(images, names, templates=None) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """(captions per image, petal colour indices, centre colour indices) of flower ``images`` of class ``names``,
    the colours measured by :func:`gan.data.flower_colours.flower_colours` (in a thread pool) and the captions
    phrased by :data:`gan.data.flower_captions.TRAINING_TEMPLATES` (or ``templates``)."""
    from gan.data.flower_captions import TRAINING_TEMPLATES, flower_captions
    from gan.data.flower_colours import COLOUR_NAMES, flower_colours

    workers = min(8, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        colours = list(pool.map(flower_colours, images))
    groups = [flower_captions(name, petal, centre, templates or TRAINING_TEMPLATES)
              for name, (petal, centre) in zip(names, colours)]
    petal = np.array([COLOUR_NAMES.index(p) for p, _ in colours], np.int32)
    centre = np.array([COLOUR_NAMES.index(c) for _, c in colours], np.int32)
    return groups, petal, centre
