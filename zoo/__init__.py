"""kzoo: recurrent cells written from their equations, as fast, tested Keras components.

Public names are imported lazily, so ``import zoo`` (and ``kzoo --help``) does not start
TensorFlow until a cell or layer is used.
"""

from zoo.lazy import lazy_exports as _lazy_exports
from zoo.version import __version__

_EXPORTS = {
    "ElmanCell": "zoo.cells",
    "LSTMCell": "zoo.cells",
    "GRUCell": "zoo.cells",
    "LinearRecurrentCell": "zoo.cells",
    "spectral_radius": "zoo.cells",
    "ElmanRNN": "zoo.layers",
    "LSTM": "zoo.layers",
    "GRU": "zoo.layers",
    "LinearRNN": "zoo.layers",
    "lstm_param_count": "zoo.params",
    "bptt": "zoo.backprop",
    "save_preset": "zoo.presets.format",
    "load": "zoo.presets.loading",
    "presets": "zoo.presets",  # the package, callable: zoo.presets() lists the bundled presets
}

__all__ = ["__version__", *_EXPORTS]

__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
