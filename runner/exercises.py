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


def kit_root() -> Path:
    """The kit's folder: $BACKEND_KIT_ROOT, else the checkout this package was installed from."""
    env = os.environ.get("BACKEND_KIT_ROOT")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parent.parent)
    candidates.extend([Path.cwd(), *Path.cwd().parents])
    for candidate in candidates:
        if (candidate / "exercises").is_dir():
            return candidate
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
    """Resolve '01-notes-api', '01' or 'notes-api' to an exercise."""
    root = root or kit_root()
    folders = sorted(p for p in (root / "exercises").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    matches = [p for p in folders if name in (p.name, p.name.split("-", 1)[0], p.name.split("-", 1)[-1])]
    if len(matches) != 1:
        names = ", ".join(p.name for p in folders) or "(none)"
        what = "matches several exercises" if matches else "is not an exercise"
        raise UsageError(f"{name!r} {what}.", hint=f"Choose one of: {names} (see `runner list`).")
    return load_exercise(matches[0], root / "solutions")
