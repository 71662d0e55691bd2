"""Tests of the tied-weight and denoising autoencoders, their CLI and the experiments."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from autoencoders.denoising import (
    DenoisingAutoencoder,
    conv_denoising_autoencoder,
    corrupt,
    dense_denoising_autoencoder,
)
from autoencoders.tied import DenseTied, TiedAutoencoder, untied_param_count


@pytest.fixture(scope="module")
def digits():
    from autoencoders.data import load_images

    return load_images("digits", split="train")[0].reshape(-1, 64)


def test_import_does_not_start_tensorflow():
    code = "import sys, autoencoders, autoencoders.commands; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_tied_parameter_count():
    model = TiedAutoencoder([64, 32, 16])
    assert model.count_params() == 2704
    assert untied_param_count([64, 32, 16]) == 5264
    assert [len(layer.weights) for layer in model.decoder_layers] == [1, 1]
    np.testing.assert_array_equal(model.decoder_layers[0].kernel, np.transpose(model.encoder_layers[1].kernel))


def test_tied_forward_equals_transposed_matmul(digits):
    model = TiedAutoencoder([64, 32, 16], activation="tanh")
    for layer in model.decoder_layers:
        layer.bias.assign(np.random.default_rng(0).normal(size=layer.bias.shape).astype(np.float32))
    (w1, a1), (w2, a2) = [(layer.kernel.numpy(), layer.bias.numpy()) for layer in model.encoder_layers]
    b2, b1 = [layer.bias.numpy() for layer in model.decoder_layers]
    x = digits[:8]
    code = np.tanh(np.tanh(x @ w1 + a1) @ w2 + a2)
    expected = 1 / (1 + np.exp(-(np.tanh(code @ w2.T + b2) @ w1.T + b1)))
    np.testing.assert_allclose(model(x), expected, atol=1e-5)


def test_tie_survives_fit_and_save_load(digits, tmp_path):
    model = TiedAutoencoder([64, 32, 16])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    before = model.encoder_layers[0].kernel.numpy().copy()
    history = model.fit(digits, digits, batch_size=64, epochs=3, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert not np.allclose(before, model.encoder_layers[0].kernel.numpy())
    for encoder, decoder in zip(model.encoder_layers, reversed(model.decoder_layers)):
        np.testing.assert_array_equal(decoder.kernel, np.transpose(encoder.kernel))
    path = tmp_path / "tied.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, TiedAutoencoder) and loaded.count_params() == 2704
    np.testing.assert_allclose(loaded.predict(digits, verbose=0), model.predict(digits, verbose=0), atol=1e-6)
    code = loaded.encode(digits[:5])
    decoded = loaded.decode(code).numpy()
    kernel = loaded.encoder_layers[-1].kernel
    kernel.assign(kernel.numpy() * 2.0)
    assert np.abs(loaded.decode(code).numpy() - decoded).max() > 1e-3
    np.testing.assert_array_equal(loaded.decoder_layers[0].kernel, np.transpose(kernel))
    assert loaded.count_params() == 2704


def test_dense_tied_validation():
    dense = keras.layers.Dense(4)
    with pytest.raises(TypeError, match="Dense layer object"):
        DenseTied("dense")
    with pytest.raises(TypeError, match="keras.layers.Dense"):
        DenseTied(keras.layers.Conv1D(2, 3))
    with pytest.raises(ValueError, match="build the tied layer"):
        DenseTied(dense).build((None, 4))
    dense.build((None, 6))
    with pytest.raises(ValueError, match="expects inputs with 4 features"):
        DenseTied(dense).build((None, 5))
    with pytest.raises(ValueError, match="layer_sizes"):
        TiedAutoencoder([64])
    with pytest.raises(TypeError, match="layer_sizes"):
        TiedAutoencoder(["a", 2])


@pytest.mark.parametrize("corruption, level", [("masking", 0.3), ("salt_and_pepper", 0.2), ("gaussian", 0.4)])
def test_corruptions(corruption, level):
    x = np.full((200, 50), 0.5, np.float32)
    noisy = corrupt(x, corruption, level, seed=1).numpy()
    changed = noisy != x
    if corruption == "masking":
        assert changed.mean() == pytest.approx(level, abs=0.02)
        assert np.all(noisy[changed] == 0)
    elif corruption == "salt_and_pepper":
        assert changed.mean() == pytest.approx(level, abs=0.02)
        assert set(np.unique(noisy[changed])) == {0.0, 1.0}
        assert (noisy[changed] == 1).mean() == pytest.approx(0.5, abs=0.06)
    else:
        assert noisy.min() >= 0 and noisy.max() <= 1
        raw = corrupt(x, corruption, level, seed=1, clip=False).numpy()
        assert (raw - x).std() == pytest.approx(level, rel=0.03)


@pytest.mark.parametrize("corruption, level, match", [("blur", 0.1, "corruption must be one of"),
                                                      ("masking", 1.5, r"\[0, 1\]"), ("gaussian", -1, ">= 0")])
def test_corruption_validation(corruption, level, match):
    with pytest.raises(ValueError, match=match):
        corrupt(np.zeros((2, 2)), corruption, level)


def test_denoising_corrupts_only_in_training(digits, tmp_path):
    model = dense_denoising_autoencoder(64, hidden=(32,), code_dim=16, corruption="masking", level=0.5, seed=0)
    x = digits[:16]
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))
    assert np.abs(model(x, training=True) - model(x, training=False)).max() > 1e-4
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(digits, digits, epochs=1, verbose=0)
    path = tmp_path / "dae.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, DenoisingAutoencoder) and loaded.corruption == "masking" and loaded.level == 0.5
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert loaded.encode(x).shape == (16, 16)


def test_conv_denoising_autoencoder_shape():
    model = conv_denoising_autoencoder((28, 28, 1))
    assert model(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 28, 28, 1)
    assert model.encode(np.zeros((1, 28, 28, 1), np.float32)).shape == (1, 7, 7, 32)
    with pytest.raises(ValueError, match="divisible by 4"):
        conv_denoising_autoencoder((30, 30, 1))
    with pytest.raises(TypeError, match="encoder"):
        DenoisingAutoencoder("encoder", keras.layers.Dense(3))


def test_copy_experiment_runs_on_digits():
    from autoencoders.experiments import overcomplete_copy_experiment

    result = overcomplete_copy_experiment("digits", limit=300, test_limit=100, code_dim=80, epochs=1)
    for name in ("plain", "denoising"):
        assert result[name]["mse_noise"] > 0 and 0.1 < result[name]["probe_accuracy"] <= 1
    assert result["pixels"]["probe_accuracy"] > 0.8
    with pytest.raises(ValueError, match="code_dim must exceed"):
        overcomplete_copy_experiment("digits", limit=10, code_dim=64)


@pytest.mark.slow
def test_overcomplete_codes_on_mnist(shared_data_dir):
    """Overcomplete (1,000-unit ReLU code, sigmoid output, BCE, Adam 1e-3) plain and masking-denoising
    autoencoders on 5,000 MNIST digits, 5 epochs. Measured (seed 0): probe on codes 0.921 (plain) and 0.919
    (denoising) vs 0.883 on pixels; reconstruction MSE on uniform noise / on digits 34.3 (plain) and 16.6
    (denoising); noise MSE 0.333 vs 0.320. So in this setting the plain overcomplete model does *not* learn to
    copy (noise is reconstructed 34x worse than digits), and the denoising code's probe advantage (0.9375 vs
    0.912 measured at 10,000 images and 10 epochs) is within noise at this budget: the test asserts what holds
    with margin, not the issue's claim."""
    from autoencoders.experiments import overcomplete_copy_experiment

    result = overcomplete_copy_experiment("mnist", shared_data_dir / "mnist", limit=5000, test_limit=1000,
                                          code_dim=1000, epochs=5)
    plain, denoising, pixels = result["plain"], result["denoising"], result["pixels"]["probe_accuracy"]
    for model in (plain, denoising):
        assert model["probe_accuracy"] > pixels + 0.015  # both codes are better features than raw pixels
        assert model["noise_ratio"] > 5 and model["noise_ratio_live"] > 5  # neither copies arbitrary inputs
    assert abs(denoising["probe_accuracy"] - plain["probe_accuracy"]) < 0.03
    assert denoising["mse_noise"] < plain["mse_noise"] * 1.5
    assert plain["mse_digits"] < denoising["mse_digits"]  # the plain model reconstructs clean digits better


