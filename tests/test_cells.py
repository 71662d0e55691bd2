"""Oracle tests for the recurrent cells in ``zoo.cells`` used inside ``keras.layers.RNN``.

Three kinds of oracle: the matching Keras cell given the same (randomly perturbed) weights,
small NumPy implementations of each cell's equations written out here, and closed forms
(the unrolled linear recurrence, the LSTM cell-state fixed point, the GRU textbook form).
The fused layers (``zoo.LSTM`` etc.) are tested in ``test_layers.py``.
"""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.cells.base import RecurrentCell

# Keras's own numpy-2 deprecation noise (saving, reading variables), not kzoo's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

ATOL = 1e-5
RTOL = 1e-5
ZOO_CELLS = [zoo.ElmanCell, zoo.LSTMCell, zoo.GRUCell, zoo.LinearRecurrentCell]

# kind -> (zoo cell class, Keras cell class, constructor arguments shared by both)
KINDS = {
    "elman": (zoo.ElmanCell, keras.layers.SimpleRNNCell, {}),
    "elman_relu": (zoo.ElmanCell, keras.layers.SimpleRNNCell, {"activation": "relu"}),
    "elman_sigmoid": (zoo.ElmanCell, keras.layers.SimpleRNNCell, {"activation": "sigmoid"}),
    "lstm": (zoo.LSTMCell, keras.layers.LSTMCell, {}),
    "gru_reset_after": (zoo.GRUCell, keras.layers.GRUCell, {"reset_after": True}),
    "gru_reset_before": (zoo.GRUCell, keras.layers.GRUCell, {"reset_after": False}),
}
# The four cell/variant kinds the argument-combination tests run over.
MAIN_KINDS = ["elman", "lstm", "gru_reset_after", "gru_reset_before"]
# (batch, time, features, units), small and varied.
SHAPES = [(2, 3, 2, 3), (3, 5, 4, 6), (5, 7, 6, 8)]


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(1234)


# --------------------------------------------------------------------------- helpers


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def relu(a):
    return np.maximum(a, 0.0)


def np_elman(x, U, W, b, act=np.tanh):
    """h_t = act(x_t U + h_{t-1} W + b); returns (all h_t, h_T)."""
    h = np.zeros((x.shape[0], W.shape[0]))
    hs = []
    for t in range(x.shape[1]):
        h = act(x[:, t] @ U + h @ W + b)
        hs.append(h)
    return np.stack(hs, 1), h


def np_lstm(x, U, W, b, psi=np.tanh):
    """Gates i, f, g, o; c_t = f c_{t-1} + i g, h_t = o tanh(c_t); returns (all h_t, h_T, c_T)."""
    h = np.zeros((x.shape[0], W.shape[0]))
    c = np.zeros_like(h)
    hs = []
    for t in range(x.shape[1]):
        zi, zf, zg, zo = np.split(x[:, t] @ U + h @ W + b, 4, axis=-1)
        c = sigmoid(zf) * c + sigmoid(zi) * psi(zg)
        h = sigmoid(zo) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, 1), h, c


def np_gru(x, U, W, b, reset_after, textbook=False):
    """GRU, blocks z, r, h. Keras update h = z h + (1-z) h~; textbook h = (1-z) h + z h~.

    reset_after=True:  h~ = tanh(x U_h + b_h + r (h W_h + b'_h)), b = [input row, recurrent row].
    reset_after=False: h~ = tanh(x U_h + (r h) W_h + b_h).
    """
    u = W.shape[0]
    h = np.zeros((x.shape[0], u))
    hs = []
    for t in range(x.shape[1]):
        xp = x[:, t] @ U + (b[0] if reset_after else b)
        if reset_after:
            rp = h @ W + b[1]
            z = sigmoid(xp[:, :u] + rp[:, :u])
            r = sigmoid(xp[:, u:2 * u] + rp[:, u:2 * u])
            hh = np.tanh(xp[:, 2 * u:] + r * rp[:, 2 * u:])
        else:
            z = sigmoid(xp[:, :u] + h @ W[:, :u])
            r = sigmoid(xp[:, u:2 * u] + h @ W[:, u:2 * u])
            hh = np.tanh(xp[:, 2 * u:] + (r * h) @ W[:, 2 * u:])
        h = (1 - z) * h + z * hh if textbook else z * h + (1 - z) * hh
        hs.append(h)
    return np.stack(hs, 1), h


def np_linear_unrolled(x, A, W):
    """h_s = sum_{t<=s} x_t A W^{s-t} (row-vector form), from the closed form, not the recursion."""
    T = x.shape[1]
    hs = [
        sum(x[:, t] @ A @ np.linalg.matrix_power(W, s - t) for t in range(s + 1))
        for s in range(T)
    ]
    return np.stack(hs, 1), hs[-1]


def make_cells(kind, units, **extra):
    zoo_cls, keras_cls, kwargs = KINDS[kind]
    return zoo_cls(units, **kwargs, **extra), keras_cls(units, **kwargs, **extra)


