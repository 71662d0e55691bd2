"""``kzoo train rbm`` and ``kzoo train autoencoder``: thin parsers over :mod:`autoencoders.training`.

Free of TensorFlow imports: the parsers are built on every ``kzoo`` call, including ``--help``.
"""

from __future__ import annotations

import argparse
import json

from zoo.cli_args import (
    HelpFormatter,
    add_distribute,
    add_out,
    add_seed,
    non_negative_int,
    positive_float,
    positive_int,
    unit_interval_float,
)

DATASETS = ("mnist", "fashion_mnist", "digits")  # autoencoders.data.DATASETS (not imported: keep this module light)
CORRUPTIONS = ("gaussian", "masking", "salt_and_pepper")


def _summary(metrics: dict, keys) -> str:
    return json.dumps({key: metrics[key] for key in keys if key in metrics}, indent=2)


def _train_rbm(args: argparse.Namespace) -> int:
    from autoencoders.training import train_rbm

    metrics = train_rbm(args.out, dataset=args.dataset, data_dir=args.data_dir, hidden=args.hidden,
                        epochs=args.epochs, k=args.k, persistent=args.persistent, batch_size=args.batch_size,
                        learning_rate=args.learning_rate, binarize=args.binarize, limit=args.limit,
                        sample_steps=args.sample_steps, ais_betas=args.ais_betas, ais_runs=args.ais_runs,
                        seed=args.seed, distribute=args.distribute, devices=args.devices,
                        deterministic=args.deterministic, verbose=args.verbose, force=args.force)
    if metrics.get("already_finished"):
        return 0
    print(_summary(metrics, ("test_pseudo_log_likelihood", "log_partition", "test_log_likelihood")))
    print(f"wrote rbm.keras, filters.png, samples.png and metrics.json to {args.out} (load it with "
          f"zoo.load({args.out!r}))")
    return 0


def _train_autoencoder(args: argparse.Namespace) -> int:
    from autoencoders.training import train_autoencoder

    metrics = train_autoencoder(args.out, kind=args.kind, dataset=args.dataset, data_dir=args.data_dir,
                                architecture=args.architecture, hidden=tuple(args.hidden), code_dim=args.code_dim,
                                corruption=args.corruption, level=args.level, epochs=args.epochs,
                                batch_size=args.batch_size, learning_rate=args.learning_rate, limit=args.limit,
                                seed=args.seed, distribute=args.distribute, devices=args.devices,
                                deterministic=args.deterministic, verbose=args.verbose, force=args.force)
    if metrics.get("already_finished"):
        return 0
    print(_summary(metrics, ("parameters", "test_bce_clean", "test_bce_corrupted")))
    print(f"wrote autoencoder.keras, reconstructions.png and metrics.json to {args.out} (load it with "
          f"zoo.load({args.out!r}))")
    return 0


def _sample_rbm(args: argparse.Namespace) -> int:
    from autoencoders.showing import sample_rbm

    result = sample_rbm(args.model, args.output, chains=args.chains, steps=args.steps, snapshots=args.snapshots,
                        start=args.start, data_dir=args.data_dir, seed=args.seed)
    print(f"wrote {result['output']} ({result['chains']} chains, {result['sweeps']} Gibbs sweeps)")
    return 0


def _reconstruct_dae(args: argparse.Namespace) -> int:
    from autoencoders.showing import reconstruct_dae

    result = reconstruct_dae(args.model, args.output, n=args.n, data_dir=args.data_dir, seed=args.seed)
    print(f"wrote {result['output']} ({result['digits']} digits; binary cross-entropy of the restored ones "
          f"{result['bce']:.4f})")
    return 0


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=DATASETS, default="mnist", help="training images")
    parser.add_argument("--data-dir", metavar="DIR", default=None,
                        help="folder with the four IDX .gz files (default: ../shared/data/<dataset> when present, "
                             "else TensorFlow Datasets, which needs a network; unused for digits)")
    parser.add_argument("--limit", type=positive_int, default=None, help="use only the first N images of each split")
    parser.add_argument("--epochs", type=positive_int, default=10, help="training epochs")
    add_distribute(parser)
    parser.add_argument("--verbose", type=non_negative_int, default=1, help="Keras fit verbosity (1: progress bar)")


def _add_picture_flags(parser, preset: str, trained_by: str, output: str) -> None:
    """--model, --data-dir, -o and --seed: the flags of the commands that draw a trained model's pictures."""
    parser.add_argument("--model", default=preset, metavar="REF",
                        help=f"a preset name, a `{trained_by}` output folder or a .keras file")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder with the MNIST IDX files (default: the shared data folder, else TensorFlow "
                             "Datasets)")
    parser.add_argument("-o", "--output", default=output, help="image file to write: .png or .jpg")
    add_seed(parser)