@pytest.mark.parametrize("kind", ["tied", "denoising"])
def test_cli_train_autoencoder(tmp_path, kind, capsys):
    from zoo.cli import main

    out = tmp_path / kind
    assert main(["train", "autoencoder", "--kind", kind, "--dataset", "digits", "--epochs", "1", "--hidden", "32",
                 "--code-dim", "8", "--corruption", "masking", "--level", "0.3", "--verbose", "0", "--seed", "2",
                 "--out", str(out)]) == 0
    for name in ("autoencoder.keras", "reconstructions.png", "metrics.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["kind"] == kind and metrics["test_bce_clean"] > 0
    assert ("test_bce_corrupted" in metrics) == (kind == "denoising")
    if kind == "tied":
        assert metrics["parameters"] == 64 * 32 + 32 + 32 * 8 + 8 + 32 + 64
    from PIL import Image

    width, height = Image.open(out / "reconstructions.png").size
    # three rows of ten 8 px tiles (2 px apart), enlarged twice, under a title line and after the row labels
    assert height == 20 + 2 * (3 * (8 + 2) + 2) and width > 2 * (10 * (8 + 2) + 2) + 40
    assert "wrote" in capsys.readouterr().out
    # --evaluate-only: the test figures measured again, printed as JSON, and no file written
    written = {path: path.stat().st_mtime_ns for path in out.rglob("*") if path.is_file()}
    assert main(["train", "autoencoder", "--kind", kind, "--dataset", "digits", "--out", str(out), "--seed", "2",
                 "--evaluate-only"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["val_bce"] == pytest.approx(metrics["test_bce_corrupted" if kind == "denoising" else "test_bce_clean"],
                                             rel=1e-5)
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*") if path.is_file()} == written
    assert main(["train", "autoencoder", "--kind", kind, "--out", str(tmp_path / "none"), "--evaluate-only"]) == 2
    assert "holds no kzoo training run (no config.json)" in capsys.readouterr().err


def test_cli_autoencoder_needs_kind(capsys):
    from zoo.cli import main

    assert main(["train", "autoencoder", "--dataset", "digits"]) == 2
    assert "--kind" in capsys.readouterr().err
    from autoencoders.training import build_autoencoder

    with pytest.raises(ValueError, match="tied autoencoder is dense"):
        build_autoencoder("tied", (8, 8), architecture="conv")


def test_load_images_validation(tmp_path):
    from autoencoders.data import load_images

    with pytest.raises(ValueError, match="dataset must be one of"):
        load_images("cifar")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_images("mnist", data_dir=tmp_path)
    images, labels = load_images("digits", split="test")
    assert images.shape == (360, 8, 8) and images.max() == 1.0 and labels.shape == (360,)


def test_sample_rbm_and_reconstruct_dae_with_the_bundled_presets(shared_data_dir, tmp_path, capsys):
    """`kzoo sample rbm` (from noise and from test digits) and `kzoo reconstruct dae` write labelled grids; the
    denoiser restores what it corrupted better than the corrupted input."""
    from PIL import Image

    from autoencoders.showing import reconstruct_dae
    from zoo.cli import main

    mnist = str(shared_data_dir / "mnist")
    noise = tmp_path / "noise.png"
    assert main(["sample", "rbm", "--model", "rbm-mnist", "--chains", "3", "--steps", "6", "--snapshots", "2",
                 "-o", str(noise)]) == 0
    assert "3 chains, 6 Gibbs sweeps" in capsys.readouterr().out
    tiles = np.asarray(Image.open(noise).convert("L"))
    assert tiles.shape[0] > 3 * 2 * 28  # three rows of 28 px tiles, enlarged, under a title line
    digits = tmp_path / "digits.jpg"
    assert main(["sample", "rbm", "--start", "test", "--data-dir", mnist, "--chains", "2", "--steps", "4",
                 "--snapshots", "2", "-o", str(digits)]) == 0
    assert digits.read_bytes()[:3] == b"\xff\xd8\xff"
    restored = tmp_path / "restored.png"
    assert main(["reconstruct", "dae", "--n", "4", "--data-dir", mnist, "-o", str(restored)]) == 0
    assert "4 digits" in capsys.readouterr().out and restored.is_file()
    assert reconstruct_dae("dae-mnist", tmp_path / "again.png", n=50, data_dir=mnist)["bce"] < 0.12  # val 0.085
    assert main(["reconstruct", "dae", "--model", "rbm-mnist", "-o", str(tmp_path / "x.png")]) == 2
    assert "rbm" in capsys.readouterr().err
