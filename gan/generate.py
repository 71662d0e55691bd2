"""Loading a trained text-to-image model and generating from captions: what ``kzoo generate`` runs."""

from __future__ import annotations

import os
import time
import warnings

import numpy as np

from gan.data.captions import words_of
from gan.grid import save_captioned_grid, save_interpolation_grid
from gan.model import TextToImageGAN
from zoo.images import image_format
from zoo.validation import NAME_ONLY, ArgumentError


def load_t2i(ref: str | os.PathLike, sha256: str | None = None) -> TextToImageGAN:
    """A :class:`TextToImageGAN` from a training folder (its ``model.keras``), a ``.keras`` file, or any other model
    reference of :func:`zoo.presets.load`: a preset name (``t2i-shapes-64``), a preset directory, or a URL with its
    ``sha256``. A model of another kind is refused."""
    from zoo.presets import load

    return load(ref, sha256=sha256, kind="t2i")


def caption_problems(caption: str, model) -> list[str]:
    """What the model will not read in ``caption``, one sentence each: text past its ``max_length`` (cut), a
    caption whose letters are mostly outside its alphabet (they all map to one unknown id), and one whose words are
    mostly absent from the model's training captions (:attr:`TextToImageGAN.caption_words`, when recorded)."""
    problems = []
    text = caption.strip()
    if len(text) > model.max_length:
        problems.append(f"caption {text[:30]!r}... is {len(text)} characters long; this model reads the first "
                        f"{model.max_length} and ignores the rest")
    ids = model.vocab.encode(text, model.max_length)[0]
    known = ids[ids != model.vocab.pad_id]
    if len(known) and np.mean(known == model.vocab.unk_id) > 0.5:
        problems.append(f"caption {text[:30]!r} is mostly characters this model's alphabet lacks "
                        f"({np.mean(known == model.vocab.unk_id):.0%} unknown); the picture will not follow it")
    elif getattr(model, "caption_words", None):
        words, known = words_of(text), set(model.caption_words)
        unseen = [word for word in words if word not in known]
        if words and len(unseen) > len(words) / 2:
            examples = ", ".join(repr(word) for word in unseen[:4]) + (", ..." if len(unseen) > 4 else "")
            problems.append(f"caption {text[:30]!r} is mostly words this model never saw in training "
                            f"({len(unseen)} of {len(words)}: {examples}); the picture will not follow it")
    return problems


def generate_grid(model_ref, captions, output, n: int = 8, seed: int = 0, interpolate: bool = False,
                  sha256: str | None = None) -> dict:
    """Generate ``n`` samples per caption (or, with ``interpolate``, ``n`` steps from the first caption to the
    second, for four noise vectors) and write a captioned PNG grid to ``output``.

    Captions are lowercased and characters outside the vocabulary map to the unknown id; an empty caption is
    refused, and one longer than the model's ``max_length`` (cut) or mostly unknown characters gets a warning
    (:func:`caption_problems`). ``output`` ends in .png or .jpg. Returns timings and the image shape.
    """
    captions = [captions] if isinstance(captions, str) else list(captions)
    if not captions:
        raise ValueError("give at least one caption")
    empty = [index + 1 for index, caption in enumerate(captions) if not str(caption).strip()]
    if empty:
        raise ValueError(f"caption {', '.join(map(str, empty))} is empty; describe the picture in words")
    image_format(output)  # an unknown extension fails before the model loads
    if interpolate and len(captions) != 2:
        raise ArgumentError(f"{{interpolate}} needs exactly two captions, got {len(captions)}",
                            interpolate=NAME_ONLY)
    model = load_t2i(model_ref, sha256) if not isinstance(model_ref, TextToImageGAN) else model_ref
    for caption in captions:
        for problem in caption_problems(caption, model):
            warnings.warn(problem, stacklevel=2)
    started = time.perf_counter()
    if interpolate:
        images = model.interpolate(captions[0], captions[1], steps=n, n=4, seed=seed)
        seconds = time.perf_counter() - started
        path = save_interpolation_grid(images, captions[0], captions[1], output)
    else:
        z = model.fixed_noise(len(captions) * n, seed)
        images = model.generate(captions, n=n, z=z)
        seconds = time.perf_counter() - started
        path = save_captioned_grid(images, captions, output)
    return {"output": str(path), "images": int(images.shape[0] * images.shape[1]), "seconds": seconds,
            "image_size": int(images.shape[-2])}
