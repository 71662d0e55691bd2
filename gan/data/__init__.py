"""Captioned image datasets for text-to-image models: NumPy :class:`Examples` and ``tf.data`` pipelines.

``shapes`` (generated, the default), ``mnist``, ``fashion_mnist`` and ``flowers102``; see
:func:`load_examples` and :func:`make_dataset`. Importing this package does not import TensorFlow.
"""

from gan.data.examples import SPLITS, Examples
from gan.data.loaders import DATASETS, load_examples
from gan.data.pipeline import make_dataset
from gan.data.shapes import (
    ATTRIBUTES,
    BACKGROUND,
    COLOURS,
    HELDOUT_COMBINATIONS,
    POSITIONS,
    SHAPES,
    SIZES,
    caption,
    combinations,
    render,
    shapes_examples,
)

__all__ = [
    "ATTRIBUTES", "BACKGROUND", "COLOURS", "DATASETS", "Examples", "HELDOUT_COMBINATIONS", "POSITIONS", "SHAPES",
    "SIZES", "SPLITS", "caption", "combinations", "load_examples", "make_dataset", "render", "shapes_examples",
]
