"""Files a run writes: output folders, and atomic writes (a kill never leaves a partial file)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


def prepare_out_dir(path: str | os.PathLike) -> Path:
    """Create the output folder (and parents); a clear error when it is a file or not writable."""
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output path {out} exists and is not a directory; choose another output folder")
    _make_parent_dirs(out, "output directory")
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"output directory {out} is not writable; choose another output folder")
    return out


def _make_parent_dirs(directory: Path, what: str) -> None:
    """``mkdir -p directory``; a clear error naming the blocking file when part of the path is a file."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((parent for parent in (directory, *directory.parents) if parent.exists()
                        and not parent.is_dir()), directory)
        raise NotADirectoryError(f"cannot create the {what} {directory}: {blocker} is a file; choose another "
                                 "path") from None


def umask() -> int:
    """The process's file mode creation mask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish_mode(path: str | os.PathLike) -> None:
    """Give ``path`` (a file, or a folder and the entries in it) the mode of an ordinary new file or folder under
    the umask: ``mkstemp``/``mkdtemp`` create them private (0600/0700)."""
    path, mask = Path(path), umask()
    if path.is_dir():
        path.chmod(0o777 & ~mask)
        for entry in path.iterdir():
            entry.chmod((0o777 if entry.is_dir() else 0o666) & ~mask)
    else:
        path.chmod(0o666 & ~mask)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success rename it over ``path`` (never a partial file).

    On an exception the temporary file is removed and ``path`` keeps its earlier content.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a directory; give a file name to write to")
    _make_parent_dirs(target.parent, "folder of the output file")
    # Keep every suffix (Keras checks names like ``x.weights.h5``), after a marker that says what the file is.
    suffixes = "".join(target.suffixes)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name[:len(target.name) - len(suffixes)]}.",
                                     suffix=f".tmp{suffixes}", dir=target.parent)
    os.close(fd)
    try:
        yield Path(temporary)
        if os.path.exists(temporary):
            publish_mode(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_json(data, path: str | os.PathLike) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return Path(path)


def save_model(model, path: str | os.PathLike) -> Path:
    """``model.save`` to a ``.keras`` file, atomically: a kill mid-save leaves the earlier file intact."""
    target = Path(path)
    if target.suffix != ".keras":
        raise ValueError(f"model files end in .keras, got {target}")
    with atomic_path(target) as temporary:
        model.save(temporary)
    return target
