"""The ``kzoo`` command line: argparse subcommands, each a thin parser over one tested Python function.

Handlers import their implementation lazily, so ``kzoo --help`` and ``kzoo --version`` never import TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

from zoo.extras import MissingExtraError
from zoo.families import command_registrars
from zoo.tensorflow_start import quiet_tensorflow_start
from zoo.validation import NAME_ONLY, ArgumentError
from zoo.version import __version__

# Errors that describe bad input (arguments, files, data): reported in one line, exit status 2 (argparse's).
# KZOO_DEBUG=1 re-raises them with the traceback.
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
               MissingExtraError)


BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def load_bench_script(name: str):
    """The module of ``bench/<name>.py`` in kzoo's source checkout: the benchmarks live outside the package.

    Raises FileNotFoundError when this installation has no checkout beside it (a wheel install).
    """
    path = BENCH_DIR / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the benchmarks live in the bench/ folder of a kzoo source checkout, not in the "
            f"installed package; clone the repository and run python bench/{name}.py there")
    module_name = f"kzoo_bench_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def _bench_rnn(argv: list[str]) -> int:
    """``kzoo bench rnn ARGS``, deprecated: runs ``python bench/rnn.py ARGS`` from the source checkout."""
    print("kzoo bench rnn is deprecated and will be removed: run python bench/rnn.py (same flags) from a kzoo "
          "checkout", file=sys.stderr)
    try:
        return load_bench_script("rnn").main(argv)
    except FileNotFoundError as error:
        print(f"kzoo bench: error: {error}", file=sys.stderr)
        return 2


# Library arguments whose flag is not --<name with dashes>.
FLAGS = {"out_dir": "--out", "text_path": "--text", "model_dir": "--model", "model_ref": "--model"}


def cli_flag(name: str, value) -> str:
    """An :class:`~zoo.validation.ArgumentError`'s argument as the flag that sets it: ``--devices 2``."""
    flag = FLAGS.get(name, "--" + name.replace("_", "-"))
    return flag if value is NAME_ONLY else f"{flag} {value}"


# Subcommands that never import TensorFlow (so starting it quietly would only slow them down).
COMMANDS_WITHOUT_TENSORFLOW = ("models",)


def build_parser() -> argparse.ArgumentParser:
    """The full ``kzoo`` parser; each leaf parser sets ``handler`` to the function that runs it."""
    parser = argparse.ArgumentParser(
        prog="kzoo", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="kzoo: sequence and generative models as Keras components. Text to image (a char-level text "
                    "encoder feeding a conditional DCGAN, Reed et al. 2016), recurrent cells and fused layers, "
                    "gradient-flow tools, char-level language models and encoder-decoders, autoencoders and RBMs, "
                    "and pretrained presets. Every command is a thin parser over a Python function.")
    parser.add_argument("--version", action="version", version=f"kzoo {__version__}")
    parser.add_argument("--verbose", dest="tensorflow_logs", action="store_true",
                        help="show TensorFlow's start-up logs (hidden by default)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    bench = commands.add_parser("bench", help="benchmarks", description="Benchmarks.")
    benchmarks = bench.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    # Deprecated: main() forwards ``kzoo bench rnn ARGS`` to bench/rnn.py before parsing; this entry is its help.
    benchmarks.add_parser("rnn", add_help=False, help="deprecated: python bench/rnn.py --help (same flags)")

    train = commands.add_parser("train", help="train a model", description="Train a model and write it to --out.")
    trainers = train.add_subparsers(dest="model", metavar="MODEL", required=True)
    sample = commands.add_parser("sample", help="sample from a trained model",
                                 description="Sample from a trained model.")
    samplers = sample.add_subparsers(dest="model", metavar="MODEL", required=True)
    # Each family's subcommands live beside its code; its command modules are free of TensorFlow imports.
    for register in command_registrars():
        register(commands=commands, bench=benchmarks, train=trainers, sample=samplers)
    parser.epilog = "examples:\n" + "\n".join(f"  {example}" for example in command_examples(parser))
    return parser


def command_examples(parser: argparse.ArgumentParser) -> list[str]:
    """The ``example: ...`` epilog of every command under ``parser``, in the order they were added."""
    examples = []
    for action in parser._actions:  # argparse keeps its subcommands here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if sub.epilog and sub.epilog.startswith("example: "):
                    examples.append(sub.epilog[len("example: "):])
                examples.extend(command_examples(sub))
    return examples


def _evaluate_only(args: argparse.Namespace) -> int:
    """``kzoo train KIND --out RUN --evaluate-only``: the run's metrics measured again, as JSON on stdout."""
    from zoo.presets.build import evaluate_run

    print(json.dumps(evaluate_run(args.out, seed=args.seed, data_dir=getattr(args, "data_dir", None)), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``kzoo`` with ``argv`` (default ``sys.argv[1:]``); return the exit status (2 for bad arguments)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:2] == ["bench", "rnn"]:
        return _bench_rnn(argv[2:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or an argparse error (already printed)
        return int(exit_.code or 0)
    if args.tensorflow_logs:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    elif args.command not in COMMANDS_WITHOUT_TENSORFLOW:
        quiet_tensorflow_start()
    formatwarning = warnings.formatwarning  # warnings in one line, like the errors
    warnings.formatwarning = lambda message, category, *_, **__: f"kzoo {args.command}: warning: {message}\n"
    try:
        if getattr(args, "evaluate_only", False):
            return _evaluate_only(args)
        return args.handler(args)
    except USER_ERRORS as error:
        if os.environ.get("KZOO_DEBUG"):
            raise
        message = error.phrase(cli_flag) if isinstance(error, ArgumentError) else str(error)
        print(f"kzoo {args.command}: error: {message}", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = formatwarning


if __name__ == "__main__":
    sys.exit(main())
