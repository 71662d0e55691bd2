"""Epoch checkpoints that survive a kill at any moment and detect corruption: :class:`ResumableCheckpoint`.

Layout of ``backup/`` (one folder per finished epoch, the newest ``keep`` kept)::

    backup/epoch_0003/variables.npz    every variable of the model (weights, optimizer slots and step counter,
                                       random-seed states, non-trainable state such as RBM chains)
    backup/epoch_0003/manifest.json    format, epoch, variable names/shapes/dtypes, the per-epoch logs so far,
                                       and the sha256 of variables.npz; written last
    backup/epoch_0002/...

A checkpoint is written into a hidden temporary folder (``.tmp-epoch_0003-…``), each file flushed to disk, and
then renamed to ``epoch_0003`` in one step: a kill during a save leaves the earlier checkpoints untouched and at
worst a stale temporary folder, which the next run removes. On resume the newest checkpoint whose manifest parses
and whose data matches its sha256 is loaded; a corrupt one is reported with a :class:`CheckpointWarning`, renamed
``corrupt_epoch_0003`` (kept for inspection, never loaded again) and the previous one is used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from zoo.distribution import is_chief
from zoo.hashing import sha256_file
from zoo.io import publish_mode
from zoo.keras_private import set_initial_epoch

FORMAT = 1
STATE_FILE = "variables.npz"
MANIFEST_FILE = "manifest.json"
EPOCH_DIR = re.compile(r"^epoch_(\d{4,})$")


class CheckpointWarning(UserWarning):
    """A checkpoint could not be used (corrupt, unreadable): training continues from an earlier one."""


class CorruptCheckpoint(Exception):
    """Raised inside :meth:`ResumableCheckpoint.read` when a checkpoint folder does not verify."""


def _fsync_dir(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:  # not possible on every platform/filesystem; the rename is still atomic
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def optimizers(model) -> list:
    """The optimizers a model trains with: ``model.optimizer`` and any other optimizer attribute (a GAN's
    ``d_optimizer``/``g_optimizer``), in a fixed order, each once."""
    found, seen = [], set()
    candidates = [getattr(model, "optimizer", None)] + [value for _, value in sorted(vars(model).items())]
    for value in candidates:
        if isinstance(value, keras.optimizers.Optimizer) and id(value) not in seen:
            seen.add(id(value))
            found.append(value)
    return found


def state_variables(model) -> list:
    """Everything a resumed run needs, in a fixed order: ``model.variables`` (weights, non-trainable state and
    the random-seed generators' states) then each optimizer's variables (iteration count, learning rate, slots).
    Metric accumulators are left out: they restart at every epoch."""
    variables, seen = [], set()
    for variable in [*model.variables, *(v for optimizer in optimizers(model) for v in optimizer.variables)]:
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def _numpy(variable) -> np.ndarray:
    """A variable's value as a NumPy array (through the backend variable when there is one: Keras's own
    ``numpy()`` goes through ``np.array(tf.Variable)``, which NumPy 2 warns about)."""
    value = getattr(variable, "value", variable)
    return np.array(value.numpy() if hasattr(value, "numpy") else variable.numpy())


def _float_logs(logs) -> dict:
    clean = {}
    for key, value in (logs or {}).items():
        try:
            clean[key] = float(value)
        except (TypeError, ValueError):
            continue
    return clean


class ResumableCheckpoint(keras.callbacks.Callback):
    """Save the whole training state atomically after every epoch; restore the newest good one on train begin.

    Replaces ``keras.callbacks.BackupAndRestore`` (one checkpoint overwritten in place, so a kill during a save
    or a damaged file loses the run) with epoch folders written to a temporary name and renamed, the newest
    ``keep`` kept, each verified by a sha256 manifest written last (see the module docstring).

    Args:
        directory: where the checkpoints live (``out/backup``) and are read from.
        keep: checkpoints kept (at least 2, so that a corrupt newest one has a predecessor).
        write_directory: where this process writes; default ``directory``, except on a non-chief worker of a
            multi-worker run, which writes into a temporary folder (deleted at train end) and reads the chief's.

    After :meth:`restore` (called by ``on_train_begin`` unless the training code called it first, e.g. to build
    a dataset starting at the right epoch), ``epoch`` is the number of finished epochs (0: nothing restored) and
    ``history`` the per-epoch logs of the earlier runs; ``on_train_begin`` also sets the model's initial epoch,
    as ``BackupAndRestore`` does, so ``fit`` continues with the next epoch.

    The checkpoint of epoch e is written when epoch e + 1 begins (or training ends), after every other callback
    has finished epoch e (sample grids, ``model.keras``, history files): a run killed before that redoes epoch e.
    An epoch whose logs are not finite (a diverged run) is not checkpointed, with a warning.
    """

    def __init__(self, directory, keep: int = 2, write_directory=None):
        super().__init__()
        if not directory:
            raise ValueError("ResumableCheckpoint needs a directory")
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 2:
            raise ValueError(f"keep must be an integer >= 2 (a corrupt newest checkpoint needs a predecessor), "
                             f"got {keep!r}")
        self.directory = Path(directory)
        self.keep = keep
        self.write_directory = Path(write_directory) if write_directory is not None else None
        self.epoch = 0
        self.history: list[dict] = []
        self._restored_into = None
        self._temporary_write = None
        self._pending = None

    # ------------------------------------------------------------------------------------------- reading
    def checkpoints(self, directory=None) -> list[tuple[int, Path]]:
        """(epoch, folder) of every ``epoch_NNNN`` folder, newest first."""
        directory = Path(directory or self.directory)
        if not directory.is_dir():
            return []
        found = []
        for child in directory.iterdir():
            match = EPOCH_DIR.match(child.name)
            if match and child.is_dir():
                found.append((int(match.group(1)), child))
        return sorted(found, reverse=True)

    def read(self, folder) -> tuple[dict, list[np.ndarray]]:
        """(manifest, arrays) of one checkpoint folder; :class:`CorruptCheckpoint` when it does not verify."""
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CorruptCheckpoint(f"unreadable {MANIFEST_FILE}: {error}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise CorruptCheckpoint(f"{MANIFEST_FILE} is not a format-{FORMAT} manifest")
        for name, expected in manifest.get("sha256", {}).items():
            try:
                actual = sha256_file(folder / name)
            except OSError as error:
                raise CorruptCheckpoint(f"unreadable {name}: {error}") from None
            if actual != expected:
                raise CorruptCheckpoint(f"{name} does not match its sha256 (expected {expected[:12]}…, "
                                        f"found {actual[:12]}…)")
        if STATE_FILE not in manifest.get("sha256", {}):
            raise CorruptCheckpoint(f"the manifest lists no sha256 of {STATE_FILE}")
        try:
            with np.load(folder / STATE_FILE, allow_pickle=False) as archive:
                arrays = [archive[f"v{index:05d}"] for index in range(len(manifest["variables"]))]
        except Exception as error:  # noqa: BLE001 - any failure to read the archive means it is unusable
            raise CorruptCheckpoint(f"unreadable {STATE_FILE}: {error}") from None
        return manifest, arrays

    def _assign(self, model, manifest, arrays) -> None:
        variables = state_variables(model)
        if len(variables) != len(arrays):
            optimizer = getattr(model, "optimizer", None)
            if optimizer is not None and not optimizer.built:
                optimizer.build(model.trainable_variables)  # fit would build it with these variables too
                variables = state_variables(model)
        mismatch = None
        if len(variables) != len(arrays):
            mismatch = f"{len(arrays)} variables saved, the model has {len(variables)}"
        else:
            for variable, array, (name, _, _) in zip(variables, arrays, manifest["variables"]):
                if tuple(variable.shape) != array.shape or np.dtype(variable.dtype) != array.dtype:
                    mismatch = (f"{name} was saved as {array.dtype}{list(array.shape)}, the model's "
                                f"{variable.path} is {np.dtype(variable.dtype)}{list(variable.shape)}")
                    break
        if mismatch:
            raise ValueError(f"the checkpoint in {self.directory} was written by a different model ({mismatch}); "
                             "resume with the same arguments, or choose another --out")
        for variable, array in zip(variables, arrays):
            variable.assign(array)

    def restore(self, model=None) -> int:
        """Load the newest checkpoint that verifies into ``model`` (default: the callback's); return its epoch
        (0 when there is none). Corrupt ones are skipped with a :class:`CheckpointWarning`."""
        model = model if model is not None else self.model
        self._restored_into = model
        self.epoch, self.history = 0, []
        candidates = self.checkpoints()
        for epoch, folder in candidates:
            try:
                manifest, arrays = self.read(folder)
            except CorruptCheckpoint as error:
                self._quarantine(folder, error)
                continue
            self._assign(model, manifest, arrays)
            self.epoch = int(manifest["epoch"])
            self.history = list(manifest.get("history", []))
            return self.epoch
        if candidates:
            warnings.warn(f"no usable checkpoint in {self.directory}: training starts from scratch",
                          CheckpointWarning, stacklevel=2)
            return 0
        return self._restore_legacy(model)

    def _quarantine(self, folder: Path, error) -> None:
        where = ""
        if self._owns(self.directory):
            target = folder.with_name(f"corrupt_{folder.name}")
            shutil.rmtree(target, ignore_errors=True)
            try:
                os.replace(folder, target)
                where = f"; moved to {target.name}"
            except OSError:
                pass
        warnings.warn(f"checkpoint {folder} is corrupt ({error}){where}; falling back to the previous one",
                      CheckpointWarning, stacklevel=3)

    def _restore_legacy(self, model) -> int:
        """A ``keras.callbacks.BackupAndRestore`` backup (``latest.weights.h5`` + ``training_metadata.json``) of
        a run started before this callback existed."""
        weights, metadata = self.directory / "latest.weights.h5", self.directory / "training_metadata.json"
        if not (weights.is_file() and metadata.is_file()):
            return 0
        try:
            epoch = int(json.loads(metadata.read_text())["epoch"])
            optimizer = getattr(model, "optimizer", None)
            if optimizer is not None and not optimizer.built:
                optimizer.build(model.trainable_variables)
            model.load_weights(weights)
        except Exception as error:  # noqa: BLE001 - an unusable legacy backup means a fresh start, said aloud
            warnings.warn(f"cannot resume from the BackupAndRestore backup in {self.directory} ({error}): "
                          "training starts from scratch", CheckpointWarning, stacklevel=3)
            return 0
        self.epoch = epoch
        return epoch

    # ------------------------------------------------------------------------------------------- writing
    def _owns(self, directory: Path) -> bool:
        """Whether this process writes (and may tidy) ``directory``."""
        return self._target() == Path(directory)

    def _target(self) -> Path:
        if self._temporary_write is not None:
            return self._temporary_write
        return self.write_directory or self.directory

    def save(self, epoch: int, model=None) -> Path:
        """Write the state of ``model`` after ``epoch`` finished epochs as ``epoch_NNNN`` (atomically), then
        delete all but the newest ``keep`` checkpoints. Returns the folder."""
        model = model if model is not None else self.model
        target_dir = self._target()
        target_dir.mkdir(parents=True, exist_ok=True)
        variables = state_variables(model)
        arrays = [_numpy(variable) for variable in variables]
        name = f"epoch_{epoch:04d}"
        temporary = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=target_dir))
        try:
            state = temporary / STATE_FILE
            with open(state, "wb") as handle:
                np.savez(handle, **{f"v{index:05d}": array for index, array in enumerate(arrays)})
                handle.flush()
                os.fsync(handle.fileno())
            manifest = {
                "format": FORMAT, "epoch": int(epoch), "saved_at": time.time(),
                "variables": [[variable.path, list(array.shape), str(array.dtype)]
                              for variable, array in zip(variables, arrays)],
                "history": self.history, "sha256": {STATE_FILE: sha256_file(state)},
            }
            with open(temporary / MANIFEST_FILE, "w") as handle:
                handle.write(json.dumps(manifest, indent=1) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            _fsync_dir(temporary)
            publish_mode(temporary)
            final = target_dir / name
            if final.exists():  # a rerun writing an epoch again: swap, never leave a gap or a mix
                old = Path(tempfile.mkdtemp(prefix=f".old-{name}-", dir=target_dir))
                os.replace(final, old / name)
                os.replace(temporary, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(temporary, final)
            _fsync_dir(target_dir)
        finally:
            if temporary.exists():
                shutil.rmtree(temporary, ignore_errors=True)
        for _, folder in self.checkpoints(target_dir)[self.keep:]:
            shutil.rmtree(folder, ignore_errors=True)
        return final

    def _remove_stale_temporaries(self) -> None:
        target = self._target()
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and (child.name.startswith(".tmp-epoch_") or child.name.startswith(".old-epoch_")):
                    shutil.rmtree(child, ignore_errors=True)

    # ------------------------------------------------------------------------------------------- callback
    def history_dict(self) -> dict:
        """The restored and new per-epoch logs as ``{metric: [value per epoch]}`` (``History.history`` style)."""
        merged: dict[str, list[float]] = {}
        for entry in self.history:
            for key, value in entry.items():
                if key != "epoch":
                    merged.setdefault(key, []).append(value)
        return merged

    def on_train_begin(self, logs=None):
        if self.write_directory is None and not is_chief(self.model.distribute_strategy):
            self._temporary_write = Path(tempfile.mkdtemp(prefix="kzoo-worker-backup-"))
        self._remove_stale_temporaries()
        self._pending = None
        if self._restored_into is not self.model:
            self.restore(self.model)
        if self.epoch:
            set_initial_epoch(self.model, self.epoch)

    def on_epoch_end(self, epoch, logs=None):
        logs = _float_logs(logs)
        bad = sorted(key for key, value in logs.items() if not np.isfinite(value))
        if bad:  # never make a diverged state the resume point
            warnings.warn(f"epoch {epoch + 1} ended with non-finite {', '.join(bad)}: no checkpoint written; the "
                          f"newest one stays epoch {self.epoch}", CheckpointWarning, stacklevel=2)
            self._pending = None
            return
        self.history = [entry for entry in self.history if entry.get("epoch", -1) < epoch]
        self.history.append({"epoch": int(epoch), **logs})
        # Written when the next epoch begins (or training ends): after every other callback's end-of-epoch work
        # (sample grids, model.keras, history files), so an epoch counts as done only once all its outputs exist.
        self._pending = epoch + 1

    def _save_pending(self):
        if getattr(self, "_pending", None) is not None:
            self.epoch, self._pending = self._pending, None
            self.save(self.epoch)

    def on_epoch_begin(self, epoch, logs=None):
        self._save_pending()

    def on_train_end(self, logs=None):
        self._save_pending()
        set_initial_epoch(self.model, None)
        self._restored_into = None
        if self._temporary_write is not None:
            shutil.rmtree(self._temporary_write, ignore_errors=True)
            self._temporary_write = None
