"""TensorFlow's start without its C++ start-up lines, for the command-line entry points (``kzoo`` and
``python -m zoo.presets.build``)."""

from __future__ import annotations

import os
import sys


def quiet_tensorflow_start() -> None:
    """Import TensorFlow and create its devices with the process's stderr (file descriptor 2) sent to /dev/null,
    so that the C++ lines of that start (absl's "before InitializeLog" notice, oneDNN's, the CUDA probe on a
    machine without a GPU) are not printed, and TensorFlow's Python logger shows errors only (not its retracing
    hints); later messages, warnings of kzoo and any Python exception are. ``kzoo --verbose`` skips this."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf

            tf.config.list_physical_devices()
        tf.get_logger().setLevel("ERROR")  # its Python warnings too (tf.function retracing hints)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
