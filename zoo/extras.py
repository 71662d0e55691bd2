"""Optional dependencies: each lives in a pip extra of kzoo (setup.cfg), and code that needs one imports it
through :func:`require`, which names the extra to install when it is missing."""

from __future__ import annotations

import importlib

# module -> (pip extra of kzoo, the distribution that provides the module)
EXTRAS = {"sklearn": ("sklearn", "scikit-learn")}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which pip extra brings it."""


def require(module: str, needed_for: str):
    """``importlib.import_module(module)``; MissingExtraError naming the extra (``pip install 'kzoo[EXTRA]'``)
    and what needs it when the module is not installed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        top = module.split(".")[0]
        if error.name is None or error.name.split(".")[0] != top:
            raise  # the module is there but one of its own imports failed: that is not a missing extra
        extra, distribution = EXTRAS.get(top, (None, top))
        install = f"pip install 'kzoo[{extra}]'" if extra else f"pip install {distribution}"
        raise MissingExtraError(f"{needed_for} needs {distribution}, which is not installed; install it with "
                                f"`{install}`") from error
