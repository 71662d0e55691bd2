"""Tests of the RNN benchmark harness (bench/rnn.py, outside the package), with Keras layers standing in for kzoo's
where that isolates it, and of the deprecated ways to reach it (``kzoo bench rnn``, ``zoo.benchmark``)."""

from types import SimpleNamespace

import keras
import pytest

from zoo.cli import load_bench_script

benchmark = load_bench_script("rnn")

KERAS_AS_KZOO = SimpleNamespace(LSTM=keras.layers.LSTM, GRU=keras.layers.GRU, ElmanRNN=keras.layers.SimpleRNN)
TINY = dict(batch=3, steps=4, features=2, units=5, repeats=1, warmup=1, matmul_size=32, log=None)


def test_forward_flops():
    # per step 2*B*(D+H)*k*H, k = 4 for the LSTM's four gate blocks
    assert benchmark.forward_flops("lstm", batch=2, steps=3, features=5, units=7) == 3 * 2 * 2 * 12 * 4 * 7
    assert benchmark.forward_flops("elman", 1, 1, 1, 1) * 3 == benchmark.forward_flops("gru", 1, 1, 1, 1)


def test_harness_rows_with_identical_layers():
    rows = benchmark.run_rnn_benchmark(cells=("lstm", "gru", "elman"), candidates=KERAS_AS_KZOO, **TINY)
    assert [(row["cell"], row["layer"]) for row in rows] == [
        ("lstm", "keras"), ("lstm", "kzoo"), ("gru", "keras"), ("gru", "kzoo"), ("elman", "keras"), ("elman", "kzoo")]
    for row in rows:
        assert row["max_abs_diff"] == 0.0
        assert row["train_ms"] > 0 and row["forward_ms"] > 0 and row["matmul_gflops"] > 0
        assert row["train_gflops"] == pytest.approx(
            3 * benchmark.forward_flops(row["cell"], 3, 4, 2, 5) / row["train_ms"] / 1e6)
    assert rows[0]["train_speedup"] == 1.0
    table = benchmark.format_table(rows)
    assert table.count("\n| elman") == 2 and "float32 matmul roofline" in table


@pytest.mark.parametrize("repeats, block, rewarm, expected", [
    # "|" marks a clock reading, so "|a|" is a timed call of a and a bare "a" an untimed one.
    (3, 1, 0, "|a||b|" "|b||a|" "|a||b|"),  # call by call, the first caller alternating
    (5, 2, 1, "a|a||a|b|b||b|" "b|b||b|a|a||a|" "a|a|b|b|"),  # turns of 1 untimed + 2 timed; the last is short
])
def test_interleaved_turns(monkeypatch, repeats, block, rewarm, expected):
    trace = []

    def clock():
        trace.append("|")
        return float(len(trace))

    monkeypatch.setattr(benchmark.time, "perf_counter", clock)
    medians = benchmark._interleaved_medians(lambda: trace.append("a"), lambda: trace.append("b"), repeats, block,
                                             rewarm)
    assert "".join(trace) == expected
    assert medians == (2.0, 2.0)  # each timed call spans its own call and the clock reading after it


def test_interleaved_medians_time_each_function(monkeypatch):
    """A fake clock that each function advances by its own duration: the medians come back in argument order."""
    now = [0.0]
    monkeypatch.setattr(benchmark.time, "perf_counter", lambda: now[0])

    def taking(seconds):
        return lambda: now.__setitem__(0, now[0] + seconds)

    assert benchmark._interleaved_medians(taking(1.0), taking(10.0), repeats=4, block=2, rewarm=1) == (1.0, 10.0)


def test_rows_turn_the_medians_into_times_throughput_and_speedups(monkeypatch):
    """With the timings fixed (Keras 4 ms forward / 8 ms train, the candidate twice as fast), every derived column
    follows: milliseconds, analytic GFLOP/s and Keras-time / layer-time speedups."""
    medians = iter([(0.004, 0.002), (0.008, 0.004)])  # forward, then train: (keras, candidate)
    monkeypatch.setattr(benchmark, "_interleaved_medians", lambda *args, **kwargs: next(medians))
    keras_row, kzoo_row = benchmark.run_rnn_benchmark(cells=("lstm",), candidates=KERAS_AS_KZOO, **TINY)
    flops = benchmark.forward_flops("lstm", 3, 4, 2, 5)
    assert (keras_row["forward_ms"], keras_row["train_ms"]) == pytest.approx((4.0, 8.0))
    assert (kzoo_row["forward_ms"], kzoo_row["train_ms"]) == pytest.approx((2.0, 4.0))
    assert (keras_row["forward_speedup"], keras_row["train_speedup"]) == (1.0, 1.0)
    assert (kzoo_row["forward_speedup"], kzoo_row["train_speedup"]) == pytest.approx((2.0, 2.0))
    assert kzoo_row["forward_gflops"] == pytest.approx(flops / 0.002 / 1e9)
    assert kzoo_row["train_gflops"] == pytest.approx(3 * flops / 0.004 / 1e9)


class ReluLSTM(keras.layers.LSTM):
    """An LSTM with the same weights but a different function than Keras's."""

    def __init__(self, units, **kwargs):
        super().__init__(units, activation="relu", **kwargs)


def test_harness_refuses_different_functions():
    with pytest.raises(ValueError, match="differs"):
        benchmark.run_rnn_benchmark(cells=["lstm"], candidates=SimpleNamespace(LSTM=ReluLSTM), **TINY)


@pytest.mark.parametrize("bad", [dict(units=0), dict(repeats=0), dict(warmup=-1), dict(cells=["lstm", "rbm"]),
                                 dict(cells=[]), dict(block=0), dict(rewarm=-1)])
def test_harness_validates_arguments(bad):
    with pytest.raises(ValueError):
        benchmark.run_rnn_benchmark(**{**TINY, "candidates": KERAS_AS_KZOO, **bad})


def test_t2i_benchmark_measures_the_default_training_step():
    """bench/t2i.py on a tiny model: the default GAN step (matching term included) runs and is timed."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "t2i.py"
    spec = importlib.util.spec_from_file_location("bench_t2i", path)
    bench_t2i = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_t2i)
    row = bench_t2i.measure(16, batch_size=4, steps=1, ngf=4, ndf=4, warmup=1)
    assert row["image_size"] == 16 and row["step_ms"] > 0 and row["images_per_second"] > 0 and row["ids_step_ms"] > 0
    assert row["generate_64_s"] > 0 and row["params"] > 0


def test_deprecated_module_warns_and_reexports():
    import importlib
    import sys

    sys.modules.pop("zoo.benchmark", None)
    with pytest.warns(DeprecationWarning, match="bench/rnn.py"):
        deprecated = importlib.import_module("zoo.benchmark")
    assert deprecated.run_rnn_benchmark is benchmark.run_rnn_benchmark
    assert deprecated.LAYERS == benchmark.LAYERS


def test_missing_checkout_names_the_fix(monkeypatch, tmp_path):
    from zoo import cli

    monkeypatch.setattr(cli, "BENCH_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="source checkout.*python bench/rnn.py"):
        cli.load_bench_script("rnn")
