"""Evaluating a text-to-image model (``kzoo evaluate t2i``).

* ``shapes``: an attribute classifier (one small CNN, four softmax heads: shape, colour, size, position),
  trained on real renderings of every attribute combination, judges images generated for the held-out
  captions (combinations the GAN never saw); we report its own accuracy on fresh real renderings too.
* class-labelled datasets (mnist, fashion_mnist): a CNN trained on the real training images
  classifies images generated for test captions (its accuracy on the real test images is the ceiling), and
  text→image retrieval by R-precision: a separate joint embedding (DS-SJE, trained on the real training data,
  never the evaluated model's own encoder) ranks each generated image's caption against 99 captions of other
  classes; R-precision is the fraction ranked first (AttnGAN's protocol with R = 1; chance is 1 %).
* ``flowers102`` (:func:`evaluate_flowers`, the last section): colour accuracy on held-out phrasings for seen and
  unseen classes, a judge's top-1/top-5 accuracy, a Fréchet distance in the judge's features, R-precision.
* diversity: the mean pairwise RMS distance between samples for one caption, divided by the same for real
  images of that caption; near 0 means mode collapse.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import keras
import numpy as np

from gan.data.shapes import ATTRIBUTES, render, shapes_examples
from gan.generate import load_t2i
from zoo.cache import cache_dir as zoo_cache_dir
from zoo.cache import exclusive
from zoo.io import prepare_out_dir, save_model, write_json

ATTRIBUTE_NAMES = ("shape", "colour", "size", "position")


def cache_dir() -> Path:
    """Where evaluation classifiers are kept between runs: ``evaluation`` in kzoo's cache (:mod:`zoo.cache`)."""
    return zoo_cache_dir("evaluation")


def _to_unit(images):
    return np.asarray(images, np.float32) / 127.5 - 1.0


def build_classifier(image_size: int, heads: dict) -> keras.Model:
    """A small CNN with one softmax head per entry of ``heads`` (name → number of classes); inputs in [−1, 1]."""
    inputs = keras.Input((image_size, image_size, 3))
    x = inputs
    for filters in (32, 64, 64):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Dense(128, activation="relu")(keras.layers.Flatten()(x))
    outputs = {name: keras.layers.Dense(count, activation="softmax", name=name)(x) for name, count in heads.items()}
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss={name: "sparse_categorical_crossentropy"
                                                              for name in heads},
                  metrics={name: ["accuracy"] for name in heads})
    return model


def accuracies(model, images, labels: dict) -> dict:
    """Per-head accuracy, and ``all`` (every head right), of ``model`` on images in [−1, 1]."""
    predictions = model.predict(images, batch_size=256, verbose=0)
    predictions = predictions if isinstance(predictions, dict) else {next(iter(labels)): predictions}
    correct = {name: np.argmax(predictions[name], axis=-1) == np.asarray(labels[name]) for name in labels}
    result = {name: float(np.mean(hit)) for name, hit in correct.items()}
    if len(correct) > 1:
        result["all"] = float(np.mean(np.logical_and.reduce(list(correct.values()))))
    return result


