"""``zoo.load``: a model from a preset name, a preset directory, a ``kzoo train`` folder, a ``.keras`` file or a
URL, always under Keras's ``safe_mode`` (a file holding Python code, such as a Lambda layer's function, is
refused), with the files of a preset checked against the sha256 in its metadata."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from zoo.io import load_model_file, reading_model_file
from zoo.presets import registry, remote
from zoo.presets.format import CONFIG_FILE, is_preset_dir, model_file, read_preset, sha256_file, verify_preset
from zoo.presets.kinds import GENERIC, KINDS, check_kind, import_for, kind_of_config

# The model file each `kzoo train` command writes into its --out folder.
RUN_MODEL_FILES = ("model.keras", "rbm.keras", "autoencoder.keras")


def _unsafe_error(what: str, error: Exception) -> ValueError:
    return ValueError(f"{what} holds Python code (a Lambda layer or another Python function stored as bytecode) "
                      f"and is refused under safe_mode: loading it would run code from the file. If you trust "
                      f"its source, load it with keras.saving.load_model(path, safe_mode=False) instead "
                      f"(Keras: {error})")


def _is_unsafe(error: Exception) -> bool:
    return "safe_mode" in str(error) or "unsafe_deserialization" in str(error)


def resolve(ref, sha256: str | None = None, kind: str | None = None) -> tuple[Path, str]:
    """``(local path, how to name it in messages)`` of a model reference: a URL (downloaded into the Keras cache,
    ``sha256`` required), an existing file or directory (``sha256``, when given, is checked for a file), or the
    name of a bundled preset. ``kind`` only shapes the error for a reference that names nothing."""
    if isinstance(ref, os.PathLike):
        ref = os.fspath(ref)
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"a model reference must be a non-empty string or path, got {ref!r}. It is one of: "
                         f"{'; '.join(registry.ACCEPTED_FORMS)}")
    if remote.is_url(ref):
        return remote.fetch(ref, sha256), ref
    path = Path(ref).expanduser()
    if path.exists():
        if sha256 is not None:
            if not path.is_file():
                raise ValueError(f"sha256 checks a file or a URL; {path} is a directory (a preset directory is "
                                 f"checked against the hashes in its metadata.json)")
            expected, actual = remote.check_sha256(sha256), sha256_file(path)
            if actual != expected:
                raise ValueError(f"{path} does not match the sha256 given: expected {expected}, got {actual}")
        return path, str(path)
    bundled = registry.preset_dir(ref)
    if bundled is not None:
        if sha256 is not None:
            raise ValueError(f"sha256 checks a file or a URL; {ref!r} is a bundled preset, checked against the "
                             f"hashes in its metadata.json")
        return bundled, f"preset {ref!r}"
    raise FileNotFoundError(registry.unknown_preset_message(ref, kind))


def keras_file_config(path: Path) -> dict:
    """The ``config.json`` inside a ``.keras`` file (which model class it holds), read without loading it."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a Keras model file (.keras: a zip archive with a config.json): {error}") \
            from error
    if not isinstance(config, dict):
        raise ValueError(f"{path} is not a Keras model file: its config.json holds no model config")
    return config


def _alternatives(kind: str | None) -> list[str]:
    return [] if kind is None else [row["name"] for row in registry.presets(kind)]


def _load_keras_file(path: Path, kind: str | None, what: str):

    if path.suffix != ".keras":
        raise ValueError(f"{what} is not a .keras file; pass a preset name or directory, a `kzoo train` output "
                         f"folder or a .keras file")
    config = keras_file_config(path)
    found = kind_of_config(config)
    check_kind(found, kind, what, _alternatives(kind))
    import_for(config, found)
    try:
        return load_model_file(path, what)
    except ValueError as error:
        if _is_unsafe(error):
            raise _unsafe_error(what, error) from error
        raise


def _run_model_file(directory: Path, kind: str | None) -> Path:
    """The model file of a ``kzoo train`` output folder: one of :data:`RUN_MODEL_FILES`, else its one .keras file."""
    found = [directory / name for name in RUN_MODEL_FILES if (directory / name).is_file()]
    if not found:
        found = sorted(path for path in directory.glob("*.keras") if not path.name.startswith("."))
    if len(found) == 1:
        return found[0]
    if found:
        raise ValueError(f"{directory} holds several models ({', '.join(path.name for path in found)}); pass the "
                         f".keras file itself")
    train = f"; train one with `{KINDS[kind].source} --out {directory}`" if kind in KINDS else ""
    raise FileNotFoundError(f"{directory} holds no model: it is neither a preset directory (no metadata.json) nor "
                            f"a `kzoo train` output folder (no {', '.join(RUN_MODEL_FILES)}){train}")


def _load_preset_dir(directory: Path, kind: str | None, what: str):
    import keras

    metadata, config = read_preset(directory)
    verify_preset(directory, metadata)
    path = model_file(directory, metadata)
    if path.suffix == ".keras":
        check_kind(metadata.get("kind", GENERIC), kind, what, _alternatives(kind))
        return _load_keras_file(path, kind, what)
    if config is None:
        raise FileNotFoundError(f"preset {directory} has {path.name} but no {CONFIG_FILE}; fetch or rebuild it")
    found = config.get("kind") or kind_of_config(config)
    check_kind(found, kind, what, _alternatives(kind))
    model_config = {key: value for key, value in config.items() if key not in ("kind", "class")}
    import_for(model_config, found)
    try:
        model = keras.saving.deserialize_keras_object(model_config, safe_mode=True)
    except ValueError as error:
        if _is_unsafe(error):
            raise _unsafe_error(what, error) from error
        raise ValueError(f"{what}: {CONFIG_FILE} does not rebuild a model ({error}); it may need a newer kzoo") \
            from error
    if not model.built:
        raise ValueError(f"{what}: the model rebuilt from {CONFIG_FILE} is not built, so its weights cannot be "
                         f"loaded; rebuild the preset with zoo.save_preset")
    with reading_model_file(path, what):
        model.load_weights(path)
    return model


def load(ref, sha256: str | None = None, kind: str | None = None):
    """The model that ``ref`` names, loaded under ``safe_mode``.

    ``ref`` is a bundled preset name (``zoo.presets()``, ``kzoo models``), a preset directory (its files are
    checked against the sha256 in its metadata.json), a ``kzoo train`` output folder, a ``.keras`` file, or an
    ``https://``, ``http://`` or ``file://`` URL of a ``.keras`` file or a ``.tar.gz``/``.zip`` preset archive,
    fetched into the Keras cache and checked against ``sha256`` (required for URLs; optional for files).
    ``kind`` (t2i, charlm, seq2seq, rbm, dae, autoencoder, keras) refuses a model of another kind.
    """
    if kind is not None and kind not in KINDS and kind != GENERIC:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {', '.join([*KINDS, GENERIC])}")
    path, what = resolve(ref, sha256, kind)
    if path.is_dir():
        if is_preset_dir(path):
            return _load_preset_dir(path, kind, what)
        return _load_keras_file(_run_model_file(path, kind), kind, what)
    return _load_keras_file(path, kind, what)
