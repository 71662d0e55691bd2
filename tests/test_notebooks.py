"""The notebooks in notebooks/ run top to bottom (a broken notebook fails the suite) and are stored stripped.

Each notebook is executed with nbclient in a fresh ``python3`` kernel whose working directory is a temporary
folder, with ``KERAS_BACKEND=tensorflow`` and ``TF_CPP_MIN_LOG_LEVEL=2``. The bundled presets a notebook loads
are package data: a missing one is a failure, not a skip.
"""

import json
import re
import time
from pathlib import Path

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"

# Notebook -> the bundled presets it loads by name.
NOTEBOOKS = {
    "01_recurrent_cells_and_gradient_flow.ipynb": (),
    "02_char_rnn.ipynb": ("charlm-shakespeare",),
    "03_autoencoders_and_rbm.ipynb": ("rbm-mnist", "dae-mnist"),
    "04_text_to_image.ipynb": ("t2i-shapes-64", "t2i-flowers-64"),
}

CELL_TIMEOUT_S = 300


def _read_json(name):
    return json.loads((NOTEBOOKS_DIR / name).read_text(encoding="utf-8"))


def _code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def _source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_every_notebook_is_listed():
    found = sorted(path.name for path in NOTEBOOKS_DIR.glob("*.ipynb"))
    assert found == sorted(NOTEBOOKS), "tests/test_notebooks.py must list every notebook in notebooks/"


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_is_stripped(name):
    """Notebooks are kept in git without outputs or execution counts (run them locally, strip before adding)."""
    notebook = _read_json(name)
    dirty = [index for index, cell in enumerate(notebook["cells"])
             if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{name}: code cells {dirty} hold outputs or execution counts; clear them (Jupyter: "
                       f"Edit > Clear All Outputs, or `jupyter nbconvert --clear-output --inplace {name}`)")


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_loads_the_listed_presets(name):
    """The presets a notebook loads by name are the ones listed above (so the check below stays honest)."""
    loaded = set()
    for cell in _code_cells(_read_json(name)):
        loaded.update(re.findall(r"zoo\.load\(\s*[\"']([^\"']+)[\"']", _source(cell)))
    assert loaded == set(NOTEBOOKS[name])


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs(name, tmp_path, monkeypatch):
    try:
        import ipykernel  # noqa: F401  (the python3 kernel)
        import nbclient
        import nbformat
    except ImportError as error:
        pytest.fail(f"executing notebooks needs nbclient, nbformat and ipykernel (the dev extra: "
                    f"pip install -e '.[dev]'): {error}", pytrace=False)
    import zoo

    bundled = {preset["name"] for preset in zoo.presets()}
    missing = [preset for preset in NOTEBOOKS[name] if preset not in bundled]
    assert not missing, (f"{name} loads the bundled preset(s) {missing}, which zoo.presets() does not list; "
                         f"presets are package data (zoo/presets/bundled/), build them with scripts/build_presets.sh")

    # The kernel inherits this environment.
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    before = sorted(path.name for path in NOTEBOOKS_DIR.iterdir())
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    client = nbclient.NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                                     resources={"metadata": {"path": str(tmp_path)}})
    started = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{name} failed in a cell:\n{error}", pytrace=False)
    except nbclient.exceptions.CellTimeoutError as error:
        pytest.fail(f"{name}: a cell ran longer than {CELL_TIMEOUT_S} s:\n{error}", pytrace=False)
    seconds = time.perf_counter() - started
    print(f"{name}: executed in {seconds:.1f} s")
    assert sorted(path.name for path in NOTEBOOKS_DIR.iterdir()) == before, f"{name} wrote into notebooks/"
