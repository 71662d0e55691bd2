"""Deprecated: the former home of the helpers every training command shares, kept so that old imports work.

Import them from their modules: :mod:`zoo.seeding` (``set_seed``), :mod:`zoo.distribution` (``get_strategy``,
``is_chief``, ``worker_out_dir``, ``agree_across_workers``, ``replica_batch_position``), :mod:`zoo.data.order`
(``epoch_dataset``), :mod:`zoo.io` (``prepare_out_dir``, ``atomic_path``, ``write_json``, ``save_model``),
:mod:`zoo.images` (``image_grid``, ``save_image_grid``), :mod:`zoo.callbacks` (``training_callbacks``,
``epoch_timer``) and :mod:`zoo.checkpoint` (``ResumableCheckpoint``). Each name read from here warns once.
"""

import importlib
import warnings

_MOVED = {
    "set_seed": "zoo.seeding",
    "STRATEGIES": "zoo.distribution", "get_strategy": "zoo.distribution", "is_multiworker": "zoo.distribution",
    "is_chief": "zoo.distribution", "worker_out_dir": "zoo.distribution",
    "agree_across_workers": "zoo.distribution", "replica_batch_position": "zoo.distribution",
    "epoch_dataset": "zoo.data.order",
    "prepare_out_dir": "zoo.io", "atomic_path": "zoo.io", "write_json": "zoo.io", "save_model": "zoo.io",
    "image_grid": "zoo.images", "save_image_grid": "zoo.images",
    "training_callbacks": "zoo.callbacks", "epoch_timer": "zoo.callbacks",
    "ResumableCheckpoint": "zoo.checkpoint",
}


def __getattr__(name):
    if name in _MOVED:
        warnings.warn(f"zoo.runtime.{name} moved to {_MOVED[name]}.{name}; import it from there",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(_MOVED)
