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


def label_font(size: int):
    """PIL's default font at ``size`` px (the fixed bitmap font on pillow < 10.1)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def labelled_grid(images, row_labels, title: str, value_range=(0.0, 1.0), scale: int = 2):
    """``images`` [rows, columns, h, w] or [rows, columns, h, w, 1|3] as a PIL image that says what it shows: a
    ``title`` line above (what the columns are) and each row's label at its left, the tiles enlarged ``scale``
    times (nearest neighbour)."""
    from PIL import Image, ImageDraw

    images = np.asarray(images, dtype=np.float64)
    if images.ndim not in (4, 5) or len(row_labels) != images.shape[0]:
        raise ValueError(f"expected images [rows, columns, h, w(, c)] with one label per row, got shape "
                         f"{images.shape} and {len(row_labels)} labels")
    rows, columns = images.shape[:2]
    grid = image_grid(images.reshape(rows * columns, *images.shape[2:]), columns=columns, value_range=value_range)
    tiles = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).convert("RGB")
    tiles = tiles.resize((tiles.width * scale, tiles.height * scale), Image.NEAREST)
    font_size = 12
    font = label_font(font_size)
    label_width = 8 + max(int(ImageDraw.Draw(tiles).textlength(str(label), font=font)) for label in row_labels)
    top = font_size + 8
    title_width = 8 + int(ImageDraw.Draw(tiles).textlength(title, font=font))
    canvas = Image.new("RGB", (max(label_width + tiles.width, title_width), top + tiles.height), "white")
    canvas.paste(tiles, (label_width, top))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 3), title, fill="black", font=font)
    row_height = tiles.height / rows
    for row, label in enumerate(row_labels):
        draw.text((4, top + row * row_height + row_height / 2 - font_size / 2), str(label), fill="black", font=font)
    return canvas
