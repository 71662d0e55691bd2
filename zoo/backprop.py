"""Backpropagation through time (BPTT) written out, in NumPy float64: the reference the TF code is tested against.

The Elman network, in Keras's row-vector layout (batch rows, a loss at every step):

    a_t = x_t U + h_{t-1} W + b,    h_t = φ(a_t),    o_t = h_t V + c,    L = Σ_t ℓ(o_t, y_t)

with ℓ the squared error Σ_k (o_tk − y_tk)² or the softmax cross-entropy −log softmax(o_t)[y_t], summed over
the batch. Each loss term L^(t) reaches a weight through every earlier step i ≤ t, along the product of the
step Jacobians ∂h_j/∂h_{j-1} = diag(φ'(a_j)) Wᵀ (column form):

    ∂L^(t)/∂W = Σ_{i≤t} ∂L^(t)/∂o_t · ∂o_t/∂h_t · (Π_{j=i+1..t} ∂h_j/∂h_{j-1}) · ∂h_i/∂W

:func:`bptt` evaluates exactly this double sum (quadratic in T, as the textbook writes it; autodiff and
``zoo.LSTM`` & co. use the linear-time recursion). Truncated BPTT with ``truncate=k`` keeps, for every loss
term L^(t), only the last k steps i = t−k+1..t: h_{t−k} is treated as a constant, as ``stop_gradient`` would.

Worked example (the scalar linear RNN of the classic exercise): w_x = 0.1, w_h = 1, w_y = 2, h_0 = 1,
x = (10, 10), y = (7, 5) gives h = (2, 3), ŷ = (4, 6), L = 10, ∂L/∂h_1 = −8, ∂L/∂w_h = 0, ∂L/∂w_x = −40::

    >>> import numpy as np
    >>> r = bptt(np.array([[[10.0], [10.0]]]), np.array([[[7.0], [5.0]]]), U=[[0.1]], W=[[1.0]], b=[0.0],
    ...          V=[[2.0]], c=[0.0], h0=[[1.0]], activation="linear")
    >>> float(r.loss), float(r.grads["W"][0, 0]), float(r.grads["U"][0, 0]), float(r.dh[0, 1, 0])
    (10.0, 0.0, -40.0, -8.0)

(A widely circulated hand solution reports ∂L/∂w_h = −4: it writes ŷ_1 = w_h·h_1 = 2 instead of
w_y·h_1 = 4, and evaluates 2·2·(2+1) as 8.)
"""

from __future__ import annotations

import dataclasses

import numpy as np

LOSSES = ("squared", "softmax_cross_entropy")


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# φ and φ' as functions of the pre-activation a.
ACTIVATIONS = {
    "tanh": (np.tanh, lambda a: 1.0 - np.tanh(a) ** 2),
    "sigmoid": (_sigmoid, lambda a: _sigmoid(a) * (1.0 - _sigmoid(a))),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a: (a > 0).astype(np.float64)),
    "linear": (lambda a: a, np.ones_like),
}


@dataclasses.dataclass
class BPTTResult:
    """What :func:`bptt` returns.

    ``loss``: L; ``hidden``: h_0..h_T [B, T+1, H]; ``outputs``: o_1..o_T [B, T, K];
    ``grads``: ∂L/∂U, ∂L/∂W, ∂L/∂b, ∂L/∂V, ∂L/∂c under those keys; ``dh``: the total derivative ∂L/∂h_t for
    t = 0..T [B, T+1, H] (index 0 is the initial state).
    """

    loss: float
    hidden: np.ndarray
    outputs: np.ndarray
    grads: dict
    dh: np.ndarray


def _as_matrix(value, name, shape):
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"`{name}` must have shape {shape}, got {array.shape}")
    return array


def _loss_and_output_gradient(outputs, y, loss):
    """ℓ summed over the batch, and ∂ℓ/∂o_t, both for one step."""
    if loss == "squared":
        diff = outputs - y
        return float(np.sum(diff ** 2)), 2.0 * diff
    logits = outputs - outputs.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    rows = np.arange(len(y))
    grad = np.exp(log_probs)
    grad[rows, y] -= 1.0
    return float(-np.sum(log_probs[rows, y])), grad


