"""Tiny `kzoo train` command lines for every training kind (seconds each on a CPU), shared by the slow tests that
run them for real in subprocesses: tests/test_fault_tolerance.py (SIGKILL and resume) and tests/test_distribute.py
(one device against 2 logical CPUs and 2 localhost workers)."""

import sys

KIND_COMMANDS = {
    "rbm": ["train", "rbm", "--dataset", "digits", "--hidden", "16", "--epochs", "3", "--batch-size", "32",
            "--limit", "256", "--sample-steps", "2"],
    "autoencoder": ["train", "autoencoder", "--kind", "denoising", "--dataset", "digits", "--hidden", "16",
                    "--code-dim", "4", "--epochs", "3", "--batch-size", "32", "--limit", "256", "--corruption",
                    "masking", "--level", "0.3"],
    "charlm": ["train", "charlm", "--text", "{corpus}", "--epochs", "3", "--units", "8", "--layers", "1",
               "--embedding-dim", "8", "--seq-len", "20", "--batch-size", "16"],
    "seq2seq": ["train", "seq2seq", "--epochs", "3", "--examples", "640", "--batch-size", "32", "--units", "16"],
    "t2i": ["train", "t2i", "--image-size", "32", "--steps-per-epoch", "2", "--batch-size", "8", "--ngf", "8",
            "--ndf", "8", "--pretrain-steps", "5", "--limit", "64", "--no-evaluate", "--epochs", "3"],
}


def kind_command(kind, folder):
    """``kzoo`` arguments of ``kind``'s tiny run (charlm's corpus written into ``folder``), deterministic, seed 1."""
    corpus = folder / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 120)
    return [arg.format(corpus=corpus) for arg in KIND_COMMANDS[kind]] + ["--deterministic", "--seed", "1"]


def kzoo(*args):
    """The command line that runs ``kzoo ARGS`` with this interpreter."""
    return [sys.executable, "-m", "zoo.cli", *args]
