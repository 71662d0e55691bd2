"""Training a text-to-image GAN: ``train_t2i(config, out_dir)``, what ``kzoo train t2i`` runs.

Everything is built inside a ``tf.distribute`` strategy scope. A run writes into ``out_dir``:

* ``config.json``: the configuration (plain data, :class:`T2IConfig`);
* ``model.keras``: the whole model (text encoder with its vocabulary, generator, discriminator), saved atomically
  at the end of every epoch;
* ``samples/epoch_0001.png``, ``epoch_0002.png``, ...: a grid for fixed captions and fixed noise, each row's
  caption beside it;
* ``logs/``: TensorBoard scalars (losses, D scores) and the sample grid as an image;
* ``backup/``: the resume point (:class:`zoo.checkpoint.ResumableCheckpoint`: the last two epochs, written
  atomically and verified by sha256): rerunning the same command continues from the last finished epoch, with the
  data stream skipped to where it was and the noise generator's state restored;
* ``metrics.json``: losses, throughput, the reason training stopped, and the evaluation when it ran.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from gan.data.captions import caption_words
from gan.grid import captioned_grid, save_captioned_grid
from gan.model import TextToImageGAN
from gan.recipes import DEFAULT_RECIPE
from zoo.distribution import agree_across_workers, get_strategy, worker_out_dir
from zoo.io import atomic_path, save_model, write_json
from zoo.seeding import set_seed
from zoo.training import check_resume, finished_run, fit_resumable, write_config
from zoo.validation import ArgumentError

# The text encoder ψ: a char-RNN reading one direction ("rnn", Reed et al.) or both ("birnn"), or a char-CNN with
# max-over-time pooling ("cnn", zoo.text.CharCNNEncoder), which composes words never seen together.
TEXT_ENCODERS = ("cnn", "rnn", "birnn")

SAMPLE_CAPTIONS = {
    "shapes": ["a small red circle in the top left", "a large blue square in the bottom right",
               "a small green triangle in the top right", "a large yellow star in the bottom left"],
    "mnist": ["a handwritten digit zero", "the number three written by hand", "a handwritten seven",
              "a handwritten digit nine"],
    "fashion_mnist": ["a photo of a sneaker", "a pair of trousers", "a bag", "an ankle boot"],
    "flowers102": ["this flower has small, round violet petals with a dark purple center",
                   "this flower has white petals and a yellow center",
                   "a sunflower with yellow petals and a brown center",
                   "the petals of this flower are red and the center is black"],
}


@dataclasses.dataclass
class T2IConfig:
    """Everything a run depends on, as plain data (saved to ``config.json``).

    The defaults are the quickstart on ``shapes``: 32×32 images, ngf = ndf = 32, DS-SJE pretraining of the text
    encoder, then 28 epochs of 100 GAN steps of 32 images (on a CPU, batches of 32 make 1.75 times the steps per
    second of batches of 64, which buys more accuracy in the same minutes: bench/README.md); Reed et al.'s
    setting is image_size=64, ngf=ndf=64, batch_size=64.

    ``recipe`` names a set of GAN and text-encoder settings (:data:`gan.recipes.RECIPES`: ``"charcnn-ms"`` by default,
    ``"reed2016"`` the paper's, ``"matching"`` kzoo's first): every field of :data:`gan.recipes.RECIPE_KEYS` left at
    ``None`` is taken from it, and one given explicitly wins. ``config.json`` keeps the resolved values.
    bench/README.md has the ablation that chose the default.
    """

    dataset: str = "shapes"
    data_dir: str | None = None
    captions_dir: str | None = None
    recipe: str = DEFAULT_RECIPE
    image_size: int = 32
    batch_size: int = 32
    epochs: int = 28
    steps_per_epoch: int = 100
    seed: int = 0
    z_dim: int = 100
    text_proj_dim: int = 128
    ngf: int = 32
    ndf: int = 32
    embedding_dim: int = 32
    text_units: int = 128
    text_dim: int = 256
    text_cell: str = "gru"
    text_encoder: str | None = None
    max_length: int = 96
    train_text_encoder: bool = False
    pretrain_steps: int | None = None
    pretrain_classes_per_batch: int = 32
    pretrain_learning_rate: float = 2e-3
    interpolation_weight: float = 1.0
    learning_rate: float | None = None
    d_learning_rate: float | None = None
    real_label: float | None = None
    instance_noise: float = 0.0
    mismatch: str = "random"
    matching_weight: float | None = None
    matching_negatives: str | None = None
    ema_decay: float | None = None
    loss: str | None = None
    spectral_norm: bool | None = None
    conditioning: str | None = None
    augment: list | None = None
    upsampling: str | None = None
    diversity_weight: float | None = None
    distribute: str = "none"
    devices: int | None = None
    deterministic: bool = False
    collapse_patience: int = 3
    sample_columns: int = 8
    limit: int | None = None

    def __post_init__(self):
        from gan.recipes import recipe_settings

        settings = recipe_settings(self.recipe)
        if self.pretrain_steps is None:
            self.pretrain_steps = settings["pretrain_steps"]
        if self.pretrain_steps == 0 and self.matching_weight is None:
            settings["matching_weight"] = 0.0  # the matching term needs the pretrained image encoder
        for key, value in settings.items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        self.augment = list(self.augment)
        if self.text_encoder not in TEXT_ENCODERS:
            raise ValueError(f"unknown text_encoder {self.text_encoder!r}; choose one of {', '.join(TEXT_ENCODERS)}")
        if self.matching_weight > 0 and self.pretrain_steps == 0:
            raise ValueError("the matching term (matching_weight > 0) uses the image encoder of the DS-SJE "
                             "pretraining; with --pretrain-steps 0 pass --matching-weight 0")

    @classmethod
    def from_dict(cls, values: dict) -> T2IConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys {unknown}; known keys: {sorted(known)}")
        return cls(**values)


class TrainingGuard(keras.callbacks.Callback):
    """Stops training with a clear message on a non-finite loss, or on collapse: the discriminator's loss near
    zero while the generator's grows, for ``patience`` epochs in a row. The message is kept in ``reason``."""

    def __init__(self, patience: int = 3, d_loss_floor: float = 0.05):
        super().__init__()
        self.patience, self.d_loss_floor = patience, d_loss_floor
        self.reason = None
        self.diverged = False
        self._previous_g_loss = None
        self._strikes = 0

    def _stop(self, reason):
        self.reason = reason
        self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        for name in ("d_loss", "g_loss"):
            if name in logs and not math.isfinite(float(logs[name])):
                self.diverged = True
                self._stop(f"{name} became {float(logs[name])} at batch {batch}: training diverged. Lower the "
                           "learning rate or the batch size, or restart from the last checkpoint with another seed")
                return

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        d_loss, g_loss = float(logs.get("d_loss", np.nan)), float(logs.get("g_loss", np.nan))
        growing = self._previous_g_loss is not None and g_loss > self._previous_g_loss
        self._strikes = self._strikes + 1 if (d_loss < self.d_loss_floor and growing) else 0
        self._previous_g_loss = g_loss
        if self._strikes >= self.patience:
            self._stop(f"collapse: the discriminator's loss stayed below {self.d_loss_floor} while the generator's "
                       f"grew for {self.patience} epochs (d_loss {d_loss:.4f}, g_loss {g_loss:.3f} at epoch "
                       f"{epoch + 1}). The generator no longer learns; lower D's learning rate, add noise to D's "
                       "inputs, or restart from an earlier checkpoint")


