"""Argument checks at the public boundary (constructors, training functions, loaders): each returns the value in
its plain Python type or raises a ValueError that names the argument and the value received, in Keras's words:
"`units` must be a positive integer; received units=0."."""

from __future__ import annotations

import numbers


def check_int(value, name: str, minimum: int = 1, allow_none: bool = False) -> int | None:
    """``value`` as an int, or ValueError when it is not an integer (booleans are not) of at least ``minimum``;
    ``None`` passes through when ``allow_none``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"`{name}` must be {kind}; received {name}={value!r}.")
    return int(value)


def check_positive_int(value, name: str) -> int:
    """``value`` as an int, or ValueError unless it is an integer >= 1."""
    return check_int(value, name, 1)


def check_positive_ints(**values) -> dict:
    """:func:`check_positive_int` of every keyword; returns them as ints."""
    return {name: check_positive_int(value, name) for name, value in values.items()}


NAME_ONLY = object()  # an argument named without a value: "choose another {out_dir}"


class ArgumentError(ValueError):
    """A bad argument, phrased with the names of the function's arguments; the command line rephrases the same
    error with its flags (:meth:`phrase`), so the library never speaks in flags.

    ``ArgumentError("{devices} needs {distribute}", devices=2, distribute="mirrored")`` reads
    ``devices=2 needs distribute='mirrored'`` from Python and ``--devices 2 needs --distribute mirrored`` from
    ``kzoo``. A value of :data:`NAME_ONLY` names the argument alone.
    """

    def __init__(self, template: str, **arguments):
        self.template, self.arguments = template, arguments
        super().__init__(self.phrase(python_argument))

    def phrase(self, render) -> str:
        """The message with each argument rendered by ``render(name, value)``."""
        return self.template.format(**{name: render(name, value) for name, value in self.arguments.items()})


def python_argument(name: str, value) -> str:
    """``name=value`` as in a Python call (``name`` alone for :data:`NAME_ONLY`)."""
    return name if value is NAME_ONLY else f"{name}={value!r}"


class MissingPathError(ArgumentError, FileNotFoundError):
    """An :class:`ArgumentError` for a path argument that names nothing (also a FileNotFoundError)."""


def literal(text) -> str:
    """``text`` for an :class:`ArgumentError` template: its braces doubled, so that it is printed as it is."""
    return str(text).replace("{", "{{").replace("}", "}}")
