"""Time kzoo's fused LSTM/GRU/Elman layers against their Keras namesakes, in the same process.

    python bench/rnn.py [--batch 64 --steps 100 --features 64 --units 256 --cells lstm,gru,elman --json PATH]

For each cell kind both layers are wrapped in the same tiny model ``Input((T, D), batch_size=B) -> RNN(H) ->
Dense(1)``, compiled as a user would (``optimizer="sgd", loss="mse"``, default ``jit_compile``), given the same
weights (Keras's, copied into kzoo's model) and checked to compute the same function before anything is timed.
Timings are medians of warm calls: the two layers take turns (so that drift in machine load hits both alike), and in
each turn every timed call follows a call of the same model, as in a training loop.
A large float32 matmul measured in the same run gives the machine's attainable GFLOP/s for comparison.
The harness lives here, outside the library package; ``kzoo bench rnn`` (deprecated) runs this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable, Iterable

import numpy as np

from zoo.cli_args import add_seed, choice_list, non_negative_int, positive_int
from zoo.validation import check_positive_ints

#: cell kind -> (kzoo layer class name in ``zoo``, Keras layer class name in ``keras.layers``).
LAYERS = {"lstm": ("LSTM", "LSTM"), "gru": ("GRU", "GRU"), "elman": ("ElmanRNN", "SimpleRNN")}
#: cell kind -> number of gate blocks in the kernels (the ``k`` in ``kernel (D, k*H)``).
GATES = {"lstm": 4, "gru": 3, "elman": 1}
#: A training step (forward, backward through activations, backward through weights) costs about 3 forwards.
TRAIN_FLOP_FACTOR = 3


def _log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def forward_flops(kind: str, batch: int, steps: int, features: int, units: int) -> int:
    """FLOPs of one forward pass of the recurrent layer: ``steps * 2*B*(D+H)*k*H`` (the gate matmuls)."""
    return steps * 2 * batch * (features + units) * GATES[kind] * units


_check_positive = check_positive_ints


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _interleaved_medians(fn_a: Callable[[], object], fn_b: Callable[[], object], repeats: int, block: int = 1,
                         rewarm: int = 0) -> tuple[float, float]:
    """Median seconds of ``repeats`` timed calls each of ``fn_a`` and ``fn_b``, made in alternating turns.

    A turn is ``rewarm`` untimed calls of one function, then up to ``block`` timed ones; the two functions take
    turns, and which goes first alternates from round to round, so drift in the machine's load hits both alike.
    ``block=1, rewarm=0`` alternates call by call.
    """
    times_a, times_b = [], []
    for i in range(-(-repeats // block)):
        order = ((fn_a, times_a), (fn_b, times_b)) if i % 2 == 0 else ((fn_b, times_b), (fn_a, times_a))
        for fn, times in order:
            for _ in range(rewarm):
                fn()
            for _ in range(min(block, repeats - len(times))):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)


def matmul_gflops(size: int = 2048, repeats: int = 5, warmup: int = 1, seed: int = 0) -> float:
    """Attainable float32 GFLOP/s: median time of a compiled ``size x size @ size x size`` ``tf.linalg.matmul``."""
    import tensorflow as tf

    _check_positive(size=size, repeats=repeats)
    rng = np.random.default_rng(seed)
    a = tf.constant(rng.standard_normal((size, size), dtype=np.float32))
    b = tf.constant(rng.standard_normal((size, size), dtype=np.float32))
    # Reducing to a scalar forces completion and avoids timing a 16 MB device-to-host copy.
    product_sum = tf.function(lambda a, b: tf.reduce_sum(tf.linalg.matmul(a, b)))
    for _ in range(max(warmup, 1)):  # at least one call, so tracing is never timed
        product_sum(a, b).numpy()
    seconds = _median_seconds(lambda: product_sum(a, b).numpy(), repeats)
    return 2 * size**3 / seconds / 1e9


def layer_classes(kind: str, candidates=None) -> tuple[type, type]:
    """Return ``(kzoo class, Keras class)`` for a cell kind.

    ``candidates`` is the namespace the kzoo classes are looked up in by name (default: :mod:`zoo.layers`);
    passing another namespace lets the harness itself be checked, e.g. with Keras layers on both sides.
    """
    import keras

    if kind not in LAYERS:
        raise ValueError(f"unknown cell {kind!r}; choose from {', '.join(LAYERS)}")
    kzoo_name, keras_name = LAYERS[kind]
    if candidates is None:
        from zoo import layers as candidates
    return getattr(candidates, kzoo_name), getattr(keras.layers, keras_name)


def _tiny_model(layer_cls: type, batch: int, steps: int, features: int, units: int):
    import keras

    inputs = keras.Input((steps, features), batch_size=batch)
    outputs = keras.layers.Dense(1)(layer_cls(units)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")
    return model


def run_rnn_benchmark(
    batch: int = 64,
    steps: int = 100,
    features: int = 64,
    units: int = 256,
    cells: Iterable[str] = ("lstm", "gru", "elman"),
    repeats: int = 10,
    warmup: int = 3,
    seed: int = 0,
    *,
    block: int = 5,
    rewarm: int = 1,
    matmul_size: int = 2048,
    atol: float = 1e-5,
    candidates=None,
    log: Callable[[str], None] | None = _log_stderr,
) -> list[dict]:
    """Time kzoo's fused layers against Keras's, one pair of rows (``keras`` then ``kzoo``) per cell kind.

    Each row holds: ``cell``, ``layer``, ``class``, ``train_ms`` and ``forward_ms`` (medians over ``repeats``
    warm calls of ``model.train_on_batch(x, y)`` and of a ``tf.function``-compiled ``model(x,
    training=False)``; Keras and kzoo take turns of ``rewarm`` untimed then ``block`` timed calls, see
    ``_interleaved_medians``), ``train_gflops`` and ``forward_gflops`` (analytic FLOPs / time), ``train_speedup`` and
    ``forward_speedup`` (Keras time / this layer's time), ``max_abs_diff`` (of the forward outputs against
    Keras's, with equal weights), ``jit_compile`` (as resolved by ``compile``), ``matmul_gflops`` (the roofline
    measured in this run) and the run's settings. Raises ``ValueError`` if a kzoo layer differs from Keras by
    more than ``atol``: a speed comparison of two different functions means nothing. Progress messages go to
    ``log`` (stderr by default; ``None`` for silence).
    """
    import keras
    import tensorflow as tf

    cells = tuple(cells)
    _check_positive(batch=batch, steps=steps, features=features, units=units, repeats=repeats,
                    matmul_size=matmul_size, block=block)
    for name, value in (("warmup", warmup), ("rewarm", rewarm)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if not cells:
        raise ValueError("cells must name at least one cell kind")
    classes = {kind: layer_classes(kind, candidates) for kind in cells}  # fail early on unknown names
    log = log or (lambda message: None)

    rng = np.random.default_rng(seed)
    x = tf.constant(rng.standard_normal((batch, steps, features), dtype=np.float32))
    y = tf.constant(rng.standard_normal((batch, 1), dtype=np.float32))
    settings = dict(batch=batch, steps=steps, features=features, units=units, repeats=repeats, warmup=warmup,
                    seed=seed, block=block, rewarm=rewarm)
    turns = dict(block=block, rewarm=rewarm)

    log(f"matmul roofline: {matmul_size}x{matmul_size} float32 ...")
    roofline = matmul_gflops(matmul_size, repeats=max(repeats, 3), warmup=1, seed=seed)
    log(f"matmul roofline: {roofline:.1f} GFLOP/s")

    rows = []
    for kind in cells:
        kzoo_cls, keras_cls = classes[kind]
        log(f"{kind}: building keras.layers.{keras_cls.__name__} and zoo.{kzoo_cls.__name__} ...")
        keras.utils.set_random_seed(seed)
        keras_model = _tiny_model(keras_cls, batch, steps, features, units)
        kzoo_model = _tiny_model(kzoo_cls, batch, steps, features, units)
        kzoo_model.set_weights(keras_model.get_weights())

        keras_fwd = tf.function(lambda x, m=keras_model: m(x, training=False))
        kzoo_fwd = tf.function(lambda x, m=kzoo_model: m(x, training=False))
        diff = float(np.max(np.abs(keras_fwd(x).numpy() - kzoo_fwd(x).numpy())))
        if not diff <= atol:
            raise ValueError(
                f"{kind}: zoo.{kzoo_cls.__name__} differs from keras.layers.{keras_cls.__name__} by {diff:.3g} "
                f"(> {atol:g}) with equal weights; not benchmarking different functions"
            )

        for _ in range(warmup):
            keras_fwd(x).numpy(), kzoo_fwd(x).numpy()
            keras_model.train_on_batch(x, y), kzoo_model.train_on_batch(x, y)
        log(f"{kind}: timing forward ({repeats} repeats) ...")
        fwd_keras, fwd_kzoo = _interleaved_medians(lambda: keras_fwd(x).numpy(), lambda: kzoo_fwd(x).numpy(),
                                                   repeats, **turns)
        log(f"{kind}: timing train step ({repeats} repeats) ...")
        train_keras, train_kzoo = _interleaved_medians(lambda: keras_model.train_on_batch(x, y),
                                                       lambda: kzoo_model.train_on_batch(x, y), repeats, **turns)

        flops = forward_flops(kind, batch, steps, features, units)
        measured = [
            ("keras", f"keras.layers.{keras_cls.__name__}", keras_model, train_keras, fwd_keras, 0.0),
            ("kzoo", f"zoo.{kzoo_cls.__name__}", kzoo_model, train_kzoo, fwd_kzoo, diff),
        ]
        for layer, cls_name, model, train_s, fwd_s, layer_diff in measured:
            rows.append(dict(
                cell=kind, layer=layer, **{"class": cls_name},
                train_ms=1e3 * train_s, forward_ms=1e3 * fwd_s,
                train_gflops=TRAIN_FLOP_FACTOR * flops / train_s / 1e9, forward_gflops=flops / fwd_s / 1e9,
                train_speedup=train_keras / train_s, forward_speedup=fwd_keras / fwd_s,
                max_abs_diff=layer_diff, jit_compile=bool(model.jit_compile), matmul_gflops=roofline,
                **settings,
            ))
        log(f"{kind}: train {train_keras * 1e3:.1f} ms (keras) vs {train_kzoo * 1e3:.1f} ms (kzoo), "
            f"forward {fwd_keras * 1e3:.1f} ms vs {fwd_kzoo * 1e3:.1f} ms")
        keras.backend.clear_session()
    return rows


_COLUMNS = [  # (header, key, format)
    ("cell", "cell", "{}"),
    ("layer", "class", "{}"),
    ("train ms", "train_ms", "{:.2f}"),
    ("forward ms", "forward_ms", "{:.2f}"),
    ("train GFLOP/s", "train_gflops", "{:.1f}"),
    ("forward GFLOP/s", "forward_gflops", "{:.1f}"),
    ("train speedup", "train_speedup", "{:.2f}x"),
    ("forward speedup", "forward_speedup", "{:.2f}x"),
    ("max abs diff", "max_abs_diff", "{:.1e}"),
]


def format_table(rows: list[dict]) -> str:
    """Render benchmark rows as a Markdown table, preceded by the settings and followed by the matmul roofline."""
    if not rows:
        return "(no benchmark rows)"
    cells = [[fmt.format(row[key]) for _, key, fmt in _COLUMNS] for row in rows]
    headers = [header for header, _, _ in _COLUMNS]
    widths = [max(len(text) for text in column) for column in zip(headers, *cells)]

    def line(texts):
        return "| " + " | ".join(text.ljust(width) for text, width in zip(texts, widths)) + " |"

    first = rows[0]
    lines = [
        f"batch {first['batch']}, steps {first['steps']}, features {first['features']}, units {first['units']}; "
        f"median of {first['repeats']} after {first['warmup']} warm-up calls, in turns of {first['block']} "
        f"timed calls after {first['rewarm']} untimed; "
        f"jit_compile={first['jit_compile']}; speedup = Keras time / layer time",
        "",
        line(headers),
        "|" + "|".join("-" * (width + 2) for width in widths) + "|",
        *(line(texts) for texts in cells),
        "",
        f"float32 matmul roofline (same run): {first['matmul_gflops']:.1f} GFLOP/s",
    ]
    return "\n".join(lines)


def write_json(rows: list[dict], path: str | os.PathLike) -> None:
    """Write the rows plus a description of the environment (versions, machine) to ``path`` as JSON."""
    import keras
    import tensorflow as tf

    from zoo.version import __version__

    report = dict(
        kzoo=__version__, tensorflow=tf.__version__, keras=keras.__version__, python=platform.python_version(),
        platform=platform.platform(), processor=platform.processor(), cpu_count=os.cpu_count(),
        devices=[device.name for device in tf.config.list_physical_devices()], rows=rows,
    )
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
        handle.write("\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python bench/rnn.py",
        description="Time kzoo's fused LSTM/GRU/Elman layers against keras.layers.LSTM/GRU/SimpleRNN "
                    "(training step and forward pass), with a float32 matmul as the roofline.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--batch", type=positive_int, default=64, help="batch size B")
    parser.add_argument("--steps", type=positive_int, default=100, help="sequence length T")
    parser.add_argument("--features", type=positive_int, default=64, help="input features D")
    parser.add_argument("--units", type=positive_int, default=256, help="hidden units H")
    parser.add_argument("--repeats", type=positive_int, default=10, help="timed calls (the median is reported)")
    parser.add_argument("--warmup", type=non_negative_int, default=3, help="untimed calls before timing")
    parser.add_argument("--block", type=positive_int, default=5,
                        help="timed calls per turn (Keras and kzoo take turns; 1 alternates call by call)")
    parser.add_argument("--rewarm", type=non_negative_int, default=1,
                        help="untimed calls at the start of each turn, so a timed call follows one of its own model")
    parser.add_argument("--cells", type=choice_list(tuple(LAYERS)), default=",".join(LAYERS),
                        help="comma-separated cell kinds")
    parser.add_argument("--matmul-size", type=positive_int, default=2048, help="size N of the N x N roofline matmul")
    parser.add_argument("--json", metavar="PATH", help="also write the rows and environment to this JSON file")
    add_seed(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the benchmark, print the table; return the exit status (2 for bad arguments)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help or an argparse error (already printed)
        return int(exit_.code or 0)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    rows = run_rnn_benchmark(
        batch=args.batch, steps=args.steps, features=args.features, units=args.units, cells=args.cells,
        repeats=args.repeats, warmup=args.warmup, seed=args.seed, matmul_size=args.matmul_size,
        block=args.block, rewarm=args.rewarm,
    )
    print(format_table(rows))
    if args.json:
        write_json(rows, args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
