"""``kzoo train charlm|seq2seq`` and ``kzoo sample charlm|seq2seq``: thin parsers over the tested functions.

Free of TensorFlow imports: handlers import their implementation when they run.
"""

from __future__ import annotations

import argparse

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
from zoo.distribution import get_strategy
from zoo.seeding import set_seed

CELLS = ("lstm", "gru", "elman")


def _strategy(args: argparse.Namespace):
    """The strategy of ``--distribute``/``--devices`` (created first: a multi-worker strategy configures TF at
    start-up), with ``--deterministic`` applied; passed to the training function as its ``strategy``."""
    strategy = get_strategy(args.distribute, args.devices)
    set_seed(args.seed, deterministic=args.deterministic)
    return strategy


def _train_charlm(args: argparse.Namespace) -> int:
    from zoo.text.language_model import train_charlm

    strategy = _strategy(args)
    metrics = train_charlm(args.text, args.out, epochs=args.epochs, units=args.units, layers=args.layers,
                           seq_len=args.seq_len, batch_size=args.batch_size, seed=args.seed,
                           embedding_dim=args.embedding_dim, cell=args.cell, dropout=args.dropout,
                           learning_rate=args.learning_rate, strategy=strategy, force=args.force)
    if metrics.get("already_finished"):
        return 0
    print(f"validation: {metrics['val_nats_per_char']:.4f} nats/char, {metrics['val_bits_per_char']:.4f} "
          f"bits/char after {metrics['epochs']} epoch(s); {metrics['chars_per_s']:.0f} chars/s; "
          f"model in {args.out}")
    return 0


def _sample_charlm(args: argparse.Namespace) -> int:
    from zoo.text.language_model import load_charlm

    model = load_charlm(args.model, sha256=args.sha256)
    print(model.generate(args.prime, args.length, temperature=args.temperature, seed=args.seed))
    return 0


def _train_seq2seq(args: argparse.Namespace) -> int:
    from zoo.text.seq2seq import train_seq2seq

    strategy = _strategy(args)
    metrics = train_seq2seq(task=args.task, out_dir=args.out, epochs=args.epochs, seed=args.seed,
                            n_train=args.examples, batch_size=args.batch_size, units=args.units,
                            cell=args.cell, strategy=strategy, force=args.force)
    if metrics.get("already_finished"):
        return 0
    print(f"exact match on {metrics['held_out']} held-out {args.task}: {metrics['exact_match']:.2%} after "
          f"{metrics['epochs']} epoch(s), {metrics['total_train_seconds']:.0f} s of training; model in {args.out}")
    return 0


def _sample_seq2seq(args: argparse.Namespace) -> int:
    from zoo.text.seq2seq import load_seq2seq

    model = load_seq2seq(args.model)
    for output in model.translate(args.texts):
        print(output)
    return 0


def register(commands, bench, train, sample) -> None:
    """Add ``charlm`` and ``seq2seq`` to the ``train`` and ``sample`` groups."""
    fmt = HelpFormatter

    lm = train.add_parser(
        "charlm", epilog="example: kzoo train charlm --text ../shared/data/tinyshakespeare/input.txt --out runs/charlm",
        help="train a character language model on a text file",
        description="Train a character-level LSTM/GRU/Elman language model on a text file "
            "(last 10% = validation); checkpoints every epoch and resumes when rerun "
            "with the same --out.", formatter_class=fmt)
    lm.add_argument("--text", required=True, metavar="FILE", help="UTF-8 training text")
    lm.add_argument("--epochs", type=positive_int, default=10, help="total epochs (a rerun continues up to it)")
    lm.add_argument("--units", type=positive_int, default=256, help="hidden units per recurrent layer")
    lm.add_argument("--layers", type=positive_int, default=2, help="stacked recurrent layers")
    lm.add_argument("--cell", choices=CELLS, default="lstm", help="recurrent cell")
    lm.add_argument("--embedding-dim", type=positive_int, default=64, help="character embedding size")
    lm.add_argument("--dropout", type=unit_interval_float, default=0.1, help="dropout after each recurrent layer")
    lm.add_argument("--seq-len", type=positive_int, default=100, help="characters per training window")
    lm.add_argument("--batch-size", type=positive_int, default=64, help="windows per batch")
    lm.add_argument("--learning-rate", type=positive_float, default=2e-3, help="Adam learning rate")
    add_distribute(lm)
    add_seed(lm)
    add_out(lm, "runs/charlm", "model, checkpoints and metrics")
    lm.set_defaults(handler=_train_charlm)

    s2s = train.add_parser(
        "seq2seq", epilog="example: kzoo train seq2seq --task dates --out runs/dates",
        help="train a character encoder-decoder on a generated task",
        description="Train a character encoder-decoder (teacher forcing, greedy decoding) "
            "on a generated task and report exact match on 2,000 held-out examples.",
        formatter_class=fmt)
    s2s.add_argument("--task", choices=("dates",), default="dates", help="generated task")
    s2s.add_argument("--epochs", type=positive_int, default=4, help="total epochs (a rerun continues up to it)")
    s2s.add_argument("--examples", type=positive_int, default=40000, help="generated training examples")
    s2s.add_argument("--batch-size", type=positive_int, default=64, help="examples per batch")
    s2s.add_argument("--units", type=positive_int, default=128, help="encoder and decoder units")
    s2s.add_argument("--cell", choices=CELLS, default="lstm", help="recurrent cell")
    add_distribute(s2s)
    add_seed(s2s)
    add_out(s2s, "runs/seq2seq", "model, checkpoints and metrics")
    s2s.set_defaults(handler=_train_seq2seq)

    lm_sample = sample.add_parser(
        "charlm", epilog="example: kzoo sample charlm --model charlm-shakespeare --prime ROMEO:",
        help="generate text from a character language model",
        description="Continue --prime with sampled characters and print the text.",
        formatter_class=fmt)
    lm_sample.add_argument("--model", required=True, metavar="REF",
                           help="a preset name (`kzoo models`, e.g. charlm-shakespeare), the --out of `kzoo train "
                                "charlm`, a preset directory, a .keras file or a URL (with --sha256)")
    lm_sample.add_argument("--sha256", help="sha256 of the file at a --model URL (required for URLs)")
    lm_sample.add_argument("--prime", default="\n", help="text to continue (characters of the training text)")
    lm_sample.add_argument("--length", type=non_negative_int, default=500, help="characters to generate")
    lm_sample.add_argument("--temperature", type=positive_float, default=1.0, help="softmax temperature")
    lm_sample.add_argument("--seed", type=non_negative_int, default=None, help="random seed of the sampling")
    lm_sample.set_defaults(handler=_sample_charlm)

    s2s_sample = sample.add_parser(
        "seq2seq", epilog="example: kzoo sample seq2seq --model runs/dates \"june 3, 1999\"",
        help="translate strings with a character encoder-decoder",
        description="Print the greedy output of each input string, one per line.",
        formatter_class=fmt)
    s2s_sample.add_argument("--model", required=True, metavar="DIR", help="the --out of `kzoo train seq2seq`")
    s2s_sample.add_argument("texts", nargs="+", metavar="TEXT", help="input strings, e.g. \"nov 22, 2026\"")
    s2s_sample.set_defaults(handler=_sample_seq2seq)
