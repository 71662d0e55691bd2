"""The preset format (keras-hub style): a directory holding

* ``config.json``: the model as ``keras.saving.serialize_keras_object`` writes it (module, class, constructor
  config, build config), plus ``kind`` (t2i, charlm, rbm, dae, ...) and ``class``;
* ``model.weights.h5``: the weights (``model.save_weights``; no optimizer state), or instead one ``.keras`` file;
* ``metadata.json``: kzoo, Keras and TensorFlow versions, parameter count, date, what it was trained on and by
  which command, its metrics, and the size and sha256 of every other file (checked on every load).

:func:`save_preset` writes one, :func:`read_preset` reads its JSON files, :func:`verify_preset` checks the hashes.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path

from zoo.hashing import sha256_file  # noqa: F401  (zoo.presets.format.sha256_file, as before)
from zoo.io import publish_mode, write_json
from zoo.presets.kinds import GENERIC, KINDS, kind_of_class

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
KERAS_FILE = "model.keras"
METADATA_FILE = "metadata.json"
FORMAT_VERSION = 1
# Keys of metadata.json that save_preset writes itself; a caller's metadata may not set them.
RESERVED_METADATA = ("format_version", "kind", "class", "kzoo_version", "keras_version", "tensorflow_version",
                     "backend", "parameters", "created", "files", "size_bytes")
FORMATS = ("weights", "keras")


def is_preset_dir(path: str | os.PathLike) -> bool:
    """True for a directory holding a ``metadata.json`` (training folders of ``kzoo train`` have none)."""
    return (Path(path) / METADATA_FILE).is_file()


def _versions() -> dict:
    import keras
    import tensorflow as tf

    from zoo.version import __version__

    return {"kzoo_version": __version__, "keras_version": keras.__version__, "tensorflow_version": tf.__version__,
            "backend": keras.backend.backend()}


def _inference_copy(model):
    """(serialized config, a fresh uncompiled copy of ``model`` rebuilt from it, holding ``model``'s weights).

    Rebuilding checks at save time that the config loads back (with ``safe_mode``), and the copy has no optimizer,
    so its weights file holds the model's variables only.
    """
    import keras

    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    try:
        copy = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as error:
        raise ValueError(f"{type(model).__name__} cannot be rebuilt from its config ({error}); give it a "
                         f"get_config/from_config, or save it with format='keras'") from error
    if not copy.built:
        raise ValueError(f"{type(model).__name__} rebuilt from its config is not built (no build config), so its "
                         f"weights cannot be loaded into it; build the model before saving, or use format='keras'")
    try:
        copy.set_weights(model.get_weights())
    except ValueError as error:
        raise ValueError(f"{type(model).__name__} rebuilt from its config has other weights than the model "
                         f"({error}); save it with format='keras'") from error
    return config, copy


def _replace_dir(source: Path, target: Path) -> None:
    """Move the finished directory ``source`` to ``target``; an earlier preset there is replaced, anything else
    refused (never deletes a folder that is not a preset)."""
    if target.exists():
        if not target.is_dir() or (any(target.iterdir()) and not is_preset_dir(target)):
            raise ValueError(f"{target} exists and is not a preset directory; choose another directory")
        trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        os.replace(target, trash / target.name)
        os.replace(source, target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(source, target)


def save_preset(model, directory: str | os.PathLike, metadata: dict | None = None, *, kind: str | None = None,
                format: str = "weights") -> Path:
    """Write ``model`` as a preset directory (see the module docstring); returns its path.

    Args:
        model: a built ``keras.Model`` whose class can be rebuilt from its config (every kzoo model can).
        directory: created, or replaced when it holds an earlier preset (written beside it, then swapped in).
        metadata: what save_preset cannot know, merged into ``metadata.json``: e.g. ``name``, ``description``,
            ``training`` (``{"data": ..., "command": ...}``) and ``metrics`` (``{"val_nats_per_char": 1.56}``).
        kind: the model's kind; by default told from its class (t2i, charlm, seq2seq, rbm, dae, autoencoder,
            else "keras").
        format: ``"weights"`` (config.json + model.weights.h5) or ``"keras"`` (config.json + one model.keras).
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"save_preset needs a keras.Model, got {type(model).__name__}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    kind = kind or kind_of_class(type(model))
    if kind not in KINDS and kind != GENERIC:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {', '.join([*KINDS, GENERIC])}")
    metadata = dict(metadata or {})
    taken = sorted(set(metadata) & set(RESERVED_METADATA))
    if taken:
        raise ValueError(f"metadata keys {', '.join(taken)} are written by save_preset; leave them out")
    if not model.built:
        raise ValueError(f"{type(model).__name__} is not built; call it on data or build() it before saving")

    config, copy = _inference_copy(model)
    target = Path(directory).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        class_path = f"{type(model).__module__}.{type(model).__qualname__}"
        write_json({"kind": kind, "class": class_path, **config}, work / CONFIG_FILE)
        if format == "weights":
            copy.save_weights(work / WEIGHTS_FILE)
        else:
            copy.save(work / KERAS_FILE)
        files = {path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
                 for path in sorted(work.iterdir())}
        record = {"name": metadata.pop("name", target.name), **metadata, "format_version": FORMAT_VERSION,
                  "kind": kind, "class": class_path, **_versions(), "parameters": int(model.count_params()),
                  "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "files": files, "size_bytes": sum(entry["bytes"] for entry in files.values())}
        write_json(record, work / METADATA_FILE)
        publish_mode(work)
        _replace_dir(work, target)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return target


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a readable {what} ({error}); the preset is damaged, fetch it again") \
            from error
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a {what} (not a JSON object); the preset is damaged, fetch it again")
    return data


def read_preset(directory: str | os.PathLike) -> tuple[dict, dict | None]:
    """``(metadata, config)`` of a preset directory (config None when it has no config.json)."""
    directory = Path(directory)
    if not is_preset_dir(directory):
        raise FileNotFoundError(f"{directory} is not a preset: it has no {METADATA_FILE}")
    metadata = _read_json(directory / METADATA_FILE, "preset metadata")
    if not isinstance(metadata.get("files"), dict) or not metadata["files"]:
        raise ValueError(f"{directory / METADATA_FILE} lists no files with their sha256; the preset is damaged, "
                         f"rebuild it with zoo.save_preset")
    config_path = directory / CONFIG_FILE
    config = _read_json(config_path, "preset config") if config_path.is_file() else None
    return metadata, config


def verify_preset(directory: str | os.PathLike, metadata: dict | None = None) -> dict:
    """Check every file listed in ``metadata.json`` against its sha256; returns the metadata.

    A missing file is a FileNotFoundError, a changed one a ValueError naming the file and both hashes.
    """
    directory = Path(directory)
    if metadata is None:
        metadata = read_preset(directory)[0]
    for name, entry in metadata["files"].items():
        path = directory / name
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"{directory / METADATA_FILE} lists {name!r}, which is not a file name")
        if not path.is_file():
            raise FileNotFoundError(f"preset {directory} is missing {name}, listed in its {METADATA_FILE}; "
                                    f"fetch or rebuild the preset")
        expected = str(entry.get("sha256", "")) if isinstance(entry, dict) else str(entry)
        actual = sha256_file(path)
        if actual != expected:
            raise ValueError(f"{path} does not match its sha256 in {METADATA_FILE}: expected {expected}, got "
                             f"{actual}; the file was changed or damaged, fetch or rebuild the preset")
    return metadata


def model_file(directory: Path, metadata: dict) -> Path:
    """The file the model loads from: model.weights.h5 (with config.json) or the one .keras file; it must be
    listed (so hashed) in the metadata."""
    listed = metadata["files"]
    if WEIGHTS_FILE in listed:
        if CONFIG_FILE not in listed:
            raise ValueError(f"preset {directory} has {WEIGHTS_FILE} but no {CONFIG_FILE} in its {METADATA_FILE}")
        return directory / WEIGHTS_FILE
    keras_files = [name for name in listed if name.endswith(".keras")]
    if len(keras_files) != 1:
        raise ValueError(f"preset {directory} lists neither {WEIGHTS_FILE} nor exactly one .keras file in its "
                         f"{METADATA_FILE} (found {', '.join(sorted(listed)) or 'nothing'}); rebuild it with "
                         f"zoo.save_preset")
    return directory / keras_files[0]
