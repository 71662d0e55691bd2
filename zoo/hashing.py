"""sha256 digests: of a file's bytes (preset files, checkpoints, downloads) and of a text (cache keys)."""

from __future__ import annotations

import hashlib
import os


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file's bytes, read in blocks of ``chunk`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str, length: int = 64) -> str:
    """The first ``length`` hex digits of the sha256 of ``text`` (UTF-8): a short, stable key."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]
