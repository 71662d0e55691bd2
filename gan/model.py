"""GAN-INT-CLS: a conditional DCGAN whose generator and discriminator both see a text embedding.

S. Reed, Z. Akata, X. Yan, L. Logeswaran, B. Schiele, H. Lee, "Generative Adversarial Text to Image
Synthesis", ICML 2016. With ψ(t) the text encoder and φ(t) = LeakyReLU(Dense(ψ(t))) its projection:

* G(z, t): [z ; φ_G(t)] → Dense → 4×4×(8·ngf) → transposed convolutions (BatchNorm, ReLU) → tanh image.
* D(x, t): stride-2 convolutions (BatchNorm, LeakyReLU 0.2) down to 4×4×(8·ndf); φ_D(t) tiled over the 4×4
  grid and concatenated; 1×1 convolution; 4×4 convolution → one logit.
* GAN-CLS (matching-aware) discriminator loss, with s_r = D(x, h), s_w = D(x, ĥ) for a mismatched caption ĥ,
  s_f = D(G(z, h), h):  L_D = log s_r + ½ (log(1 − s_w) + log(1 − s_f))  (as a loss: BCE terms, ½ on both
  "fake" terms).
* GAN-INT: the generator is also trained on interpolated embeddings h_β = β·h_1 + (1 − β)·h_2 (β = ½), for
  which no real image exists: L_G = −log D(G(z, h), h) − λ·log D(G(z, h_β), h_β).
* Matching term (optional, ``image_encoder`` + ``matching_weight`` μ): the image encoder φ_I trained with the text
  encoder in stage 1 (DS-SJE) is kept frozen, and G is also trained to make its images retrieve their own caption
  in the batch: L_G += μ · mean_{j: other caption} [max(0, 1 + s_ij − s_ii) + max(0, 1 + s_ji − s_ii)] with
  s_ij = ⟨φ_I(G(z_i, h_i)), h_j⟩. This is the sentence-level form of AttnGAN's DAMSM loss (Xu et al., CVPR
  2018); it gives G a direct signal for every attribute the caption names from the first step, where the
  matching-aware discriminator has to discover them first. With ``matching_negatives="hardest"`` the mean over
  the other captions becomes the maximum (VSE++, Faghri et al. 2018): most captions of a batch differ from an
  image's own in colour or position, which G gets right early, and their satisfied hinges would drown the few
  that differ only in shape.
* Weight average (optional, ``ema_decay`` d): images are drawn with an exponential moving average of G's
  weights, θ̄ ← d·θ̄ + (1 − d)·θ after every G step (Karras et al. 2018; Yazıcı et al., ICLR 2019), which
  smooths out the oscillation of G's attributes from one step to the next.

Recent techniques for conditional GANs, each one a constructor argument (compared at equal CPU time in bench/README.md):

* ``loss="hinge"``: L_D = max(0, 1 − s_r) + ½[max(0, 1 + s_w) + max(0, 1 + s_f)], L_G = −s_f − λ·s_int
  (Lim & Ye 2017; Miyato et al. 2018), the matching-aware wrong-text term kept.
* ``spectral_norm=True``: every weight of D divided by its largest singular value, estimated by one power
  iteration per training call (``keras.layers.SpectralNormalization``, Miyato et al., ICLR 2018); D then has no
  BatchNorm. Keras's layer writes the normalised kernel back into the variable, so each update starts from a kernel
  of spectral norm 1 (a projection) rather than differentiating through σ(W) as the paper does.
* ``conditioning="projection"``: D(x, t) = w·φ(x) + ⟨V·φ_D(t), φ(x)⟩ with φ(x) the pooled image features
  (the projection discriminator, Miyato & Koyama, ICLR 2018) instead of tiling the text over the 4×4 grid.
* ``augment=("translation", "cutout")``: differentiable augmentation of every image D sees, real and generated
  alike (DiffAugment, Zhao et al., NeurIPS 2020): a shift by up to 1/8 of the side and a zeroed square of 1/4 of
  the side. Never colour: colour is part of the condition.
* ``diversity_weight`` λ > 0: the mode-seeking term λ / (d(G(z₁, t), G(z₂, t)) / d(z₁, z₂) + ε) in L_G (Mao et al.,
  CVPR 2019), against samples of one caption that ignore the noise.
* ``upsampling="resize"``: G doubles its resolution by nearest-neighbour resizing and a 3×3 convolution
  (Odena et al., Distill 2016) instead of stride-2 transposed convolutions, which leave checkerboard artefacts.

All weights start from N(0, 0.02) (BatchNorm scales from N(1, 0.02)), as in DCGAN.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

# A saved model names its text encoder and recurrent layers by their registered Keras names; importing the
# modules that register them lets `keras.models.load_model` find them in a fresh process.
import zoo.layers  # noqa: E402,F401
import zoo.text.encoders  # noqa: E402,F401
from zoo.text.joint_embedding import ds_sje_terms
from zoo.validation import check_positive_int

MISMATCHES = ("random", "hardest")
LOSSES = ("bce", "hinge")
CONDITIONINGS = ("concat", "projection")
UPSAMPLINGS = ("deconv", "resize")
AUGMENTATIONS = ("translation", "cutout")
TRANSLATION_RATIO, CUTOUT_RATIO = 0.125, 0.25
MATCHING_NEGATIVES = ("mean", "hardest")


def dcgan_init(mean=0.0):
    """N(mean, 0.02²), DCGAN's initialiser (Radford et al. 2016): a new one for every layer, created when the layer
    is, so that its seed comes from ``keras.utils.set_random_seed`` (one shared module-level instance would fix its
    seed at import time, differently in every process, and give same-shaped layers the same initial weights)."""
    return keras.initializers.RandomNormal(mean, 0.02)


def _check_image_size(image_size):
    if (isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 8
            or image_size & (image_size - 1)):
        raise ValueError(f"`image_size` must be a power of two >= 8 (e.g. 32 or 64), got {image_size!r}")
    return int(image_size)


def _choice(value, choices, name):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(choices)}, got {value!r}")
    return value


_positive = check_positive_int


def _batch_norm(name):
    """DCGAN's BatchNorm. Built under a strategy of several replicas, it takes its statistics over the global batch
    (``synchronized``), as one device does: per-replica statistics of a few images each would make N replicas train
    another model than one device at the same global batch."""
    synchronized = tf.distribute.get_strategy().num_replicas_in_sync > 1
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, gamma_initializer=dcgan_init(1.0),
                                     synchronized=synchronized, name=name)


def text_projection(dim, name):
    """φ(t) = LeakyReLU_0.2(Dense(ψ(t))): compresses the text embedding before it joins the image path."""
    return keras.Sequential([layers.Dense(dim, kernel_initializer=dcgan_init(), name="dense"), layers.LeakyReLU(0.2)],
                            name=name)


def _upsample(channels, upsampling, name, activation=None, use_bias=False):
    """×2 resolution: a stride-2 4×4 transposed convolution, or nearest-neighbour resizing + a 3×3 convolution."""
    if upsampling == "deconv":
        return [layers.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=use_bias,
                                       activation=activation, kernel_initializer=dcgan_init(), name=name)]
    return [layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize"),
            layers.Conv2D(channels, 3, padding="same", use_bias=use_bias, activation=activation,
                          kernel_initializer=dcgan_init(), name=name)]


def build_generator(image_size, z_dim, text_dim, text_proj_dim, ngf, name="generator", upsampling="deconv"):
    """G(z, ψ(t)) → image [B, S, S, 3] in [−1, 1]."""
    doublings = int(math.log2(image_size // 4))
    z = keras.Input((z_dim,), name="z")
    text = keras.Input((text_dim,), name="text_embedding")
    x = layers.Concatenate()([z, text_projection(text_proj_dim, "g_text_projection")(text)])
    channels = ngf * 2 ** (doublings - 1)
    x = layers.Dense(4 * 4 * channels, use_bias=False, kernel_initializer=dcgan_init(), name="g_dense")(x)
    x = layers.Reshape((4, 4, channels))(x)
    x = layers.ReLU()(_batch_norm("g_bn0")(x))
    for index in range(1, doublings):
        channels //= 2
        for layer in _upsample(channels, upsampling, f"g_deconv{index}"):
            x = layer(x)
        x = layers.ReLU()(_batch_norm(f"g_bn{index}")(x))
    for layer in _upsample(3, upsampling, "g_image", activation="tanh", use_bias=True):
        x = layer(x)
    return keras.Model([z, text], x, name=name)


def build_discriminator(image_size, text_dim, text_proj_dim, ndf, conditioning="concat", spectral_norm=False):
    """D(x, ψ(t)) → one logit (before the sigmoid).

    ``conditioning="concat"`` (Reed et al.): φ_D(t) tiled over the 4×4 features, a 1×1 and a 4×4 convolution.
    ``"projection"`` (Miyato & Koyama 2018): logit = w·f + ⟨V·φ_D(t), f⟩ with f the features averaged over the
    grid. ``spectral_norm`` wraps every convolution and dense layer of D in ``keras.layers.SpectralNormalization``
    and drops D's BatchNorm (Miyato et al. 2018)."""
    def normed(layer):
        return layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if spectral_norm else layer

    def batch_norm(x, name):
        return x if spectral_norm else _batch_norm(name)(x)

    doublings = int(math.log2(image_size // 4))
    image = keras.Input((image_size, image_size, 3), name="image")
    text = keras.Input((text_dim,), name="text_embedding")
    x = image
    for index in range(doublings):
        x = normed(layers.Conv2D(ndf * 2 ** index, 4, strides=2, padding="same",
                                 use_bias=index == 0 or spectral_norm, kernel_initializer=dcgan_init(),
                                 name=f"d_conv{index}"))(x)
        if index > 0:
            x = batch_norm(x, f"d_bn{index}")
        x = layers.LeakyReLU(0.2)(x)
    channels = ndf * 2 ** (doublings - 1)
    if spectral_norm:
        projected = normed(layers.Dense(text_proj_dim, kernel_initializer=dcgan_init(), name="d_text_dense"))(text)
        projected = layers.LeakyReLU(0.2)(projected)
    else:
        projected = text_projection(text_proj_dim, "d_text_projection")(text)
    if conditioning == "projection":
        features = layers.GlobalAveragePooling2D(name="d_pool")(x)
        unconditional = normed(layers.Dense(1, kernel_initializer=dcgan_init(), name="d_logit"))(features)
        embedded = normed(layers.Dense(channels, use_bias=False, kernel_initializer=dcgan_init(),
                                       name="d_embed"))(projected)
        inner = layers.Dot(axes=1, name="d_projection")([embedded, features])
        logit = layers.Add()([unconditional, inner])
        return keras.Model([image, text], layers.Reshape(())(logit), name="discriminator")
    tiled = layers.Reshape((1, 1, text_proj_dim))(projected)
    tiled = layers.UpSampling2D(size=4)(tiled)  # copy over the 4×4 grid
    x = layers.Concatenate()([x, tiled])
    x = normed(layers.Conv2D(channels, 1, use_bias=spectral_norm, kernel_initializer=dcgan_init(), name="d_joint"))(x)
    x = layers.LeakyReLU(0.2)(batch_norm(x, "d_joint_bn"))
    logit = normed(layers.Conv2D(1, 4, padding="valid", kernel_initializer=dcgan_init(), name="d_logit"))(x)
    return keras.Model([image, text], layers.Reshape(())(logit), name="discriminator")


def diff_augment(images, uniform, policies, translation_ratio=TRANSLATION_RATIO, cutout_ratio=CUTOUT_RATIO):
    """DiffAugment (Zhao et al. 2020) of images [B, S, S, C], differentiable in ``images``.

    ``uniform`` [B, 4] holds U(0, 1) numbers per image: the first two place the translation (a shift of up to
    ``translation_ratio``·S pixels in each direction, the vacated border zero), the last two the cutout (a square
    of side ``cutout_ratio``·S, zeroed, its centre anywhere in the image).
    """
    size = images.shape[1]
    if "translation" in policies:
        shift = int(size * translation_ratio + 0.5)
        if shift > 0:
            offsets = tf.cast(tf.floor(uniform[:, :2] * (2 * shift + 1)), tf.int32)  # 0 .. 2·shift
            padded = tf.pad(images, [[0, 0], [shift, shift], [shift, shift], [0, 0]])
            rows = offsets[:, :1] + tf.range(size)[None, :]
            columns = offsets[:, 1:2] + tf.range(size)[None, :]
            images = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), columns, axis=2, batch_dims=1)
    if "cutout" in policies:
        side = int(size * cutout_ratio + 0.5)
        starts = tf.cast(tf.floor(uniform[:, 2:] * size), tf.int32) - side // 2  # [B, 2]; centres anywhere
        grid = tf.range(size)[None, :]
        inside_rows = (grid >= starts[:, :1]) & (grid < starts[:, :1] + side)
        inside_columns = (grid >= starts[:, 1:]) & (grid < starts[:, 1:] + side)
        keep = tf.logical_not(tf.logical_and(inside_rows[:, :, None], inside_columns[:, None, :]))
        images = images * tf.cast(keep, images.dtype)[..., None]
    return images


