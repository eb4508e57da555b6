"""Intake: a submission read and hashed once, and the hashes a gradebook keys results by.

A ``Submission`` is the files the exercise declares (``files`` in exercise.toml), read from a folder
or unpacked safely from an archive, with every problem found on the way (missing, rejected or
unparsable files) as data rather than exceptions. ``exercise_digest`` hashes what the grade of an
exercise depends on (its metadata, checks, support files and the runner's version), so a gradebook
knows when a result is stale.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import __version__, textsafe
from .archive import ArchiveError, is_archive, unpack
from .exercises import Exercise
from .results import Category, Problem
from .scoring import BLOCKING

MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Submission:
    """The files a learner is meant to write, read from a folder; problems instead of exceptions."""

    files: Mapping[str, bytes]
    problems: tuple[Problem, ...] = ()
    #: The content hash, computed once (``Submission.of`` fills it in).
    digest: str = ""
    #: Module names of Python files beside the declared ones in the learner's folder: not graded,
    #: never copied, only named when the graded code imports one (``runner.diagnose``).
    ungraded_modules: tuple[str, ...] = ()

    @classmethod
    def of(cls, files: Mapping[str, bytes], problems: Sequence[Problem] = ()) -> Submission:
        """A submission of these files, with its hash; a syntax error is found here, before any process."""
        problems = list(problems)
        if not any(p.category in BLOCKING for p in problems):
            problems.extend(syntax_problems(files))
        return cls(dict(files), tuple(problems), submission_digest(files))

    @classmethod
    def from_texts(cls, files: Mapping[str, str]) -> Submission:
        """In-memory files (the reference solution, a catalogued bug) as a submission."""
        return cls.of({name: text.encode("utf-8") for name, text in files.items()})

    @property
    def blocked(self) -> bool:
        """Nothing of it can run (a missing, rejected or unparsable file)."""
        return any(p.category in BLOCKING for p in self.problems)


def submission_digest(files: Mapping[str, bytes]) -> str:
    """sha256 over the declared files' names and contents: equal files, equal hash."""
    sha = hashlib.sha256()
    for name in sorted(files):
        sha.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return sha.hexdigest()


def read_submission(exercise: Exercise, path: Path, scratch: Path | None = None) -> Submission:
    """The declared files of a submission folder, or of an archive unpacked safely into ``scratch``.

    A git repository is a folder like any other: its work tree is read, its ``.git`` never is.
    """
    problems: list[Problem] = []
    folder = path
    if path.is_file():
        if scratch is None or not is_archive(path):
            return Submission.of({}, (Problem(Category.REJECTED_FILE,
                                           f"{textsafe.clean(path.name)} is neither a folder nor an archive "
                                           "(.zip, .tar, .tar.gz, .tar.bz2, .tar.xz)."),))
        try:
            unpacked = unpack(path, scratch)
        except ArchiveError as exc:
            return Submission.of({}, (Problem(Category.REJECTED_FILE, textsafe.short(str(exc))),))
        folder = unpacked.folder
        declared = set(exercise.meta.files)
        # Declared names as they would appear in the archive: under its one top folder, if it has one.
        top = "/".join(unpacked.folder.relative_to(scratch).parts)
        wanted = {f"{top}/{name}" if top else name for name in declared}
        for rejection in unpacked.rejections:
            parts = [part for part in rejection.name.replace("\\", "/").split("/") if part not in ("", ".")]
            blocking = "/".join(parts) in wanted
            category = Category.REJECTED_FILE if blocking else Category.IGNORED_FILE
            problems.append(Problem(category, textsafe.short(rejection.message)))
        if any(p.category is Category.REJECTED_FILE for p in problems):
            return Submission.of({}, problems)
    files, found = _read_folder(exercise, folder, path.name)
    return replace(Submission.of(files, [*problems, *found]), ungraded_modules=_ungraded_modules(exercise, folder))


def _ungraded_modules(exercise: Exercise, folder: Path) -> tuple[str, ...]:
    """Top-level modules and packages of the learner's folder that the exercise does not grade."""
    graded = {Path(name).parts[0] for name in exercise.meta.files}
    found = set()
    try:
        entries = list(folder.iterdir())
    except OSError:
        return ()
    for entry in entries:
        if entry.name in graded or entry.name.startswith("."):
            continue
        if entry.suffix == ".py" and entry.stem.isidentifier():
            found.add(entry.stem)
        elif entry.name.isidentifier() and (entry / "__init__.py").is_file():
            found.add(entry.name)
    return tuple(sorted(found))


def _read_folder(exercise: Exercise, folder: Path, shown_as: str) -> tuple[dict[str, bytes], list[Problem]]:
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    for name in exercise.meta.files:
        path = folder / name
        shown = textsafe.clean(name)
        if path.is_symlink():
            problems.append(Problem(Category.REJECTED_FILE, f"{shown} is a symbolic link; submit a regular file."))
        elif not path.exists():
            problems.append(Problem(Category.MISSING_FILE, f"{shown} is missing from {textsafe.clean(shown_as)}."))
        elif not path.is_file():
            problems.append(Problem(Category.REJECTED_FILE, f"{shown} is not a regular file."))
        elif path.stat().st_size > MAX_FILE_BYTES:
            problems.append(
                Problem(Category.REJECTED_FILE, f"{shown} is larger than {MAX_FILE_BYTES // 1024} KiB.")
            )
        else:
            try:
                files[name] = path.read_bytes()
            except OSError as exc:
                problems.append(Problem(Category.REJECTED_FILE, f"{shown} cannot be read ({exc.strerror})."))
    return files, problems


def syntax_problems(files: Mapping[str, bytes]) -> list[Problem]:
    """Compile (never run) each Python file, so a syntax error is reported with its line."""
    problems = []
    for name, data in files.items():
        if not name.endswith(".py"):
            continue
        try:
            compile(data, name, "exec", dont_inherit=True)
        except SyntaxError as exc:
            line = (exc.text or "").rstrip("\n")
            caret = " " * max((exc.offset or 1) - 1, 0) + "^" if line else ""
            details = f"{line}\n{caret}" if line else ""
            problems.append(
                Problem(Category.SYNTAX_ERROR, f"{name}, line {exc.lineno}: {exc.msg}", textsafe.clean(details))
            )
        except ValueError as exc:  # e.g. null bytes in the source
            problems.append(Problem(Category.SYNTAX_ERROR, f"{name}: {exc}"))
        except (RecursionError, MemoryError, OverflowError):
            problems.append(Problem(Category.SYNTAX_ERROR,
                                    f"{name}: too deeply nested or too large for Python to compile"))
    return problems


def grade_seed(exercise: Exercise, digest: str) -> int:
    """Seeded per exercise and submission (plus an optional instructor secret): reruns agree,
    and two learners get different data, so answers cannot be shared or hard-coded."""
    secret = os.environ.get("BACKEND_KIT_SECRET", "")
    return int.from_bytes(hashlib.sha256(f"{exercise.slug}:{digest}:{secret}".encode()).digest()[:6], "big")


def exercise_digest(exercise: Exercise) -> str:
    """sha256 over exercise.toml, the checks, the support files and the runner's version."""
    sha = hashlib.sha256(f"runner {__version__}\0".encode())
    paths = [exercise.root / "exercise.toml"]
    if exercise.checks_dir.is_dir():
        paths += sorted(p for p in exercise.checks_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    paths += [exercise.starter_dir / name for name in exercise.meta.support_files]
    for path in paths:
        sha.update(str(path.relative_to(exercise.root)).encode() + b"\0")
        sha.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"missing")
    return sha.hexdigest()
