"""`kzoo train t2i`, `kzoo generate` and `kzoo evaluate t2i` end to end on tiny settings."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from zoo.cli import main

TINY = ["train", "t2i", "--image-size", "32", "--steps-per-epoch", "2", "--batch-size", "8", "--ngf", "8",
        "--ndf", "8", "--pretrain-steps", "2", "--limit", "64", "--no-evaluate", "--seed", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("t2i")
    assert main(TINY + ["--epochs", "1", "--out", str(out)]) == 0
    return out


def test_train_writes_model_samples_logs_metrics(trained):
    assert (trained / "model.keras").is_file() and (trained / "text_encoder.weights.h5").is_file()
    assert Image.open(trained / "samples" / "epoch_0001.png").size[1] == 4 * 34 + 2  # four captions, 32 px rows
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["epochs_run_now"] == 1 and metrics["stopped"] is None and metrics["images_per_second"] > 0
    assert json.loads((trained / "config.json").read_text())["image_size"] == 32
    assert list((trained / "logs").rglob("events.out.tfevents.*"))
    import keras

    words = keras.saving.load_model(trained / "model.keras", safe_mode=True).caption_words
    assert {"circle", "red", "triangle", "left"} <= set(words) and "flower" not in words  # its training captions'


def test_rerun_resumes_and_only_trains_the_new_epochs(trained, capsys):
    assert main(TINY + ["--epochs", "2", "--out", str(trained)]) == 0
    assert "GAN: resuming after epoch 1 of 2" in capsys.readouterr().out
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["epochs_run_now"] == 1 and metrics["pretrain"] == "loaded"
    assert (trained / "samples" / "epoch_0002.png").is_file()
    before = (trained / "metrics.json").stat().st_mtime_ns
    assert main(TINY + ["--epochs", "2", "--out", str(trained)]) == 0  # finished: says so, rewrites nothing
    assert "already holds this run, trained for 2 epochs; nothing to do" in capsys.readouterr().out
    assert (trained / "metrics.json").stat().st_mtime_ns == before
    assert main(TINY + ["--epochs", "2", "--force", "--out", str(trained)]) == 0  # --force writes them again
    out = capsys.readouterr().out
    assert "GAN: already trained for 2 of 2" in out
    assert "model.keras; samples in" in out and "images/s" not in out  # no speed: no epoch was trained now
    assert (trained / "metrics.json").stat().st_mtime_ns > before
    assert main(TINY + ["--epochs", "2", "--ngf", "16", "--out", str(trained)]) == 2
    assert re.search(r"different settings \(ngf: \d+ -> 16\)", capsys.readouterr().err)


def test_generate_grid_and_interpolation(trained, tmp_path, capsys):
    grid = tmp_path / "grid.png"
    captions = ["a small red circle in the top left", "🙂🙂🙂🙂🙂🙂 ok", "a " + "long " * 2000]
    with pytest.warns(UserWarning) as caught:
        assert main(["generate", "--model", str(trained), *captions, "--n", "3", "-o", str(grid)]) == 0
    messages = [str(warning.message) for warning in caught]
    assert any("mostly characters this model's alphabet lacks" in m for m in messages), messages
    assert any("10001 characters long; this model reads the first 96" in m for m in messages), messages
    assert not any("never saw" in m for m in messages), messages  # a shapes caption, to a shapes model
    flower = "this flower has small, round violet petals with a dark purple center"
    unseen = r"mostly words this model never saw in training \(\d+ of 12: 'this', 'flower', 'has', "
    with pytest.warns(UserWarning, match=unseen):
        assert main(["generate", "--model", str(trained), flower, "--n", "1", "-o", str(tmp_path / "f.png")]) == 0
    assert "wrote" in capsys.readouterr().out
    image = np.asarray(Image.open(grid))
    assert image.shape[0] == 3 * 34 + 2
    assert main(["generate", "--model", str(trained), "a red circle", "  ", "-o", str(grid)]) == 2
    assert "caption 2 is empty" in capsys.readouterr().err
    jpeg = tmp_path / "grid.jpg"
    assert main(["generate", "--model", str(trained), "a red circle", "-o", str(jpeg)]) == 0
    assert jpeg.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG, as the name says
    assert main(["generate", "--model", str(trained), "a red circle", "-o", str(tmp_path / "grid.gif")]) == 2
    assert "end the file name in .png" in capsys.readouterr().err and not (tmp_path / "grid.gif").exists()
    path = tmp_path / "path.png"
    assert main(["generate", "--model", str(trained), "a red circle", "a blue star", "--interpolate", "--n", "5",
                 "-o", str(path)]) == 0
    assert np.asarray(Image.open(path)).shape[0] == 4 * 34 + 2
    assert main(["generate", "--model", str(trained), "one", "--interpolate", "-o", str(path)]) == 2
    assert "exactly two captions" in capsys.readouterr().err
    assert main(["generate", "--model", str(tmp_path / "nothing"), "x", "-o", str(path)]) == 2
    assert "no text-to-image model" in capsys.readouterr().err


def test_evaluate_only_measures_the_finished_run_again_and_writes_nothing(trained, monkeypatch, tmp_path, capsys):
    import shutil

    from gan import metrics

    monkeypatch.setenv("KZOO_CACHE", str(tmp_path / "cache"))
    judge = metrics.shapes_attribute_classifier  # a small judge: the real one trains on 8,000 images
    monkeypatch.setattr(metrics, "shapes_attribute_classifier",
                        lambda image_size=32, seed=0, **_: judge(image_size, seed=seed, train_size=1200, epochs=2))
    written = {path: path.stat().st_mtime_ns for path in trained.rglob("*") if path.is_file()}
    assert main(TINY + ["--out", str(trained), "--evaluate-only"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {path: path.stat().st_mtime_ns for path in trained.rglob("*") if path.is_file()} == written
    assert main(["evaluate", "t2i", "--model", str(trained), "--seed", "1"]) == 0
    assert again == json.loads(capsys.readouterr().out) and again["heldout_captions"] == 1000
    unfinished = tmp_path / "unfinished"
    shutil.copytree(trained, unfinished)
    config = json.loads((unfinished / "config.json").read_text())
    (unfinished / "config.json").write_text(json.dumps({**config, "epochs": config["epochs"] + 3}))
    assert main(TINY + ["--out", str(unfinished), "--evaluate-only"]) == 2
    assert f"has not finished its {config['epochs'] + 3} epochs" in capsys.readouterr().err


@pytest.mark.parametrize("recipe", ["charcnn-ms", "charcnn", "matching", "reed2016"])
def test_each_recipe_trains_saves_and_loads(recipe, tmp_path, request):
    """The default recipe is the module's `trained` run (no --recipe); the others train here."""
    import keras

    from gan.recipes import DEFAULT_RECIPE, RECIPES

    if recipe == DEFAULT_RECIPE:
        out = request.getfixturevalue("trained")
    else:
        out = tmp_path / recipe
        assert main(TINY + ["--recipe", recipe, "--epochs", "1", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    expected = {**RECIPES[recipe], "pretrain_steps": 2}  # --pretrain-steps 2 overrides the recipe's
    assert config["recipe"] == recipe and {key: config[key] for key in expected} == expected
    model = keras.models.load_model(out / "model.keras", safe_mode=True)
    for key in ("loss", "spectral_norm", "conditioning", "upsampling", "ema_decay", "matching_weight"):
        assert model.get_config()[key] == RECIPES[recipe][key], key
    assert model.get_config()["augment"] == RECIPES[recipe]["augment"]
    images = model.generate(["a red circle"], n=2, seed=0)
    assert images.shape == (1, 2, 32, 32, 3) and np.isfinite(images).all()


def test_generate_in_a_fresh_process(trained, tmp_path):
    """The console script loads the saved model with nothing imported beforehand (registration by import)."""
    import subprocess
    import sys

    grid = tmp_path / "fresh.png"
    result = subprocess.run([sys.executable, "-m", "zoo.cli", "generate", "--model", str(trained), "a red circle",
                             "--n", "2", "-o", str(grid)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert grid.is_file()


def test_generate_without_a_model_uses_the_bundled_preset(tmp_path):
    """The first command a user tries: no --model, a PNG in seconds from the bundled default preset, and nothing
    on stderr (TensorFlow's start-up logs hidden; `kzoo --verbose` shows them: tests/test_cli.py)."""
    import os
    import subprocess
    import sys
    import time

    from gan.commands import DEFAULT_T2I_MODEL
    from zoo.presets import registry

    assert DEFAULT_T2I_MODEL in registry.preset_names()
    grid = tmp_path / "first.png"
    started = time.perf_counter()
    user_environment = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "zoo.cli", "generate", "a small red circle in the top left",
                             "-o", str(grid)], capture_output=True, text=True, cwd=tmp_path, env=user_environment)
    assert result.returncode == 0 and result.stderr == "", result.stderr[-2000:]
    assert time.perf_counter() - started < 120  # "seconds": start-up and one batch, with a wide margin for CI
    image = np.asarray(Image.open(grid))
    assert image.shape[1] > 8 * 64 and image.std() > 5  # eight 64 px samples, not a blank canvas


def test_bad_dataset_and_missing_files(tmp_path, capsys):
    assert main(["train", "t2i", "--dataset", "cifar"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'cifar'" in err and "shapes" in err and "flowers102" in err  # names the choices
    assert main(["train", "t2i", "--dataset", "mnist", "--data-dir", str(tmp_path), "--out",
                 str(tmp_path / "o")]) == 2
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err


def test_the_command_line_defaults_are_the_config_defaults():
    """`kzoo train t2i` with no flags trains what `T2IConfig()` describes (the parser is TensorFlow-free, so its
    defaults are written out again; this keeps the two equal)."""
    import dataclasses

    from gan.train import T2IConfig
    from zoo.cli import build_parser

    args = vars(build_parser().parse_args(["train", "t2i"]))
    defaults = {field.name: field.default for field in dataclasses.fields(T2IConfig)}
    shared = [name for name in defaults if name in args and args[name] is not None and defaults[name] is not None]
    assert {"epochs", "steps_per_epoch", "batch_size", "image_size", "ngf", "ndf", "seed"} <= set(shared)
    assert {name: args[name] for name in shared} == {name: defaults[name] for name in shared}


def test_config_takes_unset_settings_from_its_recipe():
    from gan.recipes import RECIPE_KEYS, RECIPES
    from gan.train import T2IConfig

    for name, settings in RECIPES.items():
        config = T2IConfig(recipe=name)
        assert {key: getattr(config, key) for key in RECIPE_KEYS} == settings
    assert T2IConfig().recipe == "charcnn-ms" and T2IConfig().diversity_weight == 0.03
    # an explicit setting wins over the recipe's
    assert T2IConfig(recipe="reed2016", loss="hinge", ema_decay=0.5).loss == "hinge"
    assert T2IConfig(recipe="reed2016", loss="hinge", ema_decay=0.5).ema_decay == 0.5
    with pytest.raises(ValueError, match="reed2016"):
        T2IConfig(recipe="reed2017")
    with pytest.raises(ValueError, match="--matching-weight 0"):
        T2IConfig(pretrain_steps=0, matching_weight=1.0)
    assert T2IConfig(pretrain_steps=0).matching_weight == 0.0  # the matching term needs the pretraining


def test_recipe_and_its_flags_reach_the_config(monkeypatch, capsys):
    import gan.train

    seen = {}

    def fake_train(config, out_dir, force=False):
        seen["config"] = config
        return {"stopped": None, "images_per_second": 1.0}

    monkeypatch.setattr(gan.train, "train_t2i", fake_train)
    assert main(["train", "t2i", "--matching-negatives", "mean", "--ema-decay", "0", "--no-evaluate",
                 "--out", "unused"]) == 0
    assert (seen["config"].matching_negatives, seen["config"].ema_decay) == ("mean", 0.0)
    assert main(["train", "t2i", "--no-evaluate", "--out", "unused"]) == 0
    assert (seen["config"].recipe, seen["config"].matching_negatives, seen["config"].ema_decay) == (
        "charcnn-ms", "hardest", 0.99)
    assert main(["train", "t2i", "--recipe", "reed2016", "--no-evaluate", "--out", "unused"]) == 0
    config = seen["config"]
    assert (config.loss, config.spectral_norm, config.conditioning, config.augment, config.upsampling,
            config.matching_weight, config.ema_decay, config.learning_rate) == (
        "bce", False, "concat", [], "deconv", 0.0, 0.0, 2e-4)
    assert main(["train", "t2i", "--recipe", "reed2016", "--loss", "hinge", "--spectral-norm", "--conditioning",
                 "projection", "--augment", "cutout,translation", "--upsampling", "resize", "--text-encoder", "birnn",
                 "--no-evaluate", "--out", "unused"]) == 0
    config = seen["config"]
    assert (config.loss, config.spectral_norm, config.conditioning, config.augment, config.upsampling,
            config.text_encoder) == ("hinge", True, "projection", ["cutout", "translation"], "resize", "birnn")
    assert main(["train", "t2i", "--no-spectral-norm", "--augment", "none", "--no-evaluate", "--out", "unused"]) == 0
    assert (seen["config"].spectral_norm, seen["config"].augment) == (False, [])
    assert main(["train", "t2i", "--ema-decay", "1"]) == 2
    assert "below 1" in capsys.readouterr().err
    assert main(["train", "t2i", "--matching-negatives", "all"]) == 2
    assert "hardest" in capsys.readouterr().err
    assert main(["train", "t2i", "--augment", "colour"]) == 2
    assert "translation" in capsys.readouterr().err
    assert main(["train", "t2i", "--recipe", "dcgan"]) == 2
    assert "reed2016" in capsys.readouterr().err
