"""Experiments the notebook calls: an overcomplete autoencoder learns to copy, a denoising one does not;
and the keras.io convolutional denoiser on MNIST against its published validation loss."""

from __future__ import annotations

import time

import numpy as np

from autoencoders.data import load_images

KERAS_IO_ANCHOR_VAL_BCE = 0.0839  # keras.io "Convolutional autoencoder for image denoising", 100 epochs


def _flat(images):
    return images.reshape(len(images), -1)


def _probe_accuracy(train_codes, train_labels, test_codes, test_labels, seed) -> float:
    """Test accuracy of a multinomial logistic regression on standardised codes (a linear probe)."""
    from zoo.extras import require

    require("sklearn", "the linear probe of the autoencoder experiments")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, C=0.1, random_state=seed))
    probe.fit(train_codes, train_labels)
    return float(probe.score(test_codes, test_labels))


def _overcomplete(input_dim, code_dim, corruption, level, seed, activation="relu", output_activation="sigmoid"):
    import keras

    from autoencoders.denoising import DenoisingAutoencoder

    encoder = keras.Sequential([keras.Input((input_dim,)), keras.layers.Dense(code_dim, activation=activation)],
                               name="encoder")
    decoder = keras.Sequential([keras.Input((code_dim,)),
                                keras.layers.Dense(input_dim, activation=output_activation)], name="decoder")
    if corruption is None:
        model = keras.Sequential([encoder, decoder], name="plain_autoencoder")
        model.encode = encoder
        return model
    return DenoisingAutoencoder(encoder, decoder, corruption=corruption, level=level, seed=seed)


def overcomplete_copy_experiment(dataset="mnist", data_dir=None, limit=10000, test_limit=2000, code_dim=1000,
                                 epochs=10, corruption="masking", level=0.5, batch_size=128, seed=0,
                                 activation="relu", output_activation="sigmoid", loss="binary_crossentropy",
                                 learning_rate=1e-3, verbose=0) -> dict:
    """Train a plain and a denoising one-hidden-layer autoencoder whose code (``code_dim``) is larger than the
    input, with the same architecture, loss (binary cross-entropy) and budget; report for each:

    - ``mse_digits`` / ``mse_noise``: reconstruction MSE on test images and on uniform random-noise images;
      ``noise_ratio`` = mse_noise / mse_digits (near 1 for a model that copies any input, large for a model
      that learned what digits look like);
    - ``probe_accuracy``: a linear probe (logistic regression) on the codes, trained on the training codes,
      tested on the test codes; ``pixels`` is the same probe on raw pixels;
    - ``mse_noise_live`` / ``noise_ratio_live``: the same on noise restricted to the pixels that are ever on
      in the training set (the others kept at 0): a model trained on digits gets no signal at all about
      pixels that are always 0, so even the identity-capable linear model cannot copy noise there.

    ``activation`` (code), ``output_activation``, ``loss`` and ``learning_rate`` (Adam) select the setting:
    e.g. ``activation="linear", output_activation="linear", loss="mse"`` is the linear overcomplete model
    that can represent the identity exactly.
    """
    import keras

    from zoo.seeding import set_seed

    set_seed(seed)
    train_images, train_labels = load_images(dataset, data_dir, "train", limit)
    test_images, test_labels = load_images(dataset, data_dir, "test", test_limit)
    x_train, x_test = _flat(train_images), _flat(test_images)
    input_dim = x_train.shape[1]
    if code_dim <= input_dim:
        raise ValueError(f"code_dim must exceed the input dimension {input_dim} for an overcomplete code, "
                         f"got {code_dim}")
    noise = np.random.default_rng(seed).random(x_test.shape).astype(np.float32)
    live_noise = noise * (x_train.max(axis=0) > 0)
    results = {"dataset": dataset, "train_examples": len(x_train), "test_examples": len(x_test),
               "code_dim": code_dim, "epochs": epochs, "corruption": corruption, "level": level,
               "activation": activation, "output_activation": output_activation, "loss": loss,
               "learning_rate": learning_rate,
               "pixels": {"probe_accuracy": _probe_accuracy(x_train, train_labels, x_test, test_labels, seed)}}
    for name, kind in (("plain", None), ("denoising", corruption)):
        model = _overcomplete(input_dim, code_dim, kind, level, seed, activation, output_activation)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
        start = time.perf_counter()
        model.fit(x_train, x_train, batch_size=batch_size, epochs=epochs, verbose=verbose, shuffle=True)
        seconds = time.perf_counter() - start
        mse = {key: float(np.mean((model.predict(x, verbose=0, batch_size=512) - x) ** 2))
               for key, x in (("digits", x_test), ("noise", noise), ("noise_live", live_noise))}
        encode = model.encode
        train_codes = np.asarray(encode(x_train))
        test_codes = np.asarray(encode(x_test))
        results[name] = {"mse_digits": mse["digits"], "mse_noise": mse["noise"],
                         "noise_ratio": mse["noise"] / mse["digits"], "mse_noise_live": mse["noise_live"],
                         "noise_ratio_live": mse["noise_live"] / mse["digits"], "train_seconds": seconds,
                         "probe_accuracy": _probe_accuracy(train_codes, train_labels, test_codes, test_labels,
                                                           seed)}
    return results


def conv_denoising_anchor(data_dir=None, epochs=5, limit=None, noise_factor=0.4, batch_size=128, seed=0,
                          verbose=0) -> dict:
    """The keras.io convolutional denoising autoencoder setting: MNIST, x̃ = clip(x + 0.4·N(0, 1), 0, 1),
    Adam, binary cross-entropy, batch 128, validation on the noisy test set against the clean one. Returns the
    validation BCE after each epoch beside the published 0.0839 after 100 epochs."""

    from autoencoders.denoising import conv_denoising_autoencoder, corrupt
    from zoo.seeding import set_seed

    set_seed(seed)
    x_train = load_images("mnist", data_dir, "train", limit)[0][..., None]
    x_test = load_images("mnist", data_dir, "test", limit)[0][..., None]
    noisy_test = corrupt(x_test, "gaussian", noise_factor, seed=seed).numpy()
    model = conv_denoising_autoencoder(corruption="gaussian", level=noise_factor, seed=seed)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    start = time.perf_counter()
    history = model.fit(x_train, x_train, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=verbose,
                        validation_data=(noisy_test, x_test))
    return {"val_bce": [float(value) for value in history.history["val_loss"]],
            "train_bce": [float(value) for value in history.history["loss"]],
            "seconds": time.perf_counter() - start, "anchor_val_bce_after_100_epochs": KERAS_IO_ANCHOR_VAL_BCE,
            "train_examples": len(x_train), "test_examples": len(x_test)}
