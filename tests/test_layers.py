"""Fused layers (zoo.ElmanRNN, LSTM, GRU, LinearRNN) against their cells in keras.layers.RNN and
against Keras's own layers: same weights, same outputs, same gradients."""

import zlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo

KINDS = {
    # name: (fused layer, cell, Keras layer or None, extra kwargs)
    "elman": (zoo.ElmanRNN, zoo.ElmanCell, keras.layers.SimpleRNN, {}),
    "elman_relu": (zoo.ElmanRNN, zoo.ElmanCell, keras.layers.SimpleRNN, {"activation": "relu"}),
    "lstm": (zoo.LSTM, zoo.LSTMCell, keras.layers.LSTM, {}),
    "lstm_sigmoid_g": (zoo.LSTM, zoo.LSTMCell, None, {"modulation_activation": "sigmoid"}),
    "gru": (zoo.GRU, zoo.GRUCell, keras.layers.GRU, {"reset_after": True}),
    "gru_before": (zoo.GRU, zoo.GRUCell, keras.layers.GRU, {"reset_after": False}),
    "gru_nobias": (zoo.GRU, zoo.GRUCell, keras.layers.GRU, {"use_bias": False}),
    "linear": (zoo.LinearRNN, zoo.LinearRecurrentCell, None, {"use_bias": True}),
    "linear_rho": (zoo.LinearRNN, zoo.LinearRecurrentCell, None, {"spectral_radius": 0.8}),
}


def _perturbed(layer, rng, scale=0.3):
    return [w + scale * rng.standard_normal(w.shape).astype("float32") for w in layer.get_weights()]


def _ragged_mask(rng, batch, steps):
    lengths = rng.integers(1, steps + 1, size=batch)
    mask = np.arange(steps)[None, :] < lengths[:, None]
    mask[0, :] = True
    if batch > 2:
        mask[1, : steps // 2] = False  # leading masked steps too
        mask[1, -1] = True
    return mask


def _compare(a_layer, b_layer, x, call_kwargs, loss_weights_rng):
    """Outputs and gradients (w.r.t. inputs, initial states and weights) of two layers."""
    xt = tf.constant(x)
    init = call_kwargs.get("initial_state")
    watched = [xt] + (list(init) if init is not None else [])
    results = []
    for layer in (a_layer, b_layer):
        with tf.GradientTape() as tape:
            tape.watch(watched)
            out = layer(xt, **call_kwargs)
            out = out if isinstance(out, (list, tuple)) else [out]
            rng = np.random.default_rng(loss_weights_rng)
            loss = sum(tf.reduce_sum(o * rng.standard_normal(o.shape).astype("float32")) for o in out)
        grads = tape.gradient(loss, watched + layer.trainable_weights)
        results.append(([o.numpy() for o in out], [g.numpy() for g in grads]))
    (out_a, g_a), (out_b, g_b) = results
    assert len(out_a) == len(out_b) and len(g_a) == len(g_b)
    for a, b in zip(out_a, out_b):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    for a, b in zip(g_a, g_b):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)


LAYOUTS = [  # batch, steps, go_backwards, masked, zero_output, return_sequences
    (3, 5, False, False, False, True),
    (20, 6, True, False, False, False),  # 20 rows: the batch is cut into shards
    (4, 6, False, True, False, True),
    (17, 5, True, True, True, True),
    (5, 4, True, True, False, False),
    (6, 12, True, True, False, True),  # 2 loop iterations of 6 unrolled steps
    (9, 11, False, True, True, True),  # 11 steps: no divisor up to 10, one step per iteration
    (16, 7, True, True, True, True),  # two equal shards: LSTM and Elman project them in one product
]
# The variants of a cell (another activation, reset gate or bias) share its loop code and differ only in the step
# of their rule: by default they run on three cheap layouts that together cover sharding, going backwards, the
# unrolled loop over masked steps and masks with zero output; the four cells themselves on five (the 17-row layout
# that unrolls masked steps with zero output backwards over unequal shards, compiled in 10 s, and equal shards
# projected in one product, too); all eight run with -m slow.
VARIANT_LAYOUTS = {1, 5, 6}
CELL_LAYOUTS = {1, 3, 5, 6, 7}


