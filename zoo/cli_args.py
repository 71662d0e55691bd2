"""Argument types and common flags shared by every ``kzoo`` subcommand.

Kept free of TensorFlow imports: the parsers are built on every ``kzoo`` call, including ``--help``.
"""

from __future__ import annotations

import argparse
import math

from zoo.distribution import STRATEGIES


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


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite float >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def unit_interval_float(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def choice_list(valid: tuple[str, ...]):
    """argparse type: a comma-separated list of names from ``valid``; errors list the valid names."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip().lower() for part in text.split(",") if part.strip())
        unknown = [name for name in names if name not in valid]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"unknown name(s) {', '.join(unknown) or repr(text)}; expected a comma-separated list of "
                f"{', '.join(valid)}")
        return names

    parse.__name__ = "name_list"
    return parse


def add_distribute(parser: argparse.ArgumentParser) -> None:
    """``--distribute``, ``--devices``, ``--deterministic``, ``--force`` and ``--evaluate-only``: the flags every
    ``kzoo train`` subcommand shares (read by :func:`zoo.distribution.get_strategy`, :func:`zoo.seeding.set_seed`,
    :func:`zoo.training.finished_run` and, for ``--evaluate-only``, :func:`zoo.cli.main`, which runs
    :func:`zoo.presets.build.evaluate_run` instead of the command)."""
    parser.add_argument("--distribute", choices=STRATEGIES, default="none",
                        help="tf.distribute strategy: none (one device), mirrored (the local GPUs, else logical "
                             "CPUs) or multiworker (MultiWorkerMirroredStrategy configured by TF_CONFIG)")
    parser.add_argument("--devices", type=positive_int, default=None, metavar="N",
                        help="local devices to use (mirrored: the first N; multiworker: the first N GPUs of each "
                             "worker); None: all of them")
    parser.add_argument("--deterministic", action="store_true",
                        help="deterministic TF ops: a rerun (or a resumed run) with the same seed gives the same "
                             "weights, at some cost in speed")
    parser.add_argument("--force", action="store_true",
                        help="when --out already holds this run, finished, evaluate it and write its files again "
                             "(without it the command says so and exits)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="train nothing: measure the finished run in --out again with its own settings and "
                             "data (the other training flags are not read) and print the metrics as JSON; "
                             "writes no file")


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: %(default)s)")


def add_out(parser: argparse.ArgumentParser, default: str, what: str = "outputs") -> None:
    parser.add_argument("--out", metavar="DIR", default=default,
                        help=f"directory for the {what} (default: %(default)s)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's formatter that appends "(default: X)" to a flag's help, except where it says nothing: no
    default (None), a switch (False), or a help text that already gives the default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)
