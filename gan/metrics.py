"""Evaluating a text-to-image model (``kzoo evaluate t2i``).

* ``shapes``: an attribute classifier (one small CNN, four softmax heads: shape, colour, size, position),
  trained on real renderings of every attribute combination, judges images generated for the held-out
  captions (combinations the GAN never saw); we report its own accuracy on fresh real renderings too.
* class-labelled datasets (mnist, fashion_mnist, flowers102): a CNN trained on the real training images
  classifies images generated for test captions.
* diversity: the mean pairwise RMS distance between samples for one caption, divided by the same for real
  images of that caption; near 0 means mode collapse.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from gan.data.shapes import ATTRIBUTES, render, shapes_examples
from gan.generate import load_t2i

ATTRIBUTE_NAMES = ("shape", "colour", "size", "position")


def cache_dir() -> Path:
    """Where evaluation classifiers are kept between runs: ``$KZOO_CACHE`` or ``~/.cache/kzoo``."""
    return Path(os.environ.get("KZOO_CACHE") or Path.home() / ".cache" / "kzoo")


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


def shapes_attribute_classifier(image_size: int = 64, seed: int = 0, train_size: int = 8000, epochs: int = 4):
    """The attribute judge for ``shapes`` and its accuracy on fresh real renderings of every combination.

    Trained once per (image size, seed) and cached under :func:`cache_dir`. Returns ``(model, accuracy)``.
    """
    path = cache_dir() / f"shapes_attributes_{image_size}px_seed{seed}.keras"
    heldout_path = path.with_suffix(".json")
    if path.is_file() and heldout_path.is_file():
        return keras.models.load_model(path, safe_mode=True), json.loads(heldout_path.read_text())
    from zoo import runtime

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
    runtime.prepare_out_dir(path.parent)
    runtime.save_model(model, path)
    runtime.write_json(accuracy, heldout_path)
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


def evaluate_t2i(model_ref, seed: int = 0, samples: int = 1000) -> dict:
    """The metrics of a trained model (a `kzoo train t2i` folder or a .keras file), as a JSON-ready dict."""
    model = load_t2i(model_ref)
    config_path = Path(model_ref) / "config.json" if Path(model_ref).is_dir() else None
    dataset = json.loads(config_path.read_text())["dataset"] if config_path and config_path.is_file() else "shapes"
    if dataset != "shapes":
        raise ValueError(f"evaluation of {dataset!r} models is not available yet; `kzoo evaluate t2i` scores "
                         "models trained on shapes")
    return evaluate_shapes(model, seed=seed, samples=samples)
