"""Reed-style captions of a flower from its class name and the colours measured in its pixels.

Reed et al. (2016) trained on ten crowd-sourced captions per image ("this flower has white petals and a yellow
stamen"). Without that folder, kzoo writes ten captions per image in the same style from what
:mod:`gan.data.flower_colours` measures (petal and centre colour) and the image's class name, each from one of
:data:`TRAINING_TEMPLATES`; :data:`HELDOUT_TEMPLATES` are phrasings never used in training, kept for evaluation
(does the model follow a colour asked for in words it has not seen in that order?).
"""

from __future__ import annotations

#: The ten phrasings every training image gets.
TRAINING_TEMPLATES = (
    "this flower has {petal} petals and a {centre} center",
    "a flower with {petal} petals and a {centre} center",
    "the petals of this flower are {petal} and the center is {centre}",
    "this {name} has {petal} petals",
    "a {name} with {petal} petals and a {centre} center",
    "this flower is {petal} in color, with a {centre} center",
    "the flower has {petal} petals surrounding a {centre} center",
    "{petal} petals surround the {centre} center of this {name}",
    "this is a {petal} flower with a {centre} center",
    "a picture of a {name}, its petals are {petal}",
)
#: Phrasings kept out of training, for evaluation.
HELDOUT_TEMPLATES = (
    "this flower has petals that are {petal} and a center that is {centre}",
    "a {petal} {name} with a {centre} center",
    "the center of this flower is {centre} and its petals are {petal}",
    "this {name} is {petal} with a {centre} center",
    "a flower whose petals are {petal}, around a {centre} center",
)


def flower_captions(name: str, petal: str, centre: str, templates=TRAINING_TEMPLATES) -> list[str]:
    """One caption per template for a flower of class ``name`` with ``petal`` and ``centre`` colours."""
    return [template.format(name=name.lower(), petal=petal, centre=centre) for template in templates]
