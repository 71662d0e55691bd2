"""zoo.gradients: Jacobian norms, loss gradients per step, activation bounds, the monitor callback, the
vanishing/exploding experiments with assertions on measured rates, and `kzoo gradients`."""

import csv

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.cli import main
from zoo.gradients import (
    GradientFlowMonitor,
    activation_derivative_bounds,
    decay_rate,
    experiments,
    jacobian_norms,
    loss_gradient_norms,
)


def _direct_norms(cell, x):
    """‖∂h_T/∂h_t‖ by differentiating h_T with respect to each intermediate h_t (single-state cells)."""
    with tf.GradientTape(persistent=True) as tape:
        hidden = [tf.zeros((x.shape[0], cell.units), dtype=x.dtype)]
        tape.watch(hidden[0])
        for t in range(x.shape[1]):
            hidden.append(cell(x[:, t], [hidden[-1]])[0])
    return np.array([np.linalg.norm(tape.batch_jacobian(hidden[-1], h).numpy(), ord=2, axis=(1, 2)).mean()
                     for h in hidden])


@pytest.mark.parametrize("make", [lambda: zoo.GRUCell(6, dtype="float64"),
                                  lambda: zoo.ElmanCell(6, activation="sigmoid", dtype="float64"),
                                  lambda: keras.layers.SimpleRNNCell(6, dtype="float64")])
def test_jacobian_norms_equal_direct_autodiff(make):
    cell = make()
    x = tf.constant(experiments.random_inputs(3, 8, 4, seed=1), dtype=tf.float64)
    norms = jacobian_norms(cell, x)
    assert norms.shape == (9,) and norms[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(norms, _direct_norms(cell, x), rtol=1e-9)


def test_jacobian_norms_zoo_lstm_equals_keras_lstm_and_accepts_layers():
    keras_cell = keras.layers.LSTMCell(5)
    zoo_cell = zoo.LSTMCell(5)
    x = experiments.random_inputs(2, 10, 3, seed=2)
    keras_cell.build((None, 3))
    zoo_cell.build((None, 3))
    zoo_cell.set_weights(keras_cell.get_weights())
    for index in (0, 1):
        np.testing.assert_allclose(jacobian_norms(zoo_cell, x, state_index=index),
                                   jacobian_norms(keras_cell, x, state_index=index), rtol=1e-5)
    layer = zoo.LSTM(5)
    layer(x)
    layer.cell.set_weights(keras_cell.get_weights())
    np.testing.assert_allclose(jacobian_norms(layer, x), jacobian_norms(keras_cell, x), rtol=1e-5)
    with pytest.raises(ValueError, match="state_index"):
        jacobian_norms(zoo_cell, x, state_index=2)
    with pytest.raises(TypeError, match="recurrent cell"):
        jacobian_norms(keras.layers.Dense(3), x)
    with pytest.raises(ValueError, match="batch, steps"):
        jacobian_norms(zoo_cell, x[0])


@pytest.mark.parametrize("rho", [0.9, 1.0, 1.1])
def test_linear_cell_norms_are_powers_of_rho(rho):
    steps = 40
    norms = experiments.linear_cell_norms(rho, steps=steps)
    np.testing.assert_allclose(norms, rho ** np.arange(steps, -1, -1.0), rtol=1e-4)
    assert decay_rate(norms) == pytest.approx(rho, rel=1e-4)


@pytest.mark.parametrize("activation, gamma, radius", [("tanh", 1.0, 0.9), ("sigmoid", 0.25, 3.6)])
def test_saturating_elman_vanishes_geometrically_below_one_over_gamma(activation, gamma, radius):
    steps = 50
    norms = experiments.elman_norms(activation, radius, steps=steps)
    bound = (gamma * radius) ** np.arange(steps, -1, -1.0)  # Pascanu et al. 2013: (γ‖W‖)^{T−t}
    assert np.all(norms <= bound * (1 + 1e-9))
    assert decay_rate(norms) <= gamma * radius
    assert norms[0] < 1e-2


def test_relu_elman_with_radius_above_one_explodes():
    units = 32
    norms = experiments.elman_norms("relu", 1.0, steps=60, units=units, input_scale=0.1,
                                    recurrent_matrix=1.1 * np.eye(units))  # IRNN (Le et al. 2015) with gain 1.1
    assert decay_rate(norms) > 1.05
    assert norms[0] > 1e2


def test_lstm_forget_bias_keeps_memory_where_elman_vanishes():
    steps = 100
    lstm = experiments.lstm_memory_norms(forget_bias=5.0, steps=steps)
    elman = jacobian_norms(experiments.make_cell("elman-tanh", 32), experiments.random_inputs(4, steps, 32))
    assert lstm[0] > 0.1  # ≈ σ(5)^100 ≈ 0.51 when the gates stay near their biases
    assert elman[0] < 1e-6
    assert experiments.lstm_memory_norms(forget_bias=0.0, steps=steps)[0] < 1e-6


def test_gradient_clipping_caps_the_update_norm():
    free = experiments.clipped_update_norms()
    assert free["global"] > 10.0 and free["gradient_global"] > 10.0  # the relu net explodes
    per_variable = experiments.clipped_update_norms(clipnorm=1.0)
    assert max(per_variable["per_variable"].values()) <= 1.0 + 1e-5
    clipped = experiments.clipped_update_norms(global_clipnorm=1.0)
    assert clipped["global"] == pytest.approx(1.0, rel=1e-4)


def test_sigmoid_modulation_drifts_upward_tanh_stays_centred():
    sigmoid = experiments.cell_state_drift("sigmoid", steps=200)
    tanh = experiments.cell_state_drift("tanh", steps=200)
    assert np.all(sigmoid > 0) and sigmoid[100:].mean() > 0.5 and sigmoid[100:].min() > 3 * sigmoid[0]
    assert np.abs(tanh).max() < 0.1 and abs(tanh[100:].mean()) < 0.05


def test_activation_derivative_bounds_checked_numerically():
    bounds = activation_derivative_bounds()
    for name, expected in {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}.items():
        assert bounds[name]["sup"] == expected
        assert bounds[name]["measured_sup"] == pytest.approx(expected, abs=1e-6)
    assert bounds["sigmoid"]["argmax"] == pytest.approx(0.0) and bounds["tanh"]["argmax"] == pytest.approx(0.0)
    assert bounds["relu"]["sup_below_zero"] == 0.0
    with pytest.raises(ValueError, match="no analytic bound"):
        activation_derivative_bounds(["swish"])


def _sum_squared(y, p):
    return tf.reduce_sum(tf.square(tf.cast(y, p.dtype) - p))


def test_loss_gradient_norms_equal_bptt_reference():
    x, y = experiments.random_inputs(3, 9, 4, seed=3), experiments.random_inputs(3, 9, 2, seed=4)
    model = keras.Sequential([keras.Input((9, 4)), zoo.ElmanRNN(5, return_sequences=True), keras.layers.Dense(2)])
    norms = loss_gradient_norms(model, x, y, loss=_sum_squared)
    cell, dense = model.layers[0].cell, model.layers[1]
    reference = zoo.bptt(x, y, U=cell.kernel.numpy(), W=cell.recurrent_kernel.numpy(), b=cell.bias.numpy(),
                         V=dense.kernel.numpy(), c=dense.bias.numpy())
    np.testing.assert_allclose(norms, np.linalg.norm(reference.dh, axis=-1).mean(axis=0), rtol=1e-4)


def test_loss_gradient_norms_functional_model_and_errors():
    inputs = keras.Input((12, 3))
    hidden = keras.layers.Dense(4)(inputs)
    hidden = zoo.GRU(6, name="recurrent")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(loss="mse")
    x, y = experiments.random_inputs(4, 12, 3), np.ones((4, 1), np.float32)
    norms = loss_gradient_norms(model, x, y, layer="recurrent")
    assert norms.shape == (13,) and np.all(norms > 0) and norms[0] < norms[-1]
    with pytest.raises(ValueError, match="not compiled"):
        loss_gradient_norms(keras.Sequential([keras.Input((2, 1)), zoo.GRU(2)]), x[:, :2, :1], y)
    with pytest.raises(ValueError, match="no keras.layers.RNN"):
        loss_gradient_norms(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), x[:, 0, :2], y,
                            loss="mse")


