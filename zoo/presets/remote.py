"""Presets fetched from a URL into kzoo's cache (``presets`` under :func:`zoo.cache.cache_dir`, by default
``~/.keras/kzoo/presets``) with ``keras.utils.get_file``, checked against a sha256 that the caller must give.

A URL names a ``.keras`` file or an archive (``.tar.gz``, ``.tgz``, ``.tar``, ``.zip``) of a preset directory;
archives are extracted beside the download, refusing members with absolute paths, ``..`` or links.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.parse
import zipfile
from pathlib import Path, PurePosixPath

from zoo.cache import cache_dir
from zoo.hashing import sha256_file

SCHEMES = ("https", "http", "file")
CACHE_SUBDIR = "presets"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_url(ref) -> bool:
    """True for a string starting with ``https://``, ``http://`` or ``file://``."""
    return isinstance(ref, str) and urllib.parse.urlsplit(ref).scheme.lower() in SCHEMES and "://" in ref


def check_sha256(sha256) -> str:
    """The lower-case hex digest, or a ValueError saying what a sha256 looks like."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.strip().lower()):
        raise ValueError(f"sha256 must be 64 hexadecimal digits (the output of `sha256sum FILE`), got {sha256!r}")
    return sha256.strip().lower()


def _file_name(url: str, sha256: str) -> str:
    """``<first 12 hex digits of the hash>-<basename of the URL>``: two URLs ending alike never share a file."""
    base = PurePosixPath(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base)
    if not base or not (base.endswith(".keras") or base.endswith(ARCHIVE_SUFFIXES)):
        raise ValueError(f"the URL {url} must end in .keras (a model file) or {', '.join(ARCHIVE_SUFFIXES)} (an "
                         f"archive of a preset directory)")
    return f"{sha256[:12]}-{base}"


def download(url: str, sha256: str) -> Path:
    """``keras.utils.get_file`` of ``url`` into the cache, checked against ``sha256``; on a mismatch the file is
    deleted and the ValueError names both hashes. Keras's progress messages go to stderr."""
    import keras

    sha256 = check_sha256(sha256)
    name = _file_name(url, sha256)
    root = cache_dir()  # get_file adds CACHE_SUBDIR
    target = root / CACHE_SUBDIR / name
    try:
        with contextlib.redirect_stdout(sys.stderr):
            path = keras.utils.get_file(name, origin=url, file_hash=sha256, hash_algorithm="sha256",
                                        cache_subdir=CACHE_SUBDIR, cache_dir=str(root), extract=False)
    except ValueError as error:
        actual = sha256_file(target) if target.is_file() else "nothing (no file was written)"
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        raise ValueError(f"{url} does not match the sha256 given: expected {sha256}, got {actual}; the download "
                         f"was deleted from the cache. Check the URL and the hash published with it") from error
    except Exception as error:  # get_file reports fetch failures as bare Exceptions
        raise FileNotFoundError(f"could not fetch {url}: {error}") from error
    path = Path(path)
    actual = sha256_file(path)  # get_file skips the check of a file already in the cache only when it matches
    if actual != sha256:
        path.unlink()
        raise ValueError(f"{url} does not match the sha256 given: expected {sha256}, got {actual}; the download "
                         f"was deleted from the cache")
    return path


def _check_member(name: str, kind: str, archive: Path) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith(("/", "\\")) or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
        raise ValueError(f"archive {archive} holds {name!r}, a path outside the preset; refusing to extract it")
    if kind != "file" and kind != "dir":
        raise ValueError(f"archive {archive} holds {name!r}, a {kind}; refusing to extract it (presets hold plain "
                         f"files only)")
    return path


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a .tar(.gz) or .zip into ``destination`` (which must not exist), refusing absolute paths, ``..``,
    links and special files; the files appear all at once (extracted beside, then renamed)."""
    work = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                for info in zipped.infolist():
                    mode = info.external_attr >> 16
                    kind = "dir" if info.is_dir() else "link" if (mode & 0o170000) == 0o120000 else "file"
                    member = _check_member(info.filename, kind, archive)
                    if kind == "file":
                        (work / member).parent.mkdir(parents=True, exist_ok=True)
                        with zipped.open(info) as source, open(work / member, "wb") as sink:
                            shutil.copyfileobj(source, sink)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tarred:
                for info in tarred.getmembers():
                    kind = ("file" if info.isreg() else "dir" if info.isdir() else
                            "link" if info.issym() or info.islnk() else "special file")
                    member = _check_member(info.name, kind, archive)
                    if kind == "file":
                        (work / member).parent.mkdir(parents=True, exist_ok=True)
                        with tarred.extractfile(info) as source, open(work / member, "wb") as sink:
                            shutil.copyfileobj(source, sink)
        else:
            raise ValueError(f"{archive} is neither a tar nor a zip archive")
        try:
            os.replace(work, destination)
        except OSError:
            if not destination.is_dir():  # else another process extracted the same archive first
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _preset_root(directory: Path) -> Path:
    """The folder of an extracted archive that holds metadata.json: the top level or its single subfolder."""
    from zoo.presets.format import METADATA_FILE

    if (directory / METADATA_FILE).is_file():
        return directory
    children = [child for child in directory.iterdir() if child.is_dir()]
    if len(children) == 1 and (children[0] / METADATA_FILE).is_file():
        return children[0]
    raise ValueError(f"the archive extracted to {directory} holds no preset (no {METADATA_FILE} at its top level "
                     f"or in its single folder)")


def fetch(url: str, sha256: str | None) -> Path:
    """The local path of the preset at ``url``: the cached .keras file, or the extracted preset directory."""
    if sha256 is None:
        raise ValueError(f"loading {url} needs its sha256 (zoo.load(url, sha256=...), or --sha256 on the command "
                         f"line): a download is only used when its hash matches the one published with it")
    path = download(url, sha256)
    if path.name.endswith(".keras"):
        return path
    extracted = path.parent / (path.name + "_extracted")
    if not extracted.is_dir():
        try:
            safe_extract(path, extracted)
        except ValueError:
            path.unlink()  # a refused archive does not stay in the cache
            raise
    return _preset_root(extracted)
