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
#: Ids of catalogued bugs and hidden mutants: lowercase words joined by '-'.
_ID = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class Difficulty(enum.StrEnum):
    """How hard the exercise is."""

    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Backend(enum.StrEnum):
    """Where a grade's services run: embedded (SQLite + fakeredis) or server (PostgreSQL + Redis)."""

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

    kind: str = Field(
        description="How the judge reaches learner code: the name of a module of runner/kinds/.",
        json_schema_extra=lambda schema: schema.update(enum=list(kinds.names())),
    )
    target: str = Field(description="wsgi: 'module:factory'; functions: 'module'; tests: module under test")
    functions: Annotated[tuple[str, ...], Field(
        description="functions: the callable names the judge may call; tests: the public functions of the "
                    "module under test (the only names its proxy has while grading).",
    )] = ()
    instances: Annotated[int, Field(
        ge=1, le=4,
        description="How many copies of the learner's program a grade starts, sharing the grade's services "
                    "(wsgi only): more than one for exercises on scaling out (state kept in Redis, not in "
                    "memory). The checks reach them with the `instances` fixture.",
    )] = 1

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
        if self.instances > 1 and self.kind != "wsgi":
            raise ValueError(f"instances = {self.instances}: only a wsgi program can run as several instances")
        return self


class Services(_Strict):
    """The services a grade gets of its own, and the backends the exercise is proven on."""

    database: Annotated[bool, Field(description="A database of the grade's own (DATABASE_URL).")] = False
    redis: Annotated[bool, Field(description="A Redis of the grade's own (REDIS_URL).")] = False
    backends: Annotated[tuple[Backend, ...], Field(
        description="embedded = SQLite + fakeredis; server = PostgreSQL + Redis. `runner validate` proves each.",
    )] = (Backend.EMBEDDED,)

    @field_validator("backends")
    @classmethod
    def _some_backend(cls, value: tuple[Backend, ...]) -> tuple[Backend, ...]:
        if not value:
            raise ValueError("list at least one backend: 'embedded' and/or 'server'")
        return value


class ExerciseMeta(_Strict):
    """The validated contents of ``exercise.toml``."""

    format_version: int = Field(description=f"The version of this file's format; this runner reads {FORMAT_VERSION}.")
    title: Annotated[str, Field(min_length=3, max_length=80, description="The exercise's title, as learners see it.")]
    track: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", description="Lowercase words joined by '-'.")]
    difficulty: Difficulty = Field(description="beginner | intermediate | advanced")
    concepts: tuple[str, ...] = Field(min_length=1, description="What the exercise teaches (at least one).")
    prerequisites: Annotated[tuple[str, ...], Field(
        description="Other exercise folder names, e.g. '01-bookmarks-api'.")] = ()
    time_limit: Annotated[float, Field(gt=0, le=900, description="Seconds for the whole grade.")] = 60.0
    check_timeout: Annotated[float, Field(
        gt=0, le=300, description="Default seconds per check (a check can override it with a timeout marker).")] = 10.0
    files: tuple[str, ...] = Field(
        min_length=1, description="What the learner writes: only these are copied from a submission.")
    support_files: Annotated[tuple[str, ...], Field(
        description="Files of starter/ the learner does not edit but the graded code needs.")] = ()
    hints: Annotated[tuple[str, ...], Field(description="Revealed one at a time by `runner hint`.")] = ()
    tasks: Annotated[dict[Annotated[int, Field(ge=1)], Annotated[str, Field(min_length=1, max_length=40)]], Field(
        description="Task titles by number (`[tasks]` with 1 = \"Create and read\"): the report's subtotals "
                    "name them.")] = Field(default_factory=dict)
    entry: Entry = Field(description="How the judge reaches learner code.")
    services: Annotated[Services, Field(description="The services each grade gets of its own.")] = Services()

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

    id: Annotated[str, Field(pattern=_ID, description="Lowercase words joined by '-', unique in the catalogue.")]
    summary: Annotated[str, Field(min_length=5, description="The mistake, as a learner would make it.")]
    file: str = Field(description="The solution file the bug edits (one of the exercise's `files`).")
    find: Annotated[str, Field(min_length=1, description="Text of the reference file; must occur exactly once.")]
    replace: str = Field(description="What `find` is replaced with.")
    fails: tuple[str, ...] = Field(
        min_length=1, description="Check functions (or 'name[param-id]') that must fail on this bug.")
    fails_on: dict[Backend, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Checks that fail on this bug on one backend only, where the backends really differ "
                    "(SQLite does not enforce VARCHAR lengths, PostgreSQL does): they must fail there, and "
                    "they are the only verdicts allowed to differ between backends.")

    @field_validator("file")
    @classmethod
    def _path(cls, value: str) -> str:
        return _relative_path(value)