def _bce(logits, label):
    """Per-example binary cross-entropy −[y·log σ(s) + (1 − y)·log(1 − σ(s))] of logits against a constant."""
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(logits) * label, logits=logits)


def gan_int_cls_losses(s_real, s_wrong, s_fake, s_int=None, interpolation_weight=1.0, real_label=1.0):
    """Per-example GAN-CLS / GAN-INT losses from the discriminator's logits.

    L_D = −log σ(s_real) − ½[log(1 − σ(s_wrong)) + log(1 − σ(s_fake))]
    (with one-sided label smoothing, Salimans et al. 2016, the target of the real pair is ``real_label`` < 1)
    L_G = −log σ(s_fake) − λ·log σ(s_int)   (the second term only with interpolated captions)
    """
    d_loss = _bce(s_real, real_label) + 0.5 * (_bce(s_wrong, 0.0) + _bce(s_fake, 0.0))
    g_loss = _bce(s_fake, 1.0)
    if s_int is not None:
        g_loss += interpolation_weight * _bce(s_int, 1.0)
    return d_loss, g_loss


def mode_seeking_ratio(images_a, images_b, z_a, z_b):
    """Per-example d(G(z_a, t), G(z_b, t)) / d(z_a, z_b) with mean absolute distances (Mao et al., "Mode Seeking
    Generative Adversarial Networks for Diverse Image Synthesis", CVPR 2019); G minimises λ / (ratio + ε), so two
    noise vectors of one caption must give different images."""
    images = tf.reduce_mean(tf.abs(images_a - images_b), axis=[1, 2, 3])
    return images / tf.reduce_mean(tf.abs(z_a - z_b), axis=1)


