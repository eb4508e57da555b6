"""Exercise metadata: the ``exercise.toml`` schema and its validation. Pure, no I/O.

Every exercise folder carries an ``exercise.toml`` with a ``format_version``. Validation is strict
(unknown keys are errors, so a typo never silently changes behaviour) and every problem is reported
as ``file: field: what is wrong`` plus what to do, never as a traceback.
"""

from __future__ import annotations

import enum
import re
import tomllib
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import kinds
from .errors import ContentError

FORMAT_VERSION = 1
SLUG = re.compile(r"^\d{2,3}-[a-z0-9]+(?:-[a-z0-9]+)*$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*(?::[A-Za-z_]\w*)?$")
_NAME = re.compile(r"^[A-Za-z_]\w*$")


class Difficulty(enum.StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Backend(enum.StrEnum):
    EMBEDDED = "embedded"  # SQLite file + fakeredis server
    SERVER = "server"  # real PostgreSQL + Redis (url or docker provider)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _relative_path(value: str) -> str:
    if not value or value.startswith(("/", "\\")) or ".." in value.replace("\\", "/").split("/"):
        raise ValueError(f"{value!r} must be a relative path inside the workspace, without '..'")
    return value


class Entry(_Strict):
    """How the judge reaches learner code; ``kind`` names a module of ``runner.kinds``, which says
    what the rest of the entry must look like."""

    kind: str
    target: str = Field(description="wsgi: 'module:factory'; functions: 'module'; tests: module under test")
    functions: tuple[str, ...] = ()

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in kinds.names():
            raise ValueError(f"{value!r} is not an exercise kind; the kinds are {', '.join(kinds.names())}")
        return value

    @field_validator("target")
    @classmethod
    def _target_shape(cls, value: str) -> str:
        if not _TARGET.match(value):
            raise ValueError(f"{value!r} is not 'module' or 'module:attribute'")
        return value

    @field_validator("functions")
    @classmethod
    def _function_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not a Python identifier")
        return value

    @model_validator(mode="after")
    def _kind_needs(self) -> Entry:
        problem = kinds.get(self.kind).entry_problem(self.target, self.functions)
        if problem is not None:
            raise ValueError(problem)
        return self


class Services(_Strict):
    database: bool = False
    redis: bool = False
    backends: tuple[Backend, ...] = (Backend.EMBEDDED,)

    @field_validator("backends")
    @classmethod
    def _some_backend(cls, value: tuple[Backend, ...]) -> tuple[Backend, ...]:
        if not value:
            raise ValueError("list at least one backend: 'embedded' and/or 'server'")
        return value


class ExerciseMeta(_Strict):
    """The validated contents of ``exercise.toml``."""

    format_version: int
    title: Annotated[str, Field(min_length=3, max_length=80)]
    track: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    difficulty: Difficulty
    concepts: tuple[str, ...] = Field(min_length=1)
    prerequisites: tuple[str, ...] = ()
    time_limit: Annotated[float, Field(gt=0, le=900)] = 60.0
    check_timeout: Annotated[float, Field(gt=0, le=300)] = 10.0
    files: tuple[str, ...] = Field(min_length=1)
    support_files: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    entry: Entry
    services: Services = Services()

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"format_version {value} is not supported; this runner reads version {FORMAT_VERSION}")
        return value

    @field_validator("files", "support_files")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            _relative_path(item)
        return value

    @field_validator("prerequisites")
    @classmethod
    def _slugs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not SLUG.match(item):
                raise ValueError(f"{item!r} is not an exercise folder name like '01-notes-api'")
        return value


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def format_validation_error(source: str, error: ValidationError) -> list[str]:
    """One line per problem: ``file: field: what is wrong``."""
    lines = []
    for item in error.errors():
        field = _field_path(tuple(item["loc"]))
        if item["type"] == "extra_forbidden":
            lines.append(f"{source}: {field}: unknown key (check its spelling; unknown keys are not allowed)")
        elif item["type"] == "missing":
            lines.append(f"{source}: {field}: required but missing")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            lines.append(f"{source}: {field}: {message}")
    return lines


def parse_meta(text: str, source: str) -> ExerciseMeta:
    """Parse and validate ``exercise.toml`` text; ``source`` names the file in messages."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContentError([f"{source}: not valid TOML: {exc}"], hint="Fix the TOML syntax.") from None
    try:
        return ExerciseMeta.model_validate(data)
    except ValidationError as exc:
        raise ContentError(
            format_validation_error(source, exc),
            hint="Fix the fields above, then run `runner validate` on the exercise.",
        ) from None


def check_slug(slug: str, source: str) -> None:
    if not SLUG.match(slug):
        raise ContentError(
            [f"{source}: folder name {slug!r} must be a number prefix and a lowercase name, e.g. '04-rate-limits'"]
        )


class Bug(_Strict):
    """A realistic learner mistake: a find/replace on the reference solution, and the checks it must fail."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
    summary: Annotated[str, Field(min_length=5)]
    file: str
    find: Annotated[str, Field(min_length=1)]
    replace: str
    fails: tuple[str, ...] = Field(min_length=1)

    @field_validator("file")
    @classmethod
    def _path(cls, value: str) -> str:
        return _relative_path(value)


class BugCatalogue(_Strict):
    format_version: int
    bug: tuple[Bug, ...] = Field(min_length=1)

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"format_version {value} is not supported; this runner reads version {FORMAT_VERSION}")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> BugCatalogue:
        seen: set[str] = set()
        for bug in self.bug:
            if bug.id in seen:
                raise ValueError(f"bug id {bug.id!r} appears twice")
            seen.add(bug.id)
        return self


def parse_bugs(text: str, source: str) -> BugCatalogue:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContentError([f"{source}: not valid TOML: {exc}"]) from None
    try:
        return BugCatalogue.model_validate(data)
    except ValidationError as exc:
        raise ContentError(format_validation_error(source, exc), hint="Fix the bug catalogue.") from None


def apply_bug(files: dict[str, str], bug: Bug, source: str) -> dict[str, str]:
    """The reference files with ``bug`` applied; the ``find`` text must occur exactly once."""
    if bug.file not in files:
        raise ContentError([f"{source}: bug {bug.id!r}: file {bug.file!r} is not part of the solution"])
    count = files[bug.file].count(bug.find)
    if count != 1:
        raise ContentError(
            [f"{source}: bug {bug.id!r}: 'find' text occurs {count} times in {bug.file}; it must occur exactly once"],
            hint="Make the 'find' text longer so it matches one place only.",
        )
    return {**files, bug.file: files[bug.file].replace(bug.find, bug.replace)}
