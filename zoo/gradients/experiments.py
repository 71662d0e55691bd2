"""The classic gradient-flow experiments, as functions that return measurements (tests and notebooks call them).

* powers of the recurrent matrix: a linear cell with W̄ = ρ·Q (Q orthogonal) has ‖∂h_T/∂h_t‖ = ρ^{T−t};
* saturating activations: an Elman cell with ‖W‖₂ = r has ‖∂h_T/∂h_t‖ ≤ (γ·r)^{T−t}, γ = sup|φ'|;
* the LSTM's additive cell state: with a large forget-gate bias ∂c_T/∂c_0 ≈ Π f_t stays far from zero;
* gradient clipping (Pascanu et al. 2013): ``clipnorm``/``global_clipnorm`` cap the update;
* why the input modulation g is a tanh: with a sigmoid, i⊙g > 0 and the cell state only grows.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zoo.cells import ElmanCell, GRUCell, LinearRecurrentCell, LSTMCell
from zoo.gradients.jacobians import jacobian_norms

# The cells `kzoo gradients` compares, with Keras's default initialisers (Glorot kernel, orthogonal recurrence).
CELL_FACTORIES = {
    "elman-tanh": lambda units, seed: ElmanCell(units, activation="tanh", **_initialisers(seed)),
    "elman-sigmoid": lambda units, seed: ElmanCell(units, activation="sigmoid", **_initialisers(seed)),
    "elman-relu": lambda units, seed: ElmanCell(units, activation="relu", **_initialisers(seed)),
    "linear": lambda units, seed: LinearRecurrentCell(units, **_initialisers(seed)),
    "lstm": lambda units, seed: LSTMCell(units, **_initialisers(seed)),
    "gru": lambda units, seed: GRUCell(units, **_initialisers(seed)),
}


def _initialisers(seed):
    return {"kernel_initializer": keras.initializers.GlorotUniform(seed=seed),
            "recurrent_initializer": keras.initializers.Orthogonal(seed=seed + 1)}


def make_cell(name: str, units: int, seed: int = 0):
    """One of :data:`CELL_FACTORIES` by name."""
    if name not in CELL_FACTORIES:
        raise ValueError(f"unknown cell {name!r}; expected one of {', '.join(CELL_FACTORIES)}")
    return CELL_FACTORIES[name](units, seed)


def random_inputs(batch: int, steps: int, features: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """Standard normal inputs [batch, steps, features] (float32) times ``scale``."""
    return (scale * np.random.default_rng(seed).standard_normal((batch, steps, features))).astype(np.float32)


def orthogonal(units: int, seed: int = 0) -> np.ndarray:
    """A random orthogonal matrix Q (QᵀQ = I): the Q factor of a Gaussian matrix, signs fixed."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((units, units)))
    return q * np.sign(np.diag(r))


def set_recurrent_matrix(cell, matrix) -> None:
    """Overwrite a built cell's recurrent kernel with ``matrix``."""
    cell.recurrent_kernel.assign(np.asarray(matrix, dtype=cell.recurrent_kernel.dtype))


def linear_cell_norms(rho: float, steps: int = 50, units: int = 16, batch: int = 4, seed: int = 0) -> np.ndarray:
    """‖∂h_T/∂h_t‖ for a linear cell with W̄ = ρ·Q: exactly ρ^{T−t}, whatever the inputs."""
    cell = LinearRecurrentCell(units, dtype="float64")
    cell.build((None, units))
    set_recurrent_matrix(cell, rho * orthogonal(units, seed))
    return jacobian_norms(cell, random_inputs(batch, steps, units, seed).astype(np.float64))


