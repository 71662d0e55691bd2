"""The data order of a training run: each epoch's shuffle depends only on (seed, epoch), so that a resumed run
sees the batches an uninterrupted one would."""

from __future__ import annotations


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
