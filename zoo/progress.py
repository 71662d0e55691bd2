"""``RunETA``: a Keras callback that prints, after every epoch, how far the whole run is and when it will end.

Keras's progress bar gives the ETA of the current epoch only; a run of many short epochs needs the run's. The
estimate is the mean time of the epochs run so far in this process (the first, which includes tracing, is left out
once there are others) times the epochs left.
"""

from __future__ import annotations

import time

import keras


def format_seconds(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss`` from an hour on)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class RunETA(keras.callbacks.Callback):
    """Prints ``"<stage>: epoch 3/20, 0:41 elapsed, 7.3 steps/s, ETA 4:05"`` at every epoch end.

    Args:
        epochs: the run's last epoch (``fit``'s ``epochs``).
        steps_per_epoch: batches per epoch, for the steps/s figure.
        stage: the name printed first (e.g. ``"GAN"``).
        print_fn: where the line goes (``print`` by default; tests pass a list's ``append``).
    """

    def __init__(self, epochs: int, steps_per_epoch: int, stage: str = "training", print_fn=print):
        super().__init__()
        self.epochs, self.steps_per_epoch = int(epochs), int(steps_per_epoch)
        self.stage, self.print_fn = stage, print_fn
        self.durations: list[float] = []
        self._started = self._epoch_started = None

    def on_train_begin(self, logs=None):
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(time.perf_counter() - self._epoch_started)
        steady = self.durations[1:] or self.durations
        per_epoch = sum(steady) / len(steady)
        left = max(0, self.epochs - (epoch + 1))
        self.print_fn(f"{self.stage}: epoch {epoch + 1}/{self.epochs}, "
                      f"{format_seconds(time.perf_counter() - self._started)} elapsed, "
                      f"{self.steps_per_epoch / per_epoch:.1f} steps/s, ETA {format_seconds(left * per_epoch)}")
