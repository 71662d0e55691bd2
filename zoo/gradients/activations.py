"""sup |φ'(a)| of the usual activations: the γ in the vanishing-gradient bound ‖∂h_t/∂h_{t−1}‖ ≤ γ‖W‖."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

# Analytic suprema of |φ'| over the real line (relu: over a > 0; its derivative is 0 for a < 0).
ANALYTIC_SUP = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}


def activation_derivative_bounds(names=tuple(ANALYTIC_SUP), grid=np.linspace(-10.0, 10.0, 20001)) -> dict:
    """For each activation: the analytic sup |φ'|, the sup measured by autodiff on ``grid``, and where.

    Returns ``{name: {"sup": analytic, "measured_sup": max over the grid, "argmax": a at the max}}``; relu
    also has ``"sup_below_zero"`` (0: no gradient flows through a unit that is off).
    """
    unknown = [name for name in names if name not in ANALYTIC_SUP]
    if unknown:
        raise ValueError(f"no analytic bound for {unknown}; known: {', '.join(ANALYTIC_SUP)}")
    points = tf.constant(np.asarray(grid, dtype=np.float64))
    bounds = {}
    for name in names:
        with tf.GradientTape() as tape:
            tape.watch(points)
            values = keras.activations.get(name)(points)
        derivative = np.abs(tape.gradient(values, points).numpy())
        best = int(np.argmax(derivative))
        bounds[name] = {"sup": ANALYTIC_SUP[name], "measured_sup": float(derivative[best]),
                        "argmax": float(grid[best])}
        if name == "relu":
            bounds[name]["sup_below_zero"] = float(derivative[np.asarray(grid) < 0].max())
    return bounds
