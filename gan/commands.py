"""``kzoo train t2i``, ``kzoo generate`` and ``kzoo evaluate t2i``: parsers (free of TensorFlow imports) over
:func:`gan.train.train_t2i`, :func:`gan.generate.generate_grid` and :func:`gan.metrics.evaluate_t2i`."""

from __future__ import annotations

import argparse
import json
import os
import sys

from gan.recipes import DEFAULT_RECIPE, RECIPE_KEYS, RECIPES
from zoo.cli_args import (
    HelpFormatter,
    add_distribute,
    add_out,
    add_seed,
    choice_list,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    unit_interval_float,
)

DATASETS = ("shapes", "mnist", "fashion_mnist", "flowers102")  # gan.data.DATASETS (importing it is slower)
# What `kzoo generate` draws with when no --model is given: a bundled preset (zoo/presets/bundled/).
DEFAULT_T2I_MODEL = "t2i-shapes-64"
# The settings a --recipe fixes; a flag left out takes the recipe's value.
RECIPE_FLAGS = RECIPE_KEYS


def _decay(text: str) -> float:
    """argparse type: a moving average's decay, in [0, 1)."""
    value = unit_interval_float(text)
    if value == 1.0:
        raise argparse.ArgumentTypeError("must be below 1 (a decay of 1 would never move the average); 0 turns it off")
    return value


def _augment(text: str) -> list:
    """argparse type: DiffAugment policies, comma-separated ("none" or "" for none)."""
    if text.strip().lower() in ("", "none"):
        return []
    return list(choice_list(("translation", "cutout"))(text))


def _train_t2i(args: argparse.Namespace) -> int:
    from gan.train import T2IConfig, train_t2i

    chosen = {name: getattr(args, name) for name in RECIPE_FLAGS if getattr(args, name) is not None}
    config = T2IConfig(dataset=args.dataset, data_dir=args.data_dir, captions_dir=args.captions_dir,
                       recipe=args.recipe, image_size=args.image_size, batch_size=args.batch_size,
                       epochs=args.epochs, steps_per_epoch=args.steps_per_epoch, seed=args.seed, ngf=args.ngf,
                       ndf=args.ndf, distribute=args.distribute, devices=args.devices,
                       deterministic=args.deterministic, limit=args.limit,
                       train_text_encoder=args.pretrain_steps == 0, **chosen)
    metrics = train_t2i(config, args.out, force=args.force)
    if metrics.get("already_finished"):  # said so; `kzoo evaluate t2i --model OUT` evaluates it again
        return 0
    if metrics.get("stopped"):
        print(f"training stopped early: {metrics['stopped']}")
        return 1
    speed = metrics["images_per_second"]  # None when no epoch was trained now (a finished run saved again)
    print(f"wrote {os.path.join(args.out, 'model.keras')}" + (f" ({speed:.1f} images/s)" if speed else "")
          + f"; samples in {os.path.join(args.out, 'samples')}")
    if args.dataset == "shapes" and args.evaluate:
        from gan.metrics import evaluate_t2i

        print(json.dumps(evaluate_t2i(args.out, seed=args.seed), indent=2))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from gan.generate import generate_grid

    result = generate_grid(args.model, args.captions, args.output, n=args.n, seed=args.seed,
                           interpolate=args.interpolate, sha256=args.sha256)
    print(f"wrote {result['output']} ({result['images']} images in {result['seconds']:.2f} s)")
    return 0


def _evaluate_t2i(args: argparse.Namespace) -> int:
    from gan.metrics import evaluate_t2i

    result = evaluate_t2i(args.model, seed=args.seed, samples=args.samples, dataset=args.dataset,
                          data_dir=args.data_dir, captions_dir=args.captions_dir)
    if result.get("dataset") == "flowers102":  # the table for people, on stderr; stdout stays one JSON
        from gan.metrics import format_flowers_summary

        print(format_flowers_summary(result), file=sys.stderr)
    print(json.dumps(result, indent=2))
    return 0


