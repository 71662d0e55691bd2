"""``shapes``: a synthetic captioned dataset generated on the fly, deterministic by seed.

Each image holds one shape (circle, square, triangle, star) of one of eight colours, in one of two sizes, centred
in one of the four quadrants of a plain black background, with a little random jitter of position, size and
hue. Captions come from a dozen templates with synonyms for every attribute value ("a small red circle in the
top left", "top left: a tiny crimson disc", ...).

Held-out combinations: the (shape, colour) pairs in :data:`HELDOUT_COMBINATIONS` never appear in the train
split; the test split consists of exactly those pairs (every size and position), so a text-to-image model can
be evaluated on descriptions it has never seen, although it saw each of their shapes and colours with other
partners.

Shapes are drawn antialiased: a coverage mask per (shape, size, scale step, image size) is drawn once with PIL at
4x resolution and box-downsampled, then placed and tinted with NumPy, so 20,000 images take about a second.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from gan.data.examples import Examples, check_image_size, check_split
from zoo.validation import check_int

SHAPES = ("circle", "square", "triangle", "star")

# Saturated RGB values, every pair more than 100 apart (Euclidean), so a small classifier separates them.
COLOURS = {
    "red": (225, 20, 30),
    "green": (30, 200, 40),
    "blue": (40, 80, 255),
    "yellow": (245, 230, 20),
    "magenta": (230, 40, 230),
    "cyan": (30, 225, 235),
    "orange": (255, 128, 0),
    "white": (245, 245, 245),
}

SIZES = ("small", "large")

POSITIONS = ("top left", "top right", "bottom left", "bottom right")

ATTRIBUTES = {"shape": SHAPES, "colour": tuple(COLOURS), "size": SIZES, "position": POSITIONS}

BACKGROUND = (0, 0, 0)

# (shape, colour) pairs never used for training; each shape keeps at least 6 training colours and each colour
# 3 training shapes. The test split is exactly these pairs, in every size and position.
HELDOUT_COMBINATIONS = (
    ("circle", "yellow"),
    ("square", "cyan"),
    ("square", "orange"),
    ("triangle", "red"),
    ("star", "blue"),
    ("star", "magenta"),
)

SYNONYMS = {
    "shape": {
        "circle": ("circle", "disc", "round dot"),
        "square": ("square", "box", "block"),
        "triangle": ("triangle", "triangular shape", "wedge"),
        "star": ("star", "five-pointed star", "starburst"),
    },
    "colour": {
        "red": ("red", "crimson", "scarlet"),
        "green": ("green", "emerald", "lime"),
        "blue": ("blue", "cobalt", "sapphire"),
        "yellow": ("yellow", "golden", "lemon"),
        "magenta": ("magenta", "fuchsia", "pink"),
        "cyan": ("cyan", "turquoise", "aqua"),
        "orange": ("orange", "tangerine", "amber"),
        "white": ("white", "snowy", "ivory"),
    },
    "size": {
        "small": ("small", "tiny", "little"),
        "large": ("large", "big", "huge"),
    },
    "position": {
        "top left": ("top left", "upper left", "top-left corner"),
        "top right": ("top right", "upper right", "top-right corner"),
        "bottom left": ("bottom left", "lower left", "bottom-left corner"),
        "bottom right": ("bottom right", "lower right", "bottom-right corner"),
    },
}

TEMPLATES = (
    "a {size} {colour} {shape} in the {position}",
    "{position}: a {size} {colour} {shape}",
    "there is a {size} {colour} {shape} at the {position}",
    "a {colour} {shape}, {size}, in the {position}",
    "in the {position} there is a {size} {shape} coloured {colour}",
    "a {size} {shape} in {colour} sits in the {position}",
    "the {position} holds a {size} {colour} {shape}",
    "one {size} {colour} {shape}, placed in the {position}",
    "a picture of a {size} {colour} {shape} in the {position} on a black background",
    "{colour} {shape}, {size}, {position}",
    "a {colour} {shape} that is {size}, in the {position} of the image",
    "look: a {size} {colour} {shape} in the {position}",
)

DEFAULT_SIZES = {"train": 20_000, "test": 2_000}
CAPTIONS_PER_COMBINATION = 64

_RADIUS = {"small": 7.0, "large": 12.0}  # in pixels of a 64x64 image, scaled with the image size: large enough
# that the four shapes stay distinct at 32x32 (with radius 5 a judge told them apart only 92 % of the time)
_SCALE_STEPS = (0.9, 0.95, 1.0, 1.05, 1.1)  # size jitter, in these steps so masks can be cached
_SHIFT = 2.0  # position jitter, +-pixels at 64x64
_HUE_JITTER = 10  # +- per RGB channel
_SUPERSAMPLE = 4
_ARTICLE = re.compile(r"\b([aA]) (?=[aeiouAEIOU])")


def _check(attribute: str, value):
    if value not in ATTRIBUTES[attribute]:
        raise ValueError(f"unknown {attribute} {value!r}; expected one of {', '.join(ATTRIBUTES[attribute])}")
    return value


def fix_articles(text: str) -> str:
    """'a' -> 'an' before a vowel ("a orange disc" -> "an orange disc")."""
    return _ARTICLE.sub(lambda match: match.group(1) + "n ", text)


def caption(shape: str, colour: str, size: str, position: str, rng: np.random.Generator | None = None) -> str:
    """A caption of one image: a random template filled with a random synonym of each attribute value.

    Without ``rng`` the first template and the plain names are used ("a small red circle in the top left").
    """
    values = {"shape": _check("shape", shape), "colour": _check("colour", colour),
              "size": _check("size", size), "position": _check("position", position)}
    if rng is None:
        return TEMPLATES[0].format(**values)
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    words = {}
    for attribute, value in values.items():
        choices = SYNONYMS[attribute][value]
        words[attribute] = choices[int(rng.integers(len(choices)))]
    return fix_articles(template.format(**words))


def combinations(split: str = "train") -> list[tuple[str, str, str, str]]:
    """All (shape, colour, size, position) tuples of ``split``: ``train`` excludes and ``test``/``heldout`` is
    exactly the (shape, colour) pairs of :data:`HELDOUT_COMBINATIONS`."""
    if split == "heldout":
        split = "test"
    check_split(split)
    heldout = set(HELDOUT_COMBINATIONS)
    return [(shape, colour, size, position)
            for shape in SHAPES for colour in COLOURS for size in SIZES for position in POSITIONS
            if ((shape, colour) in heldout) == (split == "test")]


def _polygon(centre: float, radius: float, count: int, start: float = -90.0) -> list[tuple[float, float]]:
    angles = [math.radians(start + 360.0 * k / count) for k in range(count)]
    return [(centre + radius * math.cos(a), centre + radius * math.sin(a)) for a in angles]


@functools.lru_cache(maxsize=None)
def _mask(shape: str, radius: float) -> np.ndarray:
    """float32 coverage ``[m, m]`` of ``shape`` of ``radius`` pixels, centred on the pixel corner (m/2, m/2)."""
    from PIL import Image, ImageDraw

    half = math.ceil(1.25 * radius) + 1
    big, r, c = 2 * half * _SUPERSAMPLE, radius * _SUPERSAMPLE, half * _SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    if shape == "circle":
        draw.ellipse([c - r, c - r, c + r - 1, c + r - 1], fill=255)
    elif shape == "square":
        h = 0.85 * r
        draw.rectangle([c - h, c - h, c + h - 1, c + h - 1], fill=255)
    elif shape == "triangle":
        # equilateral, pointing up, centroid at the centre
        draw.polygon(_polygon(c - 0.5, 1.15 * r, 3), fill=255)
    elif shape == "star":
        outer, inner = _polygon(c - 0.5, 1.2 * r, 5), _polygon(c - 0.5, 0.45 * r, 5, start=-54.0)
        draw.polygon([point for pair in zip(outer, inner) for point in pair], fill=255)
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")
    small = canvas.resize((2 * half, 2 * half), Image.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _centre(position: str, image_size: int) -> tuple[int, int]:
    """(row, column) pixel corner at the centre of ``position``'s quadrant."""
    row = image_size // 4 if position.startswith("top") else (3 * image_size) // 4
    column = image_size // 4 if position.endswith("left") else (3 * image_size) // 4
    return row, column


