"""Denoising autoencoders (Vincent et al. 2008, 2010): reconstruct the clean x from a corrupted x̃ ~ q(x̃|x).

The loss is L(x, g(f(x̃))); corruption is applied only when ``training=True``, so inference, evaluation
and the learned code see clean inputs.
"""

from __future__ import annotations

import keras
from keras import ops

CORRUPTIONS = ("gaussian", "masking", "salt_and_pepper")


def _check_corruption(corruption, level):
    if corruption not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {', '.join(CORRUPTIONS)}, got {corruption!r}")
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise TypeError(f"level must be a number, got {level!r}") from None
    if corruption == "gaussian" and not level >= 0:
        raise ValueError(f"level (the Gaussian noise standard deviation) must be >= 0, got {level}")
    if corruption != "gaussian" and not 0.0 <= level <= 1.0:
        raise ValueError(f"level (the probability of corrupting an input of {corruption!r}) must be in "
                         f"[0, 1], got {level}")
    return level


def _noise(kind, inputs, seed, rows=None):
    """Standard normal or U[0, 1) noise shaped like ``inputs``; with ``rows`` = (offset, global batch) of
    :func:`zoo.distribution.replica_batch_position`, drawn for the global batch and sliced to this replica's rows (so
    that replicas do not share noise, and N replicas corrupt as one device would)."""
    draw = keras.random.normal if kind == "normal" else keras.random.uniform
    if rows is None:
        return draw(ops.shape(inputs), seed=seed)
    import tensorflow as tf

    offset, total = rows
    inner = [int(size) for size in inputs.shape[1:]]
    noise = draw((total, *inner), seed=seed)
    return tf.slice(noise, [offset] + [0] * len(inner), [tf.shape(inputs)[0], *inner])


def corrupt(inputs, corruption="gaussian", level=0.4, seed=None, clip=True, rows=None):
    """x̃ ~ q(x̃|x) for inputs in [0, 1].

    ``gaussian``: x̃ = x + level·ε, ε ~ N(0, 1), clipped to [0, 1] when ``clip`` (as the keras.io example);
    ``masking``: each input is set to 0 with probability ``level``;
    ``salt_and_pepper``: each input is, with probability ``level``, set to 0 or 1 with equal chance.
    ``seed`` is an int, a ``keras.random.SeedGenerator`` or None. ``rows``: see :func:`_noise` (for a replica of a
    ``tf.distribute`` strategy).
    """
    level = _check_corruption(corruption, level)
    if not isinstance(seed, keras.random.SeedGenerator):
        seed = keras.random.SeedGenerator(seed)  # an int seed reused by each draw would correlate them
    inputs = ops.convert_to_tensor(inputs, dtype="float32")
    if corruption == "gaussian":
        noisy = inputs + level * _noise("normal", inputs, seed, rows)
        return ops.clip(noisy, 0.0, 1.0) if clip else noisy
    hit = _noise("uniform", inputs, seed, rows) < level
    if corruption == "masking":
        return ops.where(hit, ops.zeros_like(inputs), inputs)
    salt = ops.cast(_noise("uniform", inputs, seed, rows) < 0.5, inputs.dtype)
    return ops.where(hit, salt, inputs)


@keras.saving.register_keras_serializable(package="kzoo")
class DenoisingAutoencoder(keras.Model):
    """x̂ = decoder(encoder(x̃)), x̃ = corrupt(x) in training and x̃ = x otherwise.

    Train with ``fit(x, x)``: the target is the clean input. ``encode`` gives the code of clean inputs.
    """

    def __init__(self, encoder, decoder, corruption="gaussian", level=0.4, clip=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        for name, part in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(part, keras.Layer):
                raise TypeError(f"{name} must be a keras.Layer or keras.Model, got {type(part).__name__}")
        self.encoder = encoder
        self.decoder = decoder
        self.corruption = corruption
        self.level = _check_corruption(corruption, level)
        self.clip = bool(clip)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        if encoder.built and decoder.built:
            self.built = True

    def build(self, input_shape):
        if not self.encoder.built:
            self.encoder.build(input_shape)
        if not self.decoder.built:
            self.decoder.build(self.encoder.compute_output_shape(input_shape))
        self.built = True

    def corrupt(self, inputs):
        """x̃ ~ q(x̃|x) from the model's seed generator; inside a replica of a multi-replica ``tf.distribute``
        strategy the noise is drawn for the global batch and sliced to the replica's examples (see
        :func:`zoo.distribution.replica_batch_position`), so N replicas corrupt exactly as one device would."""
        import tensorflow as tf

        rows = None
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            from zoo.distribution import replica_batch_position

            rows = replica_batch_position(ops.shape(inputs)[0])
        return corrupt(inputs, self.corruption, self.level, seed=self.seed_generator, clip=self.clip, rows=rows)

    def encode(self, inputs):
        return self.encoder(inputs)

    def call(self, inputs, training=False):
        if training:
            inputs = self.corrupt(inputs)
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def get_config(self):
        return {**super().get_config(),
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "corruption": self.corruption, "level": self.level, "clip": self.clip, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("encoder", "decoder"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def dense_denoising_autoencoder(input_dim, hidden=(256,), code_dim=64, activation="relu",
                                corruption="masking", level=0.3, seed=None):
    """A dense denoising autoencoder input_dim → hidden… → code_dim → …hidden → input_dim (sigmoid)."""
    sizes = [int(input_dim), *[int(h) for h in hidden], int(code_dim)]
    if min(sizes) < 1:
        raise ValueError(f"input_dim, hidden and code_dim must be positive integers, got {sizes}")
    encoder = keras.Sequential([keras.Input((sizes[0],))]
                               + [keras.layers.Dense(size, activation=activation) for size in sizes[1:]],
                               name="encoder")
    decoder = keras.Sequential([keras.Input((sizes[-1],))]
                               + [keras.layers.Dense(size, activation=activation) for size in sizes[-2:0:-1]]
                               + [keras.layers.Dense(sizes[0], activation="sigmoid")], name="decoder")
    return DenoisingAutoencoder(encoder, decoder, corruption=corruption, level=level, seed=seed)


def conv_denoising_autoencoder(input_shape=(28, 28, 1), filters=32, corruption="gaussian", level=0.4, seed=None):
    """The keras.io convolutional denoising autoencoder (F. Chollet, "Convolutional autoencoder for image
    denoising"): two Conv2D(filters, 3, relu) + MaxPool(2) blocks, two Conv2DTranspose(filters, 3, stride 2)
    and a sigmoid Conv2D(1, 3). Height and width must be divisible by 4."""
    height, width, channels = (int(size) for size in input_shape)
    if height % 4 or width % 4:
        raise ValueError(f"input_shape height and width must be divisible by 4, got {input_shape}")
    encoder = keras.Sequential([
        keras.Input((height, width, channels)),
        keras.layers.Conv2D(filters, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2, padding="same"),
        keras.layers.Conv2D(filters, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2, padding="same"),
    ], name="encoder")
    decoder = keras.Sequential([
        keras.Input((height // 4, width // 4, filters)),
        keras.layers.Conv2DTranspose(filters, 3, strides=2, activation="relu", padding="same"),
        keras.layers.Conv2DTranspose(filters, 3, strides=2, activation="relu", padding="same"),
        keras.layers.Conv2D(channels, 3, activation="sigmoid", padding="same"),
    ], name="decoder")
    return DenoisingAutoencoder(encoder, decoder, corruption=corruption, level=level, seed=seed)