def register(commands, bench, train, sample) -> None:
    parser = train.add_parser(
        "t2i", epilog="example: kzoo train t2i --out runs/shapes", help="train the GAN-INT-CLS text-to-image model",
        description="Train a character-level text encoder and a conditional DCGAN (GAN-INT-CLS, Reed et al. 2016). "
                    "Rerunning with the same --out resumes from the last finished epoch.",
        formatter_class=HelpFormatter)
    parser.add_argument("--dataset", choices=DATASETS, default="shapes", help="training data")
    parser.add_argument("--data-dir", help="folder with the dataset's files (mnist/fashion_mnist IDX files, "
                                           "flowers102 archive and .mat files)")
    parser.add_argument("--captions-dir", help="flowers102: Reed et al.'s text_c10 caption folder")
    parser.add_argument("--epochs", type=positive_int, default=28, help="epochs (a rerun continues up to this)")
    parser.add_argument("--steps-per-epoch", type=positive_int, default=100, help="batches per epoch")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="global batch size")
    parser.add_argument("--image-size", type=int, choices=(32, 64), default=32,
                        help="image side in pixels (64 as in Reed et al.)")
    parser.add_argument("--ngf", type=positive_int, default=32, help="generator base channels (64 in DCGAN)")
    parser.add_argument("--ndf", type=positive_int, default=32, help="discriminator base channels (64 in DCGAN)")
    parser.add_argument("--recipe", choices=tuple(RECIPES), default=DEFAULT_RECIPE,
                        help="the GAN and text-encoder settings (gan/recipes.py): charcnn-ms (a char-CNN text "
                             "encoder, the matching and mode-seeking terms), charcnn (without mode seeking), "
                             "matching (kzoo's first recipe, a char-RNN encoder) or reed2016 (the paper's); the "
                             "flags below override it")
    parser.add_argument("--loss", choices=("hinge", "bce"), help="the GAN loss")
    parser.add_argument("--spectral-norm", action=argparse.BooleanOptionalAction,
                        help="spectral normalisation of the discriminator (without BatchNorm)")
    parser.add_argument("--conditioning", choices=("projection", "concat"),
                        help="how the discriminator reads the text: projection (Miyato & Koyama 2018) or the "
                             "embedding tiled over its 4x4 features (Reed et al.)")
    parser.add_argument("--augment", type=_augment,
                        help="comma-separated DiffAugment policies for the discriminator's images, from "
                             "translation,cutout ('none' for none)")
    parser.add_argument("--upsampling", choices=("resize", "deconv"),
                        help="the generator's upsampling: resize + convolution, or transposed convolution")
    parser.add_argument("--text-encoder", choices=("cnn", "rnn", "birnn"),
                        help="the text encoder: a char-CNN with max-over-time pooling, or a char-RNN reading one "
                             "direction or both")
    parser.add_argument("--diversity-weight", type=non_negative_float,
                        help="weight of the mode-seeking term (Mao et al. 2019) that makes the generator's samples of "
                             "one caption differ (0: off)")
    parser.add_argument("--learning-rate", type=positive_float, help="the generator's Adam learning rate")
    parser.add_argument("--d-learning-rate", type=positive_float, help="the discriminator's Adam learning rate")
    parser.add_argument("--real-label", type=unit_interval_float,
                        help="the discriminator's target for real pairs under the bce loss (0.9: one-sided label "
                             "smoothing)")
    parser.add_argument("--matching-weight", type=non_negative_float,
                        help="weight of the generator's matching term (the frozen DS-SJE image encoder scores its "
                             "images against their captions); 0 with --pretrain-steps 0")
    parser.add_argument("--matching-negatives", choices=("hardest", "mean"),
                        help="which other captions of the batch the matching term's hinge counts: the most "
                             "violating one (VSE++) or all, averaged")
    parser.add_argument("--ema-decay", type=_decay,
                        help="decay of the moving average of the generator's weights that draws the images "
                             "(0: draw with the generator itself)")
    parser.add_argument("--limit", type=positive_int, help="use only this many training examples")
    parser.add_argument("--pretrain-steps", type=non_negative_int,
                        help="DS-SJE pretraining steps of the text encoder (0: train it jointly with the GAN); "
                             "default: the recipe's")
    add_distribute(parser)
    parser.add_argument("--no-evaluate", dest="evaluate", action="store_false",
                        help="skip the attribute evaluation after training on shapes")
    add_seed(parser)
    add_out(parser, default="runs/t2i", what="model, samples, logs and checkpoints")
    parser.set_defaults(handler=_train_t2i)

    parser = commands.add_parser(
        "generate", help="generate images from captions with a trained text-to-image model",
        epilog='example: kzoo generate "a small red circle in the top left" -o circle.png',
        description="Generate --n images per caption and write them as a PNG grid, each row's caption beside it.",
        formatter_class=HelpFormatter)
    parser.add_argument("captions", nargs="+", metavar="CAPTION", help="one or more captions")
    parser.add_argument("--model", default=DEFAULT_T2I_MODEL, metavar="REF",
                        help="a preset name (`kzoo models`), a `kzoo train t2i` output folder, a preset directory, a "
                             ".keras file or a URL (with --sha256); default: the bundled shapes preset")
    parser.add_argument("--sha256", help="sha256 of the file at a --model URL (required for URLs)")
    parser.add_argument("--n", type=positive_int, default=8, help="samples per caption (steps with --interpolate)")
    parser.add_argument("--interpolate", action="store_true",
                        help="interpolate between two captions' embeddings instead")
    parser.add_argument("-o", "--output", default="generated.png", help="image file to write: .png or .jpg")
    add_seed(parser)
    parser.set_defaults(handler=_generate)

    evaluate = commands.add_parser("evaluate", help="evaluate a trained model", description="Evaluate a model.")
    evaluators = evaluate.add_subparsers(dest="model_kind", metavar="MODEL", required=True)
    parser = evaluators.add_parser(
        "t2i", help="attribute or class accuracy, R-precision and diversity of a text-to-image model",
        description="Print the text-to-image metrics as JSON. shapes: attribute accuracy on held-out captions "
                    "judged by a classifier trained on real renderings. mnist, fashion_mnist: class accuracy of "
                    "images generated for test captions by a classifier trained on real images, and text-to-image "
                    "R-precision through a separately trained joint embedding, each beside the same number for "
                    "real test images. flowers102: colour accuracy on held-out phrasings for seen and unseen "
                    "classes, judge top-1/top-5, Fréchet distance in the judge's features and R-precision (a "
                    "summary table on stderr). All: sample diversity against real images.",
        epilog="example: kzoo evaluate t2i --model runs/shapes",
        formatter_class=HelpFormatter)
    parser.add_argument("--model", required=True, help="a `kzoo train t2i` output folder or a .keras file")
    parser.add_argument("--dataset", choices=DATASETS,
                        help="the dataset the model was trained on (default: from the run's config.json, else shapes)")
    parser.add_argument("--data-dir", help="the dataset's files (default: from the run's config.json)")
    parser.add_argument("--captions-dir", help="flowers102 caption folder (default: from the run's config.json)")
    parser.add_argument("--samples", type=positive_int, default=1000, help="held-out captions to generate for")
    add_seed(parser)
    parser.set_defaults(handler=_evaluate_t2i)
