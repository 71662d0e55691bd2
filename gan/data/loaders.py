"""``load_examples``: any dataset of :data:`DATASETS` as NumPy :class:`Examples` at one image size."""

from __future__ import annotations

import numpy as np

from gan.data.examples import Examples, check_image_size, check_split
from zoo.validation import check_int

DATASETS = ("shapes", "mnist", "fashion_mnist", "flowers102")
# The folder of each file-backed dataset in the shared data folder (zoo.data.paths).
SHARED_FOLDERS = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "flowers102": "oxford_flowers102"}

# Reed et al. load flowers at 76x76 and crop 64x64; other sizes keep the ratio.
AUGMENT_LOAD_RATIO = 76 / 64


def check_name(name) -> str:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return name


def load_size(name: str, image_size: int, augment: bool) -> int:
    """The side at which ``name`` is loaded before cropping: larger than ``image_size`` only for augmented flowers."""
    if augment and name == "flowers102":
        return int(round(image_size * AUGMENT_LOAD_RATIO))
    return image_size


def load_raw(name, split="train", image_size=64, seed=0, data_dir=None, captions_dir=None, limit=None,
             augment=False, cache_dir=None, **flowers_options) -> Examples:
    """Examples in the dataset's own storage form: shapes at ``image_size``, flowers at :func:`load_size`,
    MNIST-like grey at 28x28 (the ``tf.data`` pipeline resizes on the fly rather than hold large copies).
    ``flowers_options`` (``protocol``, ``captions``) go to :func:`gan.data.flowers.load_flowers102`."""
    check_name(name)
    check_split(split)
    image_size = check_image_size(image_size)
    seed = check_int(seed, "seed", minimum=0)
    limit = check_int(limit, "limit", minimum=1, allow_none=True)
    if name != "flowers102" and captions_dir is not None:
        raise ValueError(f"captions_dir is only used by flowers102, not {name}; drop it")
    if name != "flowers102" and flowers_options:
        raise ValueError(f"{', '.join(flowers_options)} only apply to flowers102, not {name}; drop them")
    if name == "shapes":
        from gan.data.shapes import shapes_examples

        if data_dir is not None:
            raise ValueError("the shapes dataset is generated, it takes no data_dir; drop it")
        return shapes_examples(limit, split, image_size, seed)
    if data_dir is None:  # the shared data folder ($KZOO_SHARED_DATA) when it holds the set
        from zoo.data.paths import default_data_dir

        data_dir = default_data_dir(SHARED_FOLDERS[name])
    if name == "flowers102":
        from gan.data.flowers import PREPARED_IMAGE_SIZES, load_flowers102

        size = load_size(name, image_size, augment)
        if (captions_dir is None and not flowers_options.keys() - {"protocol", "captions"}
                and flowers_options.get("protocol", "reed2016") == "reed2016"
                and flowers_options.get("captions", "pixels") == "pixels" and size in PREPARED_IMAGE_SIZES):
            from gan.data.tfds_flowers import load_prepared  # the same examples, measured once, not every run

            return load_prepared(data_dir, split, size, limit, seed, cache_dir)
        return load_flowers102(data_dir, split, size, captions_dir=captions_dir, limit=limit, seed=seed,
                               cache_dir=cache_dir, **flowers_options)
    from gan.data.mnist import load_mnist_like

    return load_mnist_like(name, split, data_dir, limit=limit, seed=seed)


def linear_resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """float32 ``[n_out, n_in]`` weights of a (half-pixel, edge-clamped) linear resize; a wider triangle when
    shrinking, so downsampling averages rather than aliases."""
    scale = n_in / n_out
    width = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale
    weights = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in)[None, :] + 0.5 - centres[:, None]) / width)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def to_rgb(images: np.ndarray, image_size: int, chunk: int = 4096) -> np.ndarray:
    """uint8 ``[n, image_size, image_size, 3]`` from grey ``[n, h, w]`` or RGB ``[n, h, w, 3]`` uint8 images."""
    if images.ndim == 4 and images.shape[1:3] == (image_size, image_size):
        return images
    grey = images.ndim == 3
    rows = linear_resize_matrix(images.shape[1], image_size)
    cols = linear_resize_matrix(images.shape[2], image_size)
    out = np.empty((len(images), image_size, image_size, 3), np.uint8)
    for start in range(0, len(images), chunk):
        part = images[start:start + chunk].astype(np.float32)
        if grey:
            part = part[..., None]
        resized = np.einsum("ih,nhwc,jw->nijc", rows, part, cols, optimize=True)
        out[start:start + chunk] = np.clip(np.rint(resized), 0, 255).astype(np.uint8)
    return out


def load_examples(name: str, split: str = "train", image_size: int = 64, seed: int = 0, data_dir=None,
                  captions_dir=None, limit: int | None = None, cache_dir=None, **flowers_options) -> Examples:
    """``split`` of dataset ``name`` as :class:`Examples` with uint8 RGB images ``[n, image_size, image_size, 3]``.

    - ``shapes``: generated; ``test`` is the held-out (shape, colour) combinations; 20,000 / 2,000 images unless
      ``limit`` says otherwise; deterministic by ``seed``.
    - ``mnist`` / ``fashion_mnist``: IDX files in ``data_dir`` (TensorFlow Datasets when ``None``), upsampled and
      grey -> RGB, captioned from class names.
    - ``flowers102``: the official files in ``data_dir``, split by class as Reed et al. did (train: 82 classes,
      test: the other 20), captioned from Reed et al.'s text_c10 ``captions_dir`` or from each image's colours;
      extracted into ``cache_dir`` (see :func:`gan.data.flowers.cache_root`); ``flowers_options``
      (``protocol="official"``, ``captions="class"``) go to :func:`gan.data.flowers.load_flowers102`.

    ``limit`` keeps a seeded subset of that many images.
    """
    raw = load_raw(name, split, image_size, seed, data_dir, captions_dir, limit, augment=False, cache_dir=cache_dir,
                   **flowers_options)
    if raw.images.ndim == 4 and raw.images.shape[1] == image_size:
        return raw
    return Examples(images=to_rgb(raw.images, image_size), captions=raw.captions, labels=raw.labels,
                    class_names=raw.class_names, caption_groups=raw.caption_groups,
                    caption_group=raw.caption_group, ids=raw.ids)