def _paint(image: np.ndarray, mask: np.ndarray, row: int, column: int, rgb: np.ndarray) -> None:
    """Blend ``rgb`` into ``image`` (uint8 [S, S, 3], in place) with coverage ``mask`` centred at (row, column)."""
    size, half = image.shape[0], mask.shape[0] // 2
    top, left = row - half, column - half
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + mask.shape[0], size), min(left + mask.shape[1], size)
    if r0 >= r1 or c0 >= c1:
        return
    cover = mask[r0 - top:r1 - top, c0 - left:c1 - left, None]
    region = image[r0:r1, c0:c1].astype(np.float32)
    image[r0:r1, c0:c1] = np.rint(region + cover * (rgb - region)).astype(np.uint8)


def render(shape: str, colour: str, size: str, position: str, image_size: int = 64,
           jitter_rng: np.random.Generator | None = None) -> np.ndarray:
    """One image, uint8 ``[image_size, image_size, 3]``.

    With ``jitter_rng`` the shape is shifted by up to 2 px (at 64x64), scaled by 0.9-1.1 and its colour moved by
    up to +-10 per channel; without it the shape sits exactly at its quadrant's centre in the exact colour.
    """
    for attribute, value in (("shape", shape), ("colour", colour), ("size", size), ("position", position)):
        _check(attribute, value)
    image_size = check_image_size(image_size)
    if jitter_rng is None:
        step, shift, tint = _SCALE_STEPS.index(1.0), (0, 0), np.zeros(3)
    else:
        step, shift, tint = _draw_jitter(jitter_rng, 1, image_size)
        step, shift, tint = int(step[0]), tuple(shift[0]), tint[0]
    image = _blank(1, image_size)[0]
    _draw(image, shape, colour, size, position, step, shift, _tinted(colour, tint))
    return image


