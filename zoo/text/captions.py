"""Caption templates that turn class labels into varied short texts ("a handwritten digit seven", "the number
7", "a photo of a sneaker"), for training and evaluating text encoders on labelled image sets.

Each class has a few names (synonyms, numerals); each dataset has a few templates; a class's captions are
every template filled with every name, shuffled deterministically by ``seed``. :func:`split_templates`
keeps some templates aside so a model can be evaluated on phrasings it never saw.
"""

from __future__ import annotations

import numbers

import numpy as np

from zoo.validation import check_positive_ints

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

CLASS_NAMES = {
    "mnist": [[word, str(digit)] for digit, word in enumerate(DIGIT_WORDS)],
    "fashion_mnist": [
        ["t-shirt", "top", "tee"],
        ["trousers", "pants"],
        ["pullover", "sweater", "jumper"],
        ["dress"],
        ["coat", "jacket"],
        ["sandal"],
        ["shirt", "button-up shirt"],
        ["sneaker", "running shoe"],
        ["bag", "handbag"],
        ["ankle boot", "boot"],
    ],
}

TEMPLATES = {
    "mnist": [
        "a handwritten digit {name}",
        "the number {name}",
        "a picture of the digit {name}",
        "{name}",
        "an image of a handwritten {name}",
        "the numeral {name}, written by hand",
        "someone wrote the digit {name}",
        "a scanned {name} on a white form",
    ],
    "fashion_mnist": [
        "a photo of a {name}",
        "a picture of the {name}",
        "{name}",
        "a grayscale image of a {name}",
        "a product photo: {name}",
        "a small photo of someone's {name}",
        "this is a {name}",
        "an item of clothing: the {name}",
    ],
}


def _check_name(name):
    if name not in CLASS_NAMES:
        raise ValueError(f"`name` must be one of {', '.join(map(repr, CLASS_NAMES))}; received name={name!r}.")
    return name


def class_captions(name: str = "mnist", templates=None, seed: int = 0) -> list[list[str]]:
    """Captions per class: ``result[label]`` is the list of texts for that label.

    Args:
        name: "mnist" or "fashion_mnist" (picks the class names and the default templates).
        templates: format strings with one ``{name}`` field (default ``TEMPLATES[name]``).
        seed: the order of each class's captions.
    """
    _check_name(name)
    templates = TEMPLATES[name] if templates is None else list(templates)
    if not templates:
        raise ValueError("`templates` must hold at least one format string with a {name} field.")
    for template in templates:
        if not isinstance(template, str) or "{name}" not in template:
            raise ValueError(f"every template needs a {{name}} field; received {template!r}.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an integer; received {seed!r}.")
    rng = np.random.default_rng(seed)
    captions = []
    for names in CLASS_NAMES[name]:
        texts = [template.format(name=n) for template in templates for n in names]
        captions.append([texts[i] for i in rng.permutation(len(texts))])
    return captions


def split_templates(name: str = "mnist", held_out: int = 2, seed: int = 0) -> tuple[list[str], list[str]]:
    """(training templates, held-out templates): ``held_out`` templates chosen by ``seed`` are kept aside."""
    templates = TEMPLATES[_check_name(name)]
    if isinstance(held_out, bool) or not isinstance(held_out, numbers.Integral) or not 0 < held_out < len(templates):
        raise ValueError(f"`held_out` must be an integer in [1, {len(templates) - 1}]; received {held_out!r}.")
    order = np.random.default_rng(seed).permutation(len(templates))
    kept = sorted(order[held_out:])
    aside = sorted(order[:held_out])
    return [templates[i] for i in kept], [templates[i] for i in aside]


def train_captioned_mnist(name: str = "mnist", data_dir=None, epochs: int = 5, seed: int = 0,
                          train_size: int | None = 10_000, test_size: int | None = 2_000,
                          steps_per_epoch: int = 200, embedding_dim: int = 64, max_length: int = 64,
                          learning_rate: float = 2e-3, verbose: int = 0) -> dict:
    """Train a char-GRU text encoder with a small CNN by DS-SJE on captioned (Fashion-)MNIST; return metrics.

    Captions come from :func:`class_captions` with the templates of :func:`split_templates`: six templates
    train, two are held out. Reported, on ``test_size`` held-out test images:

    * ``zero_shot_accuracy``: argmax_c ⟨φ(image), ψ̄_c⟩ over the 10 classes, ψ̄_c the mean embedding of
      the training captions of class c;
    * ``zero_shot_accuracy_unseen_templates``: the same with ψ̄_c from the two held-out templates only;
    * ``top1``: text→image retrieval within batches of one test image/caption pair per class (chance 0.1).

    ``data_dir`` is the folder of the four IDX files (default: the shared ``../shared/data/<name>``).
    Usable from a notebook; takes about a minute on two CPU cores with the defaults.
    """
    import time

    import keras

    from zoo.data.idx import load_idx_dataset
    from zoo.data.paths import find_shared_data
    from zoo.seeding import set_seed
    from zoo.text.encoders import CharRNNEncoder
    from zoo.text.joint_embedding import JointEmbedding, class_batches, zero_shot_accuracy
    from zoo.text.vocab import CharVocab

    _check_name(name)
    check_positive_ints(epochs=epochs, steps_per_epoch=steps_per_epoch)
    started = time.perf_counter()
    set_seed(seed)
    directory = find_shared_data(name) if data_dir is None else data_dir
    train_images, train_labels = load_idx_dataset(directory, "train")
    test_images, test_labels = load_idx_dataset(directory, "test")
    rng = np.random.default_rng(seed)
    if train_size is not None:
        keep = rng.permutation(len(train_images))[:train_size]
        train_images, train_labels = train_images[keep], train_labels[keep]
    if test_size is not None:
        keep = rng.permutation(len(test_images))[:test_size]
        test_images, test_labels = test_images[keep], test_labels[keep]

    seen, unseen = split_templates(name, held_out=2, seed=seed)
    train_captions = class_captions(name, seen, seed=seed)
    unseen_captions = class_captions(name, unseen, seed=seed)
    vocab = CharVocab()
    text_encoder = CharRNNEncoder(vocab, embedding_dim=32, cell="gru", units=128, output_dim=embedding_dim)
    model = JointEmbedding(text_encoder)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    history = model.fit(
        class_batches(train_images, train_labels, train_captions, vocab, max_length, seed=seed),
        epochs=epochs, steps_per_epoch=steps_per_epoch, shuffle=False, verbose=verbose,
    )
    evaluation = model.evaluate(
        class_batches(test_images, test_labels, train_captions, vocab, max_length, seed=seed + 1),
        steps=max(1, len(test_images) // 10), verbose=verbose, return_dict=True,
    )
    return {
        "dataset": name,
        "zero_shot_accuracy": zero_shot_accuracy(model, test_images, test_labels, train_captions, max_length),
        "zero_shot_accuracy_unseen_templates": zero_shot_accuracy(
            model, test_images, test_labels, unseen_captions, max_length),
        "top1": float(evaluation["top1"]),
        "test_loss": float(evaluation["loss"]),
        "train_loss": float(history.history["loss"][-1]),
        "train_top1": float(history.history["top1"][-1]),
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "train_size": len(train_images),
        "test_size": len(test_images),
        "seconds": round(time.perf_counter() - started, 1),
        "model": model,
    }
