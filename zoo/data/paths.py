"""Locate the read-only shared data folder.

The datasets used by tests and benchmarks are never copied into the repository. They live in
``<repo root>/../shared/data``; the environment variable ``KZOO_SHARED_DATA`` overrides that location.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "KZOO_SHARED_DATA"


def _repo_root() -> Path:
    """The repository root of a source checkout (``zoo/data/paths.py`` -> two levels up from ``zoo``)."""
    return Path(__file__).resolve().parents[2]


def shared_data_candidate() -> Path:
    """The folder that would be used: ``$KZOO_SHARED_DATA`` if set and non-empty, else ``<repo>/../shared/data``."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser().resolve()
    return _repo_root().parent / "shared" / "data"


def shared_data_dir() -> Path | None:
    """Return the shared data folder, or ``None`` when it does not exist (see :func:`shared_data_candidate`)."""
    candidate = shared_data_candidate()
    return candidate if candidate.is_dir() else None


def find_shared_data(name: str | os.PathLike) -> Path:
    """Return ``<shared data>/name`` (a dataset folder or a file in one).

    Raises ``FileNotFoundError`` naming the place looked in and the environment variable that overrides it.
    """
    candidate = shared_data_candidate()
    path = candidate / name
    if not path.exists():
        raise FileNotFoundError(
            f"shared data {str(name)!r} not found: looked for {path} "
            f"(set {ENV_VAR} to the folder that holds the shared datasets)"
        )
    return path


def default_data_dir(name: str) -> Path | None:
    """``<shared data>/name`` when that folder exists (the default ``data_dir`` of the loaders that read the
    shared datasets), else ``None``."""
    shared = shared_data_dir()
    return shared / name if shared is not None and (shared / name).is_dir() else None