def _draw_jitter(rng: np.random.Generator, n: int, image_size: int):
    limit = max(1, round(_SHIFT * image_size / 64))
    steps = rng.integers(len(_SCALE_STEPS), size=n)
    shifts = rng.integers(-limit, limit + 1, size=(n, 2))
    tints = rng.integers(-_HUE_JITTER, _HUE_JITTER + 1, size=(n, 3))
    return steps, shifts, tints


def _blank(n: int, image_size: int) -> np.ndarray:
    images = np.zeros((n, image_size, image_size, 3), np.uint8)
    if any(BACKGROUND):
        images[...] = np.asarray(BACKGROUND, np.uint8)
    return images


def _tinted(colour, tint) -> np.ndarray:
    """float32 RGB of ``colour`` (a name, or names ``[n]``) moved by ``tint`` and clipped to [0, 255]."""
    if isinstance(colour, str):
        base = np.asarray(COLOURS[colour], np.float32)
    else:
        base = np.asarray([COLOURS[name] for name in colour], np.float32)
    return np.clip(base + tint, 0, 255)


def _draw(image, shape, colour, size, position, step, shift, rgb):
    """Paint one shape into ``image`` in place; ``rgb`` is the final (already jittered) float32 colour."""
    image_size = image.shape[0]
    radius = _RADIUS[size] * image_size / 64 * _SCALE_STEPS[step]
    row, column = _centre(position, image_size)
    _paint(image, _mask(shape, round(radius, 3)), row + int(shift[0]), column + int(shift[1]), rgb)


def _caption_groups(combos, seed: int) -> list[list[str]]:
    """``CAPTIONS_PER_COMBINATION`` distinct-ish captions per combination, deterministic by ``seed``."""
    groups = []
    for index, combo in enumerate(combos):
        rng = np.random.default_rng([seed, 7919, index])
        groups.append([caption(*combo, rng=rng) for _ in range(CAPTIONS_PER_COMBINATION)])
    return groups


@functools.lru_cache(maxsize=8)
def _generate(n: int, split: str, image_size: int, seed: int) -> Examples:
    combos = combinations(split)
    rng = np.random.default_rng([seed, SPLITS_INDEX[split]])
    # cycle through shuffled copies of all combinations so every combination is (nearly) equally frequent
    rounds = -(-n // len(combos))
    order = np.concatenate([rng.permutation(len(combos)) for _ in range(rounds)])[:n]
    steps, shifts, tints = _draw_jitter(rng, n, image_size)
    rgbs = _tinted([combos[c][1] for c in order], tints)
    images = _blank(n, image_size)
    for i, c in enumerate(order.tolist()):
        _draw(images[i], *combos[c], steps[i], shifts[i], rgbs[i])
    groups = _caption_groups(combos, seed)
    picks = rng.integers(CAPTIONS_PER_COMBINATION, size=n)
    captions = [groups[c][p] for c, p in zip(order, picks)]
    labels = {}
    for position, (attribute, values) in enumerate(ATTRIBUTES.items()):
        table = np.array([values.index(combo[position]) for combo in combos], np.int32)
        labels[attribute] = table[order]
    images.flags.writeable = False
    for value in labels.values():
        value.flags.writeable = False
    return Examples(images=images, captions=captions, labels=labels, class_names=None,
                    caption_groups=groups, caption_group=order.astype(np.int32), ids=np.arange(n))


SPLITS_INDEX = {"train": 0, "test": 1}


def shapes_examples(n: int | None = None, split: str = "train", image_size: int = 64, seed: int = 0) -> Examples:
    """``n`` images of ``split`` (default 20,000 train / 2,000 test), identical for equal arguments.

    The arrays are cached per process and read-only; ``labels`` index into :data:`ATTRIBUTES`.
    """
    if split == "heldout":
        split = "test"
    check_split(split)
    n = DEFAULT_SIZES[split] if n is None else check_int(n, "n", minimum=1)
    image_size = check_image_size(image_size)
    seed = check_int(seed, "seed", minimum=0)
    cached = _generate(n, split, image_size, seed)
    return Examples(images=cached.images, captions=list(cached.captions), labels=dict(cached.labels),
                    class_names=None, caption_groups=cached.caption_groups, caption_group=cached.caption_group,
                    ids=cached.ids)
