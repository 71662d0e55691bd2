"""Presets (zoo.save_preset, zoo.load, zoo.presets, `kzoo models`): round trips of each kind, every form of model
reference, URLs checked against sha256, safe_mode, tampered files, wrong kinds, and the bundled presets."""

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import keras
import numpy as np
import pytest

import zoo
from zoo.cli import main
from zoo.presets import registry
from zoo.presets.format import METADATA_FILE, WEIGHTS_FILE, read_preset, sha256_file

MAX_PRESET_BYTES = 8_000_000
MAX_BUNDLE_BYTES = 25_000_000  # five presets, the two text-to-image ones about 7 MB each


# -- tiny models of each kind, and an input to compare their outputs on -----------------------------------------


def _charlm():
    from zoo.text.language_model import CharLanguageModel
    from zoo.text.vocab import CharVocab

    model = CharLanguageModel(CharVocab.from_text("abcdefgh\n", lowercase=False), embedding_dim=4, units=8, layers=2)
    model.build((None, 6))
    return model, np.array([[1, 2, 3, 4, 5, 6]], np.int32)


def _rbm():
    from autoencoders.rbm import BernoulliRBM

    return BernoulliRBM(12, 5, seed=1), (np.random.default_rng(0).random((3, 12)) > 0.5).astype("float32")


def _dae():
    from autoencoders.denoising import dense_denoising_autoencoder

    return dense_denoising_autoencoder(12, (6,), 3, seed=0), np.random.default_rng(0).random((3, 12), "float32")


def _tied():
    from autoencoders.tied import TiedAutoencoder

    model = TiedAutoencoder([12, 6, 3])
    model.build((None, 12))
    return model, np.random.default_rng(0).random((3, 12), "float32")


def _t2i():
    from gan.model import TextToImageGAN
    from zoo.text import CharRNNEncoder, CharVocab

    encoder = CharRNNEncoder(CharVocab(), embedding_dim=4, cell="gru", units=8, output_dim=8)
    model = TextToImageGAN(encoder, image_size=8, z_dim=4, text_proj_dim=4, ngf=4, ndf=4, max_length=16)
    model.build()
    return model, None


def _keras():
    model = keras.Sequential([keras.Input((5, 3)), zoo.LSTM(4), keras.layers.Dense(2)])
    return model, np.random.default_rng(0).random((2, 5, 3), "float32")


TINY = {"charlm": _charlm, "rbm": _rbm, "dae": _dae, "autoencoder": _tied, "t2i": _t2i, "keras": _keras}


def _outputs(model, x):
    if x is None:  # a text-to-image model: images for a caption with fixed noise
        return model.generate(["a red circle"], n=2, z=model.fixed_noise(2, 0))
    return keras.ops.convert_to_numpy(model(x))


