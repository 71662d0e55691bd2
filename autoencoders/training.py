"""The training runs behind ``kzoo train rbm`` and ``kzoo train autoencoder``: data, fit with the standard
callbacks, and the files each run writes.

Both run under the ``tf.distribute`` strategy of ``distribute``/``devices`` (see :func:`zoo.distribution.get_strategy`;
on a multi-worker cluster only the chief keeps its files). Rerunning with the same ``out_dir`` resumes after the
last finished epoch (:class:`zoo.checkpoint.ResumableCheckpoint` in ``out_dir/backup``); the training data are
shuffled per epoch from (seed, epoch) (:func:`zoo.data.order.epoch_dataset`), so with ``deterministic=True`` a run
killed at any point and rerun ends with the weights of an uninterrupted run."""

from __future__ import annotations

import dataclasses

import numpy as np

from autoencoders.data import load_images
from zoo.data.order import epoch_dataset
from zoo.distribution import get_strategy, worker_out_dir
from zoo.images import labelled_grid, save_image, save_image_grid
from zoo.io import save_model, write_json
from zoo.seeding import set_seed
from zoo.training import RESUMABLE_CHANGES, check_resume, finished_run, fit_resumable, write_config

# Settings of the evaluation after training: they may change when a run is resumed.
EVALUATION_SETTINGS = ("sample_steps", "ais_betas", "ais_runs")

AUTOENCODER_KINDS = ("tied", "denoising")
ARCHITECTURES = ("dense", "conv")


def _dataset(x, batch_size, seed, shuffle=True, drop_remainder=False):
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(x)
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def _fit(model, out_dir, out, strategy, train, epochs, batch_size, seed, validation_data, verbose):
    """:func:`zoo.training.fit_resumable` over ``train`` (an array or tuple of arrays) batched by
    :func:`zoo.data.order.epoch_dataset`: returns (checkpoint, epoch resumed from, seconds per epoch run now)."""
    result = fit_resumable(model, out_dir, out, strategy, epochs,
                           lambda initial_epoch: epoch_dataset(train, batch_size, seed, epochs, initial_epoch),
                           validation_data=validation_data, verbose=verbose)
    return result.checkpoint, result.initial_epoch, result.seconds_per_epoch


def filter_tiles(kernel, image_shape) -> np.ndarray:
    """Each hidden unit's incoming weights as an image, scaled to [0, 1] per tile: [n_hidden, h, w]."""
    tiles = np.asarray(kernel, np.float64).T.reshape(-1, *image_shape)
    low = tiles.min(axis=(1, 2), keepdims=True)
    high = tiles.max(axis=(1, 2), keepdims=True)
    return (tiles - low) / np.maximum(high - low, 1e-12)


