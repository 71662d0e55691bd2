"""The training engine every ``kzoo train`` kind is a thin recipe over.

A run writes into one output folder: ``config.json`` (the run's settings, plain data), ``backup/`` (the one resume
state, :class:`zoo.checkpoint.ResumableCheckpoint`), ``logs/`` (TensorBoard), the model and ``metrics.json``. The
engine's parts, used in this order by ``train_t2i``, ``train_rbm``, ``train_autoencoder``, ``train_charlm`` and
``train_seq2seq``:

1. :func:`check_resume`: a rerun into a folder holding a run with other settings is refused, naming each setting
   that differs (``epochs`` and the device settings of :data:`RESUMABLE_CHANGES` may change);
2. ``zoo.distribution.worker_out_dir``: on a multi-worker cluster only the chief's files are kept;
3. :func:`fit_resumable`: restores the newest checkpoint that verifies, builds the data from the epoch it
   resumes at (so a resumed run sees the batches of an uninterrupted one), and runs ``fit`` with the standard
   callbacks (:func:`standard_callbacks`: checkpoint, TensorBoard, a NaN guard, the run's ETA);
4. :func:`write_config` and ``zoo.io.write_json`` of the metrics.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, NamedTuple

from zoo.callbacks import epoch_timer, training_callbacks
from zoo.distribution import agree_across_workers, is_chief
from zoo.io import write_json

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
# Settings that may change between a run and its resumption: they change neither the model nor its data.
RESUMABLE_CHANGES = ("epochs", "distribute", "devices", "deterministic", "verbose")


def changed_settings(previous: dict, config: dict, exempt=RESUMABLE_CHANGES, prefix: str = "") -> list[str]:
    """``"key: old -> new"`` for every setting of ``config`` that differs from ``previous`` (nested dicts by
    dotted key), ``exempt`` keys left out."""
    changes = []
    for key in sorted(set(previous) | set(config)):
        if not prefix and key in exempt:
            continue
        before, now = previous.get(key), config.get(key)
        if isinstance(before, dict) and isinstance(now, dict):
            changes += changed_settings(before, now, (), f"{prefix}{key}.")
        elif before != now:
            changes.append(f"{prefix}{key}: {before!r} -> {now!r}")
    return changes


def check_resume(out_dir: str | os.PathLike, config: dict, exempt=RESUMABLE_CHANGES) -> None:
    """ValueError naming the differing settings when ``out_dir`` holds a started run (a ``config.json`` and a
    ``backup/``) whose settings differ from ``config``; nothing otherwise. Writes nothing."""
    out_dir = Path(out_dir).expanduser()
    path = out_dir / CONFIG_FILE
    if not path.is_file() or not (out_dir / "backup").exists():
        return
    changes = changed_settings(json.loads(path.read_text()), json.loads(json.dumps(config)), exempt)
    if changes:
        raise ValueError(f"{out_dir} holds a run with different settings ({'; '.join(changes)}); rerun with the "
                         f"same settings to resume it ({', '.join(exempt)} may change), or write into another "
                         "output folder")


def finished_run(out_dir: str | os.PathLike, config: dict, stage: str = "training", exempt=RESUMABLE_CHANGES,
                 verbose: int = 1) -> dict | None:
    """The metrics of the run in ``out_dir`` when it already trained ``config["epochs"]`` epochs with these settings
    (its ``metrics.json``, with ``"already_finished": True``), else None. A rerun of a finished command returns this
    instead of training, evaluating and writing its files again; pass ``force`` to the training function to redo
    them. Says so on stdout when ``verbose``."""
    out_dir = Path(out_dir).expanduser()
    config_path, metrics_path = out_dir / CONFIG_FILE, out_dir / METRICS_FILE
    if not (config_path.is_file() and metrics_path.is_file() and (out_dir / "backup").is_dir()):
        return None
    previous = json.loads(config_path.read_text())
    if changed_settings(previous, json.loads(json.dumps(config)), exempt) or previous.get("epochs") != config.get(
            "epochs"):
        return None
    from zoo.checkpoint import CorruptCheckpoint, ResumableCheckpoint

    checkpoint = ResumableCheckpoint(out_dir / "backup")
    newest = checkpoint.checkpoints()[:1]
    if not newest or newest[0][0] < int(config["epochs"]):
        return None
    try:
        checkpoint.read(newest[0][1])  # a damaged newest checkpoint: let the normal path fall back and retrain
    except CorruptCheckpoint:
        return None
    if verbose:
        print(f"{stage}: {out_dir} already holds this run, trained for {config['epochs']} epochs; nothing to do "
              "(force=True, or --force on the command line, evaluates and writes its files again)", flush=True)
    return {**json.loads(metrics_path.read_text()), "already_finished": True}


def write_config(out: str | os.PathLike, config: dict) -> Path:
    """The run's settings as ``out/config.json`` (atomically)."""
    return write_json(config, Path(out) / CONFIG_FILE)


