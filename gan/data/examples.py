"""The in-memory form every dataset loader returns, and the argument checks they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zoo.validation import check_int

SPLITS = ("train", "test")


@dataclass
class Examples:
    """Captioned images held as NumPy arrays.

    Attributes:
        images: uint8 ``[n, S, S, 3]`` (a loader's internal form may also be grey ``[n, h, w]``).
        captions: one caption per image (``list[str]``), chosen deterministically by the seed.
        labels: name -> int32 ``[n]``; ``shape``/``colour``/``size``/``position`` for shapes (indices into
            :data:`gan.data.shapes.ATTRIBUTES`), ``class`` (0-based) for the class-labelled datasets.
        class_names: names of the ``class`` labels, or ``None`` for shapes.
        caption_groups: alternative captions, one list per group, or ``None``; every example may be captioned
            by any text of its group (a training pipeline draws one afresh each time it serves the example).
        caption_group: int32 ``[n]``, each example's index into ``caption_groups`` (``None`` without groups).
        ids: int ``[n]`` identifiers of the source images (Oxford image numbers for flowers, row indices of the
            source files for MNIST, running indices for shapes).
    """

    images: np.ndarray
    captions: list
    labels: dict
    class_names: list | None = None
    caption_groups: list | None = None
    caption_group: np.ndarray | None = None
    ids: np.ndarray | None = field(default=None)

    def __len__(self) -> int:
        return len(self.images)

    def __post_init__(self):
        n = len(self.images)
        if len(self.captions) != n:
            raise ValueError(f"Examples: {n} images but {len(self.captions)} captions")
        for key, value in self.labels.items():
            if len(value) != n:
                raise ValueError(f"Examples: {n} images but {len(value)} {key!r} labels")
        if (self.caption_groups is None) != (self.caption_group is None):
            raise ValueError("Examples: caption_groups and caption_group must be given together")
        if self.caption_group is not None and len(self.caption_group) != n:
            raise ValueError(f"Examples: {n} images but {len(self.caption_group)} caption_group entries")

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    def description_keys(self) -> np.ndarray:
        """int32 ``[n]``, equal for two examples exactly when all their labels are: when their captions describe
        the same thing. For shapes the shape, colour, size and position; for flowers captioned from their pixels the
        class and the petal and centre colours (two lilies of other colours are described differently); for the
        datasets labelled by class alone, the class."""
        keys = np.zeros(len(self), np.int64)
        for name in sorted(self.labels):
            values = np.asarray(self.labels[name], np.int64)
            keys = keys * (int(values.max(initial=0)) + 1) + values
        _, dense = np.unique(keys, return_inverse=True)
        return dense.reshape(-1).astype(np.int32)


def check_split(split) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return split


def check_image_size(image_size) -> int:
    return check_int(image_size, "image_size", minimum=16)