def bptt(x, y, U, W, b, V, c, h0=None, activation="tanh", loss="squared", truncate=None) -> BPTTResult:
    """Forward pass and BPTT gradients of the Elman network in the module docstring.

    Args:
        x: inputs [B, T, D] (or [T, D] for one sequence).
        y: targets [B, T, K] for ``loss="squared"``; integer class ids [B, T] for ``"softmax_cross_entropy"``.
        U (D, H), W (H, H), b (H,), V (H, K), c (K,): the weights.
        h0: initial state [B, H] (zeros by default).
        activation: φ, one of ``tanh``, ``sigmoid``, ``relu``, ``linear``.
        truncate: None for full BPTT, or k >= 1 to backpropagate each loss term through its last k steps only.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown `activation` {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
    if loss not in LOSSES:
        raise ValueError(f"unknown `loss` {loss!r}; expected one of {', '.join(LOSSES)}")
    if truncate is not None and (isinstance(truncate, bool) or not isinstance(truncate, (int, np.integer))
                                 or truncate < 1):
        raise ValueError(f"`truncate` must be None or a positive integer number of steps, got {truncate!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x, y = x[None], np.asarray(y)[None]
    if x.ndim != 3:
        raise ValueError(f"`x` must have shape [batch, steps, features], got {x.shape}")
    batch, steps, features = x.shape
    U = np.asarray(U, dtype=np.float64)
    if U.ndim != 2 or U.shape[0] != features:
        raise ValueError(f"`U` must have shape ({features}, units), got {U.shape}")
    units = U.shape[1]
    W = _as_matrix(W, "W", (units, units))
    b = _as_matrix(b, "b", (units,))
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] != units:
        raise ValueError(f"`V` must have shape ({units}, outputs), got {V.shape}")
    c = _as_matrix(c, "c", (V.shape[1],))
    h0 = np.zeros((batch, units)) if h0 is None else _as_matrix(h0, "h0", (batch, units))
    if loss == "squared":
        y = _as_matrix(y, "y", (batch, steps, V.shape[1]))
    else:
        y = np.asarray(y)
        if y.shape != (batch, steps) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"`y` must be integer class ids of shape {(batch, steps)}, got {y.dtype} {y.shape}")
    phi, phi_prime = ACTIVATIONS[activation]

    pre = np.empty((batch, steps, units))
    hidden = np.empty((batch, steps + 1, units))
    hidden[:, 0] = h0
    for t in range(steps):
        pre[:, t] = x[:, t] @ U + hidden[:, t] @ W + b
        hidden[:, t + 1] = phi(pre[:, t])
    outputs = hidden[:, 1:] @ V + c

    grads = {name: np.zeros_like(value) for name, value in (("U", U), ("W", W), ("b", b), ("V", V), ("c", c))}
    dh = np.zeros_like(hidden)
    total = 0.0
    for t in range(1, steps + 1):  # the loss term L^(t)
        step_loss, d_output = _loss_and_output_gradient(outputs[:, t - 1], y[:, t - 1], loss)
        total += step_loss
        grads["V"] += hidden[:, t].T @ d_output
        grads["c"] += d_output.sum(axis=0)
        delta = d_output @ V.T  # ∂L^(t)/∂h_t
        first = 1 if truncate is None else max(1, t - truncate + 1)
        for i in range(t, first - 1, -1):  # i = t, t−1, ..., first: delta is ∂L^(t)/∂h_i
            dh[:, i] += delta
            d_pre = delta * phi_prime(pre[:, i - 1])  # ∂L^(t)/∂a_i
            grads["U"] += x[:, i - 1].T @ d_pre
            grads["W"] += hidden[:, i - 1].T @ d_pre
            grads["b"] += d_pre.sum(axis=0)
            delta = d_pre @ W.T  # one more factor ∂h_i/∂h_{i−1} of the product
        if first == 1:
            dh[:, 0] += delta
    return BPTTResult(loss=total, hidden=hidden, outputs=outputs, grads=grads, dh=dh)
