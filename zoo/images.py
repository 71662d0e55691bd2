"""Images as PNG grids: many samples in one picture."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zoo.io import atomic_path


def image_grid(images, columns: int | None = None, padding: int = 2, value_range=(0.0, 1.0)) -> np.ndarray:
    """Tile ``images`` [n, h, w] or [n, h, w, c] into one uint8 array [rows·(h+p)+p, columns·(w+p)+p, c]."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[0] == 0 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected images [n, h, w] or [n, h, w, 1|3] with n > 0, got shape {images.shape}")
    low, high = value_range
    images = np.clip((np.nan_to_num(images, nan=low) - low) / (high - low), 0.0, 1.0)
    n, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.ones((rows * (height + padding) + padding, columns * (width + padding) + padding, channels))
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top:top + height, left:left + width] = image
    return np.round(grid * 255).astype(np.uint8)


#: File name extension -> the format an image is written in.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def image_format(path: str | os.PathLike) -> str:
    """The format (``"PNG"`` or ``"JPEG"``) that ``path``'s extension names; ValueError for any other name."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_FORMATS:
        raise ValueError(f"{path}: cannot tell the image format from "
                         f"{repr(suffix) if suffix else 'a name without an extension'}; end the file name in "
                         f"{', '.join(IMAGE_FORMATS)}")
    return IMAGE_FORMATS[suffix]


def save_image(image, path: str | os.PathLike) -> Path:
    """Write a PIL image to ``path`` in the format its extension names (:func:`image_format`), atomically."""
    kind = image_format(path)
    with atomic_path(path) as temporary:
        image.save(temporary, format=kind, **({"quality": 95} if kind == "JPEG" else {}))
    return Path(path)


def save_image_grid(images, path: str | os.PathLike, columns: int | None = None,
                    value_range=(0.0, 1.0)) -> Path:
    """Write ``images`` as one grid (see :func:`image_grid`), a PNG or JPEG after ``path``'s extension,
    atomically."""
    from PIL import Image

    image_format(path)  # before any work
    grid = image_grid(images, columns=columns, value_range=value_range)
    return save_image(Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid), path)