def hinge_losses(s_real, s_wrong, s_fake, s_int=None, interpolation_weight=1.0):
    """Per-example hinge losses with the matching-aware term (Lim & Ye 2017; Miyato et al. 2018):

    L_D = max(0, 1 − s_real) + ½[max(0, 1 + s_wrong) + max(0, 1 + s_fake)]
    L_G = −s_fake − λ·s_int   (the second term only with interpolated captions)
    """
    d_loss = tf.nn.relu(1.0 - s_real) + 0.5 * (tf.nn.relu(1.0 + s_wrong) + tf.nn.relu(1.0 + s_fake))
    g_loss = -s_fake
    if s_int is not None:
        g_loss -= interpolation_weight * s_int
    return d_loss, g_loss


@keras.saving.register_keras_serializable(package="kzoo")
class TextToImageGAN(keras.Model):
    """GAN-INT-CLS text-to-image model (see the module docstring).

    Args:
        text_encoder: a Keras layer mapping int32 character ids [B, L] to an embedding [B, E] (e.g.
            ``zoo.text.CharRNNEncoder``); its vocabulary (``.vocab``) turns captions into ids.
        image_size: a power of two >= 8 (64 as in the paper; 32 for quick runs).
        z_dim, text_proj_dim: noise size and size of the projected text embedding.
        ngf, ndf: base channel counts of G and D (64 in DCGAN).
        train_text_encoder: False freezes the encoder (pretrained, e.g. with ``zoo.text.JointEmbedding``); True
            trains it jointly, through the discriminator's matching-aware loss.
        interpolation_weight: λ of the GAN-INT term (0 turns it off); ``beta`` the interpolation weight.
        max_length: captions are encoded to this many characters (201 in Reed et al.), longer ones truncated.
        real_label: the discriminator's target for real matching pairs; 0.9 is one-sided label smoothing.
        instance_noise: std of Gaussian noise added to every image D sees in training (Sønderby et al. 2016);
            it blurs the early, trivially separable real and fake distributions so that G gets a gradient.
        mismatch: how the mismatched caption of each real image is chosen for D: ``"random"`` (another
            example of the batch, as in the paper) or ``"hardest"`` (the caption of the batch most similar to the
            right one, cosine of the embeddings, among examples of another ``match_key`` when the data has one).
        image_encoder: optional frozen image encoder φ_I (images in [0, 1] → the text embedding's space), from
            the DS-SJE pretraining of the text encoder; with ``matching_weight`` > 0 it adds the matching term.
        matching_weight: μ of the matching term (0 turns it off).
        matching_negatives: which of the batch's other captions the matching term's hinge counts: ``"mean"`` (all,
            averaged, as DS-SJE) or ``"hardest"`` (the most violating one in each direction, VSE++, Faghri et al.
            2018).
        ema_decay: d > 0 keeps an exponential moving average of the generator's weights (``generator_ema``,
            updated after every G step; Karras et al. 2018, Yazıcı et al. 2019) and draws every image with it
            (:attr:`sampler`); 0 draws with the generator itself.
        with_discriminator: False builds the text encoder and generator only: a model for generating (see
            :meth:`for_generation`), smaller to ship, that cannot be trained.
        loss: ``"bce"`` (GAN-CLS, Reed et al.) or ``"hinge"`` (:func:`hinge_losses`).
        spectral_norm: spectral normalisation of every layer of D (and no BatchNorm in D).
        conditioning: how D reads the text: ``"concat"`` (tiled over the 4×4 features, Reed et al.) or
            ``"projection"`` (Miyato & Koyama 2018).
        augment: DiffAugment policies applied to every image D sees: a subset of ``("translation", "cutout")``.
        upsampling: how G doubles its resolution: ``"deconv"`` (transposed convolutions, DCGAN) or ``"resize"``
            (nearest-neighbour resizing + convolution).
        diversity_weight: λ of the mode-seeking term (:func:`mode_seeking_ratio`; 0 turns it off), which costs one
            more generator pass per step.
    Data for ``fit``: dicts ``{"image": [B, S, S, 3] in [−1, 1], "text_ids": int32 [B, L]}``, optionally with
    ``"match_key"`` int32 [B] (a description id, such as the class: captions with equal keys describe the same
    thing and are never used as each other's mismatch). With a frozen text encoder, ``"text_embedding"`` [B, D]
    (ψ(t) computed beforehand, see :class:`gan.caption_embeddings.CaptionEmbeddings`) may replace ``"text_ids"``.
    """

    def __init__(self, text_encoder, image_size=64, z_dim=100, text_proj_dim=128, ngf=64, ndf=64,
                 train_text_encoder=False, interpolation_weight=1.0, beta=0.5, max_length=201, real_label=1.0,
                 instance_noise=0.0, mismatch="random", image_encoder=None, matching_weight=0.0,
                 matching_negatives="mean", ema_decay=0.0, with_discriminator=True, loss="bce", spectral_norm=False,
                 conditioning="concat", augment=(), upsampling="deconv", diversity_weight=0.0, caption_words=None,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(text_encoder, dict):
            text_encoder = keras.saving.deserialize_keras_object(text_encoder)
        if isinstance(image_encoder, dict):
            image_encoder = keras.saving.deserialize_keras_object(image_encoder)
        if image_encoder is not None and not isinstance(image_encoder, keras.Layer):
            raise TypeError(f"`image_encoder` must be a Keras model mapping images to the text embedding's space, "
                            f"got {type(image_encoder).__name__}")
        if isinstance(matching_weight, bool) or not float(matching_weight) >= 0.0:
            raise ValueError(f"`matching_weight` must be >= 0, got {matching_weight!r}")
        if float(matching_weight) > 0 and image_encoder is None:
            raise ValueError("`matching_weight` > 0 needs the pretrained `image_encoder` of the joint embedding")
        if not isinstance(text_encoder, keras.Layer):
            raise TypeError(f"`text_encoder` must be a Keras layer mapping character ids to a vector, "
                            f"got {type(text_encoder).__name__}")
        self.text_encoder = text_encoder
        self.image_size = _check_image_size(image_size)
        self.z_dim = _positive(z_dim, "z_dim")
        self.text_proj_dim = _positive(text_proj_dim, "text_proj_dim")
        self.ngf = _positive(ngf, "ngf")
        self.ndf = _positive(ndf, "ndf")
        self.train_text_encoder = bool(train_text_encoder)
        if not 0.0 <= float(interpolation_weight):
            raise ValueError(f"`interpolation_weight` must be >= 0, got {interpolation_weight!r}")
        if not 0.0 <= float(beta) <= 1.0:
            raise ValueError(f"`beta` must be in [0, 1], got {beta!r}")
        self.interpolation_weight = float(interpolation_weight)
        self.beta = float(beta)
        self.max_length = _positive(max_length, "max_length")
        if not 0.5 < float(real_label) <= 1.0:
            raise ValueError(f"`real_label` (one-sided label smoothing) must be in (0.5, 1], got {real_label!r}")
        self.real_label = float(real_label)
        if not 0.0 <= float(instance_noise):
            raise ValueError(f"`instance_noise` (std of the noise added to D's images) must be >= 0, "
                             f"got {instance_noise!r}")
        self.instance_noise = float(instance_noise)
        if mismatch not in MISMATCHES:
            raise ValueError(f"`mismatch` must be one of {', '.join(MISMATCHES)}, got {mismatch!r}")
        self.mismatch = mismatch
        self.text_encoder.trainable = self.train_text_encoder
        self.image_encoder = image_encoder
        self.matching_weight = float(matching_weight)
        if matching_negatives not in MATCHING_NEGATIVES:
            raise ValueError(f"`matching_negatives` must be one of {', '.join(MATCHING_NEGATIVES)}, "
                             f"got {matching_negatives!r}")
        self.matching_negatives = matching_negatives
        if image_encoder is not None:
            image_encoder.trainable = False
        self.loss_kind = _choice(loss, LOSSES, "loss")
        self.spectral_norm = bool(spectral_norm)
        self.conditioning = _choice(conditioning, CONDITIONINGS, "conditioning")
        self.upsampling = _choice(upsampling, UPSAMPLINGS, "upsampling")
        augment = (augment,) if isinstance(augment, str) else tuple(augment or ())
        unknown = [policy for policy in augment if policy not in AUGMENTATIONS]
        if unknown or len(set(augment)) != len(augment):
            raise ValueError(f"`augment` must be distinct policies out of {', '.join(AUGMENTATIONS)} (never colour: "
                             f"colour is part of the condition), got {list(augment)!r}")
        self.augment = tuple(policy for policy in AUGMENTATIONS if policy in augment)
        if isinstance(diversity_weight, bool) or not float(diversity_weight) >= 0.0:
            raise ValueError(f"`diversity_weight` (of the mode-seeking term) must be >= 0, got {diversity_weight!r}")
        self.diversity_weight = float(diversity_weight)
        self.caption_words = caption_words
        text_dim = self._text_dim()
        self.generator = build_generator(self.image_size, self.z_dim, text_dim, self.text_proj_dim, self.ngf,
                                         upsampling=self.upsampling)
        if isinstance(ema_decay, bool) or not 0.0 <= float(ema_decay) < 1.0:
            raise ValueError(f"`ema_decay` (of the generator's weight average) must be in [0, 1), got {ema_decay!r}; "
                             "0 turns the average off")
        self.ema_decay = float(ema_decay)
        self.with_discriminator = bool(with_discriminator)
        if not self.with_discriminator and (self.matching_weight > 0 or image_encoder is not None
                                            or self.ema_decay > 0):
            raise ValueError("a model without discriminator is for generating only; it takes no image_encoder, "
                             "matching_weight or ema_decay")
        self.discriminator = (build_discriminator(self.image_size, text_dim, self.text_proj_dim, self.ndf,
                                                  self.conditioning, self.spectral_norm)
                              if self.with_discriminator else None)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_score_tracker = keras.metrics.Mean(name="d_real")
        self.fake_score_tracker = keras.metrics.Mean(name="d_fake")
        self.wrong_score_tracker = keras.metrics.Mean(name="d_wrong")
        self.matching_tracker = keras.metrics.Mean(name="matching")
        self.diversity_tracker = keras.metrics.Mean(name="diversity")
        # The training noise (z, instance noise) comes from this generator, whose state is a model variable:
        # checkpoints carry it, so a resumed run draws what an uninterrupted one would (seeded by
        # keras.utils.set_random_seed through Python's `random`; created last, so it changes no other draw).
        self.noise_seed = keras.random.SeedGenerator(name="noise_seed")
        # The average starts as a copy of G (in `build`); built after everything else, its initialisers draw no
        # number that another part of the model would have drawn, so turning it on changes no other weight.
        self.generator_ema = None
        if self.ema_decay > 0:
            self.generator_ema = build_generator(self.image_size, self.z_dim, text_dim, self.text_proj_dim,
                                                 self.ngf, name="generator_ema", upsampling=self.upsampling)
            self.generator_ema.trainable = False

    def _text_dim(self):
        for name in ("output_dim", "units"):
            value = getattr(self.text_encoder, name, None)
            if isinstance(value, (int, np.integer)):
                return int(value)
        raise ValueError("cannot tell the text encoder's output size: give it an `output_dim` attribute")

    @property
    def vocab(self):
        return getattr(self.text_encoder, "vocab", None)

    @property
    def caption_words(self) -> tuple[str, ...] | None:
        """The words of the captions this model was trained on (:func:`gan.data.captions.caption_words`), set by
        ``kzoo train t2i``; ``kzoo generate`` warns when most words of a caption are not among them. None: not
        known (a model built by hand, or saved before kzoo recorded them)."""
        return self._caption_words

    @caption_words.setter
    def caption_words(self, words):
        if words is not None and (isinstance(words, str) or not all(isinstance(word, str) for word in words)):
            raise TypeError(f"`caption_words` must be a list of words or None, got {words!r:.80}")
        self._caption_words = None if words is None else tuple(sorted(set(words)))

    def build(self, input_shape=None):
        ids = ops.zeros((1, self.max_length), dtype="int32")
        embedding = self.text_encoder(ids)
        self.generator([ops.zeros((1, self.z_dim)), embedding])
        if self.generator_ema is not None:
            self.generator_ema([ops.zeros((1, self.z_dim)), embedding])
            for average, value in zip(self.generator_ema.weights, self.generator.weights):
                average.assign(value)
        if self.discriminator is not None:
            self.discriminator([ops.zeros((1, self.image_size, self.image_size, 3)), embedding])
        if self.image_encoder is not None:
            self.image_encoder(ops.zeros((1, self.image_size, self.image_size, 3)))
        self.built = True

    # ----------------------------------------------------------------------------------------------- inference
    @property
    def sampler(self):
        """The generator that draws images: the weight average when ``ema_decay`` > 0, else the generator."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def encode_text(self, captions_or_ids, training=False):
        """ψ(t) for captions (strings, encoded with the encoder's vocabulary) or int ids [B, L]."""
        if isinstance(captions_or_ids, str) or (isinstance(captions_or_ids, (list, tuple)) and captions_or_ids
                                                and isinstance(captions_or_ids[0], str)):
            if self.vocab is None:
                raise ValueError("the text encoder has no `vocab`: pass character ids, not strings")
            captions_or_ids = self.vocab.encode(captions_or_ids, max_length=self.max_length)
        return self.text_encoder(ops.convert_to_tensor(captions_or_ids, dtype="int32"), training=training)

    def call(self, inputs, training=False):
        """Images for ``{"z": [B, z_dim], "text_ids": [B, L]}`` (or ``(z, text_ids)``)."""
        z, ids = (inputs["z"], inputs["text_ids"]) if isinstance(inputs, dict) else inputs
        return self.sampler([z, self.text_encoder(ids, training=training)], training=training)

    def fixed_noise(self, n, seed=0):
        """``n`` noise vectors z ~ N(0, I) that depend only on ``seed`` (for sample grids across epochs)."""
        return np.random.default_rng(seed).standard_normal((n, self.z_dim)).astype("float32")

    def generate(self, captions, n=8, seed=None, z=None):
        """``n`` images per caption: float32 [len(captions), n, S, S, 3] in [−1, 1]."""
        captions = [captions] if isinstance(captions, str) else list(captions)
        if not captions:
            raise ValueError("`captions` must hold at least one caption")
        n = _positive(n, "n")
        embedding = self.encode_text(captions)
        repeated = ops.repeat(embedding, n, axis=0)
        if z is None:
            z = keras.random.normal((len(captions) * n, self.z_dim), seed=seed)
        z = ops.convert_to_tensor(z, dtype=repeated.dtype)
        images = self.sampler([z, repeated], training=False)
        return ops.convert_to_numpy(images).reshape(len(captions), n, *images.shape[1:])

    def interpolate(self, caption_a, caption_b, steps=8, n=1, seed=None):
        """Images along h_β = (1 − β)·ψ(a) + β·ψ(b), β = 0..1, with the noise held fixed:
        float32 [n, steps, S, S, 3]."""
        steps = _positive(steps, "steps")
        n = _positive(n, "n")
        a, b = ops.split(self.encode_text([caption_a, caption_b]), 2, axis=0)
        betas = ops.reshape(ops.linspace(0.0, 1.0, steps), (steps, 1))
        path = (1.0 - betas) * a + betas * b  # [steps, E]
        z = keras.random.normal((n, 1, self.z_dim), seed=seed)
        z = ops.reshape(ops.broadcast_to(z, (n, steps, self.z_dim)), (n * steps, self.z_dim))
        images = self.sampler([z, ops.tile(path, (n, 1))], training=False)
        return ops.convert_to_numpy(images).reshape(n, steps, *images.shape[1:])

    # ----------------------------------------------------------------------------------------------- training
    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Adam(2e-4, β₁ = 0.5) for both by default, as in DCGAN and Reed et al."""
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        if not self.built:
            self.build()
        # Create the slots now, so that a checkpoint restored before the first step (BackupAndRestore)
        # finds them.
        if self.discriminator is not None:
            self.d_optimizer.build(self._d_variables())
        self.g_optimizer.build(self.generator.trainable_variables)

    def get_compile_config(self):
        if not getattr(self, "d_optimizer", None):
            return None
        return {"d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
                "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer)}

    def compile_from_config(self, config):
        self.compile(d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
                     g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]))

    def _d_variables(self):
        variables = list(self.discriminator.trainable_variables)
        if self.train_text_encoder:
            variables += self.text_encoder.trainable_variables
        return variables

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.real_score_tracker, self.fake_score_tracker,
                    self.wrong_score_tracker]
        return (trackers + ([self.matching_tracker] if self.matching_weight > 0 else [])
                + ([self.diversity_tracker] if self.diversity_weight > 0 else []))

    def _mismatched(self, text, keys=None):
        """For each example, the embedding of another example's caption (see ``mismatch``)."""
        batch = tf.shape(text)[0]
        if keys is None:
            other = tf.logical_not(tf.eye(batch, dtype=tf.bool))
        else:
            keys = tf.reshape(keys, (-1,))
            other = tf.not_equal(keys[:, None], keys[None, :])
        if self.mismatch == "random":
            # the next example of the batch that is "other", cyclically (the next example when keys are absent)
            order = (tf.range(batch)[None, :] - tf.range(batch)[:, None]) % batch
            rank = tf.where(other, order, batch + order)
            return tf.gather(text, tf.argmin(rank, axis=1))
        unit = tf.math.l2_normalize(tf.stop_gradient(text), axis=-1)
        similarity = tf.where(other, tf.matmul(unit, unit, transpose_b=True), -2.0)
        return tf.gather(text, tf.argmax(similarity, axis=1))

    def _noise(self, rows, batch, *shape, stddev=1.0):
        """N(0, stddev²) noise [batch, *shape] for this replica's examples: drawn for the global batch
        (``rows`` = (offset, global batch) of :func:`zoo.distribution.replica_batch_position`) from the same seed
        state on every replica and sliced to the replica's rows, so each example gets the noise it would get on one
        device and no two replicas share noise."""
        offset, total = rows
        noise = keras.random.normal((total, *shape), stddev=stddev, seed=self.noise_seed)
        return tf.slice(noise, [offset] + [0] * len(shape), [batch, *shape])

    def _discriminate(self, pairs, rows):
        """D's logits in training mode for a list of (images, text) pairs of this replica's batch, one list entry
        per kind of pair (real, mismatched, generated, ...). With BatchNorm in D each kind is its own batch, as in
        DCGAN and Reed et al. (BatchNorm statistics of a joint real+fake batch made D win within a few hundred
        steps); without it (spectral normalisation) all pairs go through D as one batch, which gives the same
        logits in one call. Instance noise and DiffAugment are drawn anew for every image."""
        batch = tf.shape(pairs[0][0])[0]
        images = [self._perturb(image, rows, batch) for image, _ in pairs]
        if not self.spectral_norm:
            return [self.discriminator([image, text], training=True) for image, (_, text) in zip(images, pairs)]
        logits = self.discriminator([tf.concat(images, 0), tf.concat([text for _, text in pairs], 0)],
                                    training=True)
        return tf.split(logits, len(pairs), axis=0)

    def _perturb(self, images, rows, batch):
        """D's view of ``images``: with instance noise and DiffAugment when they are on."""
        if self.augment:
            images = diff_augment(images, self._uniform(rows, batch, 4), self.augment)
        if self.instance_noise > 0:
            images = images + self._noise(rows, batch, *images.shape[1:], stddev=self.instance_noise)
        return images

    def _uniform(self, rows, batch, *shape):
        """U(0, 1) numbers [batch, *shape] for this replica's examples, drawn like :meth:`_noise`."""
        offset, total = rows
        numbers = keras.random.uniform((total, *shape), seed=self.noise_seed)
        return tf.slice(numbers, [offset] + [0] * len(shape), [batch, *shape])

    def train_step(self, data):
        """One D and one G update on this replica's batch.

        Under a ``tf.distribute`` strategy: the losses are sums over this replica's examples divided by the global
        batch, so that the gradients the optimizers all-reduce by summation (Keras's ``apply_gradients`` in a
        replica context) are those of the mean loss over the global batch; the metrics are Mean trackers updated
        with per-example values (their totals and counts are summed over replicas); the noise is drawn for the
        global batch and sliced (see :meth:`_noise`); BatchNorm built under several replicas is synchronized
        (:func:`_batch_norm`). What stays per replica: the mismatched captions, the interpolation partners and the
        matching term's negatives, which come from the replica's own examples.
        """
        from zoo.distribution import replica_batch_position

        if self.discriminator is None:
            raise ValueError("this text-to-image model was exported for generation (with_discriminator=False) and "
                             "cannot be trained; train the full model from its `kzoo train t2i` folder")
        images = data["image"]
        if "text_embedding" in data and self.train_text_encoder:
            raise ValueError("batches with precomputed \"text_embedding\" need a frozen text encoder "
                             "(train_text_encoder=False); feed \"text_ids\" to train the encoder")
        batch = tf.shape(images)[0]
        rows = replica_batch_position(batch)
        global_batch = tf.cast(rows[1], tf.float32)
        z = self._noise(rows, batch, self.z_dim)
        z_int = self._noise(rows, batch, self.z_dim)
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            if "text_embedding" in data:
                text = tf.convert_to_tensor(data["text_embedding"], dtype=self.compute_dtype)
            else:
                text = self.text_encoder(data["text_ids"], training=self.train_text_encoder)
            wrong = self._mismatched(text, data.get("match_key"))
            fake = self.generator([z, text], training=True)
            pairs = [(images, text), (images, wrong), (fake, text)]
            if self.interpolation_weight > 0:
                g_text = tf.stop_gradient(text)
                mixed = self.beta * g_text + (1.0 - self.beta) * tf.roll(g_text, shift=2, axis=0)
                pairs.append((self.generator([z_int, mixed], training=True), mixed))
            s_real, s_wrong, s_fake, *s_int = self._discriminate(pairs, rows)
            s_int = s_int[0] if s_int else None
            if self.loss_kind == "hinge":
                d_per_example, g_per_example = hinge_losses(s_real, s_wrong, s_fake, s_int, self.interpolation_weight)
            else:
                d_per_example, g_per_example = gan_int_cls_losses(s_real, s_wrong, s_fake, s_int,
                                                                  self.interpolation_weight, self.real_label)
            if self.matching_weight > 0:
                matching = self._matching(fake, text, data.get("match_key"))
                g_per_example = g_per_example + self.matching_weight * matching
            if self.diversity_weight > 0:
                z_other = self._noise(rows, batch, self.z_dim)
                diversity = mode_seeking_ratio(fake, self.generator([z_other, text], training=True), z, z_other)
                g_per_example = g_per_example + self.diversity_weight / (diversity + 1e-5)
            d_loss = tf.reduce_sum(d_per_example) / global_batch
            g_loss = tf.reduce_sum(g_per_example) / global_batch
        d_variables = self._d_variables()
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_variables), d_variables))
        g_variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_variables), g_variables))
        if self.generator_ema is not None:
            self._update_generator_ema()
        # Per-example values: the Mean trackers' totals and counts are summed across replicas, so the result is
        # the mean over every example seen, however the global batch was split.
        self.d_loss_tracker.update_state(d_per_example)
        self.g_loss_tracker.update_state(g_per_example)
        self.real_score_tracker.update_state(tf.sigmoid(s_real))
        self.fake_score_tracker.update_state(tf.sigmoid(s_fake))
        self.wrong_score_tracker.update_state(tf.sigmoid(s_wrong))
        if self.matching_weight > 0:
            self.matching_tracker.update_state(matching)
        if self.diversity_weight > 0:
            self.diversity_tracker.update_state(diversity)
        return {metric.name: metric.result() for metric in self.metrics}

    def _update_generator_ema(self):
        """θ̄ ← d_t·θ̄ + (1 − d_t)·θ over all of G's weights (BatchNorm statistics included), with
        d_t = min(d, (1 + t)/(10 + t)) after t generator updates (tf.train.ExponentialMovingAverage's warm-up), so
        the average forgets the random initialisation within the first steps."""
        steps = tf.cast(self.g_optimizer.iterations, tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + steps) / (10.0 + steps))
        for average, value in zip(self.generator_ema.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * tf.cast(value, average.dtype))

    def _matching(self, fake, text, keys=None):
        """Per-example matching term: the DS-SJE hinge of the generated images against this replica's captions
        (both directions), over the captions of another ``match_key`` (every other one without keys): their mean,
        or with ``matching_negatives="hardest"`` the largest hinge in each direction."""
        image_embeddings = self.image_encoder((fake + 1.0) / 2.0, training=False)
        text_embeddings = tf.stop_gradient(text)
        if keys is None:
            keys = tf.range(tf.shape(fake)[0])
        keys = tf.reshape(keys, (-1,))
        hardest = self.matching_negatives == "hardest"
        per_pair, _ = ds_sje_terms(image_embeddings, text_embeddings, keys, reduce="max" if hardest else "sum")
        if hardest:
            return per_pair
        negatives = tf.reduce_sum(tf.cast(tf.not_equal(keys[:, None], keys[None, :]), per_pair.dtype), axis=1)
        return per_pair / tf.maximum(negatives, 1.0)

    def get_config(self):
        return {**super().get_config(),
                "text_encoder": keras.saving.serialize_keras_object(self.text_encoder),
                "image_size": self.image_size, "z_dim": self.z_dim, "text_proj_dim": self.text_proj_dim,
                "ngf": self.ngf, "ndf": self.ndf, "train_text_encoder": self.train_text_encoder,
                "interpolation_weight": self.interpolation_weight, "beta": self.beta,
                "max_length": self.max_length, "real_label": self.real_label,
                "instance_noise": self.instance_noise, "mismatch": self.mismatch,
                "image_encoder": (keras.saving.serialize_keras_object(self.image_encoder)
                                  if self.image_encoder is not None else None),
                "matching_weight": self.matching_weight, "matching_negatives": self.matching_negatives,
                "ema_decay": self.ema_decay, "with_discriminator": self.with_discriminator,
                "loss": self.loss_kind, "spectral_norm": self.spectral_norm, "conditioning": self.conditioning,
                "augment": list(self.augment), "upsampling": self.upsampling,
                "diversity_weight": self.diversity_weight,
                "caption_words": None if self.caption_words is None else list(self.caption_words)}

    def for_generation(self) -> TextToImageGAN:
        """A copy with this model's text encoder and generator (weights included; the weight average's when there
        is one) and no discriminator or matching image encoder: what a user needs to generate, at a fraction of the
        size (the bundled presets)."""
        config = self.get_config()
        config.update(image_encoder=None, matching_weight=0.0, ema_decay=0.0, with_discriminator=False)
        copy = TextToImageGAN.from_config(config)
        copy.build()
        copy.text_encoder.set_weights(self.text_encoder.get_weights())
        copy.generator.set_weights(self.sampler.get_weights())
        return copy
