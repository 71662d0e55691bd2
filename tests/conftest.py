"""Test configuration: quiet TensorFlow, the Keras backend, and the shared data fixture."""

import os

# Must happen before anything imports TensorFlow or Keras.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The fused RNN loops unroll up to 10 steps per iteration, which doubles their XLA compile time; most tests
# compile many small models, so they run the loops one step per iteration. tests/test_layers.py checks the
# unrolled loops (limit 10) against Keras's cells.
os.environ.setdefault("KZOO_RNN_UNROLL", "1")
# The tests compile hundreds of tiny XLA programs that then run a few steps, so LLVM's optimisation of the
# generated CPU code costs more than it saves (test_layers.py: 91 s -> 74 s without it). It changes neither the
# programs nor their semantics; users' runs keep XLA's default.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import pytest  # noqa: E402

from zoo.data import paths  # noqa: E402


@pytest.fixture
def shared_data_dir():
    """The shared data folder (``../shared/data`` or ``$KZOO_SHARED_DATA``); skips the test when absent."""
    found = paths.shared_data_dir()
    if found is None:
        pytest.skip(
            f"shared data folder not found at {paths.shared_data_candidate()} "
            f"(set {paths.ENV_VAR} to point at it)"
        )
    return found


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (setup.cfg's addopts): pytest-xdist workers for the CPU cores this process may use (affinity and
    cgroup quota, :func:`zoo.cpus.usable_cpus`) plus one, at most 4. The extra worker keeps the cores busy while
    others wait on the subprocesses and files of their tests (measurements: bench/README.md, "The test suite").
    At most 4: each worker is a TensorFlow process of about 1 GB."""
    from zoo.cpus import usable_cpus

    return min(usable_cpus() + 1, 4)
