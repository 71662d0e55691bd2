"""Every use kzoo makes of Keras internals, each behind one function, with a test (tests/test_keras_private.py)
that fails loudly when a Keras release moves it. kzoo is tested with the Keras range pinned in setup.cfg.

* :func:`dropout_rnn_cell_mixin`: the mixin Keras's RNN layer checks (``isinstance``) to manage a cell's
  per-sequence dropout masks; not exported under a public name.
* :func:`set_initial_epoch`: the epoch ``fit`` starts from when a callback restores a run (what
  ``keras.callbacks.BackupAndRestore`` sets).
* :func:`patch_trainer_for_multiworker`: two fixes to the TensorFlow trainer under MultiWorkerMirroredStrategy.
"""

from __future__ import annotations


def dropout_rnn_cell_mixin() -> type:
    """``keras.src.layers.rnn.dropout_rnn_cell.DropoutRNNCell``: a cell that inherits it gets its dropout masks
    created, cached per sequence and reset by ``keras.layers.RNN``, as a Keras cell does."""
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

    return DropoutRNNCell


def set_initial_epoch(model, epoch: int | None) -> None:
    """Make ``model.fit`` start at ``epoch`` (None: Keras's default), as ``keras.callbacks.BackupAndRestore``
    does from ``on_train_begin``: ``fit`` reads ``model._initial_epoch`` after the callbacks' train-begin."""
    if not hasattr(model, "_initial_epoch"):
        import keras

        raise RuntimeError(f"Keras {keras.__version__} models no longer have _initial_epoch, which kzoo sets to "
                           "resume fit at an epoch (as keras.callbacks.BackupAndRestore did); update "
                           "zoo/keras_private.py")
    model._initial_epoch = epoch


def patch_trainer_for_multiworker() -> None:
    """Work around two bugs of Keras 3's TensorFlow trainer under MultiWorkerMirroredStrategy (keras-team/keras
    #20585, tensorflow/tensorflow#72388; present in Keras 3.15), which make every ``fit`` fail:

    * ``_maybe_symbolic_build`` reduces the first batch across workers with ``strategy.reduce`` on a nest of
      per-replica values, which the collective strategy cannot convert ("Attempt to convert a value
      (PerReplica...)"): the batch is only needed for its shapes, so the local replica's part is used instead;
    * ``reduce_per_replica(..., "mean")`` reduces the scalar step logs along ``axis=0`` ("Invalid reduction
      dimension 0 for input with 0 dimensions"): scalars are averaged over the replicas with ``axis=None``.

    Only multi-worker strategies take the patched paths; everything else runs Keras's own code. Idempotent.
    Raises RuntimeError, naming what moved, when this Keras no longer has the functions patched.
    """
    import keras
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_kzoo_multiworker_patch", False):
        return
    needed = ("_collective_all_reduce_multi_worker", "reduce_per_replica", "TensorFlowTrainer")
    if not all(hasattr(trainer, name) for name in needed) or not hasattr(trainer.TensorFlowTrainer,
                                                                          "_maybe_symbolic_build"):
        raise RuntimeError(
            f"Keras {keras.__version__} moved the TensorFlow trainer internals that kzoo patches for multi-worker "
            f"training (keras.src.backend.tensorflow.trainer: {', '.join(needed)}, "
            "TensorFlowTrainer._maybe_symbolic_build); check whether keras-team/keras#20585 is fixed there and "
            "update zoo/keras_private.py")
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
