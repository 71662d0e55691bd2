"""Named text-to-image training recipes: the settings of :class:`gan.train.T2IConfig` that a recipe fixes.

A recipe is plain data, one dict per name. ``T2IConfig(recipe=NAME)`` takes every setting below that the caller
leaves at ``None`` from the recipe; anything passed explicitly wins. ``kzoo train t2i --recipe NAME`` does the same.

* ``reed2016``: the paper's GAN-INT-CLS (Reed et al., ICML 2016): the binary cross-entropy GAN-CLS loss,
  the text tiled into D's 4×4 features, transposed convolutions in G, BatchNorm in both, Adam 2e-4 for both,
  no matching term and no weight average; the char-RNN text encoder pretrained by DS-SJE.
* ``matching``: kzoo's first recipe: ``reed2016`` with G at 1e-3, one-sided label smoothing 0.9, the
  generator's matching term against the frozen DS-SJE image encoder (weight 8, hardest caption) and the weight
  average of G (decay 0.99).
* ``charcnn``: the ``matching`` recipe with the char-CNN text encoder (``zoo.text.CharCNNEncoder``, max-over-time
  pooling), which composes colour and shape words never seen together, pretrained for 1,500 DS-SJE steps.
* ``charcnn-ms``: the default, chosen by the ablation in bench/README.md: ``charcnn`` with the mode-seeking term
  (Mao et al. 2019) at weight 0.03, which spreads the samples of one caption (diversity ratio 0.25-0.29 -> above
  0.5) without losing composition. Hinge loss, spectral normalisation, the projection discriminator, DiffAugment
  and resize-convolution stay options (``kzoo train t2i --loss hinge --spectral-norm ...``): at equal CPU time
  none of them helped on ``shapes``.
"""

from __future__ import annotations

REED2016 = {
    "loss": "bce", "spectral_norm": False, "conditioning": "concat", "augment": [], "upsampling": "deconv",
    "learning_rate": 2e-4, "d_learning_rate": 2e-4, "real_label": 1.0, "matching_weight": 0.0,
    "matching_negatives": "mean", "ema_decay": 0.0, "text_encoder": "rnn", "pretrain_steps": 4000,
    "diversity_weight": 0.0,
}
MATCHING = {**REED2016, "learning_rate": 1e-3, "real_label": 0.9, "matching_weight": 8.0,
            "matching_negatives": "hardest", "ema_decay": 0.99}
CHARCNN = {**MATCHING, "text_encoder": "cnn", "pretrain_steps": 1500}
RECIPES = {
    "reed2016": REED2016,
    "matching": MATCHING,
    "charcnn": CHARCNN,
    "charcnn-ms": {**CHARCNN, "diversity_weight": 0.03},
}

DEFAULT_RECIPE = "charcnn-ms"

# Every setting a recipe fixes (the same keys in each).
RECIPE_KEYS = tuple(RECIPES[DEFAULT_RECIPE])


def recipe_settings(name: str) -> dict:
    """A copy of recipe ``name``'s settings; ValueError naming the recipes for an unknown one."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    settings = dict(RECIPES[name])
    settings["augment"] = list(settings["augment"])
    return settings
