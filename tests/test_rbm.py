"""Tests of the Bernoulli RBM against brute-force enumeration, scikit-learn's BernoulliRBM and exact expectations."""

import itertools
import json

import keras
import numpy as np
import pytest
from scipy import stats

from autoencoders.partition import ais_betas, exact_log_partition
from autoencoders.rbm import BernoulliRBM


def set_weights(rbm, kernel, visible_bias, hidden_bias):
    rbm.kernel.assign(kernel.astype(np.float32))
    rbm.visible_bias.assign(visible_bias.astype(np.float32))
    rbm.hidden_bias.assign(hidden_bias.astype(np.float32))


def random_rbm(n_visible, n_hidden, scale=1.0, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    rbm = BernoulliRBM(n_visible, n_hidden, seed=seed, **kwargs)
    set_weights(rbm, rng.normal(0, scale, (n_visible, n_hidden)), rng.normal(0, scale, n_visible),
                rng.normal(0, scale, n_hidden))
    return rbm


def all_states(count):
    return np.array(list(itertools.product([0.0, 1.0], repeat=count)))


def brute_force_log_z(kernel, visible_bias, hidden_bias):
    """log Σ_{v,h} exp(vᵀb + hᵀc + vᵀWh) over every joint state (the definition, nothing summed out)."""
    v, h = all_states(len(visible_bias)), all_states(len(hidden_bias))
    negative_energy = (v @ visible_bias)[:, None] + (h @ hidden_bias)[None, :] + v @ kernel @ h.T
    return float(np.log(np.exp(negative_energy - negative_energy.max()).sum()) + negative_energy.max())


def exact_distribution(rbm):
    """p(v) for every visible state (rows in itertools.product order)."""
    states = all_states(rbm.n_visible).astype(np.float32)
    return states, np.exp(rbm.log_likelihood(states))


@pytest.fixture(scope="module")
def digits_binary():
    from sklearn.datasets import load_digits

    return (load_digits().data / 16.0 > 0.5).astype(np.float32)


@pytest.mark.parametrize("n_visible, n_hidden", [(6, 4), (4, 7)])
def test_exact_log_partition_equals_brute_force(n_visible, n_hidden):
    rbm = random_rbm(n_visible, n_hidden, seed=n_visible)
    kernel, visible_bias, hidden_bias = rbm.weights_numpy()
    expected = brute_force_log_z(kernel, visible_bias, hidden_bias)
    assert rbm.log_partition("exact") == pytest.approx(expected, abs=1e-9)
    assert exact_log_partition(kernel, visible_bias, hidden_bias, chunk=3) == pytest.approx(expected, abs=1e-9)
    states, probabilities = exact_distribution(rbm)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_exact_log_partition_refuses_large_layers():
    rbm = BernoulliRBM(30, 25)
    with pytest.raises(ValueError, match="max_units"):
        rbm.log_partition("exact")
    with pytest.raises(ValueError, match="method"):
        rbm.log_partition("bridge")


def test_ais_within_a_tenth_of_a_nat_of_exact():
    rbm = random_rbm(40, 14, scale=0.3, seed=3)
    exact = rbm.log_partition("exact")
    estimate, error = rbm.log_partition("ais", n_betas=2000, n_runs=100, seed=1)
    assert abs(estimate - exact) < 0.1, (estimate, exact, error)
    assert 0 < error < 0.1


def test_ais_betas_schedule():
    betas = ais_betas(14500)
    assert betas[0] == 0 and betas[-1] == 1 and np.all(np.diff(betas) > 0)
    assert len(betas) == 14501
    assert np.sum(betas >= 0.9) == pytest.approx(10001, abs=2)


def test_long_gibbs_chains_match_exact_distribution():
    rbm = random_rbm(4, 3, scale=1.0, seed=5)
    states, probabilities = exact_distribution(rbm)
    samples = rbm.sample(4000, steps=100, seed=0)
    codes = samples.astype(int) @ (1 << np.arange(3, -1, -1))  # itertools.product order
    observed = np.bincount(codes, minlength=16)
    expected = probabilities / probabilities.sum() * len(samples)
    p_value = stats.chisquare(observed, expected).pvalue
    assert p_value > 1e-3, p_value
    # the same counts are rejected against a slightly different model: the test has power
    other = random_rbm(4, 3, scale=1.0, seed=5)
    other.visible_bias.assign(other.visible_bias.numpy() + 0.4)
    _, other_probabilities = exact_distribution(other)
    assert stats.chisquare(observed, other_probabilities / other_probabilities.sum() * len(samples)).pvalue < 1e-6


def test_matches_scikit_learn_formulas(digits_binary):
    from sklearn.neural_network import BernoulliRBM as SkRBM

    rbm = random_rbm(64, 20, scale=0.1, seed=2)
    kernel, visible_bias, hidden_bias = rbm.weights_numpy()
    sk = SkRBM(n_components=20, random_state=7)
    sk.components_, sk.intercept_visible_, sk.intercept_hidden_ = kernel.T, visible_bias, hidden_bias
    sk.n_features_in_ = 64
    x = digits_binary[:200]
    np.testing.assert_allclose(rbm.free_energy(x).numpy(), sk._free_energy(x), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(rbm(x).numpy(), sk.transform(x), atol=1e-5)
    indices = np.random.RandomState(7).randint(0, 64, 200)
    np.testing.assert_allclose(rbm.pseudo_log_likelihood(x, indices=indices), sk.score_samples(x),
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(rbm.pseudo_log_likelihood(x, seed=7), sk.score_samples(x), rtol=1e-5, atol=1e-4)


def test_free_energy_finite_differences():
    """∂F/∂b = −v and ∂F/∂c = −σ(c + vW): compare with central differences of free_energy."""
    rbm = random_rbm(5, 3, seed=9)
    v = np.array([[1, 0, 1, 1, 0]], np.float32)
    kernel, visible_bias, hidden_bias = rbm.weights_numpy()
    step = 1e-2
    for j in range(3):
        shift = np.eye(3)[j] * step
        set_weights(rbm, kernel, visible_bias, hidden_bias + shift)
        up = float(rbm.free_energy(v)[0])
        set_weights(rbm, kernel, visible_bias, hidden_bias - shift)
        down = float(rbm.free_energy(v)[0])
        expected = -1 / (1 + np.exp(-(hidden_bias[j] + v[0] @ kernel[:, j])))
        assert (up - down) / (2 * step) == pytest.approx(expected, abs=1e-3)


def expected_update(rbm, data, start_hidden=None):
    """The exact expected CD-1 (or, from ``start_hidden``, PCD-1) update direction ⟨vhᵀ⟩_data − E⟨vhᵀ⟩_neg,
    by enumerating every hidden and visible state of a tiny model."""
    kernel, visible_bias, hidden_bias = rbm.weights_numpy()
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    hs, vs = all_states(rbm.n_hidden), all_states(rbm.n_visible)
    p_h_given_v = lambda v: sigmoid(hidden_bias + v @ kernel)  # noqa: E731

    def state_probability(states, means):
        return np.prod(np.where(states == 1, means, 1 - means), axis=-1)

    positive = data.T @ p_h_given_v(data) / len(data)
    negative = np.zeros_like(kernel)
    starts = [np.asarray(start_hidden)] if start_hidden is not None else None
    for v0 in data if starts is None else starts:
        h_weights = (state_probability(hs, p_h_given_v(v0)) if starts is None else (hs == v0).all(1).astype(float))
        for h, weight in zip(hs, h_weights):
            if weight == 0:
                continue
            pv = state_probability(vs, sigmoid(visible_bias + kernel @ h))
            negative += weight * (vs * pv[:, None]).T @ p_h_given_v(vs)
    return positive - negative / (len(data) if starts is None else 1)


@pytest.mark.parametrize("persistent", [False, True])
def test_one_update_equals_the_exact_expected_update(persistent):
    """With momentum and decay off, one fit step on many copies of the data averages the sampled statistics:
    ΔW ≈ ε(⟨vhᵀ⟩_data − E⟨vhᵀ⟩_negative), the expectation computed by enumeration."""
    copies = 2000
    data = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], np.float32)
    rbm = random_rbm(4, 3, scale=0.8, seed=4, persistent=persistent, n_chains=2 * copies, momentum=0.0,
                     initial_momentum=0.0, weight_decay=0.0, learning_rate=1.0)
    before = rbm.kernel.numpy().copy()
    expected = expected_update(rbm, data, start_hidden=np.zeros(3) if persistent else None)
    rbm.fit(np.repeat(data, copies, axis=0), batch_size=2 * copies, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(rbm.kernel.numpy() - before, expected, atol=0.03)
    assert np.abs(expected).max() > 0.1
    if persistent:
        assert rbm.chains.numpy().any()


def test_full_pseudo_log_likelihood_equals_exact_conditionals():
    """Σ_i log p(v_i|v_−i), each conditional from the enumerated joint p(v), and the mean of the one-flip
    estimator over every flipped unit."""
    rbm = random_rbm(5, 3, scale=1.0, seed=11)
    states, probabilities = exact_distribution(rbm)
    table = {tuple(state): p for state, p in zip(states.astype(int), probabilities)}
    v = states[[3, 17, 30]]
    expected = []
    for row in v.astype(int):
        total = 0.0
        for i in range(5):
            other = row.copy()
            other[i] = 1 - other[i]
            total += np.log(table[tuple(row)] / (table[tuple(row)] + table[tuple(other)]))
        expected.append(total)
    np.testing.assert_allclose(rbm.full_pseudo_log_likelihood(v, chunk=2), expected, rtol=1e-5)
    one_flip = np.mean([rbm.pseudo_log_likelihood(v, indices=np.full(3, i)) for i in range(5)], axis=0)
    np.testing.assert_allclose(rbm.full_pseudo_log_likelihood(v), one_flip, rtol=1e-6)


def test_pseudo_log_likelihood_metric_is_the_one_flip_estimator():
    """The in-graph ``pseudo_log_likelihood`` metric (random flipped unit per row) averages, over many copies of
    a few rows, to their mean exact pseudo-log-likelihood; the ``reconstruction_error`` metric to the mean of
    ‖v − p(v|h)‖²/V over h ~ p(h|v), enumerated."""
    rbm = random_rbm(6, 4, scale=1.0, seed=5)
    rbm.compile()
    rows = all_states(6)[[0, 9, 22, 41, 63]]
    copies = 4000
    metrics = rbm.evaluate(np.repeat(rows, copies, axis=0), batch_size=len(rows) * copies, verbose=0,
                           return_dict=True)
    expected_pll = rbm.full_pseudo_log_likelihood(rows).mean()
    assert metrics["pseudo_log_likelihood"] == pytest.approx(expected_pll, abs=0.05)
    kernel, visible_bias, hidden_bias = rbm.weights_numpy()
    hiddens = all_states(4)
    expected_error = []
    for v in rows:
        p_h = 1 / (1 + np.exp(-(v @ kernel + hidden_bias)))
        weights = np.prod(np.where(hiddens == 1, p_h, 1 - p_h), axis=1)
        reconstructions = 1 / (1 + np.exp(-(hiddens @ kernel.T + visible_bias)))
        expected_error.append(weights @ np.mean((v - reconstructions) ** 2, axis=1))
    assert metrics["reconstruction_error"] == pytest.approx(np.mean(expected_error), abs=0.005)


def test_visible_bias_initialised_from_data(digits_binary):
    """Hinton's guide §8: b_i = log(p_i/(1−p_i)) at the first fit of a fresh model (arrays and datasets alike);
    biases assigned by hand, or ``visible_bias_init="zeros"``, are left alone."""
    import tensorflow as tf

    from autoencoders.rbm import base_rate_bias

    def fit(rbm, x):  # without XLA: what is tested is the first-fit hook, not the compiled step
        rbm.compile(jit_compile=False, steps_per_execution=1)
        rbm.fit(x, epochs=1, verbose=0)

    expected = base_rate_bias(digits_binary)
    for x in (digits_binary, tf.data.Dataset.from_tensor_slices(digits_binary).batch(100)):
        rbm = BernoulliRBM(64, 8, learning_rate=1e-9, seed=0)
        fit(rbm, x)
        np.testing.assert_allclose(rbm.visible_bias.numpy(), expected, atol=1e-4)
    p = expected[digits_binary.mean(0) > 0.5][0]
    assert 0 < p < 5 and expected.min() == pytest.approx(np.log(0.025 / 0.975))
    zeros = BernoulliRBM(64, 8, learning_rate=1e-9, visible_bias_init="zeros")
    fit(zeros, digits_binary)
    assert np.abs(zeros.visible_bias.numpy()).max() < 1e-6
    preset = BernoulliRBM(64, 8, learning_rate=1e-9)
    preset.visible_bias.assign(np.full(64, -2.0, np.float32))
    fit(preset, digits_binary)
    np.testing.assert_allclose(preset.visible_bias.numpy(), -2.0, atol=1e-5)
    with pytest.raises(ValueError, match="visible_bias_init"):
        BernoulliRBM(64, 8, visible_bias_init="ones")


def test_weight_decay_and_momentum():
    data = np.zeros((10, 4), np.float32)
    rbm = random_rbm(4, 3, seed=1, weight_decay=0.5, learning_rate=0.1, initial_momentum=0.5, momentum=0.9,
                     momentum_switch_epoch=1, persistent=True, n_chains=1)
    rbm.visible_bias.assign(np.full(4, -30.0, np.float32))  # negative samples are all-zero, as the data
    before = rbm.kernel.numpy()
    rbm.fit(data, batch_size=10, epochs=1, verbose=0)
    # ⟨vhᵀ⟩ terms vanish for all-zero v, leaving Δ = −ε λ W
    np.testing.assert_allclose(rbm.kernel.numpy() - before, -0.1 * 0.5 * before, rtol=1e-5)
    velocity = rbm.velocities[0].numpy()
    middle = rbm.kernel.numpy()
    rbm.fit(data, batch_size=10, epochs=2, initial_epoch=1, verbose=0)  # epoch 1: momentum 0.9
    np.testing.assert_allclose(rbm.kernel.numpy() - middle, 0.9 * velocity - 0.1 * 0.5 * middle, rtol=1e-5)


def test_inputs_must_lie_in_unit_interval(digits_binary):
    import tensorflow as tf

    rbm = BernoulliRBM(64, 8)
    with pytest.raises(ValueError, match=r"\[0, 1\].*binarize"):
        rbm.fit(digits_binary * 16, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="binarize"):
        rbm.free_energy(digits_binary - 0.5)
    with pytest.raises(ValueError, match="64 columns"):
        rbm.gibbs(np.zeros((2, 10), np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="binarize"):
        rbm.fit(tf.data.Dataset.from_tensor_slices(digits_binary * 16).batch(50), epochs=1, verbose=0)
    with_nan = digits_binary.copy()
    with_nan[60, 3] = np.nan
    for model in (rbm, BernoulliRBM(64, 8, binarize=0.5)):
        with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
            model.fit(tf.data.Dataset.from_tensor_slices(with_nan).batch(50), epochs=1, verbose=0)
    thresholded = BernoulliRBM(64, 8, binarize=8.0)
    np.testing.assert_array_equal(thresholded.prepare(digits_binary * 16).numpy(), digits_binary)
    thresholded.fit(digits_binary * 16, epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs, match", [({"n_hidden": 0}, "n_hidden"),
                                           ({"k": 1.5}, "`k` must be a positive integer"),
                                           ({"momentum": 1.0}, "momentum"), ({"learning_rate": -1}, "learning"),
                                           ({"weight_decay": -1e-3}, "weight_decay")])
def test_constructor_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BernoulliRBM(**{"n_visible": 4, "n_hidden": 3, **kwargs})
    with pytest.raises(TypeError, match="binarize"):
        BernoulliRBM(4, 3, binarize="yes")


def test_training_lowers_reconstruction_error_and_save_load(digits_binary, tmp_path):
    rbm = BernoulliRBM(64, 16, k=1, seed=0)
    history = rbm.fit(digits_binary, batch_size=20, epochs=8, verbose=0).history
    assert history["reconstruction_error"][-1] < 0.75 * history["reconstruction_error"][0]
    assert history["pseudo_log_likelihood"][-1] > history["pseudo_log_likelihood"][0]
    log_likelihood = rbm.log_likelihood(digits_binary).mean()
    assert -30 < log_likelihood < -15
    path = tmp_path / "rbm.keras"
    rbm.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, BernoulliRBM) and loaded.get_config() == rbm.get_config()
    np.testing.assert_allclose(loaded.free_energy(digits_binary[:10]), rbm.free_energy(digits_binary[:10]))
    loaded.fit(digits_binary[:100], batch_size=20, epochs=1, verbose=0)  # compiled on load, trains on


def test_default_compile_runs_exactly_steps_per_epoch(digits_binary, tmp_path):
    """compile() defaults to XLA and several steps per execution; with steps_per_epoch (on a repeated dataset,
    where Keras would run whole executions past the epoch) it runs exactly those steps: the same weights as one
    step per execution. The saved compile config keeps "auto", so a loaded model resolves it again."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(digits_binary[:300]).batch(20).repeat()
    results = []
    for compile_args in ({}, {"jit_compile": True, "steps_per_execution": 1}):
        rbm = BernoulliRBM(64, 16, persistent=True, seed=3)
        rbm.compile(**compile_args)
        rbm.fit(dataset, epochs=2, steps_per_epoch=15, verbose=0)
        results.append(rbm)
    auto, one_step = results
    assert auto.jit_compile and auto.steps_per_execution == 15  # 15 = the largest divisor of 15 up to 32
    np.testing.assert_allclose(auto.kernel.numpy(), one_step.kernel.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(auto.seed_generator.state.numpy(), one_step.seed_generator.state.numpy())
    assert auto.get_compile_config()["steps_per_execution"] == "auto"
    path = tmp_path / "rbm.keras"
    auto.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    loaded.fit(dataset, epochs=1, steps_per_epoch=10, verbose=0)
    assert loaded.steps_per_execution == 10


@pytest.mark.slow
def test_cd_on_mnist_learns_digits(shared_data_dir, tmp_path):
    """CD-1 on 10,000 MNIST digits with the defaults: reconstruction error falls, and Gibbs chains from random
    images end at distinct digit-like images (mean intensity and mean absolute deviation from the data's mean
    image close to the data's).

    Regression: with the visible biases started at 0 (``visible_bias_init="zeros"``, the former default) the
    same run ends with every chain in one spurious mode, all hidden units off and p(v) ≈ 0.41 at every pixel
    (measured: chain spread 2e-7, mean 0.414 against the data's 0.133); the data-initialised biases give
    mean 0.172, spread 0.117, distance to the mean image 0.160 (noise: 0.433)."""
    from autoencoders.data import load_images
    from zoo.images import save_image_grid

    images, _ = load_images("mnist", shared_data_dir / "mnist", "train", limit=10000)
    x = (images.reshape(len(images), -1) > 0.5).astype(np.float32)
    rbm = BernoulliRBM(784, 200, k=1, seed=0)
    history = rbm.fit(x, batch_size=100, epochs=5, verbose=0).history
    assert history["reconstruction_error"][-1] < 0.6 * history["reconstruction_error"][0]
    samples = rbm.sample(100, steps=1000, seed=0, return_probabilities=True)
    save_image_grid(samples.reshape(-1, 28, 28), tmp_path / "samples.png")
    assert (tmp_path / "samples.png").stat().st_size > 1000
    assert samples.std(axis=0).mean() > 0.05  # the chains did not collapse into one state
    assert abs(samples.mean() - x.mean()) < 0.06
    noise_distance = np.abs(np.random.default_rng(0).random(x.shape[1]) - x.mean(0)).mean()
    assert np.abs(samples - x.mean(0)).mean() < 0.6 * noise_distance


def test_cli_train_rbm_digits(tmp_path, capsys):
    from zoo.cli import main

    out = tmp_path / "run"
    assert main(["train", "rbm", "--dataset", "digits", "--hidden", "12", "--epochs", "2", "--batch-size", "50",
                 "--persistent", "--sample-steps", "20", "--verbose", "0", "--seed", "1", "--out", str(out)]) == 0
    for name in ("rbm.keras", "filters.png", "samples.png", "metrics.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["persistent"] and metrics["log_partition_method"] == "exact"
    assert metrics["test_log_likelihood"] < 0 and len(metrics["seconds_per_epoch"]) == 2
    from PIL import Image

    assert Image.open(out / "filters.png").size[0] > 8 * 3
    assert "wrote" in capsys.readouterr().out


def test_cli_rejects_bad_arguments(capsys):
    from zoo.cli import main

    assert main(["train", "rbm", "--hidden", "0"]) == 2
    assert "argument --hidden" in capsys.readouterr().err
    assert main(["train", "rbm", "--dataset", "cifar"]) == 2
