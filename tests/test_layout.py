"""The layers, held by a test: pure modules do no I/O, the learner side stays light, renderers do
not import the orchestrator, there are no import cycles, and exercise kinds have one home."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parent.parent / "runner"

#: Modules that do no I/O: they may import only the stdlib's pure parts, pydantic and each other.
PURE = {"runner.results", "runner.scoring", "runner.catalog", "runner.textsafe", "runner.exports", "runner.wire",
        "runner.session", "runner.findings", "runner.errors", "runner.kinds", "runner.rules", "runner.kills",
        "runner.goldens", "runner.mutate", "runner.oracle", "runner.focus", "runner.names", "runner.progress",
        "runner.diagnose", "runner.entries", "runner.classexports", "runner.classstats"}
#: Stdlib modules that are I/O (processes, files, sockets, time): a pure module imports none of them.
IO_STDLIB = {"os", "subprocess", "socket", "socketserver", "select", "shutil", "tempfile", "threading",
             "multiprocessing", "signal", "time", "http", "urllib", "sqlite3", "asyncio", "random"}
#: What the learner side (imported inside the sandbox with ``python -I``) may import at module level.
LEARNER_ALLOWED = {"runner", "runner.wire", "runner.results", "runner.protocol", "runner.kinds", "runner.diagnose"}
#: Importing any of these means importing the grade's orchestration.
ORCHESTRATION = {"runner.grading", "runner.validate", "runner.context", "runner.cli", "runner.judge.launch",
                 "runner.parity"}


def module_name(path: Path) -> str:
    parts = path.relative_to(RUNNER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(RUNNER.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports(name: str, *, top_level_only: bool) -> set[str]:
    """Absolute names of what a runner module imports (outside ``if TYPE_CHECKING``)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt], top: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base]) if base else ".".join(anchor)
                found.add(base)
                for alias in node.names:  # `from . import wire` imports a module
                    if f"{base}.{alias.name}" in MODULES:
                        found.add(f"{base}.{alias.name}")
            if top_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt | ast.ExceptHandler):
                    visit([n for n in inner if isinstance(n, ast.stmt)] + [s for h in inner
                          if isinstance(h, ast.ExceptHandler) for s in h.body], top)

    visit(tree.body, True)
    return found


def _root(name: str) -> str:
    return name.split(".")[0]


def test_the_map_knows_every_module():
    """The layers below are checked over every module of the runner."""
    assert {"runner.wire", "runner.session", "runner.grading", "runner.learner.host", "runner.kinds.wsgi"} \
        <= set(MODULES)
    # The import reader resolves relative imports, skips TYPE_CHECKING, and sees lazy imports only when asked.
    assert {"runner.wire", "runner.kinds", "runner.results"} <= imports("runner.learner.host", top_level_only=True)
    assert "runner.learner.host" not in imports("runner.kinds.wsgi", top_level_only=False)
    assert "werkzeug.serving" in imports("runner.kinds.wsgi", top_level_only=False)
    assert "werkzeug.serving" not in imports("runner.kinds.wsgi", top_level_only=True)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n in PURE or n.startswith("runner.kinds.")))
def test_pure_modules_import_nothing_with_io(name):
    """Pure modules (and the kind modules at their top level) import only pure modules, the pure stdlib
    and pydantic; a kind imports flask, pytest or the protocol only inside the function that needs it."""
    found = imports(name, top_level_only=name.startswith("runner.kinds"))
    for imported in found:
        if _root(imported) == "runner":
            assert imported in PURE or imported == "runner" or imported.startswith("runner.kinds"), (name, imported)
        else:
            assert _root(imported) in sys.stdlib_module_names or _root(imported) in ("pydantic", "__future__"), \
                (name, imported)
            assert _root(imported) not in IO_STDLIB, (name, imported)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("runner.learner")))
def test_the_learner_side_imports_only_the_stdlib_and_the_wire(name):
    """Inside the sandbox: the stdlib, wire, results, protocol and kinds; pytest for the test-run plugin."""
    for imported in imports(name, top_level_only=True):
        if _root(imported) == "runner":
            assert imported in LEARNER_ALLOWED or imported.startswith("runner.learner"), (name, imported)
        elif name == "runner.learner.testrun" and imported == "pytest":
            continue  # it is a pytest plugin of the learner's own test run
        else:
            assert _root(imported) in sys.stdlib_module_names or imported == "__future__", (name, imported)


@pytest.mark.parametrize("name", ["runner.report", "runner.exports", "runner.findings", "runner.classexports",
                                  "runner.classstats", "runner.classreport"])
def test_renderers_do_not_import_the_orchestrator(name):
    """A renderer needs the result types, never the code that produced them."""
    assert not imports(name, top_level_only=False) & ORCHESTRATION


def test_the_judge_does_not_import_a_sandbox():
    """The judge process needs process primitives, not the learner's sandbox."""
    for name in (n for n in MODULES if n.startswith("runner.judge")):
        assert not any(i.startswith("runner.sandbox") for i in imports(name, top_level_only=False)), name


def test_no_import_cycles():
    """The module-level import graph of the runner has no cycle (outside TYPE_CHECKING)."""
    graph = {name: {i for i in imports(name, top_level_only=True) if i in MODULES and i != name}
             for name in MODULES}
    # A package's __init__ is imported by its submodules anyway: edges into a parent package don't count.
    graph = {name: {i for i in edges if not name.startswith(i + ".")} for name, edges in graph.items()}
    state: dict[str, int] = {}

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(nxt):], nxt]))
            if nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            walk(name, [name])


def test_no_module_outside_kinds_branches_on_a_kind():
    """What a kind means lives in its module of runner/kinds/: no `if kind` anywhere else."""
    pattern = re.compile(r"EntryKind|entry\.kind\s*(==|!=|is\b|in\b)(?!\s*_Kind)"
                         r"|kind\s*==\s*[\"'](wsgi|functions|tests)[\"']")
    offenders = [f"{path.relative_to(RUNNER.parent)}:{number}: {line.strip()}"
                 for path in RUNNER.rglob("*.py") if "kinds" not in path.parts
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []
