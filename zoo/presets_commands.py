"""``kzoo models``: the parser (free of TensorFlow imports) over :func:`zoo.presets.registry.presets`."""

from __future__ import annotations

import argparse

from zoo.cli_args import HelpFormatter


def _models(args: argparse.Namespace) -> int:
    from zoo.presets import registry

    rows = registry.presets(args.kind)
    print(registry.to_json(rows) if args.json else registry.format_table(rows))
    return 0


def register(commands, bench, train, sample) -> None:
    """Add ``models`` to the top-level commands."""
    parser = commands.add_parser(
        "models", help="list the bundled pretrained presets", epilog="example: kzoo models --kind t2i",
        description="List the pretrained presets bundled with kzoo: name, kind, size, key metrics and description. "
                    "Load one with zoo.load(NAME), or pass its name as --model to `kzoo generate` (t2i) or "
                    "`kzoo sample charlm` (charlm).",
        formatter_class=HelpFormatter)
    from zoo.presets.kinds import GENERIC, KINDS

    parser.add_argument("--kind", choices=[*KINDS, GENERIC], help="only presets of this kind")
    parser.add_argument("--json", action="store_true", help="print the list as JSON (with every metric and path)")
    parser.set_defaults(handler=_models)