def elman_norms(activation: str, radius: float, steps: int = 50, units: int = 32, batch: int = 4,
                seed: int = 0, input_scale: float = 1.0, recurrent_matrix=None) -> np.ndarray:
    """‖∂h_T/∂h_t‖ for an Elman cell whose W is ``radius``·Q (Q orthogonal, so ‖W‖₂ = radius), or
    ``recurrent_matrix`` when given."""
    cell = ElmanCell(units, activation=activation, kernel_initializer=keras.initializers.GlorotUniform(seed),
                     dtype="float64")
    cell.build((None, units))
    set_recurrent_matrix(cell, radius * orthogonal(units, seed) if recurrent_matrix is None else recurrent_matrix)
    return jacobian_norms(cell, random_inputs(batch, steps, units, seed, input_scale).astype(np.float64))


def lstm_memory_norms(forget_bias: float, steps: int = 100, units: int = 32, batch: int = 4,
                      seed: int = 0) -> np.ndarray:
    """‖∂c_T/∂c_t‖ for an LSTM cell whose forget-gate bias is ``forget_bias`` (other biases zero)."""
    cell = LSTMCell(units, unit_forget_bias=False, kernel_initializer=keras.initializers.GlorotUniform(seed),
                    recurrent_initializer=keras.initializers.Orthogonal(seed=seed + 1), dtype="float64")
    cell.build((None, units))
    bias = np.zeros(4 * units)
    bias[units:2 * units] = forget_bias  # gate order i, f, g, o
    cell.bias.assign(bias)
    return jacobian_norms(cell, random_inputs(batch, steps, units, seed).astype(np.float64), state_index=1)


def clipped_update_norms(clipnorm=None, global_clipnorm=None, learning_rate: float = 1.0, steps: int = 60,
                         units: int = 16, seed: int = 0) -> dict:
    """One SGD step on an exploding relu RNN (W = 1.2·I); the norm of each weight's update and of all of them.

    Returns ``{"per_variable": {name: ‖Δθ‖}, "global": ‖Δθ‖ over all weights, "gradient_global": ‖∇L‖}``.
    """
    keras.utils.set_random_seed(seed)
    cell = ElmanCell(units, activation="relu", recurrent_initializer=keras.initializers.Identity(gain=1.2))
    model = keras.Sequential([keras.Input((steps, units)), keras.layers.RNN(cell), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(learning_rate, clipnorm=clipnorm, global_clipnorm=global_clipnorm)
    x = np.abs(random_inputs(8, steps, units, seed))
    y = np.zeros((8, 1), dtype=np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    gradients = tape.gradient(loss, model.trainable_weights)
    before = [w.numpy().copy() for w in model.trainable_weights]
    optimizer.apply_gradients(zip(gradients, model.trainable_weights))
    deltas = {w.path: float(np.linalg.norm(w.numpy() - b)) for w, b in zip(model.trainable_weights, before)}
    return {"per_variable": deltas, "global": float(np.sqrt(sum(d ** 2 for d in deltas.values()))),
            "gradient_global": float(np.sqrt(sum(float(tf.reduce_sum(g ** 2)) for g in gradients)))}


def cell_state_drift(modulation_activation: str, steps: int = 200, units: int = 32, batch: int = 16,
                     seed: int = 0) -> np.ndarray:
    """The mean cell state E[c_t] over batch and units for t = 1..steps, for an LSTM with the given
    input-modulation activation (Keras default initialisers, unit forget bias, standard normal inputs).

    With tanh, g ∈ (−1, 1) is symmetric and c_t stays centred; with a sigmoid, g ∈ (0, 1), so i⊙g > 0 is
    added at every step and c_t drifts upward until it settles near E[i·g]/(1 − E[f]) (about 0.9 within
    ~20 steps with these initialisers), far from the centred tanh case.
    """
    keras.utils.set_random_seed(seed)
    cell = LSTMCell(units, modulation_activation=modulation_activation, **_initialisers(seed))
    x = tf.constant(random_inputs(batch, steps, units, seed))
    states = [tf.zeros((batch, units)), tf.zeros((batch, units))]
    means = []
    for t in range(steps):
        _, states = cell(x[:, t], states)
        means.append(float(tf.reduce_mean(states[1])))
    return np.array(means)
