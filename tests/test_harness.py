"""Every layer and model kzoo registers passes the shared checks of zoo/testing.py (config round trip, .keras
save/load under safe_mode, one fit step); the bundled presets load, save and give their pinned outputs."""

import numpy as np
import pytest

import zoo
from zoo.testing import run_layer_test


def _vocab():
    from zoo.text import CharVocab

    return CharVocab()


def _ids(batch=3, length=12, seed=0):
    return np.random.default_rng(seed).integers(1, 30, (batch, length)).astype("int32")


def _sequences(seed=0):
    return np.random.default_rng(seed).standard_normal((3, 5, 2)).astype("float32")


LAYERS = {
    "ElmanRNN": (lambda: zoo.ElmanRNN(4), _sequences, (3, 4)),
    "LSTM": (lambda: zoo.LSTM(4, return_sequences=True), _sequences, (3, 5, 4)),
    "GRU": (lambda: zoo.GRU(4), _sequences, (3, 4)),
    "GRU-reset-before": (lambda: zoo.GRU(4, reset_after=False, use_fused=True), _sequences, (3, 4)),
    "LinearRNN": (lambda: zoo.LinearRNN(4, spectral_radius=0.9), _sequences, (3, 4)),
    "LSTM-return-state": (lambda: zoo.LSTM(4, return_state=True), _sequences, [(3, 4), (3, 4), (3, 4)]),
    "CharRNNEncoder": (lambda: __import__("zoo.text", fromlist=["x"]).CharRNNEncoder(
        _vocab(), cell="gru", units=8, output_dim=6), _ids, (3, 6)),
    "CharCNNEncoder": (lambda: __import__("zoo.text", fromlist=["x"]).CharCNNEncoder(
        _vocab(), filters=(8, 8), output_dim=6), _ids, (3, 6)),
    "TiedAutoencoder": (lambda: __import__("autoencoders").TiedAutoencoder([12, 6, 3]),
                        lambda: np.random.default_rng(0).random((4, 12)).astype("float32"), (4, 12)),
    "DenoisingAutoencoder": (lambda: __import__("autoencoders").dense_denoising_autoencoder(12, (8,), 4),
                             lambda: np.random.default_rng(0).random((4, 12)).astype("float32"), (4, 12)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_and_model_passes_the_shared_checks(name):
    build, inputs, shape = LAYERS[name]
    outputs = run_layer_test(build(), inputs(), expected_output_shape=shape)
    assert np.all(np.isfinite(np.concatenate([np.ravel(o) for o in (outputs if isinstance(outputs, list)
                                                                       else [outputs])])))


def test_the_harness_catches_a_config_that_loses_an_argument():
    import keras

    @keras.saving.register_keras_serializable(package="kzoo_test")
    class Forgetful(keras.layers.Dense):
        def get_config(self):
            config = super().get_config()
            config["units"] = 1  # forgets its units
            return config

    with pytest.raises(AssertionError, match="other weights"):
        run_layer_test(Forgetful(3), np.ones((2, 4), "float32"))


def _charlm_logits(model):
    ids = model.vocab.encode(["ROMEO: what"], max_length=11)
    return lambda m, x: m(x)[0, -1, :6], (ids,)


def _pattern():
    return (np.arange(784) % 7 == 0).astype("float32")[None]


# Outputs of the bundled presets on fixed inputs, pinned from the builds in zoo/presets/bundled (their
# metadata.json records how each was trained); a rebuilt preset updates its row here.
PINNED = {
    "charlm-shakespeare": (_charlm_logits, [-7.09209, 4.06821, 9.67322, 5.57805, -5.15065, -6.61160]),
    "rbm-mnist": (lambda model: (lambda m, x: m.hidden_probabilities(x)[0, :6], (_pattern(),)),
                  [0.34936, 0.49734, 0.02159, 0.07568, 0.31689, 0.84350]),
    "dae-mnist": (lambda model: (lambda m, x: m(x)[0, 200:206], (_pattern(),)),
                  [0.01008, 0.00775, 0.03419, 0.02280, 0.00050, 0.0]),
    # a row of red pixels at the top left edge of the circle: the generated image itself, fixed by the noise
    "t2i-shapes-64": (lambda model: (lambda m, z: m.generate(["a small red circle in the top left"], n=2, z=z)
                                     [0, 0, 8, 8:14, 0], (model.fixed_noise(2, 0),)),
                      [-1.0000, -0.9988, -0.9334, -0.6862, 0.1320, 0.6940]),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_bundled_presets_give_their_pinned_outputs(name):
    from zoo.testing import run_preset_test

    inputs_for, pinned = PINNED[name]
    run_preset_test(name, inputs_for, np.asarray(pinned, "float32"), atol=1e-4)


def test_the_preset_check_notices_changed_outputs():
    from zoo.testing import run_preset_test

    inputs_for, pinned = PINNED["dae-mnist"]
    with pytest.raises(AssertionError, match="pinned"):
        run_preset_test("dae-mnist", inputs_for, np.asarray(pinned, "float32") + 1e-3, atol=1e-4)
