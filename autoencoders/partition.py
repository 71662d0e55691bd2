"""The partition function Z = Σ_v exp(−F(v)) of a Bernoulli RBM: exact enumeration and annealed importance sampling.

Energy E(v, h) = −vᵀb − hᵀc − vᵀWh, free energy F(v) = −vᵀb − Σ_j softplus(c_j + (vW)_j).
"""

from __future__ import annotations

import math

import numpy as np


def _softplus(x):
    return np.logaddexp(0.0, x)


def _logsumexp(values):
    top = np.max(values)
    return float(top + np.log(np.sum(np.exp(values - top))))


def _binary_states(count: int, start: int, stop: int) -> np.ndarray:
    """Rows ``start … stop−1`` of the 2^count binary states (bit j of the row index in column j)."""
    index = np.arange(start, stop, dtype=np.int64)[:, None]
    return ((index >> np.arange(count, dtype=np.int64)) & 1).astype(np.float64)


def exact_log_partition(kernel, visible_bias, hidden_bias, max_units: int = 20, chunk: int = 1 << 14) -> float:
    """log Z by enumerating the smaller layer, the other one summed out analytically.

    Over hidden states: log Z = logsumexp_h [hᵀc + Σ_i softplus(b_i + (Wh)_i)];
    over visible states: log Z = logsumexp_v [−F(v)]. Cost 2^min(V, H) · V · H.
    """
    kernel = np.asarray(kernel, np.float64)
    visible_bias = np.asarray(visible_bias, np.float64)
    hidden_bias = np.asarray(hidden_bias, np.float64)
    n_visible, n_hidden = kernel.shape
    smaller = min(n_visible, n_hidden)
    if smaller > max_units:
        raise ValueError(f"exact log Z enumerates 2^{smaller} states of the smaller layer, above max_units="
                         f"{max_units}; use method='ais' or raise max_units")
    if n_hidden <= n_visible:
        count, weights, own, other = n_hidden, kernel.T, hidden_bias, visible_bias
    else:
        count, weights, own, other = n_visible, kernel, visible_bias, hidden_bias
    total = 1 << count
    parts = []
    for start in range(0, total, chunk):
        states = _binary_states(count, start, min(start + chunk, total))
        values = states @ own + _softplus(states @ weights + other).sum(axis=1)
        parts.append(_logsumexp(values))
    return _logsumexp(np.asarray(parts))


def ais_betas(n_betas: int) -> np.ndarray:
    """Inverse temperatures 0 = β_0 < … < β_K = 1 spaced as Salakhutdinov & Murray (2008): of their 14,500,
    500 uniform on [0, 0.5], 4,000 on [0.5, 0.9] and 10,000 on [0.9, 1]; here scaled to ``n_betas``."""
    if not isinstance(n_betas, (int, np.integer)) or n_betas < 3:
        raise ValueError(f"n_betas must be an integer >= 3, got {n_betas!r}")
    first = max(1, round(n_betas * 500 / 14500))
    second = max(1, round(n_betas * 4000 / 14500))
    third = max(1, n_betas - first - second)
    return np.concatenate([np.linspace(0.0, 0.5, first, endpoint=False),
                           np.linspace(0.5, 0.9, second, endpoint=False),
                           np.linspace(0.9, 1.0, third + 1)])


_AIS_FUNCTIONS = {}


