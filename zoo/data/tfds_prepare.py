"""Preparing a TensorFlow Datasets builder without writing to stdout.

TFDS prints its "Downloading and preparing dataset ..." and "... Subsequent calls will reuse this data." lines to
stdout (``termcolor.cprint``). kzoo keeps stdout for a command's result (the one JSON of ``kzoo evaluate``), so
its builders are prepared with those lines sent to stderr, beside TFDS's progress bars.
"""

from __future__ import annotations

import contextlib
import os
import sys


def tfds_messages_to_stderr():
    """A context in which TFDS's printed messages (and any other ``print``) go to stderr."""
    return contextlib.redirect_stdout(sys.stderr)


def download_and_prepare(builder, manual_dir: str | os.PathLike | None = None) -> None:
    """``builder.download_and_prepare``, reading the official files from ``manual_dir`` (TFDS's
    ``DownloadConfig(manual_dir=...)``) when given, with TFDS's messages on stderr."""
    import tensorflow_datasets as tfds

    config = None if manual_dir is None else tfds.download.DownloadConfig(manual_dir=os.fspath(manual_dir))
    with tfds_messages_to_stderr():
        builder.download_and_prepare(download_config=config)
