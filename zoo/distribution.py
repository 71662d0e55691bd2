"""Distribution: the ``tf.distribute`` strategy a run trains under, and what a multi-worker run needs.

:func:`get_strategy` builds the strategy; :func:`worker_out_dir` sends a multi-worker run's non-chief outputs to a
temporary folder; :func:`agree_across_workers` refuses a run whose workers would resume from different states;
:func:`replica_batch_position` lets a custom ``train_step`` draw its random numbers for the global batch and keep
its own rows, so that N replicas reproduce one device.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

from zoo import keras_private
from zoo.io import prepare_out_dir
from zoo.validation import ArgumentError, literal

STRATEGIES = ("none", "mirrored", "multiworker")


def get_strategy(name="none", devices: int | None = None):
    """The ``tf.distribute`` strategy to build and train under.

    ``none``: the default strategy (one device; still a strategy, so code is written for replicas from the start);
    ``mirrored``: MirroredStrategy over the first ``devices`` local devices (GPUs; on a machine without one, the
    CPU split into ``devices`` logical devices by :func:`split_cpu`);
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
            raise ArgumentError("{devices} needs {distribute} (one machine) or multiworker", devices=devices,
                                distribute="mirrored")
        return tf.distribute.get_strategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ArgumentError("{distribute} needs the TF_CONFIG environment variable (cluster and task of this "
                                "worker); see docs/training.md", distribute="multiworker")
        if devices is not None:
            gpus = tf.config.list_physical_devices("GPU")
            if not gpus and devices > 1:
                raise ArgumentError("{devices}: this worker has no GPU; a CPU worker is one device", devices=devices)
            if gpus:
                if devices > len(gpus):
                    raise ValueError(f"asked for {devices} GPUs but this worker has {len(gpus)}")
                try:
                    tf.config.set_visible_devices(gpus[:devices], "GPU")
                except RuntimeError as error:
                    raise ArgumentError("{devices}: TensorFlow was initialised before the strategy was created ("
                                        + literal(error) + ")", devices=devices) from None
        keras_private.patch_trainer_for_multiworker()
        if "multiworker" not in _STRATEGIES:  # one per process: it configures the cluster's collective ops
            _STRATEGIES["multiworker"] = tf.distribute.MultiWorkerMirroredStrategy()
        return _STRATEGIES["multiworker"]
    if devices is not None and devices > 1 and not tf.config.list_physical_devices("GPU"):
        split_cpu(devices)
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


def split_cpu(count: int) -> None:
    """Split the machine's CPU into ``count`` logical devices, so that a machine without a GPU can run N replicas
    (each a thread pool over the same cores: for reproducing and testing multi-device runs, not for speed).
    TensorFlow allows this only before its runtime starts: ``kzoo train`` builds the strategy first; a process that
    already ran TensorFlow work with fewer CPU devices gets an error saying so. A split into at least ``count``
    devices that is already in place is kept."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    existing = tf.config.get_logical_device_configuration(cpu)
    if existing is not None and len(existing) >= count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        started = len(tf.config.list_logical_devices("CPU"))
        raise ArgumentError(f"{{devices}}: TensorFlow already started in this process with {started} CPU device(s), "
                            "and the CPU can only be split before that; build the strategy first (zoo.get_strategy"
                            "('mirrored', devices=N) before any other TensorFlow work), as kzoo train does",
                            devices=count) from None


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
            f"{', '.join(f'{name}={values[name]}' for name in differ)}): every worker must see the same output folder "
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
