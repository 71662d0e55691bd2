"""The training engine (zoo/training.py): one rule for a changed setting on resume, for every kind."""

import json

import pytest

from zoo.training import changed_settings, check_resume, write_config


def test_changed_settings_name_each_difference_nested_ones_by_dotted_key():
    before = {"epochs": 2, "seed": 0, "model": {"units": 8, "cell": "lstm"}, "gone": 1}
    after = {"epochs": 5, "seed": 1, "model": {"units": 16, "cell": "lstm"}, "new": True}
    assert changed_settings(before, after) == ["gone: 1 -> None", "model.units: 8 -> 16", "new: None -> True",
                                               "seed: 0 -> 1"]
    assert changed_settings(before, {**before, "epochs": 9, "devices": 2}) == []


def test_check_resume_refuses_a_started_run_with_other_settings(tmp_path):
    write_config(tmp_path, {"epochs": 2, "hidden": 12})
    check_resume(tmp_path, {"epochs": 2, "hidden": 16})  # no backup/: nothing was trained, a new run may start
    (tmp_path / "backup").mkdir()
    check_resume(tmp_path, {"epochs": 7, "hidden": 12})  # more epochs: a resume
    with pytest.raises(ValueError, match=r"different settings \(hidden: 12 -> 16\).*epochs"):
        check_resume(tmp_path, {"epochs": 2, "hidden": 16})
    check_resume(tmp_path / "elsewhere", {"epochs": 2})
    assert json.loads((tmp_path / "config.json").read_text()) == {"epochs": 2, "hidden": 12}


@pytest.mark.parametrize("kind", ["rbm", "autoencoder"])
def test_every_kind_refuses_to_resume_with_changed_settings(kind, tmp_path):
    from autoencoders.training import train_autoencoder, train_rbm

    train = train_rbm if kind == "rbm" else train_autoencoder
    settings = dict(dataset="digits", epochs=1, batch_size=64, limit=128, verbose=0)
    if kind == "rbm":
        settings.update(hidden=8, sample_steps=2)
    else:
        settings.update(hidden=(16,), code_dim=4)
    train(tmp_path, **settings)
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 1
    with pytest.raises(ValueError, match="different settings .*learning_rate: "):
        train(tmp_path, **{**settings, "learning_rate": 0.5})
    metrics = train(tmp_path, **{**settings, "epochs": 2})  # more epochs resume
    assert metrics["resumed_from_epoch"] == 1
