"""sha256 digests: of a file's bytes (preset files, checkpoints, downloads) and of a text (cache keys)."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file's bytes, read in blocks of ``chunk`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file_once(path: str | os.PathLike) -> str:
    """:func:`sha256_file`, read once per process for a file whose path, size and modification time are unchanged
    (cache keys from data files that several loaders of one run look at)."""
    path = Path(path).resolve()
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def sha256_text(text: str, length: int = 64) -> str:
    """The first ``length`` hex digits of the sha256 of ``text`` (UTF-8): a short, stable key."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]
