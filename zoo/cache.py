"""kzoo's one cache root, for files it can derive again: downloaded presets, extracted archives, evaluation
classifiers. ``$KZOO_CACHE`` when set, else ``kzoo`` under the Keras home (``$KERAS_HOME``, else ``~/.keras``),
where ``keras.utils.get_file`` keeps its downloads; the system's temporary folder when that is not writable."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

ENV_VAR = "KZOO_CACHE"


def keras_home() -> Path:
    """``$KERAS_HOME`` (read now, not when Keras was imported), else ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def cache_dir(*parts: str) -> Path:
    """The folder ``parts`` under the cache root, created. The root is ``$KZOO_CACHE``, else ``keras_home()/kzoo``;
    ``<tmp>/kzoo-cache`` when that cannot be created or written."""
    configured = os.environ.get(ENV_VAR)
    root = Path(configured).expanduser() if configured else keras_home() / "kzoo"
    for candidate in (root, Path(tempfile.gettempdir()) / "kzoo-cache"):
        folder = candidate.joinpath(*parts)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            if configured and candidate == root:
                raise NotADirectoryError(f"cannot create the cache folder {folder} (${ENV_VAR}={configured}); set "
                                         f"{ENV_VAR} to a writable folder") from None
            continue
        if os.access(folder, os.W_OK | os.X_OK):
            return folder
    raise PermissionError(f"no writable cache folder: tried {root.joinpath(*parts)} and the temporary folder; "
                          f"set {ENV_VAR} to a writable folder")


@contextlib.contextmanager
def exclusive(path: str | os.PathLike):
    """Hold an exclusive lock on ``<path>.lock`` while the block runs, so that one process prepares a cache entry
    (a TFDS preparation, an evaluation classifier) while others running at the same time (pytest-xdist workers,
    the workers of a multi-worker run on one machine) wait and then find it ready. The block should check for the
    entry first. An advisory ``fcntl.flock`` lock, released when the process ends, however it ends; on a system
    without ``fcntl`` (Windows) the block runs unlocked."""
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