def _kind_layouts():
    for kind in sorted(KINDS):
        for index, layout in enumerate(LAYOUTS):
            variant = kind not in ("elman", "lstm", "gru", "linear")
            marks = [pytest.mark.slow] if index not in (VARIANT_LAYOUTS if variant else CELL_LAYOUTS) else []
            yield pytest.param(kind, *layout, marks=marks, id="-".join(map(str, (*layout, kind))))


@pytest.mark.parametrize("kind,batch,steps,go_backwards,masked,zero_output,return_sequences", list(_kind_layouts()))
def test_fused_equals_cell_in_keras_rnn(monkeypatch, kind, batch, steps, go_backwards, masked, zero_output,
                                       return_sequences):
    monkeypatch.setenv("KZOO_RNN_UNROLL", "10")  # the library's default (conftest turns unrolling off)
    monkeypatch.setenv("KZOO_RNN_SHARDS", "2")  # as on a 2-core machine, whatever this one has
    layer_cls, cell_cls, _, kwargs = KINDS[kind]
    # A stable seed: Python's hash() of a string changes from process to process, and about 1 draw in 40 of
    # the linear recurrence's perturbed weights left a gradient 1.5e-5 off in float32.
    rng = np.random.default_rng(zlib.crc32(f"{kind}-{batch}-{steps}".encode()))
    units, features = 5, 3
    x = rng.standard_normal((batch, steps, features)).astype("float32")
    common = dict(return_sequences=return_sequences, return_state=True, go_backwards=go_backwards,
                  zero_output_for_mask=zero_output)
    fused = layer_cls(units, **common, **kwargs, use_fused=True)  # raises if the fused loop cannot run
    generic = keras.layers.RNN(cell_cls(units, **kwargs), **common)
    fused(x), generic(x)
    weights = _perturbed(generic, rng)
    fused.set_weights(weights), generic.set_weights(weights)
    n_states = 2 if cell_cls is zoo.LSTMCell else 1
    call = {"initial_state": [tf.constant(rng.standard_normal((batch, units)).astype("float32"))
                              for _ in range(n_states)]}
    if masked:
        call["mask"] = tf.constant(_ragged_mask(rng, batch, steps))
    assert fused.fast_path_blocker(training=False) is None
    _compare(fused, generic, x, call, loss_weights_rng=1)


@pytest.mark.parametrize("kind", [k for k, v in KINDS.items() if v[2] is not None])
def test_fused_equals_keras_layer(kind):
    layer_cls, _, keras_cls, kwargs = KINDS[kind]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((18, 7, 4)).astype("float32")
    ours = layer_cls(6, return_sequences=True, return_state=True, use_fused=True, **kwargs)
    theirs = keras_cls(6, return_sequences=True, return_state=True, **kwargs)
    ours(x), theirs(x)
    weights = _perturbed(theirs, rng)
    ours.set_weights(weights), theirs.set_weights(weights)
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    assert [w.path.split("/")[-1] for w in ours.weights] == [w.path.split("/")[-1] for w in theirs.weights]
    _compare(ours, theirs, x, {}, loss_weights_rng=2)


def test_unknown_time_dimension_and_batch():
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, zoo.LSTM(4, return_sequences=True)(inputs))
    ref = keras.Model(inputs, keras.layers.LSTM(4, return_sequences=True)(inputs))
    ref.set_weights(model.get_weights())
    for batch, steps in [(1, 4), (2, 3), (19, 8)]:
        x = np.random.default_rng(batch).standard_normal((batch, steps, 3)).astype("float32")
        np.testing.assert_allclose(model.predict(x, verbose=0), ref.predict(x, verbose=0), atol=1e-5)
        np.testing.assert_allclose(model(x), ref(x), atol=1e-5)


