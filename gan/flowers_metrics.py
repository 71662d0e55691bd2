"""How well a text-to-image model draws Oxford-102 flowers: what ``kzoo evaluate t2i`` reports for ``flowers102``.

Captions are the held-out phrasings (:data:`gan.data.flower_captions.HELDOUT_TEMPLATES`, never trained on) of
real images' class names and measured colours, for images of the training classes ("seen") and of Reed et al.'s
20 held-out classes ("unseen"). One image is generated per caption, and:

* **Colour accuracy**: :func:`gan.data.flower_colours.flower_colours` run on the generated image agrees with the
  petal / centre colour the caption asked for. The real images at the model's size, measured the same way against
  their captions (written from the images at the training load size), give the ceiling.
* **Judge accuracy**: a small CNN trained on real images of all 102 classes (setid.mat's train split, cached: see
  :func:`gan.metrics.class_classifier`) classifies the generated images, top-1 and top-5, beside the same figures
  for real images it never saw (setid.mat's test split) of the same classes.
* **Fréchet distance** between the judge's penultimate features of generated and real images (FID's formula in
  the judge's feature space), beside the distance between two disjoint halves of the real images as the floor.
* **R-precision** of the generated images against their class captions through a joint embedding trained for
  evaluation only (:func:`gan.metrics.retrieval_embedding`), beside the real images'.
* **Diversity ratio**: spread of 16 samples of one caption over that of 16 real images of its class.
"""

from __future__ import annotations

import numpy as np

SEEN, UNSEEN = "seen", "unseen"


def colour_accuracy(images, petal, centre) -> dict:
    """Share of ``images`` (uint8, or float in [−1, 1]) whose measured petal / centre colour (indices into
    ``COLOUR_NAMES``) is the one asked for, and of both at once."""
    from gan.data.flower_colours import COLOUR_NAMES, flower_colours

    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
    found = [flower_colours(image) for image in images]
    petal_hit = np.array([f[0] == COLOUR_NAMES[p] for f, p in zip(found, petal)])
    centre_hit = np.array([f[1] == COLOUR_NAMES[c] for f, c in zip(found, centre)])
    return {"petal": float(petal_hit.mean()), "centre": float(centre_hit.mean()),
            "both": float((petal_hit & centre_hit).mean())}


def top_k_accuracy(probabilities, labels, k: int) -> float:
    """Share of rows whose label is among the ``k`` largest probabilities."""
    top = np.argsort(-np.asarray(probabilities), axis=1)[:, :k]
    return float(np.mean(np.any(top == np.asarray(labels)[:, None], axis=1)))


def frechet_distance(a, b) -> float:
    """‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2(Σ_a Σ_b)^½) between the Gaussians fitted to feature rows ``a`` and ``b``
    (Heusel et al. 2017)."""
    from scipy import linalg

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"the Fréchet distance needs at least 2 rows on each side, got {len(a)} and {len(b)}")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(cov_a @ cov_b)
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * np.real(root)))


def judge_features(classifier):
    """The judge's penultimate layer (the last hidden Dense) as a model: images in [−1, 1] → features."""
    import keras

    dense = [layer for layer in classifier.layers if isinstance(layer, keras.layers.Dense)]
    return keras.Model(classifier.inputs, dense[-2].output)


def heldout_requests(examples, samples: int, seed: int):
    """``samples`` (or all) examples drawn with ``seed``, each with a held-out phrasing of its class name and
    colours (phrasings in turn): (indices, captions)."""
    from gan.data.flower_captions import HELDOUT_TEMPLATES
    from gan.data.flower_colours import COLOUR_NAMES

    pick = np.sort(np.random.default_rng(seed).permutation(len(examples))[:samples])
    captions = []
    for k, index in enumerate(pick):
        name = examples.class_names[examples.labels["class"][index]].lower()
        captions.append(HELDOUT_TEMPLATES[k % len(HELDOUT_TEMPLATES)].format(
            name=name, petal=COLOUR_NAMES[examples.labels["petal"][index]],
            centre=COLOUR_NAMES[examples.labels["centre"][index]]))
    return pick, captions


