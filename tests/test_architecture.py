"""The package's import graph has no cycles and follows the layer order.

Layers, bottom to top (a module may import only its own layer or lower ones):

    rewrite < rules < theorems < search < lowering < kernels < wirefuse

where the top layer is everything else in `wirefuse` (the API in wirefuse/__init__.py, the CLI,
wirefuse.commands, wirefuse.report, wirefuse.draw, wirefuse.loading).  The graph is built with
`ast` from every module file that pyproject.toml's package-dir maps into the package, counting
every `import` node anywhere in a file (inside functions and `if TYPE_CHECKING:` blocks too):
an import deferred into a function still runs, so it still binds the layers together.
"""
import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("rewrite", "rules", "theorems", "search", "lowering", "kernels", "wirefuse")


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under pyproject's package-dir folders."""
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    files = {}
    for package in config["packages"]:
        # the folder of a package: its longest package-dir prefix, plus the rest of its name
        prefix = max((p for p in config["package-dir"] if package == p or package.startswith(p + ".")),
                     key=len)
        folder = root / config["package-dir"][prefix] / Path(*package[len(prefix):].split(".")[1:])
        for path in sorted(folder.glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            files[name] = path
    return files


def imports_of(name: str, path: Path, modules) -> list[tuple[str, int]]:
    """(imported module, line) for every import node in the file, resolved to a module of `modules`.

    `from pkg import name` means the submodule `pkg.name` when that is a module, else `pkg`
    itself; imports from outside the package are dropped.
    """
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb from this module's package
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            # `import a.b.c` binds a module: the longest prefix that is one of ours
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target:
                found.append((target, node.lineno))
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS) - 1


def import_graph(root: Path) -> nx.DiGraph:
    files = module_files(root)
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        for target, line in imports_of(name, path, files):
            if target != name and not graph.has_edge(name, target):
                graph.add_edge(name, target, file=path.relative_to(root), line=line)
    return graph


GRAPH = import_graph(ROOT)


def test_every_module_file_is_in_the_graph():
    # a mapping mistake would shrink the graph and let everything below pass vacuously
    on_disk = {p for d in ("rewrite", "rules", "theorems", "search", "lowering", "kernels", "wirefuse")
               for p in (ROOT / d).rglob("*.py")}
    assert set(module_files(ROOT).values()) == on_disk
    assert set(GRAPH.nodes) == set(module_files(ROOT))
    assert GRAPH.has_edge("wirefuse.search.prover", "wirefuse.theorems.checker")


def test_builder_sees_deferred_and_from_package_imports(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npackage-dir = {"p" = "p", "p.low" = "low"}\npackages = ["p", "p.low"]\n')
    (tmp_path / "p").mkdir()
    (tmp_path / "low").mkdir()
    (tmp_path / "p" / "__init__.py").write_text("")
    (tmp_path / "p" / "top.py").write_text("from p.low import a\n")
    (tmp_path / "low" / "__init__.py").write_text("")
    (tmp_path / "low" / "a.py").write_text("def f():\n    from . import b\n")
    (tmp_path / "low" / "b.py").write_text("import p.top as t\n")
    graph = import_graph(tmp_path)
    assert set(graph.edges) == {("p.top", "p.low.a"), ("p.low.a", "p.low.b"), ("p.low.b", "p.top")}
    assert graph.edges["p.low.a", "p.low.b"]["line"] == 2


def test_no_import_cycles():
    cycles = sorted(" -> ".join(c + [c[0]]) for c in nx.simple_cycles(GRAPH, length_bound=4))
    # every cycle is in a strongly connected component; the bound keeps the listing short
    tangled = [sorted(c) for c in nx.strongly_connected_components(GRAPH) if len(c) > 1]
    assert not tangled, "import cycles:\n" + "\n".join(cycles or map(str, tangled))


def test_imports_follow_the_layers():
    upward = sorted(f"{data['file']}:{data['line']}: {a} imports {b} ({LAYERS[layer(b)]} is above "
                    f"{LAYERS[layer(a)]})"
                    for a, b, data in GRAPH.edges(data=True) if layer(b) > layer(a))
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


@pytest.mark.parametrize("heavy", ["egglog", "triton"])
def test_import_wirefuse_alone_loads_no_heavy_dependency(heavy):
    code = f"import sys, wirefuse; print({heavy!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
