"""What every training command shares: seeding, the distribution strategy, output folders, atomic writes,
PNG image grids and the standard ``fit`` callbacks (progress, TensorBoard, checkpoint + resume).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from zoo.cli_args import STRATEGIES


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``); optionally make TF ops deterministic."""
    import keras
    import tensorflow as tf

    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def get_strategy(name: str = "none", devices: int | None = None):
    """The ``tf.distribute`` strategy to build and train under.

    ``none``: the default strategy (one device; still a strategy, so code is written for replicas from the start);
    ``mirrored``: MirroredStrategy over the first ``devices`` local devices (GPUs, else logical CPUs);
    ``multiworker``: MultiWorkerMirroredStrategy configured from ``TF_CONFIG``.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown distribution strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    if devices is not None and devices < 1:
        raise ValueError(f"devices must be a positive integer, got {devices!r}")
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--distribute multiworker needs the TF_CONFIG environment variable "
                             "(cluster and task of this worker); see the README section on clusters")
        return tf.distribute.MultiWorkerMirroredStrategy()
    local = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    count = devices or len(local)
    if count > len(local):
        raise ValueError(f"asked for {count} devices but only {len(local)} are visible: "
                         f"{', '.join(d.name for d in local)}")
    return tf.distribute.MirroredStrategy([device.name for device in local[:count]])


def prepare_out_dir(path: str | os.PathLike) -> Path:
    """Create the output folder (and parents); a clear error when it is a file or not writable."""
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output path {out} exists and is not a directory; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"output directory {out} is not writable; choose another --out")
    return out


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success rename it over ``path`` (never a partial file).

    On an exception the temporary file is removed and ``path`` keeps its earlier content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Keep every suffix (Keras checks names like ``x.weights.h5``), after a marker that says what the file is.
    suffixes = "".join(target.suffixes)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name[:len(target.name) - len(suffixes)]}.",
                                     suffix=f".tmp{suffixes}", dir=target.parent)
    os.close(fd)
    try:
        yield Path(temporary)
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


def image_grid(images, columns: int | None = None, padding: int = 2, value_range=(0.0, 1.0)) -> np.ndarray:
    """Tile ``images`` [n, h, w] or [n, h, w, c] into one uint8 array [rows·(h+p)+p, columns·(w+p)+p, c]."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[0] == 0 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected images [n, h, w] or [n, h, w, 1|3] with n > 0, got shape {images.shape}")
    low, high = value_range
    images = np.clip((np.nan_to_num(images, nan=low) - low) / (high - low), 0.0, 1.0)
    n, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.ones((rows * (height + padding) + padding, columns * (width + padding) + padding, channels))
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top:top + height, left:left + width] = image
    return np.round(grid * 255).astype(np.uint8)


def save_image_grid(images, path: str | os.PathLike, columns: int | None = None,
                    value_range=(0.0, 1.0)) -> Path:
    """Write ``images`` as one PNG grid (see :func:`image_grid`), atomically."""
    from PIL import Image

    grid = image_grid(images, columns=columns, value_range=value_range)
    with atomic_path(path) as temporary:
        Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(temporary, format="PNG")
    return Path(path)


def training_callbacks(out_dir: str | os.PathLike, save_freq="epoch", tensorboard: bool = True) -> list:
    """The standard callbacks of a ``kzoo train`` run writing into ``out_dir``.

    ``BackupAndRestore`` (``out_dir/backup``) makes a rerun with the same folder resume where the last one
    stopped (mid-epoch too when ``save_freq`` is a number of batches); the backup is kept after the last epoch,
    so rerunning a finished run with more epochs continues it. ``TensorBoard`` logs go to ``out_dir/logs``.
    """
    import keras

    out = Path(out_dir)
    callbacks = [keras.callbacks.BackupAndRestore(str(out / "backup"), save_freq=save_freq, delete_checkpoint=False)]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False))
    return callbacks
