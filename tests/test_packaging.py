"""Checks that the packaging, the README and CI agree with each other."""

import configparser
import re
import subprocess
import sys
from pathlib import Path

import zoo

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_starts_with_install_and_test_commands():
    commands = _readme_commands()
    assert commands[0].startswith("pip install . && kzoo train t2i --out runs/shapes && kzoo generate --model "
                                  "runs/shapes ")
    assert commands[1] == 'pip install -e ".[dev]" && python -m pytest'


def test_ci_runs_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert _readme_commands()[1] in ci_lines
    slow = [index for index, line in enumerate(ci_lines) if line.startswith("python -m pytest -m slow")]
    assert slow and slow[0] > ci_lines.index(_readme_commands()[1]), "CI runs the slow tests after the fast ones"


def test_setup_cfg_takes_version_and_entry_point_from_zoo():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    assert config["metadata"]["version"].strip() == "attr: zoo.version.__version__"
    assert "kzoo = zoo.cli:main" in config["options.entry_points"]["console_scripts"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", zoo.__version__)


def test_importing_zoo_does_not_import_tensorflow():
    code = "import sys, zoo; zoo.__version__; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "`import zoo` imported tensorflow"
