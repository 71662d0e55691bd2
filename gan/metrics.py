"""Evaluating a text-to-image model (``kzoo evaluate t2i``).

* ``shapes``: an attribute classifier (one small CNN, four softmax heads: shape, colour, size, position),
  trained on real renderings of every attribute combination, judges images generated for the held-out
  captions (combinations the GAN never saw); we report its own accuracy on fresh real renderings too.
* class-labelled datasets (mnist, fashion_mnist, flowers102): a CNN trained on the real training images
  classifies images generated for test captions (its accuracy on the real test images is the ceiling), and
  text→image retrieval by R-precision: a separate joint embedding (DS-SJE, trained on the real training data,
  never the evaluated model's own encoder) ranks each generated image's caption against 99 captions of other
  classes; R-precision is the fraction ranked first (AttnGAN's protocol with R = 1; chance is 1 %).
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
    batches = class_batches(train.images, labels, captions, encoder.vocab, max_length=max(1, min(max_length, longest)),
                            seed=seed, classes_per_batch=min(32, len(np.unique(labels))))
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
    ``shapes`` :func:`evaluate_shapes`, for ``flowers102`` :func:`gan.flowers_metrics.evaluate_flowers`, for the
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
        from gan.flowers_metrics import evaluate_flowers

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