def _save(tmp_path, kind="rbm", name=None):
    model, x = TINY[kind]()
    return zoo.save_preset(model, tmp_path / (name or kind), metadata={"description": f"tiny {kind}"}), model, x


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """KERAS_HOME in tmp_path (and no KZOO_CACHE), so downloads never touch the real cache; returns the presets'
    cache folder, which defaults to kzoo/presets under the Keras home."""
    monkeypatch.delenv("KZOO_CACHE", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "keras_home" / "kzoo" / "presets"


@pytest.fixture
def bundled(monkeypatch, tmp_path):
    """An empty bundled-presets folder in tmp_path instead of the package's."""
    folder = tmp_path / "bundled"
    folder.mkdir()
    monkeypatch.setattr(registry, "BUNDLED_DIR", folder)
    return folder


# -- the format and round trips ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def t2i_preset(tmp_path_factory):
    """A tiny text-to-image preset (the slowest kind to build), shared by the tests that need one."""
    return _save(tmp_path_factory.mktemp("t2i"), "t2i")


@pytest.mark.parametrize("kind", list(TINY))
def test_save_load_round_trip_gives_identical_outputs(kind, tmp_path, request):
    path, model, x = request.getfixturevalue("t2i_preset") if kind == "t2i" else _save(tmp_path, kind)
    assert sorted(os.listdir(path)) == ["config.json", METADATA_FILE, WEIGHTS_FILE]
    metadata, config = read_preset(path)
    assert metadata["kind"] == config["kind"] == kind
    assert metadata["parameters"] == model.count_params()
    assert metadata["keras_version"] == keras.__version__ and metadata["kzoo_version"] == zoo.__version__
    assert metadata["description"] == f"tiny {kind}" and metadata["name"] == kind
    assert set(metadata["files"]) == {"config.json", WEIGHTS_FILE}
    for name, entry in metadata["files"].items():
        assert entry["sha256"] == sha256_file(path / name)
    loaded = zoo.load(path, kind=kind)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(_outputs(loaded, x), _outputs(model, x))


def test_weights_leave_out_the_optimizer(tmp_path):
    def dense():
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(64), keras.layers.Dense(2)])

    model, x = dense(), np.ones((2, 3), "float32")
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)  # Adam's moments: twice the weights
    path = zoo.save_preset(model, tmp_path / "compiled")
    plain = zoo.save_preset(dense(), tmp_path / "plain")
    assert (path / WEIGHTS_FILE).stat().st_size == (plain / WEIGHTS_FILE).stat().st_size
    np.testing.assert_array_equal(_outputs(zoo.load(path), x), _outputs(model, x))


def test_single_keras_file_layout(tmp_path):
    model, x = _rbm()
    path = zoo.save_preset(model, tmp_path / "rbm", format="keras")
    assert sorted(os.listdir(path)) == ["config.json", METADATA_FILE, "model.keras"]
    umask = os.umask(0)
    os.umask(umask)
    assert (path / "model.keras").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    np.testing.assert_array_equal(_outputs(zoo.load(path, kind="rbm"), x), _outputs(model, x))
    with pytest.raises(ValueError, match="but a denoising autoencoder"):
        zoo.load(path, kind="dae")


def test_save_preset_replaces_a_preset_but_not_other_folders(tmp_path):
    path, _, _ = _save(tmp_path)
    zoo.save_preset(_rbm()[0], path, metadata={"metrics": {"score": 1.0}})
    assert read_preset(path)[0]["metrics"] == {"score": 1.0}
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a preset directory"):
        zoo.save_preset(_rbm()[0], other)
    assert (other / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="written by save_preset"):
        zoo.save_preset(_rbm()[0], tmp_path / "x", metadata={"files": {}})


def test_keras_file_and_training_folder(tmp_path):
    model, x = _rbm()
    model.save(tmp_path / "model.keras")
    np.testing.assert_array_equal(_outputs(zoo.load(tmp_path / "model.keras"), x), _outputs(model, x))
    run = tmp_path / "run"  # what `kzoo train rbm --out run` writes
    run.mkdir()
    model.save(run / "rbm.keras")
    (run / "metrics.json").write_text("{}")
    np.testing.assert_array_equal(_outputs(zoo.load(run, kind="rbm"), x), _outputs(model, x))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"holds no model.*kzoo train charlm"):
        zoo.load(tmp_path / "empty", kind="charlm")


def test_registry_name_and_listing(bundled, tmp_path):
    path, model, x = _save(bundled, "rbm", "rbm-tiny")
    zoo.save_preset(_charlm()[0], bundled / "charlm-tiny",
                    metadata={"description": "tiny LM", "metrics": {"val_nats_per_char": 1.5}})
    assert registry.preset_names() == ["charlm-tiny", "rbm-tiny"]
    np.testing.assert_array_equal(_outputs(zoo.load("rbm-tiny"), x), _outputs(model, x))
    rows = zoo.presets()
    assert [row["name"] for row in rows] == ["charlm-tiny", "rbm-tiny"]
    assert rows[0]["kind"] == "charlm" and rows[0]["metrics"] == {"val_nats_per_char": 1.5}
    assert rows[0]["size_mb"] > 0 and rows[0]["description"] == "tiny LM"
    assert [row["name"] for row in zoo.presets(kind="rbm")] == ["rbm-tiny"]