def gibbs_chain_snapshots(rbm, chains=10, snapshots=10, steps=1000, seed=0, start=None) -> np.ndarray:
    """p(v|h) of ``chains`` Gibbs chains after every ``steps // snapshots`` sweeps: [snapshots · chains,
    n_visible], one row of the grid per snapshot. The chains start at ``start`` [chains, n_visible] when given,
    else at uniform random states."""
    every = max(1, steps // snapshots)
    rng = np.random.default_rng(seed)
    v = (rng.random((chains, rbm.n_visible)) < 0.5).astype(np.float32) if start is None else start
    frames = []
    for index in range(snapshots):
        probabilities = rbm.gibbs(v, every, seed=seed * 1000 + index, return_probabilities=True)
        v = (rng.random(probabilities.shape) < probabilities).astype(np.float32)
        frames.append(probabilities)
    return np.concatenate(frames)


@dataclasses.dataclass
class RBMConfig:
    """The settings of a :func:`train_rbm` run, as plain data (saved to ``config.json``; the arguments of the same
    names)."""

    dataset: str = "mnist"
    data_dir: str | None = None
    hidden: int = 500
    epochs: int = 10
    k: int = 1
    persistent: bool = False
    batch_size: int = 100
    learning_rate: float = 0.1
    binarize: float | None = 0.5
    limit: int | None = None
    sample_steps: int = 1000
    ais_betas: int = 0
    ais_runs: int = 100
    seed: int = 0
    distribute: str = "none"
    devices: int | None = None
    deterministic: bool = False
    verbose: int = 1


@dataclasses.dataclass
class AutoencoderConfig:
    """The settings of a :func:`train_autoencoder` run, as plain data (saved to ``config.json``)."""

    kind: str = "tied"
    dataset: str = "mnist"
    data_dir: str | None = None
    architecture: str = "dense"
    hidden: tuple = (256,)
    code_dim: int = 64
    corruption: str = "gaussian"
    level: float = 0.4
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    limit: int | None = None
    seed: int = 0
    distribute: str = "none"
    devices: int | None = None
    deterministic: bool = False
    verbose: int = 1


def train_rbm(out_dir, dataset="mnist", data_dir=None, hidden=500, epochs=10, k=1, persistent=False,
              batch_size=100, learning_rate=0.1, binarize=0.5, limit=None, sample_steps=1000, ais_betas=0,
              ais_runs=100, seed=0, distribute="none", devices=None, deterministic=False, verbose=1,
              force=False) -> dict:
    """Train a :class:`~autoencoders.rbm.BernoulliRBM` on ``dataset`` and write into ``out_dir``:
    ``rbm.keras``, ``filters.png`` (one tile per hidden unit), ``samples.png`` (Gibbs chains, one row per
    snapshot), ``metrics.json`` (history, test reconstruction error and pseudo-log-likelihood, seconds per
    epoch, and the test log-likelihood: exact when the smaller layer has ≤ 20 units, else AIS when
    ``ais_betas`` > 0). ``batch_size`` is the global batch (split among the replicas of ``distribute``).
    Rerunning with the same ``out_dir`` resumes (see the module docstring). Returns the metrics."""
    config = dataclasses.asdict(RBMConfig(**{key: value for key, value in locals().items()
                                              if key not in ("out_dir", "force")}))
    from autoencoders.rbm import BernoulliRBM, base_rate_bias

    config["data_dir"] = str(data_dir) if data_dir is not None else None
    check_resume(out_dir, config, (*RESUMABLE_CHANGES, *EVALUATION_SETTINGS))
    if not force and (done := finished_run(out_dir, config, "rbm", verbose=verbose)) is not None:
        return done
    strategy = get_strategy(distribute, devices)  # first: a multi-worker strategy configures TF at start-up
    set_seed(seed, deterministic=deterministic)
    train_images, _ = load_images(dataset, data_dir, "train", limit)
    test_images, _ = load_images(dataset, data_dir, "test", limit)
    image_shape = train_images.shape[1:]
    x_train = train_images.reshape(len(train_images), -1)
    x_test = test_images.reshape(len(test_images), -1)
    with worker_out_dir(out_dir, strategy) as out:
        write_config(out, config)
        with strategy.scope():
            rbm = BernoulliRBM(x_train.shape[1], hidden, k=k, persistent=persistent, learning_rate=learning_rate,
                               n_chains=batch_size, binarize=binarize, seed=seed)
            binary = x_train > binarize if binarize is not None else x_train
            rbm.visible_bias.assign(base_rate_bias(binary).astype(np.float32))
            rbm.compile()
        checkpoint, resumed_from, seconds = _fit(
            rbm, out_dir, out, strategy, x_train, epochs, batch_size, seed,
            _dataset(x_test, batch_size, seed, shuffle=False), verbose)
        save_model(rbm, out / "rbm.keras")
        save_image_grid(filter_tiles(rbm.kernel.numpy(), image_shape), out / "filters.png")
        chains = gibbs_chain_snapshots(rbm, steps=sample_steps, seed=seed).reshape(10, 10, *image_shape)
        every = max(1, sample_steps // 10)
        save_image(labelled_grid(chains, [f"after {every * (row + 1)} sweeps" for row in range(10)],
                                 "columns: 10 Gibbs chains from uniform noise; rows: p(v|h) as the sweeps go on"),
                   out / "samples.png")

        test_binary = rbm.prepare(x_test).numpy()
        metrics = {"dataset": dataset, "hidden": hidden, "epochs": epochs, "k": k, "persistent": persistent,
                   "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed,
                   "distribute": distribute, "replicas": strategy.num_replicas_in_sync,
                   "resumed_from_epoch": resumed_from, "history": checkpoint.history_dict(),
                   "seconds_per_epoch": seconds,
                   "test_pseudo_log_likelihood": float(rbm.pseudo_log_likelihood(test_binary, seed=seed).mean())}
        if min(rbm.n_visible, rbm.n_hidden) <= 20:
            log_z = rbm.log_partition("exact")
            metrics.update(log_partition=log_z, log_partition_method="exact")
        elif ais_betas > 0:
            log_z, error = rbm.log_partition("ais", n_betas=ais_betas, n_runs=ais_runs,
                                             base_visible_bias=base_rate_bias(binary),
                                             seed=seed)
            metrics.update(log_partition=log_z, log_partition_standard_error=error, log_partition_method="ais")
        if "log_partition" in metrics:
            metrics["test_log_likelihood"] = float(rbm.log_likelihood(test_binary, metrics["log_partition"]).mean())
        write_json(metrics, out / "metrics.json")
    return metrics


def build_autoencoder(kind, input_shape, architecture="dense", hidden=(256,), code_dim=64, corruption="gaussian",
                      level=0.4, seed=0):
    """A :class:`TiedAutoencoder` (dense only) or a dense/convolutional :class:`DenoisingAutoencoder`."""
    from autoencoders.denoising import conv_denoising_autoencoder, dense_denoising_autoencoder
    from autoencoders.tied import TiedAutoencoder

    if kind not in AUTOENCODER_KINDS:
        raise ValueError(f"kind must be one of {', '.join(AUTOENCODER_KINDS)}, got {kind!r}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")
    input_dim = int(np.prod(input_shape))
    if kind == "tied":
        if architecture != "dense":
            raise ValueError("a tied autoencoder is dense: use architecture='dense' with kind='tied'")
        return TiedAutoencoder([input_dim, *hidden, code_dim])
    if architecture == "conv":
        return conv_denoising_autoencoder((*input_shape, 1), corruption=corruption, level=level, seed=seed)
    return dense_denoising_autoencoder(input_dim, hidden, code_dim, corruption=corruption, level=level, seed=seed)


def train_autoencoder(out_dir, kind="tied", dataset="mnist", data_dir=None, architecture="dense", hidden=(256,),
                      code_dim=64, corruption="gaussian", level=0.4, epochs=10, batch_size=128,
                      learning_rate=1e-3, limit=None, seed=0, distribute="none", devices=None, deterministic=False,
                      verbose=1, force=False) -> dict:
    """Train a tied or denoising autoencoder with binary cross-entropy and write into ``out_dir``:
    ``autoencoder.keras``, ``reconstructions.png`` (rows: inputs, corrupted inputs, outputs) and
    ``metrics.json`` (history, test BCE/MSE on clean inputs, and on corrupted ones for a denoising model).
    ``batch_size`` is the global batch. Rerunning with the same ``out_dir`` resumes (see the module docstring)."""
    config = dataclasses.asdict(AutoencoderConfig(**{key: value for key, value in locals().items()
                                                      if key not in ("out_dir", "force")}))
    import keras

    from autoencoders.denoising import corrupt

    config.update(data_dir=str(data_dir) if data_dir is not None else None, hidden=list(hidden))
    check_resume(out_dir, config)
    if not force and (done := finished_run(out_dir, config, "autoencoder", verbose=verbose)) is not None:
        return done
    strategy = get_strategy(distribute, devices)  # first: a multi-worker strategy configures TF at start-up
    set_seed(seed, deterministic=deterministic)
    train_images, _ = load_images(dataset, data_dir, "train", limit)
    test_images, _ = load_images(dataset, data_dir, "test", limit)
    image_shape = train_images.shape[1:]
    conv = architecture == "conv"

    def shape(images):
        return images[..., None] if conv else images.reshape(len(images), -1)

    x_train, x_test = shape(train_images), shape(test_images)
    with worker_out_dir(out_dir, strategy) as out:
        write_config(out, config)
        with strategy.scope():
            model = build_autoencoder(kind, image_shape, architecture, hidden, code_dim, corruption, level, seed)
            model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                          metrics=["mse"])
        noisy_test = (corrupt(x_test, corruption, level, seed=seed).numpy() if kind == "denoising" else x_test)
        checkpoint, resumed_from, seconds = _fit(
            model, out_dir, out, strategy, (x_train, x_train), epochs, batch_size, seed, (noisy_test, x_test),
            verbose)
        save_model(model, out / "autoencoder.keras")
        shown = slice(0, 10)
        outputs = model.predict(noisy_test[shown], verbose=0)
        rows = [x_test[shown], noisy_test[shown], outputs]
        labels = ["input", f"corrupted ({corruption} {level:g})" if kind == "denoising" else "input (no noise)",
                  "output"]
        save_image(labelled_grid(np.stack([row.reshape(-1, *image_shape) for row in rows]), labels,
                                 "columns: the first 10 test images"), out / "reconstructions.png")
        clean = model.evaluate(x_test, x_test, verbose=0, return_dict=True, batch_size=batch_size)
        metrics = {"kind": kind, "architecture": architecture, "dataset": dataset, "epochs": epochs, "seed": seed,
                   "distribute": distribute, "replicas": strategy.num_replicas_in_sync,
                   "resumed_from_epoch": resumed_from, "parameters": int(model.count_params()),
                   "history": checkpoint.history_dict(), "seconds_per_epoch": seconds,
                   "test_bce_clean": float(clean["loss"]), "test_mse_clean": float(clean["mse"])}
        if kind == "denoising":
            noisy = model.evaluate(noisy_test, x_test, verbose=0, return_dict=True, batch_size=batch_size)
            metrics.update(corruption=corruption, level=level, test_bce_corrupted=float(noisy["loss"]),
                           test_mse_corrupted=float(noisy["mse"]))
        write_json(metrics, out / "metrics.json")
    return metrics