def _register_showing(commands, sample) -> None:
    fmt = HelpFormatter
    rbm = sample.add_parser(
        "rbm", help="draw Gibbs chains of a Bernoulli RBM", formatter_class=fmt,
        epilog="example: kzoo sample rbm --model rbm-mnist --start test -o chains.png",
        description="Run block-Gibbs chains from noise or from MNIST test digits and write p(v|h) at regular "
                    "sweeps as a grid: one row per chain, one column per snapshot, each labelled.")
    _add_picture_flags(rbm, "rbm-mnist", "kzoo train rbm", "rbm_samples.png")
    rbm.add_argument("--start", choices=("noise", "test"), default="noise", help="where the chains start")
    rbm.add_argument("--chains", type=positive_int, default=8, help="chains (rows)")
    rbm.add_argument("--steps", type=positive_int, default=1000, help="Gibbs sweeps in all")
    rbm.add_argument("--snapshots", type=positive_int, default=8, help="snapshots (columns after the start)")
    rbm.set_defaults(handler=_sample_rbm)

    reconstruct = commands.add_parser("reconstruct", help="restore corrupted digits with a denoising autoencoder",
                                      description="Reconstruct with a trained autoencoder.")
    kinds = reconstruct.add_subparsers(dest="model_kind", metavar="MODEL", required=True)
    dae = kinds.add_parser(
        "dae", help="corrupt MNIST test digits and restore them", formatter_class=fmt,
        epilog="example: kzoo reconstruct dae --model dae-mnist --n 10 -o restored.png",
        description="Corrupt MNIST test digits with the autoencoder's own corruption and restore them; the grid's "
                    "rows are clean, corrupted and restored, one column per digit.")
    _add_picture_flags(dae, "dae-mnist", "kzoo train autoencoder --kind denoising", "reconstructions.png")
    dae.add_argument("--n", type=positive_int, default=10, help="digits (columns)")
    dae.set_defaults(handler=_reconstruct_dae)


def register(commands, bench, train, sample) -> None:
    """Add ``train rbm``, ``train autoencoder``, ``sample rbm`` and ``reconstruct dae`` to the ``kzoo`` parser."""
    rbm = train.add_parser(
        "rbm", help="train a Bernoulli RBM with CD-k or PCD",
        epilog="example: kzoo train rbm --dataset mnist --epochs 2 --out runs/rbm",
        description="Train a Bernoulli RBM (binarised images) with CD-k or PCD; writes rbm.keras, filters.png, "
                    "samples.png and metrics.json. Rerunning with the same --out resumes.",
        formatter_class=HelpFormatter)
    _add_data(rbm)
    rbm.add_argument("--hidden", type=positive_int, default=500, help="hidden units")
    rbm.add_argument("--k", type=positive_int, default=1, help="Gibbs steps per update (CD-k / PCD-k)")
    rbm.add_argument("--persistent", action="store_true", help="persistent contrastive divergence (PCD)")
    rbm.add_argument("--batch-size", type=positive_int, default=100, help="examples per update")
    rbm.add_argument("--learning-rate", type=positive_float, default=0.1, help="learning rate")
    rbm.add_argument("--binarize", type=unit_interval_float, default=0.5, help="threshold binarising the pixels")
    rbm.add_argument("--sample-steps", type=positive_int, default=1000, help="Gibbs sweeps shown in samples.png")
    rbm.add_argument("--ais-betas", type=non_negative_int, default=0,
                     help="AIS inverse temperatures for the test log-likelihood (0: skip unless exact is possible)")
    rbm.add_argument("--ais-runs", type=positive_int, default=100, help="AIS runs")
    add_seed(rbm)
    add_out(rbm, "runs/rbm", "model, filters.png, samples.png and metrics.json")
    rbm.set_defaults(handler=_train_rbm)

    auto = train.add_parser(
        "autoencoder", help="train a tied or denoising autoencoder",
        epilog="example: kzoo train autoencoder --kind denoising --out runs/dae",
        description="Train a tied-weight or a denoising autoencoder; writes autoencoder.keras, reconstructions.png "
                    "(inputs, corrupted inputs, outputs) and metrics.json. Rerunning with the same --out resumes.",
        formatter_class=HelpFormatter)
    auto.add_argument("--kind", choices=("tied", "denoising"), required=True, help="autoencoder kind")
    _add_data(auto)
    auto.add_argument("--architecture", choices=("dense", "conv"), default="dense",
                      help="dense layers, or the keras.io convolutional denoiser (denoising only)")
    auto.add_argument("--hidden", type=positive_int, nargs="+", default=[256], help="hidden layer sizes (dense)")
    auto.add_argument("--code-dim", type=positive_int, default=64, help="code size (dense)")
    auto.add_argument("--corruption", choices=CORRUPTIONS, default="gaussian", help="corruption (denoising)")
    auto.add_argument("--level", type=positive_float, default=0.4,
                      help="Gaussian noise std, or the probability of corrupting a pixel")
    auto.add_argument("--batch-size", type=positive_int, default=128, help="batch size")
    auto.add_argument("--learning-rate", type=positive_float, default=1e-3, help="Adam learning rate")
    add_seed(auto)
    add_out(auto, "runs/autoencoder", "model, reconstructions.png and metrics.json")
    auto.set_defaults(handler=_train_autoencoder)
    _register_showing(commands, sample)