def evaluate_flowers(model, data_dir, seed: int = 0, samples: int = 500) -> dict:
    """The metrics of the module docstring for a :class:`gan.model.TextToImageGAN` trained on ``flowers102``
    (Reed et al.'s split, pixel captions), as one JSON-ready dict."""
    from gan.data import load_examples
    from gan.data.captions import class_caption_lists
    from gan.data.flowers import load_flowers102
    from gan.data.loaders import load_size
    from gan.metrics import _to_unit, class_classifier, generate_for, pairwise_rms, r_precision, retrieval_embedding

    size = model.image_size
    classifier, classifier_accuracy = class_classifier("flowers102", size, data_dir)
    features = judge_features(classifier)
    joint = retrieval_embedding("flowers102", size, data_dir)
    # Real images the judge never saw (setid.mat's test split), by whether their class is trained on.
    official = load_examples("flowers102", "test", size, seed + 7, data_dir, protocol="official", captions="class")
    class_captions = class_caption_lists("flowers102", seed=seed, class_names=official.class_names)
    result = {"dataset": "flowers102", "image_size": size, "samples_per_group": samples,
              "judge_accuracy_on_its_test_split": classifier_accuracy["class"]}
    for group, split in ((SEEN, "train"), (UNSEEN, "test")):
        at_size = load_flowers102(data_dir, split, size, seed=seed)
        as_trained = load_flowers102(data_dir, split, load_size("flowers102", size, augment=True), seed=seed)
        if not np.array_equal(at_size.ids, as_trained.ids):
            raise ValueError("the prepared flowers at two sizes hold different images; delete kzoo's flowers cache")
        pick, captions = heldout_requests(as_trained, samples, seed)
        labels = np.asarray(as_trained.labels["class"])[pick]
        petal, centre = (np.asarray(as_trained.labels[key])[pick] for key in ("petal", "centre"))
        generated = generate_for(model, captions, seed)
        real_pool = official.images[np.isin(official.labels["class"], np.unique(labels))]
        real_labels = official.labels["class"][np.isin(official.labels["class"], np.unique(labels))]
        real_pick = np.random.default_rng(seed + 1).permutation(len(real_pool))[:2 * samples]
        real, real_labels = _to_unit(real_pool[real_pick]), np.asarray(real_labels)[real_pick]
        probabilities = classifier.predict(generated, batch_size=256, verbose=0)["class"]
        if not len(real):
            raise ValueError(f"no real test images (setid.mat's tstid) of the {group} classes to compare with")
        real_probabilities = classifier.predict(real, batch_size=256, verbose=0)["class"]
        fake_features = features.predict(generated, batch_size=256, verbose=0)
        real_features = features.predict(real, batch_size=256, verbose=0)
        half = len(real_features) // 2
        class_texts = [class_captions[label][0] for label in labels]
        real_texts = [class_captions[label][0] for label in real_labels]
        ratios = []
        for index in range(min(8, len(captions))):
            fakes = model.generate([captions[index]], n=16, z=model.fixed_noise(16, seed + index))[0]
            same_class = real[real_labels == labels[index]][:16]
            if len(same_class) >= 2:
                ratios.append(pairwise_rms(fakes) / pairwise_rms(same_class))
        result[group] = {
            "classes": int(len(np.unique(labels))), "captions": len(captions), "example_caption": captions[0],
            "colour_accuracy": colour_accuracy(generated, petal, centre),
            "colour_accuracy_real": colour_accuracy(at_size.images[pick], petal, centre),
            "judge_top1": top_k_accuracy(probabilities, labels, 1),
            "judge_top5": top_k_accuracy(probabilities, labels, 5),
            "judge_top1_real": top_k_accuracy(real_probabilities, real_labels, 1),
            "judge_top5_real": top_k_accuracy(real_probabilities, real_labels, 5),
            # None where too few images (or classes) make the figure meaningless: small data folders in tests
            "frechet_distance": frechet_distance(fake_features, real_features) if half >= 2 else None,
            "frechet_distance_real_halves": (frechet_distance(real_features[:half], real_features[half:])
                                             if half >= 2 else None),
            "r_precision": (r_precision(joint, generated, class_texts, labels, seed=seed)
                            if len(np.unique(labels)) >= 2 else None),
            "r_precision_real": (r_precision(joint, real, real_texts, real_labels, seed=seed)
                                 if len(np.unique(real_labels)) >= 2 else None),
            "diversity_ratio": float(np.mean(ratios)) if ratios else None,
        }
    return result


SUMMARY_ROWS = (  # (label, key in a group, key of its real reference or None)
    ("petal colour", ("colour_accuracy", "petal"), ("colour_accuracy_real", "petal")),
    ("centre colour", ("colour_accuracy", "centre"), ("colour_accuracy_real", "centre")),
    ("judge top-1", ("judge_top1",), ("judge_top1_real",)),
    ("judge top-5", ("judge_top5",), ("judge_top5_real",)),
    ("Fréchet distance (judge)", ("frechet_distance",), ("frechet_distance_real_halves",)),
    ("R-precision", ("r_precision",), ("r_precision_real",)),
    ("diversity ratio", ("diversity_ratio",), None),
)


def format_summary(result: dict) -> str:
    """A Markdown table of :func:`evaluate_flowers`'s result: generated against real, seen and unseen classes."""
    def value(group, path):
        item = result[group]
        for key in path:
            item = item[key]
        return "-" if item is None else f"{item:.3f}" if isinstance(item, float) else str(item)

    lines = ["| metric | seen: generated | seen: real | unseen: generated | unseen: real |",
             "|---|---|---|---|---|"]
    for label, path, real in SUMMARY_ROWS:
        cells = [value(group, path) for group in (SEEN, UNSEEN)]
        reals = [value(group, real) if real else "-" for group in (SEEN, UNSEEN)]
        lines.append(f"| {label} | {cells[0]} | {reals[0]} | {cells[1]} | {reals[1]} |")
    return "\n".join(lines)
