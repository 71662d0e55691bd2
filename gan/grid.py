"""Sample grids with each row's caption written beside it (pillow), saved as PNG."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from zoo.images import image_format, image_grid, save_image


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def _visible_part(caption: str, characters: int, lines: int) -> str:
    """The start of ``caption`` that :func:`textwrap.wrap` needs for its first ``lines`` lines of ``characters``:
    textwrap's time grows with the square of a long word, so a 10 MB caption would take minutes. A line holds at
    most ``characters`` characters after its whitespace; the cut keeps twice the shown text and one line more, and
    the wrapped lines that are drawn equal those of the whole caption unless a run of whitespace longer than that
    precedes them."""
    return caption[: 2 * characters * (lines + 1)]


def captioned_grid(images, captions, caption_width: int | None = None, padding: int = 2) -> Image.Image:
    """``images`` [rows, columns, S, S, 3] in [−1, 1] and one caption per row → a PIL image.

    Each row of samples is preceded by its caption, wrapped to fit ``caption_width`` pixels (default 5·S,
    within 160..320).
    """
    images = np.asarray(images)
    if images.ndim != 5 or images.shape[-1] != 3:
        raise ValueError(f"expected images [rows, columns, S, S, 3], got shape {images.shape}")
    rows, columns, size = images.shape[0], images.shape[1], images.shape[2]
    caption_width = caption_width or int(np.clip(5 * size, 160, 320))
    if len(captions) != rows:
        raise ValueError(f"got {len(captions)} captions for {rows} rows of images")
    tiles = image_grid(images.reshape(rows * columns, *images.shape[2:]), columns=columns, padding=padding,
                       value_range=(-1.0, 1.0))
    canvas = Image.new("RGB", (caption_width + tiles.shape[1], tiles.shape[0]), "white")
    canvas.paste(Image.fromarray(tiles), (caption_width, 0))
    draw = ImageDraw.Draw(canvas)
    font_size = max(9, min(14, size // 4))
    font = _font(font_size)
    characters = max(8, int(caption_width / (0.55 * font_size)))
    shown_lines = max(1, size // (font_size + 2))
    for row, caption in enumerate(captions):
        lines = textwrap.wrap(_visible_part(str(caption), characters, shown_lines), characters)[:shown_lines] or [""]
        top = padding + row * (size + padding)
        for index, line in enumerate(lines):
            draw.text((4, top + index * (font_size + 2)), line, fill="black", font=font)
    return canvas


def save_captioned_grid(images, captions, path: str | os.PathLike, **kwargs) -> Path:
    """Write :func:`captioned_grid` as a PNG or JPEG after ``path``'s extension, atomically."""
    image_format(path)  # before any work
    return save_image(captioned_grid(images, captions, **kwargs), path)


def save_interpolation_grid(images, caption_a: str, caption_b: str, path: str | os.PathLike) -> Path:
    """``images`` [n, steps, S, S, 3] from :meth:`TextToImageGAN.interpolate`, one row per noise vector, labelled
    with the two captions."""
    images = np.asarray(images)
    label = f"{caption_a}  ->  {caption_b}"
    return save_captioned_grid(images, [label] * images.shape[0], path)
