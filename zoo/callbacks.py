"""The standard ``fit`` callbacks of a ``kzoo train`` run: checkpoint + resume, TensorBoard, epoch timing."""

from __future__ import annotations

import os
import time
from pathlib import Path

from zoo.distribution import is_chief


def training_callbacks(out_dir: str | os.PathLike, save_freq="epoch", tensorboard: bool = True, strategy=None,
                       checkpoint=None) -> list:
    """The standard callbacks of a ``kzoo train`` run writing into ``out_dir``.

    :class:`~zoo.checkpoint.ResumableCheckpoint` (``out_dir/backup``; or ``checkpoint``, one made by the caller)
    makes a rerun with the same folder resume after the last finished epoch, from the newest checkpoint that
    verifies (an earlier one, with a warning, when the newest is corrupt); checkpoints are kept after the last
    epoch, so rerunning a finished run with more epochs continues it. ``TensorBoard`` logs go to ``out_dir/logs``
    (only on the chief of a multi-worker ``strategy``). Checkpoints are written at epoch ends only
    (``save_freq="epoch"``): a run killed mid-epoch repeats that epoch, which with :func:`epoch_dataset` and
    ``--deterministic`` gives the weights of an uninterrupted run.
    """
    import keras

    from zoo.checkpoint import ResumableCheckpoint

    if save_freq != "epoch":
        raise ValueError(f"checkpoints are written at epoch ends only (save_freq='epoch'), got {save_freq!r}")
    out = Path(out_dir)
    callbacks = [checkpoint if checkpoint is not None else ResumableCheckpoint(out / "backup")]
    if tensorboard and is_chief(strategy):
        callbacks.append(keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False))
    return callbacks


def epoch_timer():
    """A Keras callback whose ``seconds`` lists the wall time of each fit epoch."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    return EpochTimer()