class SampleGrid(keras.callbacks.Callback):
    """At every epoch end: a captioned PNG of fixed captions × fixed noise, the model saved atomically, and the
    grid logged to TensorBoard; nothing once ``guard`` has seen the losses diverge, so the last good model stays."""

    def __init__(self, out_dir, captions, columns, seed, log_dir=None, guard=None):
        super().__init__()
        self.guard = guard
        self.out_dir = Path(out_dir)
        self.captions = list(captions)
        self.columns = columns
        self.seed = seed
        self.writer = tf.summary.create_file_writer(str(log_dir)) if log_dir else None
        self.epoch_seconds = []
        self._started = None

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._started)
        if self.guard is not None and self.guard.diverged:
            return  # keep the last good model.keras and samples
        z = self.model.fixed_noise(len(self.captions) * self.columns, self.seed)
        images = self.model.generate(self.captions, n=self.columns, z=z)
        save_captioned_grid(images, self.captions, self.out_dir / "samples" / f"epoch_{epoch + 1:04d}.png")
        save_model(self.model, self.out_dir / "model.keras")
        if self.writer is not None:
            grid = np.asarray(captioned_grid(images, self.captions))[None].astype(np.float32) / 255.0
            with self.writer.as_default(step=epoch + 1):
                tf.summary.image("samples", grid)
            self.writer.flush()


