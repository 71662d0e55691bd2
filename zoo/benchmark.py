"""Deprecated: the RNN benchmark harness moved out of the library package to ``bench/rnn.py``.

Importing this module warns and re-exports that file's names, loaded from the source checkout.
"""

import warnings

from zoo.cli import load_bench_script

warnings.warn("zoo.benchmark is deprecated and will be removed: the harness is bench/rnn.py in the kzoo checkout "
              "(python bench/rnn.py, or zoo.cli.load_bench_script('rnn'))", DeprecationWarning, stacklevel=2)

_rnn = load_bench_script("rnn")
LAYERS, GATES, TRAIN_FLOP_FACTOR = _rnn.LAYERS, _rnn.GATES, _rnn.TRAIN_FLOP_FACTOR
forward_flops, matmul_gflops, layer_classes = _rnn.forward_flops, _rnn.matmul_gflops, _rnn.layer_classes
run_rnn_benchmark, format_table, write_json = _rnn.run_rnn_benchmark, _rnn.format_table, _rnn.write_json
