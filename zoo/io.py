"""Files a run writes: output folders, and atomic writes (a kill never leaves a partial file)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

# What reading a damaged model file raises: a corrupt zip member (a flipped byte), a broken deflate stream, an HDF5
# weights file cut short (h5py raises a plain OSError), a zip missing its end.
DAMAGED_FILE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError)


@contextlib.contextmanager
def reading_model_file(path: str | os.PathLike, what: str | None = None):
    """Turn the errors of reading a damaged ``.keras`` or weights file into one ValueError that names the file and
    the fix. A missing file is the caller's to report first."""
    try:
        yield
    except DAMAGED_FILE_ERRORS as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        detail = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(f"{what or path} is damaged or incomplete ({type(error).__name__}: {detail[:200]}); "
                         f"replace it with a good copy (train or download it again)") from error


def load_model_file(path: str | os.PathLike, what: str | None = None):
    """``keras.saving.load_model(path, safe_mode=True)``, with a damaged file reported as one ValueError that names
    it (:func:`reading_model_file`); Keras's own ValueErrors are prefixed with the file, except safe_mode's refusal,
    which passes unchanged for the caller to explain."""
    import keras

    what = str(what or path)
    with reading_model_file(path, what):
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except ValueError as error:
            if "safe_mode" in str(error) or "unsafe_deserialization" in str(error) or what in str(error):
                raise
            raise ValueError(f"{what} could not be loaded ({error}); replace it with a good copy") from error


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