class BugCatalogue(_Strict):
    """The validated contents of ``solutions/<exercise>/bugs.toml``: realistic learner mistakes."""

    format_version: int = Field(description=f"The version of this file's format; this runner reads {FORMAT_VERSION}.")
    bug: tuple[Bug, ...] = Field(min_length=1, description="The catalogued mistakes ([[bug]] tables).")

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


# ---------------------------------------------------------------- the tests kind: mutants


def _known_version(value: int) -> int:
    if value != FORMAT_VERSION:
        raise ValueError(f"format_version {value} is not supported; this runner reads version {FORMAT_VERSION}")
    return value


def _format_entries(source: str, error: ValidationError, data: dict[str, Any], key: str) -> list[str]:
    """Like ``format_validation_error``, but a problem of the ``key`` list names its entry by id
    (``file: mutant 'id': field: what is wrong``), and one of the whole file has no field part."""
    entries = data.get(key)
    errors = error.errors()
    # pydantic counts a list's length after validating its items: entries with problems of their own
    # would also make the list look too short.
    in_entries = any(len(item["loc"]) >= 2 and item["loc"][0] == key for item in errors)
    lines = []
    for item in errors:
        loc = tuple(item["loc"])
        if in_entries and loc == (key,) and item["type"] == "too_short":
            continue
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling; unknown keys are not allowed)"
        elif item["type"] == "missing":
            message = "required but missing"
        if not loc:
            lines.append(f"{source}: {message}")
            continue
        if len(loc) >= 2 and loc[0] == key and isinstance(loc[1], int) and isinstance(entries, list):
            entry = entries[loc[1]] if loc[1] < len(entries) else None
            ident = entry.get("id", entry.get("mutant")) if isinstance(entry, dict) else None
            label = f"{key} {ident!r}" if isinstance(ident, str) else f"{key} #{loc[1] + 1}"
            rest = _field_path(loc[2:]) if loc[2:] else None
            lines.append(f"{source}: {label}: {rest}: {message}" if rest else f"{source}: {label}: {message}")
        else:
            lines.append(f"{source}: {_field_path(loc)}: {message}")
    return lines


def _load_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContentError([f"{source}: not valid TOML: {exc}"], hint="Fix the TOML syntax.") from None


class HiddenMutant(_Strict):
    """A hidden buggy version of the module under test (tests kind): one find/replace edit of it.

    The learner's tests must fail against it; neither ``misconception`` nor ``hint`` may show its code.
    """

    id: Annotated[str, Field(pattern=_ID, description="Lowercase words joined by '-', unique in the catalogue; "
                                                       "the check's parameter id.")]
    misconception: Annotated[str, Field(
        min_length=5, description="Completes the learner-facing check name 'Your tests catch: …'.")]
    hint: Annotated[str, Field(min_length=5, description="What kind of test would catch this bug.")]
    find: Annotated[str, Field(min_length=1, description="Text of the module under test; must occur exactly once.")]
    replace: str = Field(description="What `find` is replaced with; the result must compile and differ.")


class MutantCatalogue(_Strict):
    """The validated contents of ``checks/mutants.toml``: the hidden mutants of a tests-kind exercise."""

    format_version: int = Field(description=f"The version of this file's format; this runner reads {FORMAT_VERSION}.")
    mutant: tuple[HiddenMutant, ...] = Field(min_length=1, description="The hidden mutants ([[mutant]] tables).")

    @field_validator("format_version")
    @classmethod
    def _version(cls, value: int) -> int:
        return _known_version(value)

    @model_validator(mode="after")
    def _unique_ids(self) -> MutantCatalogue:
        seen: set[str] = set()
        for mutant in self.mutant:
            if mutant.id in seen:
                raise ValueError(f"mutant id {mutant.id!r} appears twice")
            seen.add(mutant.id)
        return self

    def get(self, mutant_id: str) -> HiddenMutant:
        """The mutant called ``mutant_id`` (a ``KeyError`` if there is none)."""
        for mutant in self.mutant:
            if mutant.id == mutant_id:
                return mutant
        raise KeyError(mutant_id)


