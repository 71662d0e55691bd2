"""Model families: what each package built on ``zoo`` brings to it — CLI subcommands, preset kinds, evaluators.

``zoo`` is the base and imports no family. A family is a :class:`Family` named in the ``kzoo.families``
entry-point group of its distribution, as kzoo's ``setup.cfg`` does for the base's own (``zoo.family``), ``gan``
and ``autoencoders``; another package adds a family the same way, without changing kzoo::

    [options.entry_points]
    kzoo.families =
        gan = gan.family:FAMILY

A family module must be free of TensorFlow imports (``kzoo --help`` reads it); the modules it names are imported
only when one of its commands runs, one of its models is loaded, or one of its presets is evaluated. References are
``"module:attribute"`` strings, resolved by :func:`resolve`.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from importlib import metadata

ENTRY_POINT_GROUP = "kzoo.families"


@dataclass(frozen=True)
class PresetKind:
    """A kind of model a preset can hold.

    Args:
        module: the module that defines (and registers with Keras) the model class.
        class_name: the model class.
        description: what it is, in words ("text-to-image model").
        source: the command that trains one ("kzoo train t2i").
        evaluate: ``"module:function"`` measuring a model for its preset's metadata, called as
            ``function(model, preset=DIR, run=DIR, data=..., data_dir=..., seed=..., **options)``; None: no
            evaluation.
        key_metrics: the metrics ``kzoo models`` shows, the main one first.
    """

    module: str
    class_name: str
    description: str
    source: str
    evaluate: str | None = None
    key_metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Family:
    """What one package brings.

    Args:
        name: the family's name.
        packages: the top-level packages whose modules a saved model may name (and loading may import).
        commands: ``"module:register"`` functions that add its CLI subcommands, called as
            ``register(commands=, bench=, train=, sample=)`` with the argparse groups.
        kinds: its preset kinds by name.
        serializables: modules to import before loading any saved model: they register layers that a model of
            any kind may contain.
    """

    name: str
    packages: tuple[str, ...]
    commands: tuple[str, ...] = ()
    kinds: dict[str, PresetKind] = field(default_factory=dict)
    serializables: tuple[str, ...] = ()


def resolve(reference: str):
    """The object named by ``"package.module:attribute"``."""
    module, _, attribute = reference.partition(":")
    if not attribute:
        raise ValueError(f"reference {reference!r} has no attribute; write it as 'module:attribute'")
    return getattr(importlib.import_module(module), attribute)


@functools.cache
def families() -> tuple[Family, ...]:
    """Every family of the ``kzoo.families`` entry points: the base's own (``zoo``) first, then by name."""
    entries = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda entry: (entry.name != "zoo",
                                                                                        entry.name))
    if not entries:
        raise RuntimeError(f"no kzoo model families are registered (entry-point group {ENTRY_POINT_GROUP}): kzoo "
                           "is not installed in this Python environment; install it with `pip install -e .` from "
                           "the source folder (or `pip install kzoo`)")
    found = []
    for entry in entries:
        family = entry.load()
        if not isinstance(family, Family):
            raise TypeError(f"entry point {entry.name} = {entry.value} of group {ENTRY_POINT_GROUP} is a "
                            f"{type(family).__name__}, not a zoo.families.Family")
        if family.name in {known.name for known in found}:
            raise ValueError(f"two kzoo families are named {family.name!r} (entry point {entry.value}); "
                             "uninstall one of the distributions that register them")
        found.append(family)
    kinds = [name for family in found for name in family.kinds]
    repeated = sorted({name for name in kinds if kinds.count(name) > 1})
    if repeated:
        raise ValueError(f"preset kind(s) {', '.join(repeated)} registered by more than one family")
    return tuple(found)


def preset_kinds() -> dict[str, PresetKind]:
    """Every registered preset kind by name, in family order."""
    return {name: kind for family in families() for name, kind in family.kinds.items()}


def packages() -> tuple[str, ...]:
    """The top-level packages of every family: the only ones whose modules a saved config may make kzoo import."""
    return tuple(dict.fromkeys(package for family in families() for package in family.packages))


def serializable_modules() -> tuple[str, ...]:
    """The modules of every family that register layers a saved model of any kind may contain."""
    return tuple(dict.fromkeys(module for family in families() for module in family.serializables))


def command_registrars() -> list:
    """The ``register`` function of every family's command module, in family order."""
    return [resolve(reference) for family in families() for reference in family.commands]