def test_gradient_flow_monitor_logs_during_fit(tmp_path):
    keras.utils.set_random_seed(0)
    x, y = experiments.random_inputs(32, 15, 3), np.zeros((32, 1), np.float32)
    model = keras.Sequential([keras.Input((15, 3)), zoo.LSTM(8, name="lstm"), keras.layers.Dense(1, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    monitor = GradientFlowMonitor(2, x[:8], y[:8], log_dir=tmp_path / "logs")
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[monitor])
    assert [entry["step"] for entry in monitor.history] == [2, 4, 6, 8]
    for entry in monitor.history:
        assert entry["grad_norm/lstm"] > 0 and entry["grad_norm/out"] > 0 and entry["grad_ratio_h0_hT"] > 0
    assert history.history["grad_ratio_h0_hT"][-1] == monitor.history[-1]["grad_ratio_h0_hT"]
    assert list((tmp_path / "logs").glob("events.out.tfevents.*"))
    with pytest.raises(ValueError, match="every_n_batches"):
        GradientFlowMonitor(0, x, y)


def test_kzoo_gradients_writes_plot_csv_and_table(tmp_path, capsys):
    out = tmp_path / "flow"
    assert main(["gradients", "--cells", "elman-tanh,linear,lstm", "--steps", "20", "--units", "8",
                 "--seed", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| elman-tanh |" in printed and "| lstm |" in printed and "decay per step" in printed
    with open(out / "gradient_flow.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["distance", "elman-tanh", "linear", "lstm"] and len(rows) == 22
    assert float(rows[1][1]) == pytest.approx(1.0) and float(rows[-1][1]) < 1.0
    assert (out / "gradient_flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [(["--cells", "lstm,transformer"], "elman-tanh, elman-sigmoid"),
                                            (["--steps", "0"], "argument --steps"),
                                            (["--units", "-3"], "argument --units")])
def test_kzoo_gradients_bad_arguments(argv, message, capsys):
    assert main(["gradients", *argv]) == 2
    assert message in capsys.readouterr().err