def apply_mutant(reference: str, mutant: HiddenMutant) -> str:
    """The module under test with ``mutant`` applied; its ``find`` text must occur exactly once."""
    count = reference.count(mutant.find)
    if count != 1:
        raise ValueError(f"'find' text occurs {count} times; it must occur exactly once")
    return reference.replace(mutant.find, mutant.replace)


def parse_mutants(text: str, source: str, reference: str, *, reference_name: str = "the module under test"
                  ) -> MutantCatalogue:
    """Parse and validate ``mutants.toml`` text against ``reference`` (the source of the module under
    test): each ``find`` occurs exactly once in it, and each mutant changes it and still compiles."""
    data = _load_toml(text, source)
    try:
        catalogue = MutantCatalogue.model_validate(data)
    except ValidationError as exc:
        raise ContentError(_format_entries(source, exc, data, "mutant"), hint="Fix the mutant catalogue.") from None
    problems = []
    for mutant in catalogue.mutant:
        where = f"{source}: mutant {mutant.id!r}"
        count = reference.count(mutant.find)
        if count != 1:
            problems.append(f"{where}: 'find' text occurs {count} times in {reference_name}; "
                            "it must occur exactly once")
            continue
        mutated = apply_mutant(reference, mutant)
        if mutated == reference:
            problems.append(f"{where}: 'replace' is the same as 'find', so the module does not change")
            continue
        try:
            compile(mutated, f"{mutant.id}.py", "exec", dont_inherit=True)
        except SyntaxError as exc:
            problems.append(f"{where}: the mutated module does not compile: {exc.msg} (line {exc.lineno})")
    if problems:
        raise ContentError(problems, hint="Make each 'find' text longer so it matches one place only, "
                                          "and check that each replacement is valid Python.")
    return catalogue


# ---------------------------------------------------------------- machine-made equivalent mutants

#: The id the machine mutant generator gives a mutant: ``file:operator:8hex``.
_MACHINE_ID = r"^[A-Za-z0-9_][A-Za-z0-9_./-]*\.py:[a-z][a-z0-9_-]*:[0-9a-f]{8}$"


class EquivalentMutant(_Strict):
    """A machine-made mutant of the reference solution that no check can kill: it does not change
    behaviour. Listing it, with the reason, keeps it out of the mutation score."""

    mutant: Annotated[str, Field(pattern=_MACHINE_ID, description="The generator's id: 'file:operator:8hex', "
                                                                  "e.g. 'app.py:compare:0a1b2c3d'.")]
    reason: Annotated[str, Field(min_length=10, description="Why the mutant behaves exactly as the reference does.")]

    @field_validator("mutant")
    @classmethod
    def _file_inside(cls, value: str) -> str:
        _relative_path(value.split(":", 1)[0])
        return value


class EquivalentCatalogue(_Strict):
    """The validated contents of ``solutions/<exercise>/equivalent.toml``."""

    format_version: int = Field(description=f"The version of this file's format; this runner reads {FORMAT_VERSION}.")
    equivalent: Annotated[tuple[EquivalentMutant, ...], Field(
        description="The equivalent mutants ([[equivalent]] tables), each with its reason.")] = ()

    @field_validator("format_version")
    @classmethod
    def _version(cls, value: int) -> int:
        return _known_version(value)

    @model_validator(mode="after")
    def _unique_ids(self) -> EquivalentCatalogue:
        seen: set[str] = set()
        for item in self.equivalent:
            if item.mutant in seen:
                raise ValueError(f"mutant {item.mutant!r} is listed twice")
            seen.add(item.mutant)
        return self

    def ids(self) -> frozenset[str]:
        return frozenset(item.mutant for item in self.equivalent)


def parse_equivalents(text: str, source: str) -> EquivalentCatalogue:
    """Parse and validate ``equivalent.toml`` text; ``source`` names the file in messages."""
    data = _load_toml(text, source)
    try:
        return EquivalentCatalogue.model_validate(data)
    except ValidationError as exc:
        raise ContentError(_format_entries(source, exc, data, "equivalent"),
                           hint="Fix the list of equivalent mutants.") from None
