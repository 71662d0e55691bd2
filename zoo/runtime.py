"""What every training command shares: seeding, the distribution strategy, output folders, atomic writes,
PNG image grids and the standard ``fit`` callbacks (TensorBoard, checkpoint + resume).

Distribution: :func:`get_strategy` builds the ``tf.distribute`` strategy of ``--distribute``/``--devices``;
:func:`worker_out_dir` sends a multi-worker run's non-chief outputs to a temporary folder; :func:`epoch_dataset`
shuffles each epoch in an order that depends only on (seed, epoch), so that a resumed run sees the data an
uninterrupted one would; :func:`replica_batch_position` lets a custom ``train_step`` draw its random numbers for
the global batch and keep its own rows, so that N replicas reproduce one device. Fault tolerance:
:class:`zoo.checkpoint.ResumableCheckpoint` (also ``zoo.runtime.ResumableCheckpoint``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
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


def get_strategy(name="none", devices: int | None = None):
    """The ``tf.distribute`` strategy to build and train under.

    ``none``: the default strategy (one device; still a strategy, so code is written for replicas from the start);
    ``mirrored``: MirroredStrategy over the first ``devices`` local devices (GPUs, else logical CPUs);
    ``multiworker``: MultiWorkerMirroredStrategy configured from ``TF_CONFIG`` (``devices``: the first N GPUs of
    each worker). Create it before any other TensorFlow work of the process: collective ops are configured at
    start-up. A strategy object passed as ``name`` is returned as it is.
    """
    import tensorflow as tf

    if isinstance(name, tf.distribute.Strategy):
        return name
    if name not in STRATEGIES:
        raise ValueError(f"unknown distribution strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    if devices is not None and (isinstance(devices, bool) or not isinstance(devices, (int, np.integer))
                                or devices < 1):
        raise ValueError(f"devices must be a positive integer, got {devices!r}")
    if name == "none":
        if devices not in (None, 1):
            raise ValueError(f"--devices {devices} needs --distribute mirrored (one machine) or multiworker")
        return tf.distribute.get_strategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--distribute multiworker needs the TF_CONFIG environment variable "
                             "(cluster and task of this worker); see the README section on clusters")
        if devices is not None:
            gpus = tf.config.list_physical_devices("GPU")
            if not gpus and devices > 1:
                raise ValueError(f"--devices {devices}: this worker has no GPU; a CPU worker is one device")
            if gpus:
                if devices > len(gpus):
                    raise ValueError(f"asked for {devices} GPUs but this worker has {len(gpus)}")
                try:
                    tf.config.set_visible_devices(gpus[:devices], "GPU")
                except RuntimeError as error:
                    raise ValueError(f"--devices {devices}: TensorFlow was initialised before the strategy was "
                                     f"created ({error})") from None
        _patch_keras_for_multiworker()
        if "multiworker" not in _STRATEGIES:  # one per process: it configures the cluster's collective ops
            _STRATEGIES["multiworker"] = tf.distribute.MultiWorkerMirroredStrategy()
        return _STRATEGIES["multiworker"]
    local = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    count = devices or len(local)
    if count > len(local):
        raise ValueError(f"asked for {count} devices but only {len(local)} are visible: "
                         f"{', '.join(d.name for d in local)}")
    names = tuple(device.name for device in local[:count])
    # One strategy per device set and process: a second MirroredStrategy over the same devices can reuse the
    # first one's collective instance keys, and training then fails with "Shape mismatch in the collective
    # instance" (seen with TF 2.21 on logical CPUs).
    if names not in _STRATEGIES:
        _STRATEGIES[names] = tf.distribute.MirroredStrategy(list(names))
    return _STRATEGIES[names]


_STRATEGIES: dict = {}


def _patch_keras_for_multiworker() -> None:
    """Work around two bugs of Keras 3's TensorFlow trainer under MultiWorkerMirroredStrategy (keras-team/keras
    #20585, tensorflow/tensorflow#72388; present in Keras 3.15), which make every ``fit`` fail:

    * ``_maybe_symbolic_build`` reduces the first batch across workers with ``strategy.reduce`` on a nest of
      per-replica values, which the collective strategy cannot convert ("Attempt to convert a value
      (PerReplica...)"): the batch is only needed for its shapes, so the local replica's part is used instead;
    * ``reduce_per_replica(..., "mean")`` reduces the scalar step logs along ``axis=0`` ("Invalid reduction
      dimension 0 for input with 0 dimensions"): scalars are averaged over the replicas with ``axis=None``.

    Only multi-worker strategies take the patched paths; everything else runs Keras's own code. Idempotent.
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_kzoo_multiworker_patch", False):
        return
    needed = ("_collective_all_reduce_multi_worker", "reduce_per_replica", "TensorFlowTrainer")
    if not all(hasattr(trainer, name) for name in needed) or not hasattr(trainer.TensorFlowTrainer,
                                                                          "_maybe_symbolic_build"):
        return  # another Keras layout: nothing to patch (and, one hopes, nothing to fix)
    multi_worker = trainer._collective_all_reduce_multi_worker
    symbolic_build = trainer.TensorFlowTrainer._maybe_symbolic_build
    reduce_per_replica = trainer.reduce_per_replica

    def local_part(value, strategy):
        import tensorflow as tf

        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def patched_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or not multi_worker(strategy):
            return symbolic_build(self, iterator=iterator, data_batch=data_batch)
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tree.map_structure(lambda value: local_part(value, strategy), next(batches))
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def patched_reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and multi_worker(strategy):
            return tree.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return reduce_per_replica(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = patched_symbolic_build
    trainer.reduce_per_replica = patched_reduce_per_replica
    trainer._kzoo_multiworker_patch = True


def is_multiworker(strategy) -> bool:
    """True for a MultiWorkerMirroredStrategy (even a one-worker cluster)."""
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy=None) -> bool:
    """True unless ``strategy`` is a multi-worker strategy and this process is not its chief (the ``chief`` task,
    or worker 0 when the cluster has none): the process whose files are kept."""
    if strategy is None or not is_multiworker(strategy):
        return True
    return bool(strategy.extended.should_checkpoint)


@contextlib.contextmanager
def worker_out_dir(out_dir: str | os.PathLike, strategy=None):
    """The folder this process writes its outputs to: ``out_dir`` (created) on the chief; on the other workers of a
    multi-worker run a temporary folder, removed afterwards. Every worker runs the same code, saves included (a
    save may read distributed variables collectively), but only the chief's files are kept: the Keras/TF
    multi-worker convention."""
    if is_chief(strategy):
        yield prepare_out_dir(out_dir)
        return
    task = strategy.cluster_resolver.task_id
    with tempfile.TemporaryDirectory(prefix=f"kzoo-worker{task}-") as temporary:
        yield Path(temporary)


def agree_across_workers(strategy, **values) -> None:
    """Raise ValueError on every worker of a multi-worker run unless all workers hold the same ``values`` (small
    numbers: the epoch to resume from, whether a file exists): workers that would resume from different states
    would train different models, or wait forever for each other's collective ops. No-op otherwise."""
    if not is_multiworker(strategy) or not values:
        return
    import tensorflow as tf

    local = tf.constant([float(value) for value in values.values()], tf.float32)

    @tf.function
    def gather():
        def replica():
            return tf.distribute.get_replica_context().all_reduce("SUM", tf.stack([local, local * local]))

        return strategy.run(replica)

    sums = strategy.experimental_local_results(gather())[0].numpy()
    count = strategy.num_replicas_in_sync
    mean = sums[0] / count
    spread = sums[1] / count - mean ** 2
    differ = [name for name, variance in zip(values, spread) if variance > 1e-6 * max(1.0, abs(float(mean.max())))]
    if differ:
        raise ValueError(
            f"the workers of this multi-worker run disagree on {', '.join(differ)} (this worker: "
            f"{', '.join(f'{name}={values[name]}' for name in differ)}): every worker must see the same --out "
            "(a folder on a filesystem shared by all hosts), or all must start afresh")


def replica_batch_position(local_batch):
    """Inside a ``train_step``: (offset, global_batch), where this replica's examples sit in the global batch.

    Outside a strategy, or with one replica: (0, ``local_batch``) without any communication. With N replicas
    the sizes are all-gathered (batches may split unevenly); the global batch is split among replicas in
    replica order. A step that draws its random numbers for the whole global batch (from the same seed on
    every replica) and keeps rows ``offset`` … ``offset + local_batch − 1`` gives each example the noise it
    would get on one device, so N replicas reproduce a one-device run.
    """
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 0, local_batch
    local = tf.reshape(tf.cast(local_batch, tf.int32), [1])
    sizes = context.all_gather(local, axis=0)
    replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
    before = tf.range(tf.shape(sizes)[0]) < replica
    return tf.reduce_sum(tf.where(before, sizes, 0)), tf.reduce_sum(sizes)


def epoch_dataset(data, batch_size: int, seed: int, epochs: int, initial_epoch: int = 0):
    """Batches of ``data`` (an array, or a tuple of arrays with the same first dimension) for the epochs
    ``initial_epoch`` … ``epochs − 1``, reshuffled every epoch: returns (dataset, steps_per_epoch).

    Epoch e's order is a permutation drawn from the stateless seed (``seed``, e) alone, so a run resumed at
    epoch e sees exactly the batches an uninterrupted run sees (``shuffle(reshuffle_each_iteration=True)`` and
    ``fit(shuffle=True)`` restart their sequence of orders in a new process). Pass ``steps_per_epoch`` and
    ``initial_epoch`` to ``fit``; the last batch of an epoch may be smaller.
    """
    import tensorflow as tf

    arrays = data if isinstance(data, tuple) else (data,)
    n = len(arrays[0])
    if any(len(array) != n for array in arrays):
        raise ValueError(f"arrays of different lengths: {[len(array) for array in arrays]}")
    if n == 0:
        raise ValueError("no examples to train on")
    tensors = tuple(tf.constant(array) for array in arrays)
    steps = -(-n // batch_size)

    def one_epoch(epoch):
        keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(tf.argsort(keys)).batch(batch_size)

    def gather(indices):
        batch = tuple(tf.gather(tensor, indices) for tensor in tensors)
        return batch if isinstance(data, tuple) else batch[0]

    epochs_left = tf.data.Dataset.range(initial_epoch, max(int(epochs), int(initial_epoch)))
    dataset = epochs_left.flat_map(one_epoch).map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE), steps


def prepare_out_dir(path: str | os.PathLike) -> Path:
    """Create the output folder (and parents); a clear error when it is a file or not writable."""
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output path {out} exists and is not a directory; choose another --out")
    _make_parent_dirs(out, "output directory")
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"output directory {out} is not writable; choose another --out")
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


def __getattr__(name):
    # ``zoo.runtime.ResumableCheckpoint`` without importing Keras when the module is imported.
    if name == "ResumableCheckpoint":
        from zoo.checkpoint import ResumableCheckpoint

        return ResumableCheckpoint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
