"""``kzoo gradients``: the parser (free of TensorFlow imports) over :func:`zoo.gradients.run_gradient_flow`."""

from __future__ import annotations

import argparse
import os

from zoo.cli_args import HelpFormatter, add_out, add_seed, choice_list, positive_int

# The keys of zoo.gradients.experiments.CELL_FACTORIES (not imported here: it would start TensorFlow).
GRADIENT_CELLS = ("elman-tanh", "elman-sigmoid", "elman-relu", "linear", "lstm", "gru")


def _gradients(args: argparse.Namespace) -> int:
    from zoo.gradients import flow

    results = flow.run_gradient_flow(args.out, cells=args.cells, steps=args.steps, units=args.units,
                                     seed=args.seed)
    print(flow.format_table(results))
    print(f"wrote {os.path.join(args.out, 'gradient_flow.png')} and {os.path.join(args.out, 'gradient_flow.csv')}")
    return 0


def register(commands, bench, train, sample) -> None:
    parser = commands.add_parser(
        "gradients", help="plot how gradients vanish or explode through time, per cell",
        epilog="example: kzoo gradients --cells elman-tanh,lstm --steps 50 --out runs/gradients",
        description="Measure ||dh_T/dh_t|| (spectral norm, batch mean) against the distance T-t for several "
                    "cells with Keras's default initialisers; write gradient_flow.png and gradient_flow.csv "
                    "and print the decay rate per step.",
        formatter_class=HelpFormatter)
    parser.add_argument("--cells", type=choice_list(GRADIENT_CELLS), default=",".join(GRADIENT_CELLS),
                        help="comma-separated cells")
    parser.add_argument("--steps", type=positive_int, default=100, help="sequence length T")
    parser.add_argument("--units", type=positive_int, default=64, help="hidden units")
    add_seed(parser)
    add_out(parser, default="gradient_flow", what="plot and CSV")
    parser.set_defaults(handler=_gradients)