def _ais_function():
    """The jit-compiled AIS loop (built once; TensorFlow is imported only when AIS is used)."""
    if "ais" in _AIS_FUNCTIONS:
        return _AIS_FUNCTIONS["ais"]
    import tensorflow as tf

    @tf.function(jit_compile=False, reduce_retracing=True)
    def run(kernel, visible_bias, hidden_bias, base_bias, betas, runs, seed):
        def bernoulli(probabilities, step, salt):
            noise = tf.random.stateless_uniform(tf.shape(probabilities), seed=tf.stack([seed, 2 * step + salt]),
                                                dtype=probabilities.dtype)
            return tf.cast(noise < probabilities, probabilities.dtype)

        base = tf.sigmoid(base_bias) + tf.zeros_like(runs)  # runs: zeros [n_runs, V], fixing the shape
        v = bernoulli(base, tf.constant(0, tf.int64), 0)
        log_w = tf.zeros(tf.shape(runs)[:1], kernel.dtype)
        delta_bias = visible_bias - base_bias
        count = tf.shape(betas, out_type=tf.int64)[0]

        def body(step, v, log_w):
            previous, beta = betas[step - 1], betas[step]
            x = tf.matmul(v, kernel) + hidden_bias
            # log p*_k(v) − log p*_{k−1}(v), with log p*_β(v) = (1−β)vᵀb_A + βvᵀb + Σ_j softplus(β x_j)
            log_w += (beta - previous) * tf.linalg.matvec(v, delta_bias) + tf.reduce_sum(
                tf.nn.softplus(beta * x) - tf.nn.softplus(previous * x), axis=1)
            # one Gibbs sweep leaving p_β invariant: h ~ p_β(h|v), v ~ p_β(v|h)
            h = bernoulli(tf.sigmoid(beta * x), step, 0)
            visible_logits = (1.0 - beta) * base_bias + beta * (visible_bias + tf.matmul(h, kernel, transpose_b=True))
            v = bernoulli(tf.sigmoid(visible_logits), step, 1)
            return step + 1, v, log_w

        _, _, log_w = tf.while_loop(lambda step, *_: step < count, body, (tf.constant(1, tf.int64), v, log_w))
        return log_w

    _AIS_FUNCTIONS["ais"] = run
    return run


def ais_log_partition(kernel, visible_bias, hidden_bias, n_betas: int = 14500, n_runs: int = 100,
                      base_visible_bias=None, seed: int = 0, return_log_weights: bool = False):
    """Annealed importance sampling estimate of log Z (Neal 2001; Salakhutdinov & Murray 2008).

    Anneals from the base-rate model p_A(v) ∝ exp(vᵀb_A) (no hidden units; log Z_A = Σ softplus(b_A) +
    H log 2 once the target's H hidden units are counted at β = 0) to the RBM through
    p_β(v) ∝ exp((1−β)vᵀb_A + βvᵀb) Π_j (1 + exp(β(c_j + (vW)_j))). With importance weights w^(m),
    log Ẑ = log Z_A + log mean_m w^(m); the standard error is the delta-method std(w)/(mean(w)√M), in nats.

    ``base_visible_bias`` (b_A) defaults to the RBM's own visible biases; Salakhutdinov & Murray use the
    data's base rates, log(p/(1−p)) of the mean training image. Returns (estimate, standard_error).
    """
    import tensorflow as tf

    kernel = np.asarray(kernel, np.float64)
    n_visible, n_hidden = kernel.shape
    if not isinstance(n_runs, (int, np.integer)) or n_runs < 2:
        raise ValueError(f"n_runs must be an integer >= 2, got {n_runs!r}")
    visible_bias = np.asarray(visible_bias, np.float64)
    base = visible_bias if base_visible_bias is None else np.asarray(base_visible_bias, np.float64)
    if base.shape != (n_visible,):
        raise ValueError(f"base_visible_bias must have shape ({n_visible},), got {base.shape}")
    betas = ais_betas(int(n_betas))
    log_w = _ais_function()(
        tf.constant(kernel), tf.constant(visible_bias), tf.constant(np.asarray(hidden_bias, np.float64)),
        tf.constant(base), tf.constant(betas), tf.zeros([int(n_runs), n_visible], tf.float64),
        tf.constant(int(seed), tf.int64)).numpy()
    log_z_base = float(_softplus(base).sum() + n_hidden * math.log(2.0))
    estimate = log_z_base + _logsumexp(log_w) - math.log(len(log_w))
    weights = np.exp(log_w - log_w.max())
    standard_error = float(weights.std(ddof=1) / (weights.mean() * math.sqrt(len(weights))))
    if return_log_weights:
        return estimate, standard_error, log_w
    return estimate, standard_error
