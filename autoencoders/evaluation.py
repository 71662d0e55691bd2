"""Measuring trained autoencoders and RBMs for their presets: the evaluators the ``autoencoders`` family registers
(:mod:`autoencoders.family`), called by ``python -m zoo.presets.build``."""

from __future__ import annotations

from pathlib import Path

from zoo.presets.build import read_json


def evaluate_rbm(rbm, dataset="mnist", data_dir=None, ais_betas=14500, ais_runs=100, seed=0) -> dict:
    """Test log-likelihood of ``rbm`` with log Z by AIS from the training data's base-rate model, and the test
    pseudo-log-likelihood: the evaluation of :func:`autoencoders.training.train_rbm` (``--ais-betas``)."""
    from autoencoders.data import load_images
    from autoencoders.rbm import base_rate_bias

    train_images, _ = load_images(dataset, data_dir, "train")
    test_images, _ = load_images(dataset, data_dir, "test")
    x_train = train_images.reshape(len(train_images), -1)
    x_test = test_images.reshape(len(test_images), -1)
    binary = x_train > rbm.binarize if rbm.binarize is not None else x_train
    test_binary = rbm.prepare(x_test).numpy()
    log_z, error = rbm.log_partition("ais", n_betas=ais_betas, n_runs=ais_runs,
                                     base_visible_bias=base_rate_bias(binary), seed=seed)
    return {"test_log_likelihood": float(rbm.log_likelihood(test_binary, log_z).mean()),
            "log_partition": float(log_z), "log_partition_standard_error": float(error),
            "log_partition_method": "ais", "ais_betas": ais_betas, "ais_runs": ais_runs,
            "test_pseudo_log_likelihood": float(rbm.pseudo_log_likelihood(test_binary, seed=seed).mean()),
            "dataset": dataset}


def evaluate_autoencoder(model, dataset="mnist", data_dir=None, seed=0, batch_size=256) -> dict:
    """Binary cross-entropy and MSE of ``model``'s reconstructions of the test images; for a denoising model also
    from inputs corrupted as in training (``corrupt(x, corruption, level, seed)``): the validation loss of
    :func:`autoencoders.training.train_autoencoder`."""
    import keras
    import numpy as np

    from autoencoders.data import load_images
    from autoencoders.denoising import corrupt

    images, _ = load_images(dataset, data_dir, "test")
    encoder = getattr(model, "encoder", None)
    dense = encoder is None or len(encoder.input_shape) == 2
    x = images.reshape(len(images), -1) if dense else images[..., None]

    def scores(inputs):
        outputs = model.predict(inputs, batch_size=batch_size, verbose=0)
        bce = float(keras.losses.BinaryCrossentropy()(x, outputs))
        return bce, float(np.mean((outputs - x) ** 2))

    bce, mse = scores(x)
    metrics = {"val_bce_clean": bce, "val_mse_clean": mse, "dataset": dataset}
    if hasattr(model, "corruption"):
        noisy = corrupt(x, model.corruption, model.level, seed=seed).numpy()
        bce, mse = scores(noisy)
        metrics = {"val_bce": bce, "val_mse": mse, **metrics, "corruption": model.corruption,
                   "level": model.level}
    else:
        metrics["val_bce"] = metrics.pop("val_bce_clean")
    return metrics


def evaluate_rbm_preset(model, preset: Path, run: Path, data=None, data_dir=None, seed=0, ais_betas=14500,
                        ais_runs=100, **_options) -> dict:
    """:func:`evaluate_rbm` on the dataset the run in ``run`` trained on (its metrics.json)."""
    dataset = read_json(Path(run) / "metrics.json").get("dataset", "mnist")
    return evaluate_rbm(model, dataset, data_dir, ais_betas, ais_runs, seed)


def evaluate_autoencoder_preset(model, preset: Path, run: Path, data=None, data_dir=None, seed=0,
                                **_options) -> dict:
    """:func:`evaluate_autoencoder` on the dataset the run in ``run`` trained on (its metrics.json)."""
    dataset = read_json(Path(run) / "metrics.json").get("dataset", "mnist")
    return evaluate_autoencoder(model, dataset, data_dir, seed)