def perturb(layer, rng, scale=0.3):
    """Add noise to every weight of a built layer (so biases are non-zero)."""
    layer.set_weights([w + scale * rng.standard_normal(w.shape) for w in layer.get_weights()])


def copy_weights(src, dst):
    assert [w.shape for w in src.weights] == [w.shape for w in dst.weights]
    dst.set_weights(src.get_weights())


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def assert_all_close(actual, expected, atol=ATOL, rtol=RTOL):
    actual, expected = as_list(actual), as_list(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=atol, rtol=rtol)


def rnn_pair(kind, units, x, rng, cell_kwargs=None, **layer_kwargs):
    """keras.layers.RNN around the zoo and the Keras cell, built on x, sharing perturbed weights."""
    zoo_cell, keras_cell = make_cells(kind, units, **(cell_kwargs or {}))
    zoo_rnn = keras.layers.RNN(zoo_cell, **layer_kwargs)
    keras_rnn = keras.layers.RNN(keras_cell, **layer_kwargs)
    zoo_rnn(x)
    keras_rnn(x)
    perturb(keras_rnn, rng)
    copy_weights(keras_rnn, zoo_rnn)
    return zoo_rnn, keras_rnn


def outputs_and_grads(layer, x, probes):
    """Outputs of layer(x) and d(sum_k out_k * probe_k)/d(x, every weight)."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outs = as_list(layer(x))
        loss = tf.add_n([tf.reduce_sum(o * p) for o, p in zip(outs, probes)])
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    assert all(g is not None for g in grads)
    return [o.numpy() for o in outs], [tf.convert_to_tensor(g).numpy() for g in grads]


def random_x(rng, batch, time, features):
    return rng.standard_normal((batch, time, features)).astype("float32")


def ramp(*shape, scale=1.0):
    """Deterministic np.arange-based values in [-scale, scale]."""
    n = int(np.prod(shape))
    return (scale * (2 * np.arange(n) / max(n - 1, 1) - 1)).reshape(shape)


# --------------------------------------------------------------- 1. against Keras cells


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "b{}t{}f{}u{}".format(*s))
@pytest.mark.parametrize("kind", list(KINDS))
def test_matches_keras_cell_outputs_states_and_gradients(kind, shape):
    batch, time, features, units = shape
    rng = np.random.default_rng([list(KINDS).index(kind), *shape])
    x = random_x(rng, batch, time, features)
    zoo_rnn, keras_rnn = rnn_pair(kind, units, x, rng, return_sequences=True, return_state=True)
    n_states = 2 if kind == "lstm" else 1
    probes = [rng.standard_normal((batch, time, units)).astype("float32")]
    probes += [rng.standard_normal((batch, units)).astype("float32") for _ in range(n_states)]

    zoo_out, zoo_grads = outputs_and_grads(zoo_rnn, x, probes)
    keras_out, keras_grads = outputs_and_grads(keras_rnn, x, probes)

    assert len(zoo_out) == 1 + n_states
    assert_all_close(zoo_out, keras_out)
    assert len(zoo_grads) == 1 + len(keras_rnn.trainable_weights)
    assert_all_close(zoo_grads, keras_grads)
    # The weights really were perturbed: every bias entry is non-zero.
    assert np.all(zoo_rnn.get_weights()[-1] != 0)


# ------------------------------------------------------- 2. hand-computed fixed weights


def test_elman_by_hand_one_unit():
    # U = 0.5, W = -1, b = 0.25; x = 1, 2: h1 = tanh(0.75), h2 = tanh(1.25 - tanh(0.75)).
    cell = zoo.ElmanCell(
        1,
        kernel_initializer=keras.initializers.Constant(0.5),
        recurrent_initializer=keras.initializers.Constant(-1.0),
        bias_initializer=keras.initializers.Constant(0.25),
    )
    out = keras.layers.RNN(cell, return_sequences=True)(np.array([[[1.0], [2.0]]], "float32"))
    h1 = np.tanh(0.75)
    assert_all_close(out, np.array([[[h1], [np.tanh(1.25 - h1)]]]))


def test_lstm_by_hand_one_unit():
    # Kernels 0; bias 0.5 except the forget block, which unit_forget_bias sets to 1:
    # i = o = σ(0.5), f = σ(1), g = tanh(0.5); c1 = i g, c2 = f c1 + i g, h2 = o tanh(c2).
    cell = zoo.LSTMCell(1, unit_forget_bias=True, bias_initializer=keras.initializers.Constant(0.5),
                        kernel_initializer="zeros", recurrent_initializer="zeros")
    _, h, c = keras.layers.RNN(cell, return_state=True)(np.ones((1, 2, 1), "float32"))
    i, f, g, o = sigmoid(0.5), sigmoid(1.0), np.tanh(0.5), sigmoid(0.5)
    c1 = i * g
    c2 = f * c1 + i * g
    assert_all_close([c, h], [[[c2]], [[o * np.tanh(c2)]]])


def _fixed_weights(kind, features, units, mode):
    """(cell constructor kwargs, weight arrays) for constant or arange-based weights."""
    blocks = {"elman": 1, "elman_relu": 1, "lstm": 4, "gru_reset_after": 3, "gru_reset_before": 3, "linear": 1}[kind]
    bias_shape = (2, 3 * units) if kind == "gru_reset_after" else (blocks * units,)
    if mode == "constant":
        consts = (0.3, -0.2, 0.1)
        weights = [
            np.full((features, blocks * units), consts[0]),
            np.full((units, blocks * units), consts[1]),
            np.full(bias_shape, consts[2]),
        ]
        kwargs = dict(
            kernel_initializer=keras.initializers.Constant(consts[0]),
            recurrent_initializer=keras.initializers.Constant(consts[1]),
            bias_initializer=keras.initializers.Constant(consts[2]),
        )
        return kwargs, weights, False
    weights = [
        ramp(features, blocks * units, scale=0.8),
        0.6 * np.cos(np.arange(units * blocks * units)).reshape(units, blocks * units),
        ramp(*bias_shape, scale=0.5),
    ]
    return {}, weights, True


@pytest.mark.parametrize("mode", ["constant", "arange"])
@pytest.mark.parametrize("kind", ["elman", "elman_relu", "lstm", "gru_reset_after", "gru_reset_before",
                                  "linear"])
def test_fixed_weights_match_numpy_equations(kind, mode):
    batch, time, features, units = 3, 5, 4, 3
    x = ramp(batch, time, features, scale=1.5)
    kwargs, (U, W, b), set_after_build = _fixed_weights(kind, features, units, mode)
    if kind.startswith("elman"):
        relu_act = kind == "elman_relu"
        cell = zoo.ElmanCell(units, activation="relu" if relu_act else "tanh", **kwargs)
        expected_seq, h = np_elman(x, U, W, b, act=relu if relu_act else np.tanh)
        expected = [expected_seq, h]
    elif kind == "lstm":
        cell = zoo.LSTMCell(units, unit_forget_bias=False, **kwargs)
        expected_seq, h, c = np_lstm(x, U, W, b)
        expected = [expected_seq, h, c]
    elif kind == "linear":
        cell = zoo.LinearRecurrentCell(units, use_bias=True, **kwargs)
        expected_seq = []
        h = np.zeros((batch, units))
        for t in range(time):  # h = h W̄ + x Ā + b
            h = h @ W + x[:, t] @ U + b
            expected_seq.append(h)
        expected = [np.stack(expected_seq, 1), h]
    else:
        reset_after = kind == "gru_reset_after"
        cell = zoo.GRUCell(units, reset_after=reset_after, **kwargs)
        expected_seq, h = np_gru(x, U, W, b, reset_after)
        expected = [expected_seq, h]
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    xf = x.astype("float32")
    rnn(xf)
    if set_after_build:
        rnn.set_weights([U, W, b])
    else:  # the Constant initializers produced exactly the oracle's weights
        assert_all_close(rnn.get_weights(), [np.float32(w) for w in (U, W, b)], atol=0, rtol=0)
    assert_all_close(rnn(xf), expected)


# ------------------------------------------------------------------ 3. GRU textbook form


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_textbook_form_is_negated_update_gate(reset_after):
    batch, time, features, units = 3, 6, 4, 5
    rng = np.random.default_rng(7)
    x = random_x(rng, batch, time, features)
    U = rng.standard_normal((features, 3 * units)) * 0.5
    W = rng.standard_normal((units, 3 * units)) * 0.5
    b = rng.standard_normal((2, 3 * units) if reset_after else (3 * units,)) * 0.5
    textbook_seq, textbook_h = np_gru(x.astype("float64"), U, W, b, reset_after, textbook=True)

    rnn = keras.layers.RNN(zoo.GRUCell(units, reset_after=reset_after), return_sequences=True,
                           return_state=True)
    rnn(x)
    rnn.set_weights([U, W, b])
    assert not np.allclose(rnn(x)[0], textbook_seq, atol=1e-3)  # not the same without negation

    Un, Wn, bn = U.copy(), W.copy(), b.copy()
    Un[:, :units] *= -1
    Wn[:, :units] *= -1
    bn[..., :units] *= -1  # both rows when reset_after
    rnn.set_weights([Un, Wn, bn])
    assert_all_close(rnn(x), [textbook_seq, textbook_h])


# ------------------------------------------------------------ 4. LSTM modulation, forget bias


@pytest.mark.parametrize("time", [1, 2, 3, 5, 7])
def test_lstm_modulation_activation_with_zero_weights(time):
    rng = np.random.default_rng(time)
    x = random_x(rng, 2, time, 3)
    cs = {}
    for psi in ["tanh", "sigmoid"]:
        cell = zoo.LSTMCell(4, modulation_activation=psi, unit_forget_bias=False,
                            kernel_initializer="zeros", recurrent_initializer="zeros")
        rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
        _, _, cs[psi] = (o.numpy() for o in rnn(x))
    # i = f = o = 1/2. tanh: g = 0, so c stays 0. sigmoid: g = 1/2, c_t = c_{t-1}/2 + 1/4.
    np.testing.assert_array_equal(cs["tanh"], 0.0)
    c = 0.0
    for _ in range(time):
        c = 0.5 * c + 0.25
    assert_all_close(cs["sigmoid"], np.full((2, 4), c))
    assert_all_close(c, 0.5 * (1 - 0.5**time))  # closed form: grows to 1/2 from below


def test_lstm_sigmoid_modulation_cell_state_grows_monotonically():
    cell = zoo.LSTMCell(3, modulation_activation="sigmoid", unit_forget_bias=False,
                        kernel_initializer="zeros", recurrent_initializer="zeros")
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    cs = [layer(np.zeros((2, t, 2), "float32"))[2].numpy() for t in range(1, 8)]
    diffs = np.diff(np.stack(cs), axis=0)
    assert np.all(diffs > 0) and np.all(np.stack(cs) < 0.5)


@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_lstm_unit_forget_bias_initialisation(unit_forget_bias):
    units = 3
    cell = zoo.LSTMCell(units, unit_forget_bias=unit_forget_bias)
    cell.build((None, 2))
    expected = np.zeros(4 * units)
    if unit_forget_bias:
        expected[units:2 * units] = 1.0
    np.testing.assert_array_equal(cell.bias.numpy(), expected)


# ------------------------------------------------- 5. LinearRecurrentCell, spectral_radius


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "b{}t{}f{}u{}".format(*s))
def test_linear_cell_matches_unrolled_sum(shape):
    batch, time, features, units = shape
    rng = np.random.default_rng(sum(shape))
    x = random_x(rng, batch, time, features)
    A = rng.standard_normal((features, units)) * 0.5
    W = rng.standard_normal((units, units)) * 0.4
    rnn = keras.layers.RNN(zoo.LinearRecurrentCell(units), return_sequences=True, return_state=True)
    rnn(x)
    assert len(rnn.get_weights()) == 2  # use_bias defaults to False
    rnn.set_weights([A, W])
    assert_all_close(rnn(x), np_linear_unrolled(x.astype("float64"), A, W), atol=1e-4)


def _linear_cell(units, features, rho):
    cell = zoo.LinearRecurrentCell(units, spectral_radius=rho)
    cell.build((None, features))
    return cell


@pytest.mark.parametrize("rho", [0.5, 1.0, 2.0])
def test_spectral_radius_bound_holds_for_huge_kernels(rho):
    rng = np.random.default_rng(int(rho * 10))
    for units in (2, 5, 8):
        cell = _linear_cell(units, 3, rho)
        V = 10 * rng.standard_normal((units, units))
        cell.set_weights([cell.get_weights()[0], V])
        assert zoo.spectral_radius(V) > rho  # the raw kernel is well outside the bound
        assert zoo.spectral_radius(cell) <= rho + 1e-6
        # The effective matrix is V scaled down, and the recurrence uses it.
        w_bar = np.asarray(cell.effective_recurrent_kernel())
        scale = w_bar.ravel()[0] / V.ravel()[0]
        assert 0 < scale < 1
        assert_all_close(w_bar, scale * V, atol=1e-6, rtol=1e-5)
        np.testing.assert_array_equal(cell.recurrent_kernel.numpy(), V.astype("float32"))
        x = random_x(rng, 2, 6, 3)
        _, h = keras.layers.RNN(cell, return_state=True)(x)
        A = cell.kernel.numpy().astype("float64")
        assert_all_close(h, np_linear_unrolled(x.astype("float64"), A, w_bar.astype("float64"))[1],
                         atol=1e-4)


def test_spectral_radius_bound_survives_training_with_big_learning_rate():
    units, features, rho = 4, 3, 0.9
    rng = np.random.default_rng(0)
    cell = zoo.LinearRecurrentCell(units, spectral_radius=rho)
    model = keras.Sequential([keras.Input((5, features)), keras.layers.RNN(cell)])
    cell.recurrent_kernel.assign(10 * rng.standard_normal((units, units)).astype("float32"))
    before = cell.recurrent_kernel.numpy().copy()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=5.0), loss="mse")
    x = random_x(rng, 20, 5, features)
    y = 10 * rng.standard_normal((20, units)).astype("float32")
    model.fit(x, y, batch_size=1, epochs=1, verbose=0, shuffle=False)  # 20 SGD steps
    assert np.all(np.isfinite(cell.recurrent_kernel.numpy()))
    assert not np.allclose(cell.recurrent_kernel.numpy(), before)  # training did move V
    assert zoo.spectral_radius(cell) <= rho + 1e-6


def test_spectral_radius_leaves_matrix_inside_bound_unchanged():
    cell = _linear_cell(4, 2, 1.0)
    cell.set_weights([cell.get_weights()[0], 0.9 * np.eye(4)])
    np.testing.assert_array_equal(np.asarray(cell.effective_recurrent_kernel()),
                                  (0.9 * np.eye(4)).astype("float32"))
    assert zoo.spectral_radius(cell) == pytest.approx(0.9, abs=1e-6)
    # Without a bound, the effective matrix is the kernel itself.
    free = zoo.LinearRecurrentCell(3)
    free.build((None, 2))
    assert free.effective_recurrent_kernel() is free.recurrent_kernel


def test_spectral_radius_function():
    assert zoo.spectral_radius(np.diag([0.5, -2.0])) == 2.0
    rotation = np.array([[0.0, -1.5], [1.5, 0.0]])  # eigenvalues ±1.5i
    assert zoo.spectral_radius(rotation) == pytest.approx(1.5)
    elman = zoo.ElmanCell(3)
    elman.build((None, 2))
    elman.recurrent_kernel.assign(np.diag([0.1, -0.7, 0.3]).astype("float32"))
    assert zoo.spectral_radius(elman) == pytest.approx(0.7)
    keras_cell = keras.layers.SimpleRNNCell(3)
    keras_cell.build((None, 2))
    keras_cell.recurrent_kernel.assign(np.diag([0.2, 0.4, -0.6]).astype("float32"))
    assert zoo.spectral_radius(keras_cell) == pytest.approx(0.6)
    with pytest.raises(ValueError):
        zoo.spectral_radius(np.ones((2, 3)))
    with pytest.raises(ValueError):
        zoo.spectral_radius(np.ones(3))
    lstm = zoo.LSTMCell(3)
    lstm.build((None, 2))
    with pytest.raises(ValueError):  # (units, 4 units) recurrent kernel
        zoo.spectral_radius(lstm)
    with pytest.raises(ValueError, match="not built"):
        zoo.spectral_radius(zoo.LinearRecurrentCell(3, spectral_radius=1.0))


@pytest.mark.parametrize("bad", [0, -1, 0.0, float("nan"), float("inf"), "a", True])
def test_invalid_spectral_radius_raises(bad):
    with pytest.raises(ValueError, match="spectral_radius"):
        zoo.LinearRecurrentCell(3, spectral_radius=bad)


# ------------------------------------------------------------------ 6. config round trip

NON_DEFAULT = {
    zoo.ElmanCell: dict(units=5, activation="relu", use_bias=False, kernel_initializer="he_normal",
                        recurrent_regularizer=keras.regularizers.L2(0.01), dropout=0.1,
                        recurrent_dropout=0.2, seed=3),
    zoo.LSTMCell: dict(units=4, unit_forget_bias=False, modulation_activation="sigmoid",
                       recurrent_activation="hard_sigmoid", bias_initializer="ones",
                       kernel_constraint="non_neg", bias_regularizer=keras.regularizers.L1(0.1)),
    zoo.GRUCell: dict(units=3, reset_after=False, activation="relu", recurrent_activation="hard_sigmoid",
                      recurrent_initializer="glorot_normal", recurrent_constraint="unit_norm",
                      kernel_regularizer="l2", bias_constraint="non_neg", dropout=0.25, seed=11),
    zoo.LinearRecurrentCell: dict(units=6, use_bias=True, spectral_radius=0.8, recurrent_dropout=0.3),
}


def _init_arguments(cls):
    names = set()
    for c in (cls, RecurrentCell):
        names |= {
            name for name, p in inspect.signature(c.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        }
    return names


@pytest.mark.parametrize("cls", ZOO_CELLS, ids=lambda c: c.__name__)
def test_config_round_trip(cls):
    kwargs = NON_DEFAULT[cls]
    cell = cls(**kwargs, name="my_cell")
    config = cell.get_config()
    assert config["name"] == "my_cell"
    assert _init_arguments(cls) <= set(config), _init_arguments(cls) - set(config)
    for key, value in kwargs.items():
        if isinstance(value, (bool, int, float)) or value is None:
            assert config[key] == value, key
        elif isinstance(value, str) and key.endswith("activation"):
            assert config[key] == value, key
    clone = cls.from_config(config)
    assert type(clone) is cls
    assert clone.get_config() == config
    # Through Keras's generic (de)serialization as well.
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(restored) is cls and restored.get_config() == config


@pytest.mark.parametrize("cls", ZOO_CELLS, ids=lambda c: c.__name__)
def test_registered_name(cls):
    assert keras.saving.get_registered_name(cls) == f"kzoo>{cls.__name__}"
    assert keras.saving.get_registered_object(f"kzoo>{cls.__name__}") is cls


# ------------------------------------------------------------------- 7. bad arguments


@pytest.mark.parametrize("units", [0, -3, 2.5, True, "4", None])
@pytest.mark.parametrize("cls", ZOO_CELLS, ids=lambda c: c.__name__)
def test_bad_units(cls, units):
    with pytest.raises(ValueError, match="units"):
        cls(units)


@pytest.mark.parametrize("cls", ZOO_CELLS, ids=lambda c: c.__name__)
def test_good_arguments_are_normalised(cls):
    cell = cls(np.int64(4), dropout=np.float32(0.25), recurrent_dropout=0)
    assert cell.units == 4 and type(cell.units) is int
    assert cell.dropout == 0.25 and type(cell.dropout) is float
    assert cell.recurrent_dropout == 0.0


@pytest.mark.parametrize("cls, argument", [
    (zoo.ElmanCell, "activation"),
    (zoo.LSTMCell, "modulation_activation"),
    (zoo.LSTMCell, "recurrent_activation"),
    (zoo.GRUCell, "activation"),
    (zoo.GRUCell, "recurrent_activation"),
])
def test_bad_activation(cls, argument):
    with pytest.raises(ValueError, match=argument):
        cls(3, **{argument: "nope"})


@pytest.mark.parametrize("rate", [1.5, -0.1, 1.0, True, "0.1"])
@pytest.mark.parametrize("argument", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("cls", ZOO_CELLS, ids=lambda c: c.__name__)
def test_bad_dropout(cls, argument, rate):
    with pytest.raises(ValueError, match=argument):
        cls(3, **{argument: rate})


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4, 5)])
@pytest.mark.parametrize("cls", ZOO_CELLS, ids=lambda c: c.__name__)
def test_sequences_of_wrong_rank(cls, shape):
    with pytest.raises(ValueError, match="rank 3"):
        keras.layers.RNN(cls(3))(np.zeros(shape, "float32"))


@pytest.mark.parametrize("cls", ZOO_CELLS, ids=lambda c: c.__name__)
def test_unknown_feature_dimension(cls):
    with pytest.raises(ValueError, match="feature dimension"):
        keras.layers.RNN(cls(3))(keras.Input((4, None)))


# ----------------------------------------------- 8. argument combinations inside keras RNN


@pytest.mark.parametrize("kind", MAIN_KINDS)
def test_go_backwards(kind):
    rng = np.random.default_rng(1)
    x = random_x(rng, 3, 5, 4)
    zoo_rnn, keras_rnn = rnn_pair(kind, 4, x, rng, return_sequences=True, return_state=True,
                                  go_backwards=True)
    assert_all_close(zoo_rnn(x), keras_rnn(x))
    forward, _ = rnn_pair(kind, 4, x, rng, return_sequences=True, return_state=True)
    forward.set_weights(zoo_rnn.get_weights())
    # Backwards over x is forwards over x reversed in time.
    assert_all_close(zoo_rnn(x), forward(x[:, ::-1]))


@pytest.mark.parametrize("kind", MAIN_KINDS)
def test_unroll_and_no_bias(kind):
    rng = np.random.default_rng(11)
    x = random_x(rng, 2, 4, 3)
    for layer_kwargs, cell_kwargs in [({"unroll": True}, {}), ({}, {"use_bias": False})]:
        zoo_rnn, keras_rnn = rnn_pair(kind, 5, x, rng, cell_kwargs, return_sequences=True,
                                      return_state=True, **layer_kwargs)
        assert len(zoo_rnn.weights) == (2 if cell_kwargs else 3)
        assert_all_close(zoo_rnn(x), keras_rnn(x))


def test_stacked_cells():
    rng = np.random.default_rng(12)
    x = random_x(rng, 3, 5, 4)
    kinds = ["elman", "lstm", "gru_reset_after", "gru_reset_before"]
    zoo_cells, keras_cells = zip(*(make_cells(k, u) for k, u in zip(kinds, (3, 4, 5, 2))))
    zoo_rnn = keras.layers.RNN(list(zoo_cells), return_sequences=True, return_state=True)
    keras_rnn = keras.layers.RNN(list(keras_cells), return_sequences=True, return_state=True)
    zoo_rnn(x)
    keras_rnn(x)
    perturb(keras_rnn, rng)
    copy_weights(keras_rnn, zoo_rnn)
    zoo_out = keras.tree.flatten(zoo_rnn(x))
    assert zoo_out[0].shape == (3, 5, 2) and len(zoo_out) == 6  # sequence + 1 + 2 + 1 + 1 states
    assert_all_close(zoo_out, keras.tree.flatten(keras_rnn(x)))


@pytest.mark.parametrize("kind", MAIN_KINDS)
def test_stateful(kind):
    rng = np.random.default_rng(2)
    x = random_x(rng, 2, 6, 3)
    first, second = x[:, :3], x[:, 3:]
    zoo_rnn, keras_rnn = rnn_pair(kind, 5, first, rng, return_sequences=True, stateful=True)
    full = keras.layers.RNN(make_cells(kind, 5)[0], return_sequences=True)
    full(x)
    full.set_weights(zoo_rnn.get_weights())
    zoo_rnn.reset_state()
    keras_rnn.reset_state()

    halves = [zoo_rnn(first).numpy(), zoo_rnn(second).numpy()]
    assert_all_close(halves, [keras_rnn(first), keras_rnn(second)])
    assert_all_close(np.concatenate(halves, axis=1), full(x))
    assert not np.allclose(zoo_rnn(first), halves[0], atol=1e-4)  # state carried over
    zoo_rnn.reset_state()
    assert_all_close(zoo_rnn(first), halves[0])


def _copy_model_weights(src_model, dst_model, rng):
    perturb(src_model, rng)
    copy_weights(src_model, dst_model)


@pytest.mark.parametrize("kind", MAIN_KINDS)
def test_masking_layer(kind):
    rng = np.random.default_rng(3)
    batch, time, features, units = 3, 6, 4, 5
    x = random_x(rng, batch, time, features)
    lengths = [6, 4, 2]
    for i, n in enumerate(lengths):
        x[i, n:] = 0.0

    def model(cell):
        inp = keras.Input((time, features))
        out = keras.layers.RNN(cell, return_sequences=True, return_state=True)(
            keras.layers.Masking(0.0)(inp))
        return keras.Model(inp, out)

    zoo_cell, keras_cell = make_cells(kind, units)
    zoo_model, keras_model = model(zoo_cell), model(keras_cell)
    _copy_model_weights(keras_model, zoo_model, rng)
    zoo_out = zoo_model(x)
    assert_all_close(zoo_out, keras_model(x))
    # The final state of a padded sequence is the state after its last real step.
    plain = keras.layers.RNN(make_cells(kind, units)[0], return_state=True)
    plain(x)
    plain.set_weights(zoo_model.get_weights())
    for i, n in enumerate(lengths):
        assert_all_close(zoo_out[1][i:i + 1], plain(x[i:i + 1, :n])[1])


@pytest.mark.parametrize("kind", MAIN_KINDS)
def test_embedding_mask_zero(kind):
    rng = np.random.default_rng(4)
    vocab, time, features, units = 7, 6, 3, 4
    tokens = rng.integers(1, vocab, size=(4, time))
    tokens[1, 4:] = 0
    tokens[2, 1:] = 0
    tokens[3, 2] = 0  # a masked step in the middle

    def model(cell):
        inp = keras.Input((time,), dtype="int32")
        emb = keras.layers.Embedding(vocab, features, mask_zero=True)(inp)
        out = keras.layers.RNN(cell, return_sequences=True, return_state=True)(emb)
        return keras.Model(inp, out)

    zoo_cell, keras_cell = make_cells(kind, units)
    zoo_model, keras_model = model(zoo_cell), model(keras_cell)
    _copy_model_weights(keras_model, zoo_model, rng)
    zoo_out = zoo_model(tokens)
    assert_all_close(zoo_out, keras_model(tokens))
    # Sample 2 has one real step: its outputs never change after step 0.
    seq = np.asarray(zoo_out[0])
    assert_all_close(seq[2], np.repeat(seq[2, :1], time, axis=0), atol=0, rtol=0)


@pytest.mark.parametrize("kind", MAIN_KINDS)
def test_initial_state(kind):
    rng = np.random.default_rng(5)
    batch, units = 3, 4
    x = random_x(rng, batch, 5, 2)
    zoo_rnn, keras_rnn = rnn_pair(kind, units, x, rng, return_sequences=True, return_state=True)
    n_states = 2 if kind == "lstm" else 1
    init = [rng.standard_normal((batch, units)).astype("float32") for _ in range(n_states)]
    zoo_out = zoo_rnn(x, initial_state=init)
    assert_all_close(zoo_out, keras_rnn(x, initial_state=init))
    assert not np.allclose(zoo_out[0], zoo_rnn(x)[0], atol=1e-4)  # the initial state mattered


@pytest.mark.parametrize("kind", MAIN_KINDS)
def test_bidirectional(kind):
    rng = np.random.default_rng(6)
    x = random_x(rng, 3, 5, 4)
    zoo_cell, keras_cell = make_cells(kind, 3)
    zoo_bi = keras.layers.Bidirectional(keras.layers.RNN(zoo_cell, return_sequences=True))
    keras_bi = keras.layers.Bidirectional(keras.layers.RNN(keras_cell, return_sequences=True))
    zoo_bi(x)
    keras_bi(x)
    assert type(zoo_bi.backward_layer.cell) is type(zoo_cell)
    perturb(keras_bi, rng)
    copy_weights(keras_bi, zoo_bi)
    out = zoo_bi(x)
    assert out.shape == (3, 5, 6)
    assert_all_close(out, keras_bi(x))


@pytest.mark.parametrize("kind", MAIN_KINDS)
def test_dropout_and_recurrent_dropout(kind):
    rng = np.random.default_rng(8)
    batch, time, features, units = 4, 5, 3, 6
    x = random_x(rng, batch, time, features)
    # The Keras reference has no dropout at all.
    _, keras_rnn = rnn_pair(kind, units, x, rng, return_sequences=True)
    zoo_cell = make_cells(kind, units, dropout=0.4, recurrent_dropout=0.4, seed=1)[0]
    zoo_rnn = keras.layers.RNN(zoo_cell, return_sequences=True)
    zoo_rnn(x)
    copy_weights(keras_rnn, zoo_rnn)

    reference = keras_rnn(x).numpy()
    assert_all_close(zoo_rnn(x, training=False), reference)
    assert_all_close(zoo_rnn(x), reference)  # inference is the default

    probe = rng.standard_normal((batch, time, units)).astype("float32")
    with tf.GradientTape() as tape:
        out = zoo_rnn(x, training=True)
        loss = tf.reduce_sum(out * probe)
    grads = tape.gradient(loss, zoo_rnn.trainable_weights)
    assert np.all(np.isfinite(out)) and not np.allclose(out, reference, atol=1e-3)
    for g in grads:
        g = tf.convert_to_tensor(g).numpy()
        assert np.all(np.isfinite(g)) and np.any(g != 0)
    assert not np.allclose(zoo_rnn(x, training=True), out, atol=1e-3)  # fresh masks per call


def test_dropout_masks_are_fixed_over_time():
    """With identity weights, the linear cell exposes its masks: one per sequence, all steps."""
    batch, time, units, rate = 3, 5, 6, 0.5
    eye = np.eye(units, dtype="float32")
    # Input dropout: W̄ = 0, Ā = I, x_t = 1, so h_t = m.
    cell = zoo.LinearRecurrentCell(units, dropout=rate, seed=0)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x = np.ones((batch, time, units), "float32")
    rnn(x)
    rnn.set_weights([eye, np.zeros_like(eye)])
    h = rnn(x, training=True).numpy()
    assert_all_close(h, np.repeat(h[:, :1], time, axis=1), atol=0, rtol=0)
    assert set(np.unique(h)) <= {0.0, 1.0 / (1 - rate)}
    assert 0 < np.count_nonzero(h[:, 0]) < h[:, 0].size
    # Recurrent dropout: W̄ = Ā = I, x_0 = 1 and then 0, so h_t = h_{t-1} ⊙ m_r = m_r^t.
    cell = zoo.LinearRecurrentCell(units, recurrent_dropout=rate, seed=0)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x = np.zeros((batch, time, units), "float32")
    x[:, 0] = 1.0
    rnn(x)
    rnn.set_weights([eye, eye])
    h = rnn(x, training=True).numpy()
    mask = h[:, 1]
    assert set(np.unique(mask)) <= {0.0, 1.0 / (1 - rate)}
    assert_all_close(h, np.stack([mask**t for t in range(time)], 1), rtol=1e-6)


# --------------------------------------------------------------------- 9. .keras round trip


@pytest.mark.parametrize("cls, kwargs", [
    (zoo.ElmanCell, {"activation": "relu"}),
    (zoo.LSTMCell, {"modulation_activation": "sigmoid"}),
    (zoo.GRUCell, {"reset_after": True}),
    (zoo.GRUCell, {"reset_after": False}),
    (zoo.LinearRecurrentCell, {"spectral_radius": 0.7, "use_bias": True}),
], ids=["elman", "lstm", "gru_after", "gru_before", "linear"])
def test_keras_file_round_trip(tmp_path, cls, kwargs):
    rng = np.random.default_rng(9)
    x = random_x(rng, 3, 4, 5)
    inp = keras.Input((4, 5))
    seq = keras.layers.RNN(cls(4, **kwargs), return_sequences=True)(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(seq))
    model(x)
    perturb(model, rng, scale=0.5)
    expected = model(x).numpy()

    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    rnn = [layer for layer in loaded.layers if isinstance(layer, keras.layers.RNN)][0]
    assert type(rnn.cell) is cls
    assert rnn.cell.get_config() == model.layers[1].cell.get_config()
    np.testing.assert_array_equal(loaded(x).numpy(), expected)


# --------------------------------------------------------------------- 10. mixed precision


@pytest.fixture
def mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("cls, kwargs", [
    (zoo.ElmanCell, {}),
    (zoo.LSTMCell, {}),
    (zoo.GRUCell, {"reset_after": True}),
    (zoo.GRUCell, {"reset_after": False}),
    (zoo.LinearRecurrentCell, {"spectral_radius": 0.9}),
], ids=["elman", "lstm", "gru_after", "gru_before", "linear"])
def test_mixed_bfloat16(mixed_bfloat16, cls, kwargs):
    rng = np.random.default_rng(10)
    x = random_x(rng, 4, 5, 3)
    y = rng.standard_normal((4, 4)).astype("float32")
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.RNN(cls(4, **kwargs))])
    cell = model.layers[0].cell
    assert cell.compute_dtype == "bfloat16" and cell.kernel.dtype == "float32"
    out = model(x)
    assert out.dtype == "bfloat16"
    assert np.all(np.isfinite(np.asarray(out, dtype="float32")))
    model.compile(optimizer="sgd", loss="mse", jit_compile=False)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert str(model.predict(x, verbose=0).dtype) == "bfloat16"
