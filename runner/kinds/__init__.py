"""Exercise kinds: one module each, owning what the kind means everywhere.

A kind is how the judge reaches learner code (an HTTP app, functions, the learner's own tests,
...). Everything that depends on it lives in the kind's module, so that adding a kind is adding one
module here (plus its exercises), and no ``if kind`` is left anywhere else in the runner:

- ``entry_problem``: what ``[entry]`` in ``exercise.toml`` must look like (catalog validation);
- ``stage``: what the runner writes into the grading workspace besides the learner's files;
- ``serve``: how the learner host, inside the sandbox, imports and serves the learner's code;
- ``judge_fixtures``: the fixtures the kind gives hidden checks (``client``, ``learner``, ...);
- ``serves_implementation``: whether the judge serves code the learner's process calls back;
- ``visible_test_args``: what ``runner test`` passes to pytest besides the visible tests;
- ``scaffold``: what ``runner new --kind NAME`` writes.

A kind module is imported on both sides of the trust boundary (the runner, the judge, and the
learner host inside the sandbox), so at module level it imports only the stdlib, ``wire`` and
``results``; anything heavier (flask, pytest, the protocol) is imported where it is used.
Discovery is by module: each module of this package defines ``KIND``.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ..learner.host import Host


@dataclass(frozen=True)
class ScaffoldBug:
    """The one catalogued mistake a scaffolded exercise starts with (a find/replace of the solution)."""

    id: str
    summary: str
    find: str
    replace: str
    fails: str


@dataclass(frozen=True)
class Scaffold:
    """What ``runner new`` writes for this kind: a small exercise that validates as it is."""

    learner_file: str
    target: str
    functions: tuple[str, ...]
    starter: str
    solution: str
    check: str
    bug: ScaffoldBug
    #: The statement's rules the scaffold's checks prove (``[R1] ...`` lines of README.md).
    rules: tuple[str, ...] = ()
    #: Files of starter/ the learner does not edit but the graded code needs (name → text), declared
    #: as ``support_files`` and copied into every grade.
    support_files: Mapping[str, str] = field(default_factory=dict)
    #: Files of starter/ for the learner's own runs only, never copied into a grade (name → text):
    #: the module under test of the tests kind, which grading replaces with a proxy.
    local_files: Mapping[str, str] = field(default_factory=dict)


class Kind:
    """The base every kind module's ``KIND`` derives from; the defaults suit most kinds."""

    name: ClassVar[str]
    description: ClassVar[str]
    scaffold: ClassVar[Scaffold]
    #: The tests kind: the judge serves the implementation under test to the learner's process.
    serves_implementation: ClassVar[bool] = False
    #: The ``runner.mutate`` operators worth grading on this kind's solutions (None: all of them).
    mutation_operators: ClassVar[tuple[str, ...] | None] = None

    def entry_problem(self, target: str, functions: Sequence[str]) -> str | None:
        """What is wrong with this kind's ``[entry]``, or ``None`` (the catalog reports it)."""
        if ":" in target:
            return f"a {self.name} entry names a module only, e.g. 'models'"
        if not functions:
            return f"a {self.name} entry must list its 'functions'"
        return None

    def stage(self, workspace: Path, target: str, functions: Sequence[str]) -> None:
        """Write what the grading workspace needs besides the learner's files and support files."""

    def visible_test_args(self, files: Sequence[str]) -> list[str]:
        """Extra pytest arguments for ``runner test`` (the learner's own test files, say)."""
        return []

    def serve(self, host: Host) -> None:
        """Inside the sandbox: import the learner's code through ``host``, report ready, serve."""
        raise NotImplementedError

    def judge_fixtures(self) -> dict[str, Callable[..., Any]]:
        """pytest fixtures (already decorated) the judge registers for checks of this kind."""
        return {}


@functools.cache
def registry() -> dict[str, Kind]:
    """Every kind, by name, discovered from the modules of this package."""
    found: dict[str, Kind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if isinstance(kind, Kind):
            found[kind.name] = kind
    return found


def names() -> tuple[str, ...]:
    return tuple(registry())


def get(name: str) -> Kind:
    """The kind called ``name``; a ``KeyError`` names the kinds there are."""
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(f"unknown exercise kind {name!r}; the kinds are {', '.join(names())}") from None
