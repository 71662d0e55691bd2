"""Tests of the benchmark harness itself, with Keras layers standing in for kzoo's where that isolates it."""

from types import SimpleNamespace

import keras
import pytest

from zoo import benchmark

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


class ReluLSTM(keras.layers.LSTM):
    """An LSTM with the same weights but a different function than Keras's."""

    def __init__(self, units, **kwargs):
        super().__init__(units, activation="relu", **kwargs)


def test_harness_refuses_different_functions():
    with pytest.raises(ValueError, match="differs"):
        benchmark.run_rnn_benchmark(cells=["lstm"], candidates=SimpleNamespace(LSTM=ReluLSTM), **TINY)


@pytest.mark.parametrize("bad", [dict(units=0), dict(repeats=0), dict(warmup=-1), dict(cells=["lstm", "rbm"]),
                                 dict(cells=[])])
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
