"""The layer order (docs/architecture.md) beyond what `lint-imports` checks between rooms: no import
cycle among any of helpers' modules (imports inside functions count), no private name imported
from another module, no module over 600 lines, and each module says what it holds.

`lint-imports` (run by `make test`, contracts in pyproject.toml) keeps the rooms in order; these
tests look inside the rooms too.
"""
from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
HELPERS = ROOT / "helpers"
MAX_LINES = 600
GETTEXT = {"_", "N_"}  # gettext's conventional names (helpers.i18n): the one sanctioned "private" import


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(HELPERS.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the helpers modules it imports, anywhere in it (grimp counts imports inside functions)."""
    graph = grimp.build_graph("helpers", cache_dir=None)
    # A module's package __init__ runs when it is imported, but that is Python's doing, not a dependency
    # the module declares: only the import statements count.
    return {name: set(graph.find_modules_directly_imported_by(name)) for name in graph.modules}


def test_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"b"}}) == []


def test_no_import_cycle_among_the_modules():
    found = cycles(import_graph())
    assert not found, f"modules importing each other (directly or round about): {found}"


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "helpers.portfolio" in graph["helpers.cli"], "cli imports its sub-commands inside build_parser"


def private_imports(path: Path, module: str) -> list[str]:
    """`from X import _name` where X is another helpers module (gettext's _ and N_ aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.split(".")
            base = base[:len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        if not source.startswith("helpers"):
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__") and alias.name not in GETTEXT:
                found.append(f"{module}:{node.lineno} imports {alias.name} from {source}")
        if any(part.startswith("_") and not part.startswith("__") for part in source.split(".")):
            found.append(f"{module}:{node.lineno} imports the private module {source}")
    return found


def test_private_import_finder_sees_relative_and_absolute_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from ..parameters import _spec\nfrom helpers._internal import x\nfrom ..i18n import _\n")
    found = private_imports(probe, "helpers.steps.probe")
    assert found == ["helpers.steps.probe:1 imports _spec from helpers.parameters",
                     "helpers.steps.probe:2 imports the private module helpers._internal"]


def test_no_private_name_crosses_modules():
    found = [hit for module, path in modules().items() for hit in private_imports(path, module)]
    assert not found, found


@pytest.mark.parametrize("module, path", sorted(modules().items()))
def test_each_module_is_one_room_that_says_what_it_holds(module, path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES}): split it by concern"
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if path.name == "__main__.py" and lines < 10:
        return  # `python -m` glue
    assert docstring and len(docstring) > 20, f"{module} does not say what it holds (a module docstring)"
