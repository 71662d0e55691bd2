"""The ``kzoo`` command line: argparse subcommands, each a thin parser over one tested Python function.

Handlers import their implementation lazily, so ``kzoo --help`` and ``kzoo --version`` never import TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys

from zoo import __version__

CELL_KINDS = ("lstm", "gru", "elman")  # the keys of zoo.benchmark.LAYERS (not imported: it would be slow)


def _int_at_least(minimum: int, kind: str):
    """An argparse type accepting integers >= ``minimum``; errors say ``must be a {kind} integer``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a {kind} integer, got {text!r}")
        return value

    parse.__name__ = f"{kind.replace('-', '_')}_int"
    return parse


positive_int = _int_at_least(1, "positive")
non_negative_int = _int_at_least(0, "non-negative")


def cell_list(text: str) -> tuple[str, ...]:
    """argparse type: a comma-separated list of cell kinds, e.g. ``lstm,gru``."""
    kinds = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [kind for kind in kinds if kind not in CELL_KINDS]
    if not kinds or unknown:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(CELL_KINDS)}, got {text!r}")
    return kinds


def _add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: %(default)s)")


def _bench_rnn(args: argparse.Namespace) -> int:
    """Handler of ``kzoo bench rnn``: run :func:`zoo.benchmark.run_rnn_benchmark` and print the table."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo import benchmark

    rows = benchmark.run_rnn_benchmark(
        batch=args.batch, steps=args.steps, features=args.features, units=args.units, cells=args.cells,
        repeats=args.repeats, warmup=args.warmup, seed=args.seed, matmul_size=args.matmul_size,
    )
    print(benchmark.format_table(rows))
    if args.json:
        benchmark.write_json(rows, args.json)
        print(f"wrote {args.json}")
    return 0


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
    rnn.add_argument("--cells", type=cell_list, default=",".join(CELL_KINDS), help="comma-separated cell kinds")
    rnn.add_argument("--matmul-size", type=positive_int, default=2048, help="size N of the N x N roofline matmul")
    rnn.add_argument("--json", metavar="PATH", help="also write the rows and environment to this JSON file")
    _add_seed(rnn)
    rnn.set_defaults(handler=_bench_rnn)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``kzoo`` with ``argv`` (default ``sys.argv[1:]``); return the exit status (2 for bad arguments)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or an argparse error (already printed)
        return int(exit_.code or 0)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
