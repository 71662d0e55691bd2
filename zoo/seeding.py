"""Seeding: one call makes a run's random numbers reproducible."""

from __future__ import annotations

import numpy as np


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``); optionally make TF ops deterministic."""
    import keras
    import tensorflow as tf

    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()
