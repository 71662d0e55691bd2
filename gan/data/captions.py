"""Captions for class-labelled image sets: MNIST and Fashion-MNIST reuse :mod:`zoo.text.captions`; flowers get
their own templates ("a photo of a pink primrose, a kind of flower").

A class's captions are every template filled with every name of the class, shuffled deterministically by
``seed``; an example's caption is drawn from its class's list with a seeded generator.
"""

from __future__ import annotations

import re

import numpy as np

from gan.data.shapes import fix_articles
from zoo.text import captions as zoo_captions

FLOWER_TEMPLATES = (
    "a photo of a {name}, a kind of flower",
    "a {name} in bloom",
    "this flower is a {name}",
    "a close-up photo of a {name}",
    "a picture of a {name} flower",
    "the {name}, a flowering plant",
    "a {name} blossom with its petals open",
    "an image of a single {name}",
    "a garden flower: the {name}",
    "a bright photo of the {name}",
)

# The official Oxford-102 category names, label 1..102 in order (used when a data folder has no class_names.json).
FLOWER_NAMES = (
    "pink primrose", "hard-leaved pocket orchid", "canterbury bells", "sweet pea", "english marigold",
    "tiger lily", "moon orchid", "bird of paradise", "monkshood", "globe thistle", "snapdragon", "colt's foot",
    "king protea", "spear thistle", "yellow iris", "globe-flower", "purple coneflower", "peruvian lily",
    "balloon flower", "giant white arum lily", "fire lily", "pincushion flower", "fritillary", "red ginger",
    "grape hyacinth", "corn poppy", "prince of wales feathers", "stemless gentian", "artichoke", "sweet william",
    "carnation", "garden phlox", "love in the mist", "mexican aster", "alpine sea holly", "ruby-lipped cattleya",
    "cape flower", "great masterwort", "siam tulip", "lenten rose", "barbeton daisy", "daffodil", "sword lily",
    "poinsettia", "bolero deep blue", "wallflower", "marigold", "buttercup", "oxeye daisy", "common dandelion",
    "petunia", "wild pansy", "primula", "sunflower", "pelargonium", "bishop of llandaff", "gaura", "geranium",
    "orange dahlia", "pink-yellow dahlia", "cautleya spicata", "japanese anemone", "black-eyed susan",
    "silverbush", "californian poppy", "osteospermum", "spring crocus", "bearded iris", "windflower",
    "tree poppy", "gazania", "azalea", "water lily", "rose", "thorn apple", "morning glory", "passion flower",
    "lotus", "toad lily", "anthurium", "frangipani", "clematis", "hibiscus", "columbine", "desert-rose",
    "tree mallow", "magnolia", "cyclamen", "watercress", "canna lily", "hippeastrum", "bee balm", "ball moss",
    "foxglove", "bougainvillea", "camellia", "mallow", "mexican petunia", "bromelia", "blanket flower",
    "trumpet creeper", "blackberry lily",
)

CLASS_NAMES = {
    "mnist": [names[0] for names in zoo_captions.CLASS_NAMES["mnist"]],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"],
}

# Extra phrasings (GAN-INT-CLS style) added to zoo.text's templates.
EXTRA_TEMPLATES = {
    "mnist": ("the number {name} written by hand", "a white digit {name} on a black background"),
    "fashion_mnist": ("a {name}, a kind of clothing", "a black and white photo of a {name}"),
}


def class_caption_lists(name: str, seed: int = 0, class_names=None) -> list[list[str]]:
    """``result[label]``: the captions of class ``label`` (0-based) of dataset ``name``.

    ``name`` is ``mnist`` / ``fashion_mnist`` (names and templates from :mod:`zoo.text.captions` plus
    :data:`EXTRA_TEMPLATES`) or ``flowers102`` (``class_names``, default :data:`FLOWER_NAMES`, with
    :data:`FLOWER_TEMPLATES`).
    """
    if name in zoo_captions.CLASS_NAMES:
        templates = list(zoo_captions.TEMPLATES[name]) + list(EXTRA_TEMPLATES[name])
        lists = zoo_captions.class_captions(name, templates=templates, seed=seed)
    elif name == "flowers102":
        names = FLOWER_NAMES if class_names is None else class_names
        rng = np.random.default_rng(seed)
        lists = []
        for flower in names:
            texts = [template.format(name=flower) for template in FLOWER_TEMPLATES]
            lists.append([texts[i] for i in rng.permutation(len(texts))])
    else:
        raise ValueError(f"no class captions for dataset {name!r}; expected mnist, fashion_mnist or flowers102")
    return [[fix_articles(text) for text in texts] for texts in lists]


def pick_captions(groups: list[list[str]], group_of_example: np.ndarray, seed: int) -> list[str]:
    """One caption per example, drawn from its group with a generator seeded by ``seed``."""
    rng = np.random.default_rng([seed, 104729])
    sizes = np.array([len(group) for group in groups])
    picks = (rng.random(len(group_of_example)) * sizes[group_of_example]).astype(np.int64)
    return [groups[g][p] for g, p in zip(group_of_example.tolist(), picks.tolist())]


def words_of(text: str) -> list[str]:
    """The distinct words (runs of letters, lowercased) of ``text`` in the order they first occur."""
    return list(dict.fromkeys(re.findall(r"[a-z]+", str(text).lower())))


def caption_words(captions) -> list[str]:
    """The distinct words of ``captions`` (:func:`words_of`), sorted: what a text-to-image model records of its
    training captions (:attr:`gan.model.TextToImageGAN.caption_words`)."""
    words = set()
    for caption in captions:
        words.update(words_of(caption))
    return sorted(words)