def build_text_encoder(config: T2IConfig, vocab=None):
    """The text encoder ψ of ``config.text_encoder`` with Reed et al.'s alphabet: ``zoo.text.CharCNNEncoder`` (two
    convolutions of ``text_units`` filters) or ``zoo.text.CharRNNEncoder`` (``text_cell`` of ``text_units``)."""
    from zoo.text import CharCNNEncoder, CharRNNEncoder, CharVocab

    if config.text_encoder == "cnn":
        return CharCNNEncoder(vocab or CharVocab(), embedding_dim=config.embedding_dim,
                              filters=(config.text_units, config.text_units), output_dim=config.text_dim,
                              name="text_encoder")
    return CharRNNEncoder(vocab or CharVocab(), embedding_dim=config.embedding_dim, cell=config.text_cell,
                          units=config.text_units, output_dim=config.text_dim,
                          bidirectional=config.text_encoder == "birnn", name="text_encoder")


def build_image_encoder(config: T2IConfig, encoder):
    """The small CNN φ_I that DS-SJE trains with ``encoder`` (images in [0, 1] → the text embedding's space); the
    generator's matching term scores its images with it, frozen."""
    from zoo.text.joint_embedding import small_image_encoder

    image_encoder = small_image_encoder(encoder.output_dim)
    image_encoder.build((None, config.image_size, config.image_size, 3))
    return image_encoder


def build_gan(config: T2IConfig, encoder, image_encoder=None) -> TextToImageGAN:
    """The GAN around ``encoder``, compiled with Adam(β₁ = 0.5) at ``d_learning_rate`` for D and ``learning_rate``
    for G (D learns faster on these images, so it gets the smaller rate); call under a strategy scope."""
    model = TextToImageGAN(encoder, image_size=config.image_size, z_dim=config.z_dim,
                           text_proj_dim=config.text_proj_dim, ngf=config.ngf, ndf=config.ndf,
                           train_text_encoder=config.train_text_encoder,
                           interpolation_weight=config.interpolation_weight, max_length=config.max_length,
                           real_label=config.real_label, instance_noise=config.instance_noise,
                           mismatch=config.mismatch,
                           image_encoder=image_encoder if config.matching_weight > 0 else None,
                           matching_weight=config.matching_weight,
                           matching_negatives=config.matching_negatives, ema_decay=config.ema_decay,
                           loss=config.loss, spectral_norm=config.spectral_norm, conditioning=config.conditioning,
                           augment=config.augment, upsampling=config.upsampling,
                           diversity_weight=config.diversity_weight)
    model.compile(d_optimizer=keras.optimizers.Adam(config.d_learning_rate, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=0.5))
    return model


def class_captions(examples, by_description: bool = False):
    """(class ids [n], captions per class) for DS-SJE batches. Without a ``class`` label (shapes) each example's
    caption group is its class (one per attribute combination). With one, the ``class`` label; or with
    ``by_description`` (the pretraining of :func:`pretrain_text_encoder`) the example's description
    (:meth:`gan.data.Examples.description_keys`): for flowers captioned from their pixels the class with the petal
    and centre colours, so that a caption is paired with images of the colours it names."""
    if examples.caption_groups is None:
        raise ValueError("the dataset gives no alternative captions to pretrain the text encoder with")
    if "class" not in examples.labels:
        return np.asarray(examples.caption_group, np.int64), [list(group) for group in examples.caption_groups]
    labels = np.asarray(examples.description_keys() if by_description else examples.labels["class"], np.int64)
    captions = [set() for _ in range(int(labels.max()) + 1)]
    for label, group in zip(labels, examples.caption_group):
        captions[label].update(examples.caption_groups[group])
    return labels, [sorted(texts) or [""] for texts in captions]


