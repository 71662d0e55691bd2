"""Pretrained presets: save a model as a preset directory, list the bundled ones, load any model reference.

    zoo.save_preset(model, "my-preset", metadata={"description": ..., "metrics": {...}})
    zoo.presets()                                   # the bundled presets: name, kind, description, size, metrics
    model = zoo.load("charlm-shakespeare")          # a name, a directory, a .keras file, or a URL with sha256

See :mod:`zoo.presets.format` for the files of a preset. Names load lazily (no TensorFlow until a model is
saved or loaded). The module itself is callable, ``zoo.presets()`` being :func:`zoo.presets.registry.presets`:
``zoo.presets`` is both this package and the listing function of the issue's API.
"""

import sys
import types

from zoo.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "save_preset": "zoo.presets.format",
    "read_preset": "zoo.presets.format",
    "verify_preset": "zoo.presets.format",
    "load": "zoo.presets.loading",
    "presets": "zoo.presets.registry",
    "preset_names": "zoo.presets.registry",
    "ACCEPTED_FORMS": "zoo.presets.registry",
    "KINDS": "zoo.presets.kinds",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)


class _CallablePackage(types.ModuleType):
    """``zoo.presets(kind=None)`` lists the bundled presets, like ``zoo.presets.presets``."""

    def __call__(self, kind=None):
        from zoo.presets.registry import presets

        return presets(kind)


sys.modules[__name__].__class__ = _CallablePackage