def test_kzoo_models_table_and_json(bundled, capsys):
    zoo.save_preset(_charlm()[0], bundled / "charlm-tiny",
                    metadata={"description": "tiny LM", "metrics": {"val_nats_per_char": 1.5}})
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "kind", "size"] and "metrics" in lines[0]
    assert lines[1].startswith("charlm-tiny") and "charlm" in lines[1]
    assert "val_nats_per_char 1.5" in lines[1] and "tiny LM" in lines[1]
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "charlm-tiny" and rows[0]["metrics"] == {"val_nats_per_char": 1.5}
    assert main(["models", "--kind", "rbm"]) == 0
    assert capsys.readouterr().out.strip() == "no presets bundled"


# -- errors -----------------------------------------------------------------------------------------------------


def test_unknown_name_lists_names_and_accepted_forms(bundled, tmp_path):
    _save(bundled, "rbm", "rbm-tiny")
    with pytest.raises(FileNotFoundError) as error:
        zoo.load("no-such-preset")
    message = str(error.value)
    assert "'no-such-preset'" in message and "rbm-tiny" in message
    for form in ("preset name", "preset directory", ".keras file", "file:// URL", "sha256"):
        assert form in message


def test_wrong_kind_is_a_clear_error(bundled, tmp_path, capsys):
    path, _, _ = _save(bundled, "rbm", "rbm-tiny")
    with pytest.raises(ValueError, match=r"holds a Bernoulli RBM \(BernoulliRBM\), but a text-to-image model "
                                         r"\(TextToImageGAN\) is expected"):
        zoo.load("rbm-tiny", kind="t2i")
    assert main(["sample", "charlm", "--model", "rbm-tiny", "--length", "5"]) == 2
    assert "but a character language model (CharLanguageModel) is expected" in capsys.readouterr().err
    assert main(["generate", "--model", str(path), "a red circle", "-o", str(tmp_path / "x.png")]) == 2
    assert "text-to-image model" in capsys.readouterr().err


