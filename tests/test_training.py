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


def _crash_at_epoch(monkeypatch, epoch):
    """Make every fit of the training engine raise at the start of ``epoch`` (0-based), after the previous epoch's
    checkpoint was written: a crash mid-run, as far as the run's files can tell."""
    import keras

    import zoo.training

    callbacks = zoo.training.training_callbacks

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, current, logs=None):
            if current == epoch:
                raise RuntimeError("simulated crash")

    monkeypatch.setattr(zoo.training, "training_callbacks", lambda *a, **k: [*callbacks(*a, **k), Crash()])
    return lambda: monkeypatch.setattr(zoo.training, "training_callbacks", callbacks)


def _train_autoencoder(out):
    from autoencoders.training import train_autoencoder

    return train_autoencoder(out, kind="denoising", dataset="digits", hidden=(16,), code_dim=4, epochs=3,
                             batch_size=32, limit=128, corruption="masking", level=0.3, verbose=0, seed=3)


def test_a_crashed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch):
    """In process, through the training engine's callbacks (the rbm: tests/test_fault_tolerance.py). Every kind,
    killed by SIGKILL from the command line, is the slow test of tests/test_fault_tolerance.py."""
    import keras
    import numpy as np

    reference = _train_autoencoder(tmp_path / "reference")
    restore = _crash_at_epoch(monkeypatch, 2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _train_autoencoder(tmp_path / "crashed")
    assert not (tmp_path / "crashed" / "metrics.json").exists()
    restore()
    resumed = _train_autoencoder(tmp_path / "crashed")
    assert resumed["resumed_from_epoch"] == 2 and reference["resumed_from_epoch"] == 0
    weights = [keras.saving.load_model(tmp_path / run / "autoencoder.keras", safe_mode=True).get_weights()
               for run in ("reference", "crashed")]
    assert len(weights[0]) == len(weights[1]) > 0
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["rbm", "autoencoder"])
def test_a_finished_run_is_not_redone_unless_forced(kind, tmp_path, capsys):
    from autoencoders.training import train_autoencoder, train_rbm

    train = train_rbm if kind == "rbm" else train_autoencoder
    settings = dict(dataset="digits", epochs=1, batch_size=64, limit=128)
    settings.update(dict(hidden=8, sample_steps=2) if kind == "rbm" else dict(hidden=(16,), code_dim=4))
    first = train(tmp_path, verbose=0, **settings)
    written = {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir() if path.is_file()}
    again = train(tmp_path, verbose=1, **settings)
    assert "already holds this run, trained for 1 epochs; nothing to do" in capsys.readouterr().out
    assert again["already_finished"] and {k: v for k, v in again.items() if k != "already_finished"} == first
    assert {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir() if path.is_file()} == written
    forced = train(tmp_path, verbose=0, force=True, **settings)
    assert "already_finished" not in forced
    assert (tmp_path / "metrics.json").stat().st_mtime_ns > written["metrics.json"]