def standard_callbacks(out, strategy=None, checkpoint=None, epochs=None, steps_per_epoch=None, stage="training",
                       verbose=1) -> list:
    """The callbacks of every run: :func:`zoo.callbacks.training_callbacks` (checkpoint, TensorBoard), a NaN guard
    (``keras.callbacks.TerminateOnNaN``) and, when ``verbose``, :class:`zoo.progress.RunETA`."""
    import keras

    callbacks = [*training_callbacks(out, strategy=strategy, checkpoint=checkpoint),
                 keras.callbacks.TerminateOnNaN()]
    if verbose and epochs and steps_per_epoch:
        from zoo.progress import RunETA

        callbacks.append(RunETA(epochs, steps_per_epoch, stage=stage))
    return callbacks


class FitResult(NamedTuple):
    """What :func:`fit_resumable` returns: the checkpoint (its ``history_dict()`` holds every epoch's logs), the
    epoch the run resumed at, the wall seconds of each epoch run now, and ``fit``'s History (None when no epoch
    was left)."""

    checkpoint: object
    initial_epoch: int
    seconds_per_epoch: list
    history: object


def fit_resumable(model, out_dir, out, strategy, epochs: int, make_data: Callable, validation_data=None,
                  callbacks=(), verbose=1, stage="training") -> FitResult:
    """Restore ``model`` from the newest good checkpoint of ``out_dir/backup``, then fit the remaining epochs.

    ``make_data(initial_epoch)`` returns ``(dataset, steps_per_epoch)`` holding the epochs from
    ``initial_epoch`` on (for example :func:`zoo.data.order.epoch_dataset`), so that the order of the batches
    does not depend on where the run was resumed. Checkpoints go to ``out/backup`` (``out`` is ``out_dir`` on
    the chief). ``callbacks`` are added after :func:`standard_callbacks`.
    """
    from zoo.checkpoint import ResumableCheckpoint

    checkpoint = ResumableCheckpoint(Path(out_dir).expanduser() / "backup", write_directory=Path(out) / "backup")
    initial_epoch = checkpoint.restore(model)
    agree_across_workers(strategy, resume_epoch=initial_epoch)
    if verbose and is_chief(strategy) and initial_epoch:
        print(f"{stage}: {'already trained for' if initial_epoch >= epochs else 'resuming after epoch'} "
              f"{initial_epoch} of {epochs} (from {checkpoint.directory})", flush=True)
    timer = epoch_timer()
    history = None
    if initial_epoch < epochs:
        data, steps = make_data(initial_epoch)
        every = [*standard_callbacks(out, strategy, checkpoint, epochs, steps, stage, verbose), timer, *callbacks]
        # shuffle=False: the order is the dataset's own (a tf.data dataset is never shuffled by fit).
        history = model.fit(data, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps, shuffle=False,
                            validation_data=validation_data, callbacks=every, verbose=verbose)
    return FitResult(checkpoint, initial_epoch, timer.seconds, history)
