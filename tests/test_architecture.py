"""The layering of docs/architecture.md, checked on every import of kzoo's own code: module-level, inside
functions, ``importlib.import_module("...")`` and ``"module:attribute"`` / ``"package.module"`` strings (the lazy
references of package facades and family registrations). An upward or circular reference fails with its path.
Also: the linter (ruff, configured in pyproject.toml) passes on the whole tree, and the families register."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("gan", "autoencoders")  # the packages built on zoo
PACKAGES = ("zoo", *FAMILIES)

# zoo's own layers, lowest first (docs/architecture.md): a module may reference its own layer and those below.
ZOO_LAYERS = {
    0: ("zoo.version", "zoo.lazy", "zoo.families", "zoo.io", "zoo.images", "zoo.seeding", "zoo.progress",
        "zoo.keras_private", "zoo.distribution", "zoo.hashing", "zoo.cache", "zoo.cpus", "zoo.extras",
        "zoo.tensorflow_start", "zoo.validation", "zoo.data"),
    1: ("zoo.checkpoint", "zoo.callbacks", "zoo.training", "zoo.presets"),
    2: ("zoo.cells", "zoo.params", "zoo.fused_tf", "zoo.layers", "zoo.backprop", "zoo.gradients", "zoo.text"),
    3: ("zoo.cli", "zoo.cli_args", "zoo.gradients_commands", "zoo.presets_commands", "zoo.text.commands",
        "zoo.presets.build", "zoo.family", "zoo.runtime", "zoo.testing", "zoo.benchmark", "zoo"),
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def own_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
            if "bundled" not in path.parts}


def zoo_layer(module: str) -> int:
    """The layer of a zoo module: the longest prefix named in ZOO_LAYERS (``"zoo"`` is the package facade only)."""
    best, layer = "", None
    for rank, prefixes in ZOO_LAYERS.items():
        for prefix in prefixes:
            covers = module == prefix or (prefix != "zoo" and module.startswith(prefix + "."))
            if covers and len(prefix) > len(best):
                best, layer = prefix, rank
    if layer is None:
        raise AssertionError(f"{module} is in no layer of ZOO_LAYERS (tests/test_architecture.py); add it there "
                             "and to docs/architecture.md")
    return layer


def references(module: str, path: Path, modules) -> set[str]:
    """The own modules that ``module`` imports or names, resolved to the nearest existing module."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    named = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            named.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value.split(":")[0]
            dotted = "." in text or ":" in node.value
            if dotted and text.split(".")[0] in PACKAGES and all(part.isidentifier() for part in text.split(".")):
                named.add(text)
    found = set()
    for name in named:
        if name.split(".")[0] not in PACKAGES:
            continue
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = own_modules()
    return {module: references(module, path, modules) for module, path in modules.items()}


def layering_violations(graph) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        package = module.split(".")[0]
        for target in sorted(targets):
            target_package = target.split(".")[0]
            if package == "zoo" and target_package != "zoo":
                problems.append(f"{module} -> {target}: the base zoo references the family {target_package}")
            elif package in FAMILIES and target_package in FAMILIES and target_package != package:
                problems.append(f"{module} -> {target}: one family references another")
            elif package == "zoo" and zoo_layer(target) > zoo_layer(module):
                problems.append(f"{module} (layer {zoo_layer(module)}) -> {target} (layer {zoo_layer(target)}): "
                                "an upward reference")
    return problems


def cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_imports_point_down_the_layers():
    graph = import_graph()
    assert len(graph) > 50 and "zoo.families" in graph["zoo.presets.kinds"]  # the parser sees the real tree
    assert layering_violations(graph) == []


def test_no_module_cycle():
    assert cycles(import_graph()) == []


def test_the_checker_finds_upward_lazy_and_circular_references(tmp_path):
    # The same rules on a made-up graph: a lazy upward string reference and a cycle are both reported.
    graph = {"zoo.io": {"zoo.presets.loading"}, "zoo.presets.loading": {"zoo.io", "zoo.family"},
             "zoo.family": {"gan.model"}, "gan.model": {"autoencoders.rbm"}}
    problems = layering_violations(graph)
    assert any(p.startswith("zoo.io (layer 0) -> zoo.presets.loading (layer 1)") for p in problems)
    assert any(p.startswith("zoo.presets.loading (layer 1) -> zoo.family (layer 3)") for p in problems)
    assert any("the base zoo references the family gan" in p for p in problems)
    assert any("one family references another" in p for p in problems)
    assert cycles(graph) == [["zoo.io", "zoo.presets.loading"]]
    # ... and the parser reads function-level imports, import_module strings and "module:attribute" strings.
    source = tmp_path / "zoo" / "probe.py"
    source.parent.mkdir()
    source.write_text('"""Mentions gan.model in a docstring, which is no reference."""\n'
                      "def f():\n    from gan import train\n    import importlib\n"
                      "    importlib.import_module('autoencoders.rbm')\n    return 'zoo.io:write_json'\n")
    modules = {"gan.train": None, "gan.model": None, "autoencoders.rbm": None, "zoo.io": None, "zoo.probe": None}
    assert references("zoo.probe", source, modules) == {"gan.train", "autoencoders.rbm", "zoo.io"}


def test_every_family_registers_through_its_entry_point():
    from zoo.families import families, preset_kinds

    assert [family.name for family in families()] == ["zoo", "autoencoders", "gan"]
    assert set(preset_kinds()) == {"charlm", "seq2seq", "rbm", "dae", "autoencoder", "t2i"}
    for family in families():
        for name, kind in family.kinds.items():
            assert kind.module.split(".")[0] in family.packages, name


def test_family_modules_import_no_tensorflow():
    code = ("import sys; from zoo.families import families, command_registrars; families(); command_registrars(); "
            "sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


@pytest.mark.skipif(shutil.which("ruff") is None and subprocess.run(
    [sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0,
    reason="ruff is not installed (pip install -e '.[dev]' installs it)")
def test_ruff_passes():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