def shapes_attribute_classifier(image_size: int = 64, seed: int = 0, train_size: int = 8000, epochs: int = 8):
    """The attribute judge for ``shapes`` and its accuracy on fresh real renderings of every combination.

    Trained once per (image size, seed) and cached under :func:`cache_dir`. Returns ``(model, accuracy)``.
    """
    path = cache_dir() / f"shapes_attributes_{image_size}px_seed{seed}.keras"
    heldout_path = path.with_suffix(".json")
    with exclusive(path):  # one process trains it, others running at the same time wait for it
        if path.is_file() and heldout_path.is_file():
            return keras.models.load_model(path, safe_mode=True), json.loads(heldout_path.read_text())
        keras.utils.set_random_seed(seed)
        parts = [shapes_examples(train_size, "train", image_size, seed + 101),
                 shapes_examples(train_size // 4, "test", image_size, seed + 102)]
        images = np.concatenate([_to_unit(part.images) for part in parts])
        labels = {name: np.concatenate([part.labels[name] for part in parts]) for name in ATTRIBUTE_NAMES}
        model = build_classifier(image_size, {name: len(ATTRIBUTES[name]) for name in ATTRIBUTE_NAMES})
        model.fit(images, labels, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
        fresh = [shapes_examples(1000, "train", image_size, seed + 103), shapes_examples(1000, "test", image_size,
                                                                                         seed + 104)]
        accuracy = accuracies(model, np.concatenate([_to_unit(part.images) for part in fresh]),
                              {name: np.concatenate([part.labels[name] for part in fresh]) for name in ATTRIBUTE_NAMES})
        prepare_out_dir(path.parent)
        save_model(model, path)
        write_json(accuracy, heldout_path)
        return model, accuracy


def pairwise_rms(images) -> float:
    """Mean RMS distance over all pairs of ``images`` [n, ...] (n >= 2)."""
    flat = np.asarray(images, np.float64).reshape(len(images), -1)
    squared = np.sum(flat ** 2, axis=1)
    distances = np.maximum(squared[:, None] + squared[None, :] - 2 * flat @ flat.T, 0.0) / flat.shape[1]
    upper = np.triu_indices(len(flat), k=1)
    return float(np.mean(np.sqrt(distances[upper])))


def shapes_diversity(model, seed: int = 0, captions: int = 8, per_caption: int = 16) -> dict:
    """Sample diversity for held-out captions against real renderings of the same attributes (with jitter)."""
    examples = shapes_examples(captions * 7, "test", model.image_size, seed + 105)
    rng = np.random.default_rng(seed)
    ratios = []
    for index in range(0, len(examples), 7)[:captions]:
        attributes = [ATTRIBUTES[name][examples.labels[name][index]] for name in ATTRIBUTE_NAMES]
        real = np.stack([render(*attributes, image_size=model.image_size, jitter_rng=rng)
                         for _ in range(per_caption)])
        fake = model.generate([examples.captions[index]], n=per_caption,
                              z=model.fixed_noise(per_caption, seed + index))[0]
        ratios.append(pairwise_rms(fake) / pairwise_rms(_to_unit(real)))
    return {"diversity_ratio": float(np.mean(ratios)), "diversity_ratio_min": float(np.min(ratios))}


def generate_for(model, captions, seed: int = 0, batch: int = 250) -> np.ndarray:
    """One image per caption, [n, S, S, 3] in [−1, 1], with noise fixed by ``seed``."""
    z = model.fixed_noise(len(captions), seed)
    chunks = [model.generate(captions[i:i + batch], n=1, z=z[i:i + batch])[:, 0]
              for i in range(0, len(captions), batch)]
    return np.concatenate(chunks)


def evaluate_shapes(model, seed: int = 0, samples: int = 1000) -> dict:
    """Attribute accuracy of images generated for ``samples`` held-out captions, plus diversity."""
    judge, judge_accuracy = shapes_attribute_classifier(model.image_size, seed=0)
    heldout = shapes_examples(samples, "test", model.image_size, seed + 7)
    generated = generate_for(model, list(heldout.captions), seed)
    result = {"dataset": "shapes", "heldout_captions": samples,
              "attribute_accuracy": accuracies(judge, generated, {name: heldout.labels[name]
                                                                  for name in ATTRIBUTE_NAMES}),
              "classifier_accuracy_on_real": judge_accuracy}
    result.update(shapes_diversity(model, seed))
    return result


def _data_key(*parts) -> str:
    """A short hash naming cached evaluation models per dataset location."""
    text = "|".join(str(Path(part).expanduser().resolve()) if part else "-" for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def class_classifier(dataset: str, image_size: int, data_dir=None, captions_dir=None, seed: int = 0,
                     max_steps: int = 3000, max_epochs: int = 30):
    """A CNN classifier of ``dataset``'s classes trained on its real training images, and its accuracy on the real
    test images (the ceiling for generated ones). Whole epochs up to about ``max_steps`` batches of 64 (at most
    ``max_epochs``); when one epoch is longer, one epoch over a random subset of ``max_steps`` batches. Cached under
    :func:`cache_dir`. Returns ``(model, accuracy)``."""
    from gan.data import load_examples
    path = cache_dir() / f"{dataset}_classifier_{image_size}px_seed{seed}_{_data_key(data_dir, captions_dir)}.keras"
    accuracy_path = path.with_suffix(".json")
    with exclusive(path):  # one process trains it, others running at the same time wait for it
        if path.is_file() and accuracy_path.is_file():
            return keras.models.load_model(path, safe_mode=True), json.loads(accuracy_path.read_text())
        keras.utils.set_random_seed(seed)
        train = load_examples(dataset, "train", image_size, seed, data_dir, captions_dir, **_class_split(dataset))
        test = load_examples(dataset, "test", image_size, seed, data_dir, captions_dir, **_class_split(dataset))
        classes = int(max(train.labels["class"].max(), test.labels["class"].max())) + 1
        model = build_classifier(image_size, {"class": classes})
        images, labels = train.images, train.labels["class"]
        if len(images) > 64 * max_steps:  # fewer steps than one epoch: a random subset of max_steps batches
            keep = np.sort(np.random.default_rng(seed).permutation(len(images))[:64 * max_steps])
            images, labels = images[keep], labels[keep]
        epochs = int(min(max_epochs, max(1, math.ceil(max_steps / math.ceil(len(images) / 64)))))
        model.fit(_to_unit(images), {"class": labels}, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
        accuracy = accuracies(model, _to_unit(test.images), {"class": test.labels["class"]})
        accuracy["epochs"] = epochs
        prepare_out_dir(path.parent)
        save_model(model, path)
        write_json(accuracy, accuracy_path)
        return model, accuracy


def retrieval_embedding(dataset: str, image_size: int, data_dir=None, captions_dir=None, seed: int = 0,
                        steps: int = 2000, max_length: int = 96):
    """The evaluation joint embedding of ``dataset``: a fresh char-RNN text encoder and a small CNN trained by
    DS-SJE (``zoo.text.JointEmbedding``) on the real training images and captions; cached under
    :func:`cache_dir`."""
    from gan.data import load_examples
    from gan.train import class_captions
    from zoo.text import CharRNNEncoder, CharVocab
    from zoo.text.joint_embedding import JointEmbedding, class_batches

    path = cache_dir() / f"{dataset}_retrieval_{image_size}px_seed{seed}_{_data_key(data_dir, captions_dir)}.keras"
    with exclusive(path):  # one process trains it, others running at the same time wait for it
        if path.is_file():
            return keras.models.load_model(path, safe_mode=True)
        keras.utils.set_random_seed(seed)
        train = load_examples(dataset, "train", image_size, seed, data_dir, captions_dir, **_class_split(dataset))
        labels, captions = class_captions(train)
        encoder = CharRNNEncoder(CharVocab(), embedding_dim=32, cell="gru", units=128, output_dim=256,
                                 name="text_encoder")
        joint = JointEmbedding(encoder, name="retrieval_embedding")
        joint.compile(optimizer=keras.optimizers.Adam(2e-3))
        # Padding is masked, so tokens cut at the longest caption train the same encoder in fewer recurrent steps
        # (MNIST's class-name captions: 41 characters of 96).
        longest = max(len(text) for group in captions for text in group)
        batches = class_batches(train.images, labels, captions, encoder.vocab,
                                max_length=max(1, min(max_length, longest)), seed=seed,
                                classes_per_batch=min(32, len(np.unique(labels))))
        joint.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)  # the stream is shuffled
        prepare_out_dir(path.parent)
        save_model(joint, path)
        return joint


def r_precision_of_embeddings(image_embeddings, text_embeddings, labels, candidates: int = 100,
                              seed: int = 0) -> float:
    """R-precision (R = 1) of matched rows: image i's own text i is ranked by the inner product against
    ``candidates − 1`` texts of other classes (drawn with ``seed``); the fraction ranked strictly first."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    hits = []
    for i in range(len(labels)):
        others = np.flatnonzero(labels != labels[i])
        if len(others) == 0:
            raise ValueError("R-precision needs captions of at least two classes")
        picks = rng.choice(others, size=candidates - 1, replace=len(others) < candidates - 1)
        scores = text_embeddings[np.concatenate([[i], picks])] @ image_embeddings[i]
        hits.append(scores[0] > scores[1:].max())
    return float(np.mean(hits))


def r_precision(joint, images, captions, labels, candidates: int = 100, seed: int = 0,
                max_length: int = 96) -> float:
    """Text→image R-precision of ``images`` [−1, 1] and their ``captions`` through the joint embedding ``joint``
    (:func:`r_precision_of_embeddings` of φ(images) and ψ(captions))."""
    from zoo.text.joint_embedding import as_image_batch

    text = joint.text_encoder.predict(joint.vocab.encode(list(captions), max_length), batch_size=256, verbose=0)
    image = joint.image_encoder.predict(as_image_batch((np.asarray(images, np.float32) + 1.0) / 2.0),
                                        batch_size=256, verbose=0)
    return r_precision_of_embeddings(image, text, labels, candidates, seed)


def _class_split(dataset: str) -> dict:
    """The class-level evaluation needs every class on both sides: for flowers, setid.mat's split (all 102 classes
    in train and test) with class-name captions, not Reed et al.'s class-disjoint training split."""
    return {"protocol": "official", "captions": "class"} if dataset == "flowers102" else {}


def evaluate_classes(model, dataset: str, data_dir=None, captions_dir=None, seed: int = 0,
                     samples: int = 1000) -> dict:
    """Class accuracy and R-precision of images generated for ``samples`` test captions of a class-labelled
    dataset, with the same two numbers for the real test images as the reference, plus diversity."""
    from gan.data import load_examples

    classifier, classifier_accuracy = class_classifier(dataset, model.image_size, data_dir, captions_dir)
    joint = retrieval_embedding(dataset, model.image_size, data_dir, captions_dir)
    test = load_examples(dataset, "test", model.image_size, seed + 7, data_dir, captions_dir,
                         **_class_split(dataset))
    pick = np.random.default_rng(seed).permutation(len(test))[:samples]
    captions = [test.captions[i] for i in pick]
    labels = np.asarray(test.labels["class"])[pick]
    real = _to_unit(test.images[pick])
    generated = generate_for(model, captions, seed)
    ratios = []
    for label in np.unique(labels)[:8]:
        index = int(np.flatnonzero(labels == label)[0])
        fake = model.generate([captions[index]], n=16, z=model.fixed_noise(16, seed + index))[0]
        same_class = real[labels == label][:16]
        if len(same_class) >= 2:
            ratios.append(pairwise_rms(fake) / pairwise_rms(same_class))
    return {
        "dataset": dataset, "test_captions": len(captions),
        "class_accuracy": accuracies(classifier, generated, {"class": labels})["class"],
        "class_accuracy_real": accuracies(classifier, real, {"class": labels})["class"],
        "r_precision": r_precision(joint, generated, captions, labels, seed=seed),
        "r_precision_real": r_precision(joint, real, captions, labels, seed=seed),
        "classifier_epochs": classifier_accuracy["epochs"],
        "diversity_ratio": float(np.mean(ratios)) if ratios else None,
    }


def evaluate_t2i(model_ref, seed: int = 0, samples: int = 1000, dataset: str | None = None, data_dir=None,
                 captions_dir=None) -> dict:
    """The metrics of a trained model (a `kzoo train t2i` folder or a .keras file), as a JSON-ready dict: for
    ``shapes`` :func:`evaluate_shapes`, for ``flowers102`` :func:`evaluate_flowers`, for the
    digit sets :func:`evaluate_classes`.

    The dataset and its files come from the run's ``config.json`` unless given; a bare ``.keras`` file is taken
    to be a ``shapes`` model unless ``dataset`` says otherwise.
    """
    model = load_t2i(model_ref)
    config_path = Path(model_ref) / "config.json" if isinstance(model_ref, (str, os.PathLike)) and \
        Path(model_ref).is_dir() else None
    config = json.loads(config_path.read_text()) if config_path and config_path.is_file() else {}
    dataset = dataset or config.get("dataset", "shapes")
    if dataset == "shapes":
        return evaluate_shapes(model, seed=seed, samples=samples)
    if dataset == "flowers102":
        return evaluate_flowers(model, data_dir or config.get("data_dir"), seed=seed, samples=samples)
    return evaluate_classes(model, dataset, data_dir or config.get("data_dir"),
                            captions_dir or config.get("captions_dir"), seed=seed, samples=samples)


def evaluate_preset(model, preset: Path, run: Path, data=None, data_dir=None, seed=0, samples=1000,
                    **_options) -> dict:
    """:func:`evaluate_t2i` of the preset in ``preset`` on the dataset (and files) of the run in ``run``: the
    evaluator of the ``t2i`` preset kind (:mod:`gan.family`)."""
    config_path = Path(run) / "config.json"
    settings = json.loads(config_path.read_text()) if config_path.is_file() else {}
    return evaluate_t2i(preset, seed=seed, samples=samples, dataset=settings.get("dataset"),
                        data_dir=settings.get("data_dir"), captions_dir=settings.get("captions_dir"))


# ------------------------------------------------------------------------------------------------ flowers
# How well a text-to-image model draws Oxford-102 flowers: what ``kzoo evaluate t2i`` reports for ``flowers102``.
#
# Captions are the held-out phrasings (:data:`gan.data.flower_captions.HELDOUT_TEMPLATES`, never trained on) of
# real images' class names and measured colours, for images of the training classes ("seen") and of Reed et al.'s
# 20 held-out classes ("unseen"). One image is generated per caption, and:
#
# * **Colour accuracy**: :func:`gan.data.flower_colours.flower_colours` run on the generated image agrees with the
#   petal / centre colour the caption asked for. The real images at the model's size, measured the same way against
#   their captions (written from the images at the training load size), give the ceiling.
# * **Judge accuracy**: a small CNN trained on real images of all 102 classes (setid.mat's train split, cached: see
#   :func:`gan.metrics.class_classifier`) classifies the generated images, top-1 and top-5, beside the same figures
#   for real images it never saw (setid.mat's test split) of the same classes.
# * **Fréchet distance** between the judge's penultimate features of generated and real images (FID's formula in
#   the judge's feature space), beside the distance between two disjoint halves of the real images as the floor.
# * **R-precision** of the generated images against their class captions through a joint embedding trained for
#   evaluation only (:func:`gan.metrics.retrieval_embedding`), beside the real images'.
# * **Diversity ratio**: spread of 16 samples of one caption over that of 16 real images of its class.


SEEN, UNSEEN = "seen", "unseen"  # the two groups of classes of the flowers evaluation


def flower_colour_accuracy(images, petal, centre) -> dict:
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
    (Heusel et al. 2017).

    tr((Σ_a Σ_b)^½) is computed as Σᵢ √λᵢ over the eigenvalues λ of the symmetric Σ_a^½ Σ_b Σ_a^½ (the same
    eigenvalues as Σ_a Σ_b), clipped at 0: exact for covariance matrices, and stable when they are singular (fewer
    rows than features), where a general matrix square root warns and loses accuracy."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"the Fréchet distance needs at least 2 rows on each side, got {len(a)} and {len(b)}")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)))
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root
    return float(max(distance, 0.0))  # >= 0 in exact arithmetic; rounding can leave -1e-6


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
    from gan.data.loaders import load_size
    from gan.data.tfds_flowers import load_prepared
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
        at_size = load_prepared(data_dir, split, size, seed=seed)
        as_trained = load_prepared(data_dir, split, load_size("flowers102", size, augment=True), seed=seed)
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
            "colour_accuracy": flower_colour_accuracy(generated, petal, centre),
            "colour_accuracy_real": flower_colour_accuracy(at_size.images[pick], petal, centre),
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


FLOWERS_SUMMARY_ROWS = (  # (label, key in a group, key of its real reference or None)
    ("petal colour", ("colour_accuracy", "petal"), ("colour_accuracy_real", "petal")),
    ("centre colour", ("colour_accuracy", "centre"), ("colour_accuracy_real", "centre")),
    ("judge top-1", ("judge_top1",), ("judge_top1_real",)),
    ("judge top-5", ("judge_top5",), ("judge_top5_real",)),
    ("Fréchet distance (judge)", ("frechet_distance",), ("frechet_distance_real_halves",)),
    ("R-precision", ("r_precision",), ("r_precision_real",)),
    ("diversity ratio", ("diversity_ratio",), None),
)


def format_flowers_summary(result: dict) -> str:
    """A Markdown table of :func:`evaluate_flowers`'s result: generated against real, seen and unseen classes."""
    def value(group, path):
        item = result[group]
        for key in path:
            item = item[key]
        return "-" if item is None else f"{item:.3f}" if isinstance(item, float) else str(item)

    lines = ["| metric | seen: generated | seen: real | unseen: generated | unseen: real |",
             "|---|---|---|---|---|"]
    for label, path, real in FLOWERS_SUMMARY_ROWS:
        cells = [value(group, path) for group in (SEEN, UNSEEN)]
        reals = [value(group, real) if real else "-" for group in (SEEN, UNSEEN)]
        lines.append(f"| {label} | {cells[0]} | {reals[0]} | {cells[1]} | {reals[1]} |")
    return "\n".join(lines)
