"""``make_dataset``: batched ``tf.data`` pipelines of ``{"image", "caption", "label", "description"}`` for every
dataset.

The examples are held once as tensors and served by index: the index stream is shuffled, repeated and batched,
then each batch gathers its images, resizes (MNIST) or crops and flips (flowers, Reed et al.: load at 76/64 of
the size, random crop, horizontal flip), scales to [-1, 1] and picks a caption. Randomness comes from stateless
ops keyed by ``tf.data.Dataset.random(seed)``, so a pipeline is reproducible for a given seed.
"""

from __future__ import annotations

from gan.data.loaders import load_raw
from zoo.validation import check_int


def make_dataset(name: str, split: str = "train", batch_size: int = 64, image_size: int = 64, seed: int = 0,
                 data_dir=None, captions_dir=None, shuffle: bool = True, augment: bool | None = None,
                 repeat: bool = False, limit: int | None = None, resample_captions: bool | None = None,
                 cache_dir=None, examples=None):
    """A ``tf.data.Dataset`` of batches ``{"image": float32 [B, S, S, 3] in [-1, 1], "caption": string [B],
    "label": int32 [B], "description": int32 [B]}`` (for shapes ``"label"`` is a dict of int32 ``[B]``: shape,
    colour, size, position). ``"description"`` is :meth:`gan.data.Examples.description_keys`: equal exactly for
    examples whose captions describe the same thing.

    Args:
        name, split, image_size, seed, data_dir, captions_dir, limit, cache_dir: as for
            :func:`gan.data.load_examples`.
        batch_size: examples per batch; the train split drops the last incomplete batch.
        shuffle: reshuffle the examples every pass.
        augment: default ``split == "train"``; flowers only (shapes and digits must keep their left/right
            meaning): random crop from a 76/64-times larger image and random horizontal flip.
        repeat: repeat forever.
        resample_captions: default ``split == "train"``; draw each example's caption afresh every time it is
            served, from all its alternatives (all of Reed's lines for the image, or all class-name captions
            of its class, or many phrasings of a shapes image), instead of the fixed seeded caption.
        examples: the :func:`gan.data.load_raw` examples of this name, split and settings when the caller has
            loaded them already (to read their captions too); loaded here otherwise.
    """
    import tensorflow as tf

    batch_size = check_int(batch_size, "batch_size", minimum=1)
    augment = split == "train" if augment is None else bool(augment)
    resample_captions = split == "train" if resample_captions is None else bool(resample_captions)
    raw = examples if examples is not None else load_raw(name, split, image_size, seed, data_dir, captions_dir,
                                                         limit, augment=augment, cache_dir=cache_dir)
    n = len(raw)
    drop_remainder = split == "train"
    if drop_remainder and n < batch_size:
        raise ValueError(f"{name} {split} has only {n} examples, fewer than batch_size={batch_size}; "
                         f"lower batch_size or raise limit")

    images = tf.constant(raw.images)
    grey = raw.images.ndim == 3
    crop = not grey and raw.images.shape[1] > image_size
    labels = {key: tf.constant(value, tf.int32) for key, value in raw.labels.items()}
    descriptions = tf.constant(raw.description_keys(), tf.int32)
    fixed_captions = tf.constant(list(raw.captions), tf.string)
    if resample_captions:
        groups = tf.ragged.constant(raw.caption_groups, dtype=tf.string)
        flat, starts, lengths = groups.flat_values, groups.row_starts(), groups.row_lengths()
        group_of = tf.constant(raw.caption_group, tf.int64)

    def fetch(index, key):
        seeds = tf.random.experimental.stateless_split(tf.stack([key, tf.constant(seed, tf.int64)]), 3)
        count = tf.shape(index)[0]
        image = tf.gather(images, index)
        if grey:
            image = tf.image.resize(tf.cast(image[..., None], tf.float32), (image_size, image_size))
            image = tf.image.grayscale_to_rgb(image)
        else:
            image = tf.cast(image, tf.float32)
        if crop:
            room = raw.images.shape[1] - image_size + 1
            offsets = tf.random.stateless_uniform([count, 2], seeds[0], 0, room, dtype=tf.int32)
            span = tf.range(image_size)
            image = tf.gather(image, offsets[:, :1] + span, axis=1, batch_dims=1)
            image = tf.gather(image, offsets[:, 1:] + span, axis=2, batch_dims=1)
        if augment and crop:
            flip = tf.random.stateless_uniform([count], seeds[1]) < 0.5
            image = tf.where(flip[:, None, None, None], tf.reverse(image, axis=[2]), image)
        image = tf.clip_by_value(image, 0.0, 255.0) / 127.5 - 1.0
        image = tf.ensure_shape(image, [None, image_size, image_size, 3])
        if resample_captions:
            group = tf.gather(group_of, index)
            size = tf.gather(lengths, group)
            pick = tf.cast(tf.random.stateless_uniform([count], seeds[2]) * tf.cast(size, tf.float32), tf.int64)
            caption = tf.gather(flat, tf.gather(starts, group) + tf.minimum(pick, size - 1))
        else:
            caption = tf.gather(fixed_captions, index)
        if "class" in labels:
            label = tf.gather(labels["class"], index)
        else:
            label = {key: tf.gather(value, index) for key, value in labels.items()}
        return {"image": image, "caption": caption, "label": label, "description": tf.gather(descriptions, index)}

    indices = tf.data.Dataset.range(n)
    if shuffle:
        indices = indices.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        indices = indices.repeat()
    indices = indices.batch(batch_size, drop_remainder=drop_remainder)
    dataset = tf.data.Dataset.zip((indices, tf.data.Dataset.random(seed=seed)))
    dataset = dataset.map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)
