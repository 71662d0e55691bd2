"""Lazy package exports: ``import zoo`` (or ``gan``, ``autoencoders``, ``zoo.text``) imports no TensorFlow until a
name is used, so ``kzoo --help`` stays fast."""

import importlib
import sys


def lazy_exports(package: str, exports: dict):
    """``(__getattr__, __dir__)`` for a package whose public names (``exports``: name → module) load on first use.

    Assign them in the package's ``__init__``: ``__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)``.
    A name mapped to the package's own submodule of that name (``"presets": "zoo.presets"``) is the submodule.
    """

    def __getattr__(name):
        if name in exports:
            module = importlib.import_module(exports[name])
            value = module if exports[name] == f"{package}.{name}" else getattr(module, name)
            setattr(sys.modules[package], name, value)  # later lookups skip this function
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        namespace = vars(sys.modules[package])
        return sorted({*exports, *(name for name in namespace if not name.startswith("_") or name == "__version__")})

    return __getattr__, __dir__
