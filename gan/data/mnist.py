"""MNIST and Fashion-MNIST with captions from their class names ("a handwritten digit seven", "a photo of a
sneaker"), read from the IDX files by :mod:`zoo.data.idx`."""

from __future__ import annotations

import numpy as np

from gan.data.captions import CLASS_NAMES, class_caption_lists, pick_captions
from gan.data.examples import Examples, check_split
from zoo.validation import check_int

NAMES = ("mnist", "fashion_mnist")


def load_mnist_like(name: str, split: str = "train", data_dir=None, limit: int | None = None,
                    seed: int = 0) -> Examples:
    """``split`` of ``name`` as :class:`Examples` with grey native-size images ``uint8 [n, 28, 28]``.

    ``data_dir`` holds the four IDX files (``train-images-idx3-ubyte.gz`` ...); without it TensorFlow Datasets
    downloads the set. ``limit`` keeps a seeded random subset of that many images.
    """
    from zoo.data.mnist import load_mnist_like as read

    if name not in NAMES:
        raise ValueError(f"name must be one of {', '.join(NAMES)}, got {name!r}")
    check_split(split)
    limit = check_int(limit, "limit", minimum=1, allow_none=True)
    seed = check_int(seed, "seed", minimum=0)
    images, labels = read(name, data_dir, split)
    ids = np.arange(len(images))
    if limit is not None and limit < len(images):
        ids = np.sort(np.random.default_rng([seed, 31337]).choice(len(images), size=limit, replace=False))
        images, labels = images[ids], labels[ids]
    labels = labels.astype(np.int32)
    groups = class_caption_lists(name, seed=seed)
    return Examples(images=images, captions=pick_captions(groups, labels, seed), labels={"class": labels},
                    class_names=list(CLASS_NAMES[name]), caption_groups=groups, caption_group=labels, ids=ids)
