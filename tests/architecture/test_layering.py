"""The arrows of docs/DESIGN (../shared/DESIGN.md) hold: walked with `ast`, function
bodies included, so an import hidden inside a function counts too.

- jobs/ is a generic engine: it imports neither resources/ nor imports/;
- the core of resources/ knows nothing of imports/;
- pcf/ holds what every app shares and imports no app;
- no cycle among the project's modules (module-level, runtime imports);
- an import inside a function says why, in a comment on its line or just above."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("pcf", "jobs", "resources", "imports")
FORBIDDEN = {
    "jobs": {"resources", "imports"},
    "resources": {"imports"},
    "pcf": {"jobs", "resources", "imports"},
}


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    target: str  # the imported module, absolute
    in_function: bool
    type_checking_only: bool


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(path: Path, root: Path = ROOT) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path, root)
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        in_function = type_checking = False
        parent = parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef):
                in_function = True
            if isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test):
                type_checking = True
            parent = parents.get(parent)
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _resolve(node, module, path.name == "__init__.py")
            # `from jobs.engine import ledger` imports the module jobs.engine.ledger
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for target in targets:
            yield Import(path, node.lineno, target, in_function, type_checking)


def _project_files() -> list[Path]:
    return sorted(p for app in APPS for p in (ROOT / app).rglob("*.py"))


def _violations(files: list[Path], root: Path = ROOT) -> list[str]:
    return [
        f"{i.path.relative_to(root)}:{i.line} imports {i.target}"
        for path in files
        for i in _imports(path, root)
        if i.target.split(".")[0] in FORBIDDEN.get(_module_name(path, root).split(".")[0], set())
    ]


def test_no_import_goes_against_the_layering() -> None:
    assert _violations(_project_files()) == []


def test_imports_inside_functions_say_why() -> None:
    silent = []
    for path in _project_files():
        lines = path.read_text().splitlines()
        for i in {(i.path, i.line): i for i in _imports(path) if i.in_function}.values():
            above = i.line - 2
            # a run of imports may share the comment above its first line
            while above >= 0 and lines[above].lstrip().startswith(("import ", "from ")):
                above -= 1
            commented = "#" in lines[i.line - 1] or (
                above >= 0 and lines[above].lstrip().startswith("#")
            )
            if not commented:
                silent.append(f"{path.relative_to(ROOT)}:{i.line}")
    assert silent == []


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _project_files()}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for i in _imports(path):
            if i.in_function or i.type_checking_only or i.target == name:
                continue
            if i.target in modules:
                graph[name].add(i.target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list) -> None:
    assert _cycles(graph) == expected


def test_the_walker_sees_forbidden_imports_inside_functions(tmp_path: Path) -> None:
    # given an engine module hiding a feature import in a function, and a relative one
    (tmp_path / "jobs").mkdir()
    sneaky = tmp_path / "jobs" / "sneaky.py"
    sneaky.write_text("def f():\n    from resources import models  # why\n")
    (tmp_path / "pcf").mkdir()
    relative = tmp_path / "pcf" / "rel.py"
    relative.write_text("from ..imports import services\n")
    # then both are violations
    assert _violations([sneaky, relative], tmp_path) == [
        "jobs/sneaky.py:2 imports resources",
        "jobs/sneaky.py:2 imports resources.models",
        "pcf/rel.py:1 imports imports",
        "pcf/rel.py:1 imports imports.services",
    ]
