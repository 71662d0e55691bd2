"""zoo.bptt (NumPy BPTT from the equations) against TF autodiff of zoo.ElmanCell, finite differences, and
the worked example."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo

B, T, D, H, K = 3, 7, 4, 5, 3


def _problem(loss, activation="tanh", seed=0):
    rng = np.random.default_rng(seed)
    weights = {"U": rng.normal(0, 0.5, (D, H)), "W": rng.normal(0, 0.5, (H, H)), "b": rng.normal(0, 0.1, H),
               "V": rng.normal(0, 0.5, (H, K)), "c": rng.normal(0, 0.1, K)}
    x = rng.normal(size=(B, T, D))
    y = rng.normal(size=(B, T, K)) if loss == "squared" else rng.integers(0, K, (B, T))
    h0 = rng.normal(0, 0.5, (B, H))
    return x, y, h0, weights


def _autodiff(x, y, h0, weights, loss, activation, truncate=None):
    """The same network built from zoo.ElmanCell (float64) and differentiated by tf.GradientTape.

    Truncation: the loss term at step t sees h_{t−k} through stop_gradient (one unrolled pass per t).
    Returns (loss, {name: grad}, [∂L/∂h_t for t = 0..T])."""
    cell = zoo.ElmanCell(H, activation=activation, dtype="float64")
    cell.build((None, D))
    cell.kernel.assign(weights["U"])
    cell.recurrent_kernel.assign(weights["W"])
    cell.bias.assign(weights["b"])
    V, c = tf.Variable(weights["V"]), tf.Variable(weights["c"])
    x = tf.constant(x)
    h0 = tf.constant(h0)
    variables = [cell.kernel, cell.recurrent_kernel, cell.bias, V, c]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(h0)
        hidden = [h0]
        for t in range(T):
            hidden.append(cell(x[:, t], [hidden[-1]])[0])
        total = tf.constant(0.0, tf.float64)
        for t in range(1, T + 1):
            if truncate is None or t - truncate <= 0:
                h_t = hidden[t]
            else:  # recompute from a constant h_{t−k}
                h_t = tf.stop_gradient(hidden[t - truncate])
                for i in range(t - truncate, t):
                    h_t = cell(x[:, i], [h_t])[0]
            o_t = h_t @ V + c
            if loss == "squared":
                total += tf.reduce_sum(tf.square(o_t - y[:, t - 1]))
            else:
                total += tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y[:, t - 1], o_t))
    grads = dict(zip("U W b V c".split(), tape.gradient(total, variables)))
    dh = tape.gradient(total, hidden) if truncate is None else None
    return float(total), {k: g.numpy() for k, g in grads.items()}, dh


@pytest.mark.parametrize("loss", ["squared", "softmax_cross_entropy"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_bptt_equals_autodiff(loss, activation):
    x, y, h0, weights = _problem(loss, activation)
    result = zoo.bptt(x, y, h0=h0, activation=activation, loss=loss, **weights)
    value, grads, dh = _autodiff(x, y, h0, weights, loss, activation)
    assert result.loss == pytest.approx(value, rel=1e-10)
    for name, grad in grads.items():
        np.testing.assert_allclose(result.grads[name], grad, rtol=1e-6, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(result.dh, np.stack([g.numpy() for g in dh], axis=1), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("truncate", [1, 3])
def test_truncated_bptt_equals_autodiff_with_stop_gradient(truncate):
    x, y, h0, weights = _problem("squared", seed=1)
    result = zoo.bptt(x, y, h0=h0, truncate=truncate, **weights)
    full = zoo.bptt(x, y, h0=h0, **weights)
    _, grads, _ = _autodiff(x, y, h0, weights, "squared", "tanh", truncate=truncate)
    for name, grad in grads.items():
        np.testing.assert_allclose(result.grads[name], grad, rtol=1e-6, atol=1e-12, err_msg=name)
    assert not np.allclose(result.grads["W"], full.grads["W"])  # truncation changes the gradient
    np.testing.assert_allclose(zoo.bptt(x, y, h0=h0, truncate=T, **weights).grads["W"], full.grads["W"])


def test_bptt_equals_central_finite_differences():
    x, y, h0, weights = _problem("softmax_cross_entropy", seed=2)
    result = zoo.bptt(x, y, h0=h0, loss="softmax_cross_entropy", **weights)
    eps = 1e-6
    for name in weights:
        flat = weights[name].reshape(-1)
        for index in range(0, flat.size, max(1, flat.size // 6)):
            plus = {k: v.copy() for k, v in weights.items()}
            minus = {k: v.copy() for k, v in weights.items()}
            plus[name].reshape(-1)[index] += eps
            minus[name].reshape(-1)[index] -= eps
            numeric = (zoo.bptt(x, y, h0=h0, loss="softmax_cross_entropy", **plus).loss
                       - zoo.bptt(x, y, h0=h0, loss="softmax_cross_entropy", **minus).loss) / (2 * eps)
            assert result.grads[name].reshape(-1)[index] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


# The classic exercise: h_t = w_h h_{t-1} + w_x x_t, ŷ_t = w_y h_t, L = Σ (ŷ_t − y_t)².
W_X, W_H, W_Y, H0, X, Y = 0.1, 1.0, 2.0, 1.0, (10.0, 10.0), (7.0, 5.0)


def test_worked_example_with_bptt():
    result = zoo.bptt(np.array([[[X[0]], [X[1]]]]), np.array([[[Y[0]], [Y[1]]]]), U=[[W_X]], W=[[W_H]], b=[0.0],
                      V=[[W_Y]], c=[0.0], h0=[[H0]], activation="linear")
    np.testing.assert_allclose(result.hidden[0, :, 0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(result.outputs[0, :, 0], [4.0, 6.0])
    assert result.loss == pytest.approx(10.0)
    assert result.dh[0, 1, 0] == pytest.approx(-8.0)
    assert result.grads["W"][0, 0] == pytest.approx(0.0, abs=1e-12)  # the hand solution's −4 is wrong
    assert result.grads["U"][0, 0] == pytest.approx(-40.0)
    assert result.grads["V"][0, 0] == pytest.approx(2 * (4 - 7) * 2 + 2 * (6 - 5) * 3)  # −6


def test_worked_example_with_linear_cell_in_keras_rnn():
    cell = zoo.LinearRecurrentCell(1)
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = tf.constant([[[X[0]], [X[1]]]])
    h0 = tf.constant([[H0]])
    layer(x, initial_state=[h0])
    cell.kernel.assign([[W_X]])
    cell.recurrent_kernel.assign([[W_H]])
    with tf.GradientTape(persistent=True) as tape:
        h = layer(x, initial_state=[h0])[..., 0]
        y_hat = W_Y * h
        loss = tf.reduce_sum(tf.square(y_hat - tf.constant([Y])))
    np.testing.assert_allclose(h.numpy(), [[2.0, 3.0]], rtol=1e-6)
    np.testing.assert_allclose(y_hat.numpy(), [[4.0, 6.0]], rtol=1e-6)
    assert float(loss) == pytest.approx(10.0, rel=1e-6)
    assert float(tape.gradient(loss, cell.recurrent_kernel)[0, 0]) == pytest.approx(0.0, abs=1e-5)
    assert float(tape.gradient(loss, cell.kernel)[0, 0]) == pytest.approx(-40.0, rel=1e-6)
    # ∂L/∂h_1: step the same cell by hand so that h_1 is a tensor the tape sees.
    with tf.GradientTape() as tape:
        h1 = cell(x[:, 0], [h0])[0]
        tape.watch(h1)
        h2 = cell(x[:, 1], [h1])[0]
        loss = tf.square(W_Y * h1 - Y[0]) + tf.square(W_Y * h2 - Y[1])
    assert float(tape.gradient(loss, h1)[0, 0]) == pytest.approx(-8.0, rel=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"activation": "softsign"}, "activation"), ({"loss": "hinge"}, "loss"), ({"truncate": 0}, "truncate"),
    ({"W": np.zeros((H, H + 1))}, "`W`"), ({"h0": np.zeros((1, H))}, "`h0`"),
])
def test_bptt_rejects_bad_arguments(kwargs, match):
    x, y, h0, weights = _problem("squared")
    arguments = {"h0": h0, **weights, **kwargs}
    with pytest.raises(ValueError, match=match):
        zoo.bptt(x, y, **arguments)


def test_module_docstring_example_runs():
    import doctest

    import zoo.backprop

    failures, tried = doctest.testmod(zoo.backprop)
    assert tried >= 3 and failures == 0
