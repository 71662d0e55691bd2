"""``JointEmbedding``: a text encoder trained with an image encoder by the DS-SJE loss (Reed et al. 2016).

For a batch of n image/caption pairs, one per distinct class, with image embeddings φ(v_i) and text
embeddings ψ(t_j), the compatibility scores are s_ij = ⟨φ(v_i), ψ(t_j)⟩ and the deep symmetric structured
joint embedding loss of pair i is

    ℓ_i = Σ_{j≠i} max(0, 1 + s_ij − s_ii)   (image i against the other captions)
        + Σ_{j≠i} max(0, 1 + s_ji − s_ii)   (caption i against the other images),

trained on L = Σ_i ℓ_i / (global batch size). When class labels are passed, pairs j of the same class as
i are not negatives. The metric ``top1`` is text→image retrieval within the batch: caption j retrieves
the image argmax_i s_ij, right when it is image j (or of j's class).

Reference: S. Reed, Z. Akata, H. Lee, B. Schiele, "Learning Deep Representations of Fine-Grained Visual
Descriptions", CVPR 2016, eq. (1)-(4).
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
from keras import ops

from zoo.text.vocab import CharVocab


def ds_sje_terms(image_embeddings, text_embeddings, labels=None, margin=1.0, reduce="sum"):
    """Per-pair DS-SJE losses ``[n]`` and text→image top-1 hits ``[n]`` (float 0/1) of one batch.

    Each pair's loss adds, in both directions, the hinges max(0, margin + s_other − s_matched) over the pairs of
    another label: their sum (``reduce="sum"``, DS-SJE) or only the largest (``"max"``, the hardest negative of
    VSE++, Faghri et al. 2018).
    """
    if reduce not in ("sum", "max"):
        raise ValueError(f"`reduce` must be 'sum' or 'max', got {reduce!r}")
    total = ops.sum if reduce == "sum" else ops.max
    scores = ops.matmul(image_embeddings, ops.transpose(text_embeddings))  # s[i, j] = <φ(v_i), ψ(t_j)>
    n = ops.shape(scores)[0]
    if labels is None:
        same = ops.eye(n, dtype="bool")
    else:
        labels = ops.reshape(labels, (-1,))
        same = ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0))
    negatives = ops.cast(ops.logical_not(same), scores.dtype)
    matched = ops.diagonal(scores)
    image_to_text = total(negatives * ops.relu(margin + scores - ops.expand_dims(matched, 1)), axis=1)
    text_to_image = total(negatives * ops.relu(margin + scores - ops.expand_dims(matched, 0)), axis=0)
    retrieved = ops.argmax(scores, axis=0)  # for caption j, the best image i
    hits = ops.cast(ops.take_along_axis(same, ops.expand_dims(retrieved, 0), axis=0)[0], scores.dtype)
    return image_to_text + text_to_image, hits


def small_image_encoder(output_dim, filters=(32, 64), name="image_encoder"):
    """A small CNN φ: [Conv2D(f, 3, same) + ReLU + MaxPool 2]·k -> Flatten -> Dense(output_dim)."""
    layers = []
    for k, f in enumerate(filters):
        layers += [keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{k + 1}"),
                   keras.layers.MaxPooling2D(2, name=f"pool{k + 1}")]
    layers += [keras.layers.Flatten(name="flatten"), keras.layers.Dense(output_dim, name="projection")]
    return keras.Sequential(layers, name=name)


def _split_inputs(inputs):
    if isinstance(inputs, dict):
        missing = {"images", "texts"} - set(inputs)
        if missing:
            raise ValueError(f"JointEmbedding inputs need the keys 'images' and 'texts'; missing {sorted(missing)}.")
        return inputs["images"], inputs["texts"]
    if isinstance(inputs, (list, tuple)) and len(inputs) == 2:
        return inputs[0], inputs[1]
    raise ValueError(
        "JointEmbedding expects inputs (images, text ids) or {'images': ..., 'texts': ...}; "
        f"received {type(inputs).__name__}. In fit/evaluate a data element (images, ids) is read as (x, y): "
        "give ((images, ids),) or ((images, ids), labels)."
    )


@keras.saving.register_keras_serializable(package="kzoo")
class JointEmbedding(keras.Model):
    """A text encoder ψ and an image encoder φ trained together by the DS-SJE loss through ``fit``.

    Call it on ``(images, text_ids)`` to get ``(φ(images), ψ(texts))``. Train on batches
    ``((images, text_ids), labels)`` or ``(images, text_ids)`` with one pair per distinct class, such as
    :func:`class_batches` makes. Works under a ``tf.distribute`` strategy scope: each replica scores its
    own pairs and the loss is scaled by the global batch.

    Args:
        text_encoder: a Keras model ids -> [batch, d], e.g. ``zoo.text.CharRNNEncoder``.
        image_encoder: a Keras model images -> [batch, d]; default :func:`small_image_encoder` (d from
            ``text_encoder.output_dim``).
        margin: the hinge margin (1 in the paper).
    """

    def __init__(self, text_encoder, image_encoder=None, margin=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(text_encoder, dict):
            text_encoder = keras.saving.deserialize_keras_object(text_encoder)
        if isinstance(image_encoder, dict):
            image_encoder = keras.saving.deserialize_keras_object(image_encoder)
        if not isinstance(text_encoder, keras.Model):
            raise TypeError(f"`text_encoder` must be a keras.Model (e.g. CharRNNEncoder); received "
                            f"{type(text_encoder).__name__}.")
        if image_encoder is None:
            if not hasattr(text_encoder, "output_dim"):
                raise ValueError("pass `image_encoder` (the text encoder has no `output_dim` to size the default one).")
            image_encoder = small_image_encoder(text_encoder.output_dim)
        if not isinstance(image_encoder, keras.Model):
            raise TypeError(f"`image_encoder` must be a keras.Model; received {type(image_encoder).__name__}.")
        if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or margin <= 0:
            raise ValueError(f"`margin` must be a positive number; received margin={margin!r}.")
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.margin = float(margin)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.top1_tracker = keras.metrics.Mean(name="top1")

    @property
    def vocab(self) -> CharVocab | None:
        return getattr(self.text_encoder, "vocab", None)

    def build(self, input_shape):
        image_shape, text_shape = _split_inputs(input_shape)
        for encoder, shape in ((self.image_encoder, image_shape), (self.text_encoder, text_shape)):
            if not encoder.built:  # a deserialized encoder arrives built
                encoder.build(tuple(shape))
        image_dim = self.image_encoder.compute_output_shape(tuple(image_shape))[-1]
        text_dim = self.text_encoder.compute_output_shape(tuple(text_shape))[-1]
        if image_dim != text_dim:
            raise ValueError(f"the image encoder gives {image_dim}-dimensional embeddings and the text encoder "
                             f"{text_dim}-dimensional ones; they must agree to be compared.")
        self.built = True

    def call(self, inputs, training=False):
        images, texts = _split_inputs(inputs)
        return self.image_encoder(images, training=training), self.text_encoder(texts, training=training)

    def scores(self, images, texts):
        """The compatibility matrix s[i, j] = ⟨φ(images_i), ψ(texts_j)⟩."""
        image_embeddings, text_embeddings = self((images, texts))
        return ops.matmul(image_embeddings, ops.transpose(text_embeddings))

    @property
    def metrics(self):
        return [self.loss_tracker, self.top1_tracker]

    def _replicas(self):
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        return context.num_replicas_in_sync if context is not None else 1

    def _terms(self, data, training):
        x, labels, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError("JointEmbedding does not take sample weights: every pair of a class batch counts once.")
        image_embeddings, text_embeddings = self(x, training=training)
        per_pair, hits = ds_sje_terms(image_embeddings, text_embeddings, labels, self.margin)
        return per_pair, hits

    def _update_metrics(self, per_pair, hits):
        self.loss_tracker.update_state(per_pair)
        self.top1_tracker.update_state(hits)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            per_pair, hits = self._terms(data, training=True)
            global_batch = ops.cast(ops.shape(per_pair)[0] * self._replicas(), per_pair.dtype)
            loss = ops.sum(per_pair) / global_batch
            if self.losses:
                loss = loss + ops.sum(self.losses) / self._replicas()
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._update_metrics(per_pair, hits)

    def test_step(self, data):
        per_pair, hits = self._terms(data, training=False)
        return self._update_metrics(per_pair, hits)

    def get_config(self):
        return {
            **super().get_config(),
            "text_encoder": keras.saving.serialize_keras_object(self.text_encoder),
            "image_encoder": keras.saving.serialize_keras_object(self.image_encoder),
            "margin": self.margin,
        }


# --- data ------------------------------------------------------------------------------------------------


def as_image_batch(images):
    """uint8 [n, h, w] or [n, h, w, c] -> float32 [n, h, w, c] in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"`images` must be [n, h, w] or [n, h, w, c]; received shape {images.shape}.")
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    return images.astype(np.float32) / scale


