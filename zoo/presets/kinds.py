"""The kinds of model a preset can hold, and how a kind is told from a model class or a saved config.

The kinds are those the model families register (:mod:`zoo.families`). Free of TensorFlow imports: ``kzoo models``
and the registry read kinds from JSON only.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from zoo.families import PresetKind, packages, preset_kinds, serializable_modules


class _RegisteredKinds(Mapping):
    """The preset kinds of every registered family (:func:`zoo.families.preset_kinds`), read on first use."""

    def __getitem__(self, name):
        return preset_kinds()[name]

    def __iter__(self):
        return iter(preset_kinds())

    def __len__(self):
        return len(preset_kinds())

    def __repr__(self):
        return repr(preset_kinds())


# Kind name -> zoo.families.PresetKind (module, class_name, description, source, evaluate, key_metrics).
KINDS = _RegisteredKinds()
Kind = PresetKind
GENERIC = "keras"  # any other Keras model, built from Keras's and kzoo's layers


def kind_of_class(cls) -> str:
    """The kind of a model class (its own or the nearest base class's in :data:`KINDS`), else ``"keras"``."""
    for klass in getattr(cls, "__mro__", ()):
        for name, kind in KINDS.items():
            if klass.__module__ == kind.module and klass.__qualname__ == kind.class_name:
                return name
    return GENERIC


def kind_of_config(config: dict) -> str:
    """The kind of a serialized model (``keras.saving.serialize_keras_object`` output, or a ``.keras`` file's
    ``config.json``), from its ``module`` and ``class_name`` or its registered name ``kzoo>ClassName``."""
    module, class_name = config.get("module"), config.get("class_name")
    registered = config.get("registered_name")
    for name, kind in KINDS.items():
        if class_name == kind.class_name and (module == kind.module or registered == f"kzoo>{kind.class_name}"):
            return name
    return GENERIC


def describe(kind: str) -> str:
    """``"a character language model (CharLanguageModel)"``; ``"a Keras model"`` for the generic kind."""
    if kind in KINDS:
        return f"a {KINDS[kind].description} ({KINDS[kind].class_name})"
    return "a Keras model"


def check_kind(found: str, expected: str | None, what: str, alternatives: list[str] = ()) -> None:
    """ValueError when a ``found`` model is loaded where an ``expected`` kind is (None: any kind is accepted)."""
    if expected is None or found == expected:
        return
    if expected not in KINDS and expected != GENERIC:
        raise ValueError(f"unknown model kind {expected!r}; expected one of {', '.join([*KINDS, GENERIC])}")
    presets = f"a {expected} preset ({', '.join(alternatives)})" if alternatives else f"a {expected} preset"
    source = f" or the output of `{KINDS[expected].source}`" if expected in KINDS else ""
    raise ValueError(f"{what} holds {describe(found)}, but {describe(expected)} is expected here; pass "
                     f"{presets}{source}")


def config_modules(config) -> list[str]:
    """Every module of the families' packages (:func:`zoo.families.packages`) named anywhere in a serialized
    config (nested layers included)."""
    found = []

    def walk(value):
        if isinstance(value, dict):
            module = value.get("module")
            if isinstance(module, str) and module.split(".")[0] in packages() and module not in found:
                found.append(module)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(config)
    return found


def import_for(config: dict, kind: str) -> None:
    """Import the modules that register the classes a saved config needs (``import zoo`` alone registers none):
    the kind's module, the families' serializable layers, and any module of their packages the config names."""
    modules = [KINDS[kind].module] if kind in KINDS else []
    modules += [*serializable_modules(), *config_modules(config)]
    for module in dict.fromkeys(modules):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            raise ValueError(f"the saved model needs the module {module}, which this kzoo does not have "
                             f"({error}); it was saved by another kzoo version") from error
