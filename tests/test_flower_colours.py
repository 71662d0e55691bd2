"""The flower colour extractor (gan.data.flower_colours): CIELAB against published values, the naming table, a
drawn flower, and agreement with the hand labels of tests/data/flower_colour_labels.json on real Oxford-102 images."""

import json
from pathlib import Path

import numpy as np
import pytest

from gan.data import flower_colours as fc

LABELS = Path(__file__).parent / "data" / "flower_colour_labels.json"


@pytest.mark.parametrize("rgb, lab", [
    ((255, 255, 255), (100.0, 0.0, 0.0)),
    ((0, 0, 0), (0.0, 0.0, 0.0)),
    ((255, 0, 0), (53.24, 80.09, 67.20)),  # CIE 1976 L*a*b* of sRGB primaries, D65 (Lindbloom's calculator)
    ((0, 255, 0), (87.73, -86.18, 83.18)),
    ((0, 0, 255), (32.30, 79.19, -107.86)),
])
def test_srgb_to_lab_matches_published_values(rgb, lab):
    np.testing.assert_allclose(fc.srgb_to_lab(np.array(rgb, np.uint8)), lab, atol=0.02)


def test_every_reference_colour_is_named_by_its_own_name():
    for name, references in fc.COLOUR_TABLE.items():
        for rgb in references:
            assert fc.colour_name(fc.srgb_to_lab(np.array(rgb, np.float64))) == name, (name, rgb)


def drawn_flower(petal, centre, background=(40, 110, 40), size=96):
    """Petals: a disc of radius 0.35 of the width in ``petal``; a centre disc of radius 0.08 in ``centre``."""
    coordinates = (np.arange(size) + 0.5) / size - 0.5
    radius = np.hypot(*np.meshgrid(coordinates, coordinates, indexing="ij"))
    image = np.empty((size, size, 3), np.uint8)
    image[:] = background
    image[radius < 0.35] = petal
    image[radius < 0.08] = centre
    return image


@pytest.mark.parametrize("petal, centre, expected", [
    ((130, 60, 160), (250, 220, 40), ("purple", "yellow")),
    ((250, 250, 250), (245, 140, 30), ("white", "orange")),
    ((210, 25, 35), (20, 15, 20), ("red", "black")),
])
def test_a_drawn_flower_on_leaves(petal, centre, expected):
    assert fc.flower_colours(drawn_flower(petal, centre)) == expected


def test_not_an_rgb_image_is_refused():
    with pytest.raises(ValueError, match=r"RGB image \[H, W, 3\]"):
        fc.flower_colours(np.zeros((32, 32), np.uint8))


def agreement(images_dir, labels):
    from PIL import Image

    petal = centre = 0
    for image_id, (petal_label, centre_label) in labels.items():
        with Image.open(images_dir / f"image_{int(image_id):05d}.jpg") as image:
            found = fc.flower_colours(np.asarray(image.convert("RGB")))
        petal += found[0] == petal_label
        centre += found[1] == centre_label
    return petal / len(labels), centre / len(labels)


def test_agreement_with_the_hand_labels(shared_data_dir, tmp_path):
    """Measured when the extractor was written: petal 0.75 / centre 0.60 on the 48 images its settings were chosen
    on, 0.88 / 0.50 on the 24 validation images labelled beforehand and never tuned on."""
    from gan.data.flowers import cached_extraction

    archive = shared_data_dir / "oxford_flowers102" / "102flowers.tgz"
    if not archive.is_file():
        pytest.skip(f"{archive} not found (Oxford-102 flowers in the shared data folder)")
    images_dir = cached_extraction(archive, tmp_path) / "jpg"
    labels = json.loads(LABELS.read_text())
    petal, centre = agreement(images_dir, labels["labels"])
    assert petal >= 0.75 and centre >= 0.6
    petal, centre = agreement(images_dir, labels["validation"])
    assert petal >= 0.875 and centre >= 0.5