def pretrain_text_encoder(config: T2IConfig, encoder, out: Path, verbose: int = 1):
    """Stage 1 (Reed et al.): train the text encoder with a small image encoder by the DS-SJE loss
    (``zoo.text.JointEmbedding``) on batches with one image/caption pair per class.

    Returns ``(image_encoder, metrics)``. Both encoders' weights are saved to ``out/text_encoder.weights.h5`` and
    ``out/image_encoder.weights.h5``; a rerun loads them instead of training again. The image encoder scores
    generated images in the generator's matching term (``matching_weight``).
    """
    from gan.data import load_examples
    from zoo.text.joint_embedding import JointEmbedding, class_batches

    weights = {"text": out / "text_encoder.weights.h5", "image": out / "image_encoder.weights.h5"}
    image_encoder = build_image_encoder(config, encoder)
    if all(path.is_file() for path in weights.values()):
        encoder.build((None, config.max_length))
        encoder.load_weights(weights["text"])
        image_encoder.load_weights(weights["image"])
        return image_encoder, {"pretrain": "loaded"}
    examples = load_examples(config.dataset, "train", config.image_size, config.seed, config.data_dir,
                             config.captions_dir, limit=config.limit)
    labels, captions = class_captions(examples, by_description=True)
    classes = len(np.unique(labels))
    if verbose:
        print(f"DS-SJE: pretraining the text encoder ({config.pretrain_steps} steps, then the GAN)", flush=True)
    joint = JointEmbedding(encoder, image_encoder, name="joint_embedding")
    joint.compile(optimizer=keras.optimizers.Adam(config.pretrain_learning_rate))
    batches = class_batches(examples.images, labels, captions, encoder.vocab,
                            max_length=config.max_length, seed=config.seed,
                            classes_per_batch=min(config.pretrain_classes_per_batch, classes))
    history = joint.fit(batches, epochs=1, steps_per_epoch=config.pretrain_steps, verbose=verbose,
                        shuffle=False)  # class_batches draws its own random batches
    for model, path in ((encoder, weights["text"]), (image_encoder, weights["image"])):
        with atomic_path(path) as temporary:
            model.save_weights(temporary)
    return image_encoder, {"pretrain": {key: float(values[-1]) for key, values in history.history.items()}}


def training_examples(config: T2IConfig):
    """The training split of ``config``'s dataset (:class:`gan.data.examples.Examples`), as training reads it."""
    from gan.data.loaders import load_raw

    return load_raw(config.dataset, "train", config.image_size, config.seed, config.data_dir, config.captions_dir,
                    config.limit, augment=True)


def served_captions(examples) -> set:
    """Every caption a training stream over ``examples`` can serve: their own and their groups' alternatives."""
    used_groups = () if examples.caption_group is None else np.unique(examples.caption_group)
    return set(examples.captions).union(*(examples.caption_groups[index] for index in used_groups))


