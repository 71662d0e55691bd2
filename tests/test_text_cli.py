"""End-to-end tests of ``kzoo train|sample charlm`` and ``kzoo train|sample seq2seq`` on tiny settings."""

import json

import pytest

from zoo.cli import main

TINY_LM = ["--units", "16", "--layers", "1", "--seq-len", "20", "--batch-size", "8", "--embedding-dim", "8"]


def test_help_lists_text_commands(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "charlm" in out and "seq2seq" in out
    assert main(["train", "charlm", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--text", "--epochs", "--units", "--layers", "--seq-len", "--batch-size", "--out"):
        assert flag in out
    assert main(["sample", "charlm", "--help"]) == 0
    assert "--temperature" in capsys.readouterr().out


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("ROMEO: Wherefore art thou?\nJULIET: Here I am.\n" * 40)
    return path


def test_train_resume_and_sample_charlm(corpus, tmp_path, capsys):
    out = tmp_path / "lm"
    assert main(["train", "charlm", "--text", str(corpus), "--epochs", "1", "--out", str(out), *TINY_LM]) == 0
    assert "nats/char" in capsys.readouterr().out
    first = json.loads((out / "metrics.json").read_text())
    assert first["epochs_trained_now"] == [0]
    assert (out / "model.keras").is_file()

    # Rerunning with the same --out and --epochs 2 trains only the second epoch.
    assert main(["train", "charlm", "--text", str(corpus), "--epochs", "2", "--out", str(out), *TINY_LM]) == 0
    second = json.loads((out / "metrics.json").read_text())
    assert second["epochs_trained_now"] == [1] and second["epochs"] == 2
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [0, 1]
    capsys.readouterr()

    assert main(["sample", "charlm", "--model", str(out), "--prime", "ROMEO:", "--length", "40",
                 "--temperature", "0.8", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ROMEO:") and len(text) == len("ROMEO:") + 40 + 1
    assert main(["sample", "charlm", "--model", str(out), "--prime", "ROMEO:", "--length", "40",
                 "--temperature", "0.8", "--seed", "1"]) == 0
    assert capsys.readouterr().out == text

    assert main(["sample", "charlm", "--model", str(out), "--prime", "xyz"]) == 2
    assert "outside the model's vocabulary" in capsys.readouterr().err
    assert main(["train", "charlm", "--text", str(corpus), "--epochs", "3", "--out", str(out),
                 *TINY_LM[:1], "32", *TINY_LM[2:]]) == 2
    assert "different settings (model.units: " in capsys.readouterr().err


def test_charlm_cli_errors(tmp_path, capsys):
    assert main(["train", "charlm", "--text", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--text" in err and "missing.txt" in err
    assert main(["sample", "charlm", "--model", str(tmp_path)]) == 2
    assert "no model.keras" in capsys.readouterr().err
    assert main(["sample", "charlm", "--model", str(tmp_path), "--temperature", "0"]) == 2
    assert "argument --temperature" in capsys.readouterr().err
    assert main(["train", "charlm", "--text", "x", "--seq-len", "0"]) == 2
    assert main(["train", "charlm"]) == 2
    assert "--text" in capsys.readouterr().err


def test_train_and_sample_seq2seq(tmp_path, capsys):
    out = tmp_path / "s2s"
    assert main(["train", "seq2seq", "--task", "dates", "--epochs", "1", "--examples", "300", "--units", "16",
                 "--batch-size", "64", "--out", str(out)]) == 0
    assert "exact match on 2000 held-out dates" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["held_out"] == 2000 and metrics["epochs_trained_now"] == [0]
    assert main(["sample", "seq2seq", "--model", str(out), "nov 22, 2026", "22.11.26"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(set(line) <= set("0123456789-") for line in lines)
    assert main(["train", "seq2seq", "--task", "addition"]) == 2