def test_generate_and_sample_take_preset_directories(t2i_preset, tmp_path, capsys):
    path = t2i_preset[0]
    assert main(["generate", "--model", str(path), "a red circle", "--n", "2", "-o", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").is_file() and "wrote" in capsys.readouterr().out
    path, _, _ = _save(tmp_path, "charlm")
    assert main(["sample", "charlm", "--model", str(path), "--prime", "abc", "--length", "5", "--seed", "0"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("abc") and len(text) == len("abc") + 5 + 1  # the prime, 5 characters, a newline


def test_tampered_weights_are_refused(tmp_path):
    path, _, _ = _save(tmp_path)
    expected = read_preset(path)[0]["files"][WEIGHTS_FILE]["sha256"]
    with open(path / WEIGHTS_FILE, "r+b") as weights:
        weights.seek(-8, os.SEEK_END)
        weights.write(b"\x00tamper\x00")
    actual = sha256_file(path / WEIGHTS_FILE)
    with pytest.raises(ValueError) as error:
        zoo.load(path)
    assert WEIGHTS_FILE in str(error.value) and expected in str(error.value) and actual in str(error.value)
    os.remove(path / WEIGHTS_FILE)
    with pytest.raises(FileNotFoundError, match=f"missing {WEIGHTS_FILE}"):
        zoo.load(path)


def test_lambda_layer_is_refused_under_safe_mode(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2.0)])
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match=r"Lambda layer.*refused under safe_mode"):
        zoo.load(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="cannot be rebuilt"):  # nor written as a preset
        zoo.save_preset(model, tmp_path / "lambda")


# -- URLs -------------------------------------------------------------------------------------------------------


def test_file_url_of_a_keras_file_and_of_an_archive(cache, tmp_path, capsys):
    model, x = _rbm()
    model.save(tmp_path / "tiny.keras")
    url = (tmp_path / "tiny.keras").as_uri()
    digest = sha256_file(tmp_path / "tiny.keras")
    np.testing.assert_array_equal(_outputs(zoo.load(url, sha256=digest), x), _outputs(model, x))
    assert [path.name for path in cache.iterdir()] == [f"{digest[:12]}-tiny.keras"]
    (tmp_path / "tiny.keras").unlink()  # the second load comes from the cache
    np.testing.assert_array_equal(_outputs(zoo.load(url, sha256=digest.upper()), x), _outputs(model, x))

    preset, _, _ = _save(tmp_path, "rbm", "rbm-tiny")
    with tarfile.open(tmp_path / "rbm-tiny.tar.gz", "w:gz") as archive:
        archive.add(preset, arcname="rbm-tiny")
    digest = sha256_file(tmp_path / "rbm-tiny.tar.gz")
    loaded = zoo.load((tmp_path / "rbm-tiny.tar.gz").as_uri(), sha256=digest, kind="rbm")
    np.testing.assert_array_equal(_outputs(loaded, x), _outputs(model, x))
    assert "Downloading" not in capsys.readouterr().out  # Keras's progress goes to stderr


def test_url_without_sha256_is_refused(cache, tmp_path):
    _rbm()[0].save(tmp_path / "tiny.keras")
    with pytest.raises(ValueError, match="needs its sha256"):
        zoo.load((tmp_path / "tiny.keras").as_uri())
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        zoo.load((tmp_path / "tiny.keras").as_uri(), sha256="abc")
    assert not cache.exists() or not any(cache.iterdir())


def test_wrong_sha256_names_both_hashes_and_leaves_no_file(cache, tmp_path):
    _rbm()[0].save(tmp_path / "tiny.keras")
    actual, wrong = sha256_file(tmp_path / "tiny.keras"), "0" * 64
    with pytest.raises(ValueError) as error:
        zoo.load((tmp_path / "tiny.keras").as_uri(), sha256=wrong)
    assert wrong in str(error.value) and actual in str(error.value)
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/evil.txt", "link"])
def test_archive_members_outside_the_preset_are_refused(cache, tmp_path, member):
    archive_path = tmp_path / "bad.tar.gz"
    with tarfile.open(archive_path, "w:gz") as archive:
        info = tarfile.TarInfo(member)
        if member == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
        else:
            info.size = 4
            archive.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(ValueError, match="refusing to extract"):
        zoo.load(archive_path.as_uri(), sha256=sha256_file(archive_path))
    assert not (tmp_path / "evil.txt").exists()
    assert list(cache.iterdir()) == []


def test_zip_archive_with_dotdot_is_refused(cache, tmp_path):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        archive.writestr("../evil.txt", "evil")
    with pytest.raises(ValueError, match="outside the preset"):
        zoo.load((tmp_path / "bad.zip").as_uri(), sha256=sha256_file(tmp_path / "bad.zip"))


# -- building a preset from a training run ----------------------------------------------------------------------


def test_build_a_preset_from_a_charlm_run(tmp_path):
    from zoo.presets.build import build
    from zoo.text.language_model import compile_charlm, text_ids, window_dataset

    text = tmp_path / "abc.txt"
    text.write_text("abcdefgh\n" * 60)
    run = tmp_path / "run"  # what `kzoo train charlm --out run` writes, without the training
    run.mkdir()
    model = _charlm()[0]
    model.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps({"text": str(text), "seq_len": 10, "batch_size": 8,
                                              "validation_fraction": 0.1}))
    (run / "history.json").write_text(json.dumps([{"epoch": 0, "seconds": 1.5}]))
    command = f"kzoo train charlm --text {text} --out {run}"
    metadata = build("charlm-tiny", run, tmp_path / "preset", "tiny LM", str(text), command)
    assert metadata["kind"] == "charlm" and metadata["description"] == "tiny LM"
    assert metadata["training"] == {"command": command, "epochs": 1, "seconds": 1.5,
                                    "data": {"name": str(text), "sha256": {"abc.txt": sha256_file(text)}}}
    # measured on the preset by evaluate_charlm: what Keras reports for the validation split during training
    keras_nats = compile_charlm(model).evaluate(
        window_dataset(text_ids(model.vocab, text.read_text()[-54:]), 10, 8), verbose=0, return_dict=True)
    assert metadata["metrics"]["val_nats_per_char"] == pytest.approx(keras_nats["nats_per_char"], rel=1e-5)
    with pytest.raises(ValueError, match="over the"):
        build("charlm-tiny", run, tmp_path / "too-big", max_bytes=1000)
    assert not (tmp_path / "too-big").exists()


