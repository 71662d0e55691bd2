"""Tests of the ``kzoo`` command line and of locating the shared data folder."""

import argparse
import json
import shutil
import subprocess
import sys

import pytest

import zoo
from zoo.cli import main
from zoo.data import paths

TINY_BENCH = ["bench", "rnn", "--batch", "4", "--steps", "5", "--features", "3", "--units", "8",
              "--repeats", "1", "--warmup", "1", "--cells", "lstm"]


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"kzoo {zoo.__version__}\n"


def test_help_lists_subcommands(capsys):
    assert main(["--help"]) == 0
    assert "bench" in capsys.readouterr().out
    assert main(["bench", "--help"]) == 0
    assert "rnn" in capsys.readouterr().out


def test_help_describes_the_library_with_an_example_of_every_command(capsys):
    from zoo.cli import build_parser, command_examples

    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "Text to image" in text and "examples:" in text
    examples = command_examples(build_parser())
    commands = {"train t2i", "train charlm", "train seq2seq", "train rbm", "train autoencoder", "sample charlm",
                "sample seq2seq", "gradients", "models", "generate", "evaluate t2i"}
    assert {command for command in commands if any(e.startswith(f"kzoo {command} ") for e in examples)} == commands
    assert all(f"  {example}" in text for example in examples)


def test_help_never_prints_an_empty_default(capsys):
    """No "(default: None)" after a flag that has none, nor a doubled percent sign."""
    from zoo.cli import build_parser

    def leaves(parser):
        for action in parser._actions:  # argparse's subcommands; no public accessor
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    nested = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
                    yield from leaves(sub) if nested else [sub]

    for parser in leaves(build_parser()):
        text = parser.format_help()
        assert "(default: None)" not in text and "%%" not in text, parser.prog


def test_help_does_not_import_tensorflow():
    code = "import sys; from zoo.cli import main; main(['--help']); sys.exit('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, "`kzoo --help` imported tensorflow"


def test_bench_rnn_tiny(capsys, tmp_path):
    report = tmp_path / "bench.json"
    assert main(TINY_BENCH + ["--matmul-size", "64", "--seed", "3", "--json", str(report)]) == 0
    captured = capsys.readouterr()
    assert "kzoo bench rnn is deprecated" in captured.err and "python bench/rnn.py" in captured.err
    out = captured.out
    assert "| cell" in out and "train ms" in out and "forward GFLOP/s" in out
    assert "keras.layers.LSTM" in out and "zoo.LSTM" in out
    assert "matmul roofline" in out
    rows = json.loads(report.read_text())["rows"]
    assert [row["layer"] for row in rows] == ["keras", "kzoo"]
    assert rows[1]["max_abs_diff"] <= 1e-5
    assert rows[0]["seed"] == 3


@pytest.mark.parametrize("flag, value", [("--units", "0"), ("--batch", "-1"), ("--steps", "x"),
                                         ("--repeats", "0"), ("--warmup", "-1"), ("--seed", "-2"),
                                         ("--cells", "lstm,transformer"), ("--block", "0"), ("--rewarm", "-1")])
def test_bad_arguments_exit_2_naming_the_argument(capsys, flag, value):
    assert main(["bench", "rnn", flag, value]) == 2
    assert f"argument {flag}" in capsys.readouterr().err


def test_missing_subcommand_exits_2(capsys):
    assert main([]) == 2
    assert main(["bench"]) == 2
    assert "required" in capsys.readouterr().err


def test_shared_data_env_var_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path))
    assert paths.shared_data_dir() == tmp_path.resolve()
    with pytest.raises(FileNotFoundError, match=paths.ENV_VAR):
        paths.find_shared_data("mnist")
    (tmp_path / "mnist").mkdir()
    assert paths.find_shared_data("mnist") == tmp_path.resolve() / "mnist"


def test_shared_data_default_is_next_to_repo(monkeypatch):
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    repo_root = paths._repo_root()
    assert (repo_root / "zoo" / "data" / "paths.py").is_file()
    assert paths.shared_data_candidate() == repo_root.parent / "shared" / "data"


def test_shared_data_fixture_skips_when_absent(monkeypatch, tmp_path, request):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv(paths.ENV_VAR, str(missing))
    assert paths.shared_data_dir() is None
    with pytest.raises(pytest.skip.Exception, match="nowhere"):
        request.getfixturevalue("shared_data_dir")


def test_shared_data_fixture_finds_datasets(shared_data_dir):
    assert (shared_data_dir / "mnist" / "SHA256SUMS").is_file()


@pytest.mark.skipif(shutil.which("kzoo") is None, reason="no `kzoo` console script on PATH (pip install -e . first)")
def test_console_script_version():
    result = subprocess.run(["kzoo", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"kzoo {zoo.__version__}"


def test_verbose_brings_back_tensorflow_start_up_logs(tmp_path):
    """`kzoo --verbose generate` with the bundled preset: TensorFlow's C++ start-up lines are back (the oneDNN
    notice is printed on every CPU build). Without --verbose stderr stays empty: tests/test_t2i_cli.py's
    test_generate_without_a_model_uses_the_bundled_preset."""
    command = ["kzoo", "--verbose", "generate", "a small red circle in the top left", "--n", "2", "-o",
               str(tmp_path / "a.png")]
    loud = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert loud.returncode == 0 and "oneDNN" in loud.stderr, loud.stderr[-2000:]
    assert (tmp_path / "a.png").is_file()


def test_library_errors_name_arguments_and_the_cli_names_flags(tmp_path, capsys):
    """The same ArgumentError reads in argument names from Python and in flags from kzoo."""
    from zoo.distribution import get_strategy
    from zoo.text.language_model import read_text
    from zoo.validation import ArgumentError, MissingPathError

    with pytest.raises(ArgumentError, match=r"^devices=2 needs distribute='mirrored'"):
        get_strategy("none", devices=2)
    with pytest.raises(MissingPathError, match=r"^text_path='.*missing.txt': no such file") as raised:
        read_text(tmp_path / "missing.txt")
    assert isinstance(raised.value, FileNotFoundError)
    assert main(["train", "charlm", "--text", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert f"error: --text {tmp_path / 'missing.txt'}: no such file" in error and "text_path" not in error
    assert main(["train", "rbm", "--devices", "2", "--out", str(tmp_path / "rbm")]) == 2
    assert "error: --devices 2 needs --distribute mirrored (one machine) or multiworker" in capsys.readouterr().err