@pytest.mark.parametrize("layer_cls,kwargs,reason", [
    (zoo.LSTM, {"recurrent_dropout": 0.3}, "recurrent_dropout"),
    (zoo.GRU, {"unroll": True}, "unroll"),
    (zoo.ElmanRNN, {"activation": "softsign"}, "softsign"),
    (zoo.LSTM, {"recurrent_activation": "hard_sigmoid"}, "sigmoid"),
    (zoo.GRU, {"activation": "relu"}, "tanh"),
])
def test_generic_fallback_is_used_and_correct(layer_cls, kwargs, reason):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5, 3)).astype("float32")
    layer = layer_cls(6, return_sequences=True, **kwargs)
    layer(x)
    blocker = layer.fast_path_blocker(training=True)
    assert blocker is not None and reason in blocker
    if "recurrent_dropout" in kwargs:
        assert layer.fast_path_blocker(training=False) is None
    cell_kwargs = {k: v for k, v in kwargs.items() if k != "unroll"}
    generic = keras.layers.RNN(layer_cls.cell_class(6, **cell_kwargs), return_sequences=True,
                               unroll=kwargs.get("unroll", False))
    generic(x)
    generic.set_weights(layer.get_weights())
    np.testing.assert_allclose(layer(x, training=False), generic(x, training=False), atol=1e-5)
    if "recurrent_dropout" in kwargs:
        trained = layer(x, training=True).numpy()
        assert np.all(np.isfinite(trained)) and not np.allclose(trained, layer(x).numpy())


def test_use_fused_switch_picks_the_loop_or_says_why_it_cannot(monkeypatch):
    import zoo.fused_tf

    x = np.random.default_rng(4).standard_normal((4, 5, 3)).astype("float32")
    auto = zoo.LSTM(6, return_sequences=True)
    auto(x)
    generic = zoo.LSTM(6, return_sequences=True, use_fused=False)
    generic(x)
    generic.set_weights(auto.get_weights())
    assert "use_fused=False" in generic.fast_path_blocker(training=False)
    # use_fused=False never enters the fused scan: make the scan fail and the generic layer still runs.
    def no_fused_scan(*args, **kwargs):
        raise AssertionError("the fused scan ran")

    monkeypatch.setattr(zoo.fused_tf, "fused_scan", no_fused_scan)
    expected = generic(x).numpy()
    with pytest.raises(AssertionError, match="the fused scan ran"):
        zoo.LSTM(6, return_sequences=True, use_fused=True)(x)
    monkeypatch.undo()
    np.testing.assert_allclose(auto(x).numpy(), expected, atol=1e-5)
    with pytest.raises(ValueError, match="use_fused=True, but the fused loop cannot run: unroll=True"):
        zoo.GRU(3, unroll=True, use_fused=True)
    with pytest.raises(ValueError, match="softsign"):
        zoo.ElmanRNN(3, activation="softsign", use_fused=True)
    dropout = zoo.LSTM(6, recurrent_dropout=0.2, use_fused=True)
    dropout(x)  # inference: no recurrent mask, the fused loop runs
    with pytest.raises(ValueError, match="recurrent_dropout"):
        dropout(x, training=True)
    with pytest.raises(ValueError, match="`use_fused` must be 'auto', True or False"):
        zoo.LSTM(3, use_fused="yes")
    for choice in ("auto", True, False):
        layer = zoo.GRU(3, use_fused=choice)
        assert zoo.GRU.from_config(layer.get_config()).use_fused == choice


def test_input_dropout_on_fast_path_is_one_mask_per_sequence():
    layer = zoo.ElmanRNN(3, activation="linear", use_bias=False, dropout=0.5, seed=1,
                         kernel_initializer="ones", recurrent_initializer="zeros", return_sequences=True,
                         use_fused=True)  # raises if the fused loop cannot take dropout
    x = np.ones((64, 4, 10), "float32")
    assert layer(x).shape == (64, 4, 3) and layer.fast_path_blocker(training=True) is None
    out = layer(x, training=True).numpy()
    # h_t = Σ_j m_j x_tj / (1 - rate): the same mask m at every step, so every step equals step 0,
    # and the number of kept features is a whole number per sequence.
    np.testing.assert_allclose(out, np.repeat(out[:, :1], 4, axis=1))
    kept = out[:, 0, 0] / 2.0
    np.testing.assert_allclose(kept, np.round(kept), atol=1e-5)
    assert 2 < kept.mean() < 8
    np.testing.assert_allclose(layer(x, training=False), np.full((64, 4, 3), 10.0))


def test_stateful_fused_layer_carries_state_and_resets():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16, 8, 3)).astype("float32")
    layer = zoo.GRU(5, stateful=True, return_sequences=True, use_fused=True)
    model = keras.Sequential([keras.Input((None, 3), batch_size=16), layer])
    full = zoo.GRU(5, return_sequences=True)
    full(x)
    full.set_weights(layer.get_weights())
    first, second = model(x[:, :4]), model(x[:, 4:])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), full(x), atol=1e-5)
    layer.reset_state()
    np.testing.assert_allclose(model(x[:, :4]), first, atol=1e-6)