def test_the_build_script_hides_tensorflow_start_up_logs_as_kzoo_does(tmp_path, monkeypatch, capsys):
    from zoo.presets import build

    calls = []
    monkeypatch.setattr(build, "quiet_tensorflow_start", lambda: calls.append("quiet"))
    monkeypatch.setattr(build, "build", lambda *args, **kwargs: calls.append("build") or {
        key: key for key in ("name", "kind", "parameters", "size_bytes", "metrics", "training")})
    assert build.main(["charlm-tiny", "--run", str(tmp_path)]) == 0
    assert calls == ["quiet", "build"] and json.loads(capsys.readouterr().out)["name"] == "name"


# -- the command line and the bundled presets -------------------------------------------------------------------


def test_import_and_listing_do_not_import_tensorflow():
    code = ("import sys, zoo; zoo.presets(); from zoo.cli import main; main(['models']); "
            "sys.exit('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, "listing presets imported tensorflow"


def test_bundled_presets_load_work_and_fit_the_size_limits():
    names = registry.preset_names()
    if not names:
        pytest.skip("no presets bundled")
    total = 0
    for row in zoo.presets():
        metadata = zoo.presets.verify_preset(row["path"])
        size = sum(entry["bytes"] for entry in metadata["files"].values())
        assert size == metadata["size_bytes"] <= MAX_PRESET_BYTES, row["name"]
        assert metadata["metrics"] and metadata["training"]["command"].startswith("kzoo train")
        total += size + os.path.getsize(os.path.join(row["path"], METADATA_FILE))
        model = zoo.load(row["name"], kind=row["kind"])
        if row["kind"] == "charlm":
            assert len(model.generate("ROMEO:", 20, seed=0)) == 26
        elif row["kind"] in ("rbm", "dae"):
            x = (np.random.default_rng(0).random((2, 784)) > 0.5).astype("float32")
            assert np.isfinite(keras.ops.convert_to_numpy(model(x))).all()
        elif row["kind"] == "t2i":
            assert np.isfinite(model.generate(["a small red circle"], n=1)).all()
    assert total <= MAX_BUNDLE_BYTES


def test_sample_charlm_from_the_bundled_preset(capsys):
    if "charlm-shakespeare" not in registry.preset_names():
        pytest.skip("charlm-shakespeare is not bundled")
    assert main(["sample", "charlm", "--model", "charlm-shakespeare", "--prime", "ROMEO:", "--length", "50",
                 "--seed", "0"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO:") and len(text.rstrip("\n")) >= 50


# What each bundled preset must reach on its recorded metrics (metadata.json, measured by `python -m
# zoo.presets.build` after training): (preset, path into the metrics, ">=" or "<=", bound).
PRESET_TARGETS = [
    *(("t2i-shapes-64", ("attribute_accuracy", name), ">=", 0.95) for name in ("colour", "shape", "size", "position")),
    ("t2i-shapes-64", ("diversity_ratio",), ">=", 0.5),
    ("charlm-shakespeare", ("val_nats_per_char",), "<=", 1.60),
    # CD-1 with 500 hidden units: about -105 to -125 nats in the literature (Salakhutdinov & Murray 2008)
    ("rbm-mnist", ("test_log_likelihood",), ">=", -110.0),
    ("dae-mnist", ("val_bce",), "<=", 0.10),
    # issue 24's targets: held-out-phrasing colour accuracy >= 0.75, seen-class judge top-5 at least half that of
    # real images (0.4355 for this judge: 0.22), diversity ratio >= 0.5
    *(("t2i-flowers-64", (group, "colour_accuracy", part), ">=", 0.75)
      for group in ("seen", "unseen") for part in ("petal", "centre")),
    ("t2i-flowers-64", ("seen", "judge_top5"), ">=", 0.22),
    *(("t2i-flowers-64", (group, "diversity_ratio"), ">=", 0.5) for group in ("seen", "unseen")),
]
# Targets a bundled preset is known to miss, each with its measurement; strict, so the test fails (and this entry
# must go) once the preset is rebuilt to meet it.
KNOWN_SHORTFALLS: dict = {}


def _target_cases():
    for preset, path, relation, bound in PRESET_TARGETS:
        reason = KNOWN_SHORTFALLS.get((preset, path))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(preset, path, relation, bound, marks=marks, id=f"{preset}-{'.'.join(path)}")


@pytest.mark.parametrize("preset, path, relation, bound", list(_target_cases()))
def test_bundled_presets_record_metrics_that_meet_their_targets(preset, path, relation, bound):
    directory = registry.preset_dir(preset)
    if directory is None:
        pytest.skip(f"{preset} is not bundled")
    value = json.loads((directory / METADATA_FILE).read_text())["metrics"]
    for key in path:
        value = value[key]
    assert (value >= bound) if relation == ">=" else (value <= bound), \
        f"{preset}: {'.'.join(path)} = {value} is not {relation} {bound}"


@pytest.mark.slow
def test_shapes_preset_reproduces_its_recorded_metrics(tmp_path, monkeypatch):
    """Re-evaluates t2i-shapes-64 from scratch (a fresh judge in an empty cache) and compares with metadata.json:
    the generated images are fixed by the evaluation seed, the judge is retrained, so the figures agree within
    0.02 (the judge's run-to-run spread on the same images)."""
    from gan.metrics import evaluate_t2i

    monkeypatch.setenv("KZOO_CACHE", str(tmp_path))
    directory = registry.preset_dir("t2i-shapes-64")
    recorded = json.loads((directory / METADATA_FILE).read_text())["metrics"]
    measured = evaluate_t2i("t2i-shapes-64", seed=0, samples=recorded["heldout_captions"], dataset="shapes")
    for name, value in recorded["attribute_accuracy"].items():
        assert measured["attribute_accuracy"][name] == pytest.approx(value, abs=0.02), name
    assert measured["diversity_ratio"] == pytest.approx(recorded["diversity_ratio"], abs=0.02)


@pytest.mark.slow
def test_flowers_preset_reproduces_its_recorded_colour_accuracy(shared_data_dir, tmp_path, monkeypatch):
    """Re-measures t2i-flowers-64's colour accuracy as `kzoo evaluate t2i` does (the same held-out
    phrasings and noise, the flowers prepared afresh in an empty cache) and compares with metadata.json. The colour
    extractor is deterministic, so only float round-off in the generator separates the figures; the judge's figures
    need its own training and are left to the build."""
    from gan.data.loaders import load_size
    from gan.data.tfds_flowers import load_prepared
    from gan.generate import load_t2i
    from gan.metrics import flower_colour_accuracy, generate_for, heldout_requests

    data_dir = shared_data_dir / "oxford_flowers102"
    if not data_dir.is_dir():
        pytest.skip(f"Oxford-102 flowers not found at {data_dir}")
    monkeypatch.setenv("KZOO_CACHE", str(tmp_path))
    recorded = json.loads((registry.preset_dir("t2i-flowers-64") / METADATA_FILE).read_text())["metrics"]
    model = load_t2i("t2i-flowers-64")
    for group, split in (("seen", "train"), ("unseen", "test")):
        examples = load_prepared(data_dir, split, load_size("flowers102", model.image_size, augment=True))
        pick, captions = heldout_requests(examples, recorded["samples_per_group"], seed=0)
        assert captions[0] == recorded[group]["example_caption"]
        petal, centre = (np.asarray(examples.labels[key])[pick] for key in ("petal", "centre"))
        measured = flower_colour_accuracy(generate_for(model, captions, seed=0), petal, centre)
        for part in ("petal", "centre"):
            assert measured[part] == pytest.approx(recorded[group]["colour_accuracy"][part], abs=0.01), (group, part)
