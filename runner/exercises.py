"""Finding exercises on disk and loading them (the I/O side of ``catalog``).

An exercise folder looks like this::

    exercises/01-notes-api/
        exercise.toml       metadata (see runner.catalog)
        README.md           the statement
        starter/            files copied into the learner's workspace (with # TODO markers)
        tests/              visible tests the learner runs with `runner test`
        checks/             hidden checks, run only by the judge
    solutions/01-notes-api/
        <files>             the reference solution (the files the learner writes)
        bugs.toml           the catalogue of realistic mistakes, as find/replace on the solution
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .catalog import Bug, BugCatalogue, ExerciseMeta, apply_bug, check_slug, parse_bugs, parse_meta
from .errors import ContentError, UsageError
from .names import resolve


def is_kit_checkout(folder: Path) -> bool:
    """A backend-kit checkout: an ``exercises/`` folder next to a pyproject.toml naming backend-kit."""
    try:
        return (folder / "exercises").is_dir() and 'name = "backend-kit"' in (folder / "pyproject.toml").read_text()
    except OSError:
        return False


def kit_root() -> Path:
    """The kit's folder: $BACKEND_KIT_ROOT, else the checkout the learner is in (walking up from the
    current directory, so a learner who cloned the repo gets that clone's workspace), else the
    checkout this package was installed from."""
    env = os.environ.get("BACKEND_KIT_ROOT")
    if env and (Path(env) / "exercises").is_dir():
        return Path(env)
    for candidate in (Path.cwd(), *Path.cwd().parents):
        if is_kit_checkout(candidate):
            return candidate
    installed = Path(__file__).resolve().parent.parent
    if (installed / "exercises").is_dir():
        return installed
    raise UsageError(
        "Cannot find the kit's exercises/ folder.",
        hint="Run the command inside your backend-kit checkout, or set BACKEND_KIT_ROOT to it.",
    )


@dataclass(frozen=True)
class Exercise:
    slug: str
    root: Path
    meta: ExerciseMeta
    solutions_root: Path

    @property
    def starter_dir(self) -> Path:
        return self.root / "starter"

    @property
    def tests_dir(self) -> Path:
        return self.root / "tests"

    @property
    def checks_dir(self) -> Path:
        return self.root / "checks"

    @property
    def statement(self) -> Path:
        return self.root / "README.md"

    @property
    def solution_dir(self) -> Path:
        return self.solutions_root / self.slug

    @cached_property
    def bugs(self) -> tuple[Bug, ...]:
        path = self.solution_dir / "bugs.toml"
        if not path.is_file():
            return ()
        catalogue: BugCatalogue = parse_bugs(path.read_text(encoding="utf-8"), str(path))
        return catalogue.bug

    def solution_files(self) -> dict[str, str]:
        files = {}
        for name in self.meta.files:
            path = self.solution_dir / name
            if not path.is_file():
                raise ContentError([f"{path}: the reference solution lacks {name}, listed in 'files'"])
            files[name] = path.read_text(encoding="utf-8")
        return files

    def bug_files(self, bug: Bug) -> dict[str, str]:
        return apply_bug(self.solution_files(), bug, str(self.solution_dir / "bugs.toml"))

    def starter_files(self) -> dict[str, str]:
        return {
            str(path.relative_to(self.starter_dir)): path.read_text(encoding="utf-8")
            for path in sorted(self.starter_dir.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        }


def load_exercise(folder: Path, solutions_root: Path) -> Exercise:
    slug = folder.name
    check_slug(slug, str(folder))
    meta_path = folder / "exercise.toml"
    if not meta_path.is_file():
        raise ContentError([f"{meta_path}: missing (every exercise folder needs its metadata file)"])
    meta = parse_meta(meta_path.read_text(encoding="utf-8"), str(meta_path))
    problems = [
        f"{folder / part}: missing (an exercise needs it)"
        for part in ("README.md", "starter", "checks")
        if not (folder / part).exists()
    ]
    if problems:
        raise ContentError(problems)
    return Exercise(slug=slug, root=folder, meta=meta, solutions_root=solutions_root)


def all_exercises(root: Path | None = None) -> list[Exercise]:
    root = root or kit_root()
    folders = sorted(p for p in (root / "exercises").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    return [load_exercise(folder, root / "solutions") for folder in folders]


def find_exercise(name: str, root: Path | None = None) -> Exercise:
    """Resolve a full name, an unambiguous prefix or a unique part after the number (see `names`)."""
    root = root or kit_root()
    folders = sorted(p for p in (root / "exercises").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    by_name = {p.name: p for p in folders}
    chosen = by_name[resolve(name, list(by_name))]
    return load_exercise(chosen, root / "solutions")