def _check_labelled(images, labels, class_captions):
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"`labels` must be [n] with n = len(images) = {len(images)}; received shape {labels.shape}.")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= len(class_captions):
        raise ValueError(f"`labels` must be integers in [0, {len(class_captions)}) indexing `class_captions`.")
    for label, captions in enumerate(class_captions):
        if isinstance(captions, str) or len(captions) == 0:
            raise ValueError(f"`class_captions[{label}]` must be a non-empty list of str; received {captions!r}.")
    return labels.astype(np.int64)


def class_batches(images, labels, class_captions, vocab, max_length=64, classes_per_batch=None, seed=0):
    """An endless ``tf.data`` pipeline of batches with one image/caption pair per distinct class.

    Each element is ``((images float32 [B, h, w, c], text ids int32 [B, max_length]), labels int32 [B])``:
    B distinct classes drawn at random, for each a random image of it and a random one of its captions.
    B defaults to the number of classes present in ``labels``. Deterministic for a given ``seed``; use
    ``steps_per_epoch`` / ``steps`` in ``fit``/``evaluate``.
    """
    import tensorflow as tf

    vocab = CharVocab.coerce(vocab)
    labels = _check_labelled(images, labels, class_captions)
    present = np.unique(labels)
    batch = len(present) if classes_per_batch is None else classes_per_batch
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or not 2 <= batch <= len(present):
        raise ValueError(f"`classes_per_batch` must be an integer in [2, {len(present)}] (classes present); "
                         f"received {classes_per_batch!r}.")

    def padded_table(groups):
        counts = np.array([len(g) for g in groups], np.int64)
        table = np.zeros((len(groups), counts.max()), np.int64)
        for row, group in enumerate(groups):
            table[row, : len(group)] = group
        return tf.constant(table), tf.constant(counts, tf.float32)

    image_table, image_counts = padded_table([np.flatnonzero(labels == c) for c in present])
    flat_captions = [caption for c in present for caption in class_captions[c]]
    starts = np.cumsum([0] + [len(class_captions[c]) for c in present])
    caption_table, caption_counts = padded_table([np.arange(starts[k], starts[k + 1]) for k in range(len(present))])
    all_images = tf.constant(as_image_batch(images))
    all_ids = tf.constant(vocab.encode(flat_captions, max_length))
    class_labels = tf.constant(present.astype(np.int32))

    def draw(step_seed):
        seeds = [tf.stack([step_seed, tf.constant(k, tf.int64)]) for k in range(3)]
        chosen = tf.argsort(tf.random.stateless_uniform([len(present)], seeds[0]))[:batch]
        picks = []
        for (table, counts), seed_k in zip(((image_table, image_counts), (caption_table, caption_counts)), seeds[1:]):
            slot = tf.cast(tf.random.stateless_uniform([batch], seed_k) * tf.gather(counts, chosen), tf.int64)
            slot = tf.minimum(slot, tf.cast(tf.gather(counts, chosen), tf.int64) - 1)
            picks.append(tf.gather_nd(table, tf.stack([tf.cast(chosen, tf.int64), slot], axis=1)))
        return (tf.gather(all_images, picks[0]), tf.gather(all_ids, picks[1])), tf.gather(class_labels, chosen)

    return tf.data.Dataset.random(seed=seed).map(draw, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def class_embeddings(model, class_captions, max_length=64, batch_size=256):
    """ψ̄_c: the mean text embedding of each class's captions, float32 [classes, d]."""
    vocab = model.vocab
    if vocab is None:
        raise ValueError("the model's text encoder has no `vocab`; it is needed to encode the captions.")
    for label, captions in enumerate(class_captions):
        if isinstance(captions, str) or len(captions) == 0:
            raise ValueError(f"`class_captions[{label}]` must be a non-empty list of str; received {captions!r}.")
    # One pass over all captions (one traced shape), then the mean per class.
    ids = vocab.encode([caption for captions in class_captions for caption in captions], max_length)
    embeddings = model.text_encoder.predict(ids, batch_size=batch_size, verbose=0)
    ends = np.cumsum([len(captions) for captions in class_captions])
    return np.stack([part.mean(axis=0) for part in np.split(embeddings, ends[:-1])]).astype(np.float32)


def zero_shot_accuracy(model, images, labels, class_captions, max_length=64, batch_size=256):
    """Accuracy of classifying images by their best-matching class text: argmax_c ⟨φ(v), ψ̄_c⟩ == label.

    ψ̄_c is the mean embedding of ``class_captions[c]`` (Reed et al.'s zero-shot protocol); ``labels`` index
    ``class_captions``.
    """
    labels = _check_labelled(images, labels, class_captions)
    prototypes = class_embeddings(model, class_captions, max_length, batch_size)
    image_embeddings = model.image_encoder.predict(as_image_batch(images), batch_size=batch_size, verbose=0)
    predictions = np.argmax(image_embeddings @ prototypes.T, axis=1)
    return float(np.mean(predictions == labels))