def test_bidirectional_with_masking_matches_keras():
    rng = np.random.default_rng(5)
    tokens = rng.integers(1, 20, size=(18, 9))
    tokens[3, 5:] = 0
    tokens[7, 2:] = 0

    def build(layer):
        inputs = keras.Input((None,), dtype="int32")
        h = keras.layers.Embedding(20, 4, mask_zero=True)(inputs)
        h = keras.layers.Bidirectional(layer)(h)
        return keras.Model(inputs, h)

    ours = build(zoo.LSTM(6, return_sequences=True, use_fused=True))
    theirs = build(keras.layers.LSTM(6, return_sequences=True))
    theirs.set_weights([w + 0.1 * rng.standard_normal(w.shape) for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(tokens), theirs(tokens), atol=1e-5)


@pytest.mark.parametrize("layer", [
    lambda: zoo.ElmanRNN(4, activation="relu", dropout=0.1),
    lambda: zoo.LSTM(4, modulation_activation="sigmoid", unit_forget_bias=False),
    lambda: zoo.GRU(4, reset_after=False, go_backwards=True),
    lambda: zoo.LinearRNN(4, spectral_radius=0.9, use_bias=True),
])
def test_keras_file_round_trip_safe_mode(tmp_path, layer):
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(layer()(inputs)))
    x = np.random.default_rng(6).standard_normal((3, 5, 3)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    original, restored = model.layers[1], loaded.layers[1]
    assert type(restored) is type(original)
    assert restored.get_config() == original.get_config()


def test_config_holds_every_constructor_argument():
    layer = zoo.LSTM(7, modulation_activation="sigmoid", dropout=0.2, recurrent_dropout=0.1, seed=3,
                     go_backwards=True, return_state=True, unit_forget_bias=False)
    config = layer.get_config()
    for key, value in [("units", 7), ("dropout", 0.2), ("recurrent_dropout", 0.1), ("seed", 3),
                       ("go_backwards", True), ("return_state", True), ("unit_forget_bias", False),
                       ("modulation_activation", "sigmoid")]:
        assert config[key] == value
    clone = zoo.LSTM.from_config(config)
    assert clone.get_config() == config
    assert keras.saving.get_registered_name(zoo.LSTM) == "kzoo>LSTM"


@pytest.mark.parametrize("bad,match", [
    (lambda: zoo.LSTM(0), "units"),
    (lambda: zoo.GRU(-2), "units"),
    (lambda: zoo.ElmanRNN(3, activation="nope"), "activation"),
    (lambda: zoo.LinearRNN(3, spectral_radius=-1.0), "spectral_radius"),
    (lambda: zoo.LSTM(3, dropout=2.0), "dropout"),
    (lambda: zoo.LSTM(3)(np.zeros((2, 3), "float32")), "rank 3"),
    (lambda: zoo.GRU(3)(np.zeros((2, 3, 4, 5), "float32")), "rank 3"),
])
def test_bad_arguments_name_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_fused_layer_trains_with_fit():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((32, 6, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None]
    model = keras.Sequential([keras.Input((6, 3)), zoo.LSTM(8), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.02), "mse")
    history = model.fit(x, y, epochs=25, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


@pytest.mark.parametrize("sizes", [(1, 1, 1), (3, 5, 2), (64, 256, 10), (10, 32, 7)])
def test_lstm_param_count_equals_keras(sizes):
    n_input, n_hidden, n_output = sizes
    model = keras.Sequential([keras.Input((4, n_input)), keras.layers.LSTM(n_hidden),
                              keras.layers.Dense(n_output)])
    assert zoo.lstm_param_count(n_input, n_hidden, n_output) == model.count_params()
    ours = keras.Sequential([keras.Input((4, n_input)), zoo.LSTM(n_hidden), keras.layers.Dense(n_output)])
    assert ours.count_params() == model.count_params()


def test_lstm_param_count_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_hidden"):
        zoo.lstm_param_count(3, 0, 2)


def test_mixed_precision_fused_layers_run():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        for layer in (zoo.LSTM(4), zoo.GRU(4), zoo.ElmanRNN(4), zoo.LinearRNN(4, spectral_radius=1.0)):
            model = keras.Sequential([keras.Input((5, 3)), layer, keras.layers.Dense(1, dtype="float32")])
            model.compile("sgd", "mse")
            x = np.random.default_rng(9).standard_normal((20, 5, 3)).astype("float32")
            loss = model.train_on_batch(x, np.zeros((20, 1), "float32"))
            assert np.isfinite(loss)
            assert layer.compute_dtype == "bfloat16"
            assert keras.backend.standardize_dtype(layer(x).dtype) == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_batch_shards_cover_the_batch(monkeypatch):
    from zoo.fused_tf import MIN_SHARD_ROWS, batch_shards

    monkeypatch.setenv("KZOO_RNN_SHARDS", "3")
    for batch in (1, 7, 8, 24, 25, 100):
        sizes = batch_shards(tf.zeros((batch, 2, 1)))
        assert sum(sizes) == batch and len(sizes) == max(1, min(3, batch // MIN_SHARD_ROWS))
        assert max(sizes) - min(sizes) <= 1
    monkeypatch.setenv("KZOO_RNN_SHARDS", "1")
    assert batch_shards(tf.zeros((64, 2, 1))) == [64]


def test_shards_of_a_batch_unknown_at_trace_time_keep_the_minimum_rows(monkeypatch):
    from zoo.fused_tf import MIN_SHARD_ROWS, batch_shards

    monkeypatch.setenv("KZOO_RNN_SHARDS", "16")
    sizes_of = tf.function(lambda x: tf.stack(batch_shards(x)),
                           input_signature=[tf.TensorSpec([None, 2, 1], tf.float32)])
    for batch in (4, 8, 17, 40, 1000):
        sizes = sizes_of(tf.zeros((batch, 2, 1))).numpy()
        assert len(sizes) == 16 and sizes.sum() == batch
        filled = sizes[sizes > 0]
        assert len(filled) == max(1, min(16, batch // MIN_SHARD_ROWS))
        assert batch < MIN_SHARD_ROWS or filled.min() >= MIN_SHARD_ROWS
        assert filled.max() - filled.min() <= 1


def test_shard_count_follows_the_cpus_this_process_may_use(monkeypatch):
    import os

    import zoo.fused_tf as fused

    monkeypatch.delenv("KZOO_RNN_SHARDS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert fused.usable_cpus() <= 3
    assert len(fused.batch_shards(tf.zeros((64, 2, 1)))) == fused.usable_cpus()


def test_spectral_radius_of_a_diverged_cell_names_the_divergence():
    cell = zoo.LinearRecurrentCell(3)
    cell.build((None, 2))
    cell.recurrent_kernel.assign(np.full((3, 3), np.nan, "float32"))
    with pytest.raises(ValueError, match="training diverged"):
        zoo.spectral_radius(cell)


def test_unroll_factor(monkeypatch):
    from zoo.fused_tf import unroll_factor

    monkeypatch.delenv("KZOO_RNN_UNROLL")  # the library's default (conftest sets 1)
    assert [unroll_factor(t) for t in (1, 4, 12, 11, 100, 128)] == [1, 4, 6, 1, 10, 8]
    assert unroll_factor(tf.constant(100)) == 1  # length known only at run time
    monkeypatch.setenv("KZOO_RNN_UNROLL", "1")
    assert unroll_factor(100) == 1


@pytest.mark.parametrize("kind", ["lstm", "gru_before", "elman"])
def test_uncompiled_fast_path_equals_cell(monkeypatch, kind):
    """KZOO_RNN_JIT=0: the same loops run by TensorFlow's graph executor instead of XLA."""
    import zoo.fused_tf

    monkeypatch.setenv("KZOO_RNN_JIT", "0")
    assert not zoo.fused_tf.jit_enabled()
    layer_cls, cell_cls, _, kwargs = KINDS[kind]
    rng = np.random.default_rng(11)
    x = rng.standard_normal((18, 5, 3)).astype("float32")
    common = dict(return_sequences=True, return_state=True)
    fused = layer_cls(4, **common, **kwargs, use_fused=True)
    generic = keras.layers.RNN(cell_cls(4, **kwargs), **common)
    fused(x), generic(x)
    weights = _perturbed(generic, rng)
    fused.set_weights(weights), generic.set_weights(weights)
    _compare(fused, generic, x, {"mask": tf.constant(_ragged_mask(rng, 18, 5))}, loss_weights_rng=3)
