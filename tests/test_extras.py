"""Optional dependencies fail with an error naming the pip extra to install, through the CLI in one line."""

import builtins

import pytest

from zoo.cli import main
from zoo.extras import MissingExtraError, require


def _without(monkeypatch, module):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.delitem(__import__("sys").modules, "sklearn.datasets", raising=False)
    monkeypatch.delitem(__import__("sys").modules, "sklearn", raising=False)


def test_require_names_the_extra(monkeypatch):
    _without(monkeypatch, "sklearn")
    expected = r"the digits dataset needs scikit-learn.*pip install 'kzoo\[sklearn\]'"
    with pytest.raises(MissingExtraError, match=expected):
        require("sklearn.datasets", "the digits dataset")
    assert require("json", "anything").dumps([]) == "[]"


def test_train_rbm_on_digits_without_scikit_learn_is_one_line(monkeypatch, tmp_path, capsys):
    _without(monkeypatch, "sklearn")
    assert main(["train", "rbm", "--dataset", "digits", "--epochs", "1", "--out", str(tmp_path / "rbm")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "pip install 'kzoo[sklearn]'" in error