def training_dataset(config: T2IConfig, vocab, global_batch: int, skip_batches: int = 0, text_encoder=None,
                     examples=None):
    """``{"image", "text_ids", "match_key"}`` batches, repeated: the captions tokenized in the pipeline. A resumed
    run skips the ``skip_batches`` batches the earlier epochs used (the stream depends only on the seed), so it
    sees what an uninterrupted run would. ``examples``: :func:`training_examples` when already loaded.

    Given the frozen ``text_encoder``, the batches carry ``"text_embedding"`` (ψ(t), looked up in a
    :class:`gan.caption_embeddings.CaptionEmbeddings` of every caption the stream can serve) instead of
    ``"text_ids"``, unless that table would pass :data:`gan.caption_embeddings.MAX_BYTES`."""
    from gan.caption_embeddings import CaptionEmbeddings
    from gan.data import make_dataset
    from zoo.text import CharTokenizer

    examples = training_examples(config) if examples is None else examples
    dataset = make_dataset(config.dataset, split="train", batch_size=global_batch, image_size=config.image_size,
                           seed=config.seed, data_dir=config.data_dir, captions_dir=config.captions_dir,
                           shuffle=True, repeat=True, limit=config.limit, examples=examples)
    if skip_batches:
        dataset = dataset.skip(skip_batches)
    captions = served_captions(examples)
    if text_encoder is not None and CaptionEmbeddings.fits(len(captions), text_encoder.output_dim):
        embeddings = CaptionEmbeddings(text_encoder, captions, config.max_length)
        text = ("text_embedding", embeddings)
    else:
        text = ("text_ids", CharTokenizer(vocab, max_length=config.max_length))
    return dataset.map(lambda batch: {"image": batch["image"], text[0]: text[1](batch["caption"]),
                                      "match_key": batch["description"]},
                       num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def train_t2i(config: T2IConfig, out_dir: str | os.PathLike, verbose: int = 1, callbacks=(),
              force: bool = False) -> dict:
    """Train (or resume) a GAN-INT-CLS model as described in the module docstring; return the metrics.

    ``callbacks`` are extra Keras callbacks for the GAN's ``fit`` (after kzoo's own). A rerun of a finished run
    returns its metrics without training or writing anything (:func:`zoo.training.finished_run`) unless ``force``.

    Under ``config.distribute`` the batch size is the global batch; on a multi-worker cluster every worker runs
    this function and only the chief keeps its files (the others write into a temporary folder)."""
    from gan.data import DATASETS

    if config.dataset not in DATASETS:
        raise ValueError(f"unknown dataset {config.dataset!r}; choose one of {', '.join(DATASETS)}")
    out_dir = Path(out_dir).expanduser()
    check_resume(out_dir, dataclasses.asdict(config))
    if not force and (done := finished_run(out_dir, dataclasses.asdict(config), "t2i", verbose=verbose)) is not None:
        return done
    strategy = get_strategy(config.distribute, config.devices)  # first: multi-worker configures TF
    with worker_out_dir(out_dir, strategy) as out:
        return _train_t2i(config, strategy, out_dir, out, verbose, list(callbacks))


def _train_t2i(config: T2IConfig, strategy, out_dir: Path, out: Path, verbose: int, extra_callbacks: list) -> dict:
    set_seed(config.seed, deterministic=config.deterministic)
    global_batch = config.batch_size
    if global_batch % strategy.num_replicas_in_sync:
        raise ArgumentError(f"{{batch_size}} must be divisible by the {strategy.num_replicas_in_sync} replicas",
                            batch_size=global_batch)
    encoder_weights = [out_dir / "text_encoder.weights.h5", out_dir / "image_encoder.weights.h5"]
    pretrained = all(path.is_file() for path in encoder_weights)
    if out != out_dir and pretrained:  # a non-chief worker loads the chief's pretrained encoders
        for path in encoder_weights:
            shutil.copyfile(path, out / path.name)
    agree_across_workers(strategy, pretrained_text_encoder=pretrained)
    with strategy.scope():
        encoder = build_text_encoder(config)
        image_encoder, pretraining = (pretrain_text_encoder(config, encoder, out, verbose)
                                      if config.pretrain_steps > 0 else (None, {"pretrain": None}))
        model = build_gan(config, encoder, image_encoder)
    text_encoder = None if config.train_text_encoder else model.text_encoder

    def make_data(initial_epoch):
        examples = training_examples(config)
        model.caption_words = caption_words(served_captions(examples))
        dataset = training_dataset(config, model.vocab, global_batch,
                                   skip_batches=initial_epoch * config.steps_per_epoch, text_encoder=text_encoder,
                                   examples=examples)
        # Written once the data loaded: a rerun that fails earlier leaves the earlier run's config.json alone.
        write_config(out, dataclasses.asdict(config))
        return dataset, config.steps_per_epoch

    guard = TrainingGuard(patience=config.collapse_patience)
    captions = SAMPLE_CAPTIONS[config.dataset]
    samples = SampleGrid(out, captions, config.sample_columns, config.seed, log_dir=out / "logs" / "samples",
                         guard=guard)
    started = time.perf_counter()
    result = fit_resumable(model, out_dir, out, strategy, config.epochs, make_data, verbose=verbose, stage="GAN",
                           callbacks=[guard, samples, *extra_callbacks])
    checkpoint, initial_epoch = result.checkpoint, result.initial_epoch
    history = result.history.history if result.history is not None else {}
    seconds = time.perf_counter() - started
    if not guard.diverged:
        if model.caption_words is None:  # nothing left to train (a finished run, forced): make_data did not run
            model.caption_words = caption_words(served_captions(training_examples(config)))
            write_config(out, dataclasses.asdict(config))  # e.g. --epochs lowered to the epochs already trained
        save_model(model, out / "model.keras")
    epochs_run = len(samples.epoch_seconds)
    steady = samples.epoch_seconds[1:] or samples.epoch_seconds
    images_per_second = (config.steps_per_epoch * global_batch / float(np.median(steady))) if steady else None
    metrics = {
        "epochs_run_now": epochs_run,
        "resumed_from_epoch": initial_epoch,
        "epochs_done": checkpoint.epoch,
        "stopped": guard.reason,
        "seconds": seconds,
        "images_per_second": images_per_second,
        "replicas": strategy.num_replicas_in_sync,
        "history": {key: [float(v) for v in values] for key, values in history.items()},
        **pretraining,
    }
    if guard.reason:
        metrics["error"] = guard.reason
    write_json(metrics, out / "metrics.json")
    return metrics
