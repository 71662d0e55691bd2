"""The ``kzoo`` command line: argparse subcommands, each a thin parser over one tested Python function.

Handlers import their implementation lazily, so ``kzoo --help`` and ``kzoo --version`` never import TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys

from zoo.cli_args import add_seed, choice_list, non_negative_int, positive_int
from zoo.extras import MissingExtraError
from zoo.families import command_registrars
from zoo.validation import NAME_ONLY, ArgumentError
from zoo.version import __version__

CELL_KINDS = ("lstm", "gru", "elman")  # the keys of zoo.benchmark.LAYERS (not imported: it would be slow)

# Errors that describe bad input (arguments, files, data): reported in one line, exit status 1.
# KZOO_DEBUG=1 re-raises them with the traceback.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
               MissingExtraError)


def _bench_rnn(args: argparse.Namespace) -> int:
    """Handler of ``kzoo bench rnn``: run :func:`zoo.benchmark.run_rnn_benchmark` and print the table."""
    from zoo import benchmark

    rows = benchmark.run_rnn_benchmark(
        batch=args.batch, steps=args.steps, features=args.features, units=args.units, cells=args.cells,
        repeats=args.repeats, warmup=args.warmup, seed=args.seed, matmul_size=args.matmul_size,
        block=args.block, rewarm=args.rewarm,
    )
    print(benchmark.format_table(rows))
    if args.json:
        benchmark.write_json(rows, args.json)
        print(f"wrote {args.json}")
    return 0


# Library arguments whose flag is not --<name with dashes>.
FLAGS = {"out_dir": "--out", "text_path": "--text", "model_dir": "--model", "model_ref": "--model"}


def cli_flag(name: str, value) -> str:
    """An :class:`~zoo.validation.ArgumentError`'s argument as the flag that sets it: ``--devices 2``."""
    flag = FLAGS.get(name, "--" + name.replace("_", "-"))
    return flag if value is NAME_ONLY else f"{flag} {value}"


def build_parser() -> argparse.ArgumentParser:
    """The full ``kzoo`` parser; each leaf parser sets ``handler`` to the function that runs it."""
    parser = argparse.ArgumentParser(prog="kzoo", description="kzoo: recurrent cells, fused layers and their tools.")
    parser.add_argument("--version", action="version", version=f"kzoo {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    bench = commands.add_parser("bench", help="benchmarks", description="Benchmarks.")
    benchmarks = bench.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    rnn = benchmarks.add_parser(
        "rnn", help="time kzoo's fused RNN layers against Keras's",
        description="Time kzoo's fused LSTM/GRU/Elman layers against keras.layers.LSTM/GRU/SimpleRNN "
                    "(training step and forward pass), with a float32 matmul as the roofline.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    rnn.add_argument("--batch", type=positive_int, default=64, help="batch size B")
    rnn.add_argument("--steps", type=positive_int, default=100, help="sequence length T")
    rnn.add_argument("--features", type=positive_int, default=64, help="input features D")
    rnn.add_argument("--units", type=positive_int, default=256, help="hidden units H")
    rnn.add_argument("--repeats", type=positive_int, default=10, help="timed calls (the median is reported)")
    rnn.add_argument("--warmup", type=non_negative_int, default=3, help="untimed calls before timing")
    rnn.add_argument("--block", type=positive_int, default=5,
                     help="timed calls per turn (Keras and kzoo take turns; 1 alternates call by call)")
    rnn.add_argument("--rewarm", type=non_negative_int, default=1,
                     help="untimed calls at the start of each turn, so a timed call follows one of its own model")
    rnn.add_argument("--cells", type=choice_list(CELL_KINDS), default=",".join(CELL_KINDS),
                     help="comma-separated cell kinds")
    rnn.add_argument("--matmul-size", type=positive_int, default=2048, help="size N of the N x N roofline matmul")
    rnn.add_argument("--json", metavar="PATH", help="also write the rows and environment to this JSON file")
    add_seed(rnn)
    rnn.set_defaults(handler=_bench_rnn)

    train = commands.add_parser("train", help="train a model", description="Train a model and write it to --out.")
    trainers = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    sample = commands.add_parser("sample", help="sample from a trained model",
                                 description="Sample from a trained model.")
    samplers = sample.add_subparsers(dest="model", metavar="MODEL", required=True)
    # Each family's subcommands live beside its code; its command modules are free of TensorFlow imports.
    for register in command_registrars():
        register(commands=commands, bench=benchmarks, train=trainers, sample=samplers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``kzoo`` with ``argv`` (default ``sys.argv[1:]``); return the exit status (2 for bad arguments)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or an argparse error (already printed)
        return int(exit_.code or 0)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any handler imports TensorFlow
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        if os.environ.get("KZOO_DEBUG"):
            raise
        message = error.phrase(cli_flag) if isinstance(error, ArgumentError) else str(error)
        print(f"kzoo {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
