"""The result model: one typed document per grade, written as JSON by ``--json``.

Pure: no I/O. The JSON shape is a contract (``RESULT_FORMAT_VERSION``) in the spirit of
Exercism's ``results.json``: a top-level status of pass/fail/error, checks in declaration order,
each with its own status, points and learner-facing message, and captured output capped with a
visible note.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

RESULT_FORMAT_VERSION = 1


class Status(enum.StrEnum):
    """The grade as a whole."""

    PASS = "pass"  # graded, every check passed
    FAIL = "fail"  # graded, some check did not pass
    ERROR = "error"  # the submission could not run (see ``Category``)


class CheckStatus(enum.StrEnum):
    """One check. Only PASSED earns points."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the check could not complete (e.g. the app crashed mid-request)
    SKIPPED = "skipped"  # a gate before it failed
    TIMEOUT = "timeout"  # killed from outside after its time limit
    NOT_RUN = "not_run"  # never reached (the submission could not start, or the grade ran out of time)
    CHECK_ERROR = "check_error"  # the check itself is broken: the kit's fault, never the learner's


class Category(enum.StrEnum):
    """Why a submission could not be graded normally; each has a fixed piece of advice."""

    MISSING_FILE = "missing_file"
    REJECTED_FILE = "rejected_file"
    SYNTAX_ERROR = "syntax_error"
    IMPORT_ERROR = "import_error"
    STARTUP_ERROR = "startup_error"
    CRASH = "crash"
    TIMEOUT = "timeout"
    LIMIT_EXCEEDED = "limit_exceeded"
    IGNORED_FILE = "ignored_file"  # an archive entry that was unsafe, not one the exercise grades


ADVICE: dict[Category, str] = {
    Category.MISSING_FILE: "Create the missing file(s) in your workspace (`runner start` gives you a starter).",
    Category.REJECTED_FILE: "Remove the rejected file(s); only the files the exercise asks for are graded.",
    Category.SYNTAX_ERROR: "Fix the syntax error at the line shown, then grade again.",
    Category.IMPORT_ERROR: "Your code raised an error while being imported; fix it (run `runner test` to see it).",
    Category.STARTUP_ERROR: "Your code imported but could not start; read the error below.",
    Category.CRASH: "Your program exited on its own; do not call exit() or os._exit() in your code.",
    Category.TIMEOUT: "Something took too long: look for an infinite loop or a blocking call.",
    Category.LIMIT_EXCEEDED: "Your program used too much of a resource (output, memory or processes).",
    Category.IGNORED_FILE: "These entries of your archive were skipped as unsafe; they are not graded anyway.",
}


@dataclass(frozen=True)
class CheckSpec:
    """A check as the judge collected it: what it is worth and how it behaves."""

    id: str
    name: str
    points: int
    task: int | None = None
    gate: bool = False
    visible: bool = False
    timeout: float = 10.0
    #: The statement's rule ids this check covers (``@pytest.mark.rules("R1", ...)``).
    rules: tuple[str, ...] = ()
    #: It sends requests at once (``@pytest.mark.concurrent``): the verdict is the same every run,
    #: but the numbers in its messages (how many got through, a lost update's total) are not.
    concurrent: bool = False


@dataclass(frozen=True)
class Outcome:
    """What the judge recorded for one check."""

    status: CheckStatus
    message: str = ""
    expected: str | None = None
    actual: str | None = None
    sent: str | None = None
    hint: str | None = None
    duration: float = 0.0
    #: The set-up step the check could not get past ("POST /bookmarks"): the report lists the checks
    #: blocked by one step in one line, under the check that shows the cause.
    blocked_by: str | None = None
    #: What the learner's app wrote while serving this check's requests (``runner.judge.applog``).
    app_output: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """A check in the report: its spec, what happened, and the points it earned."""

    id: str
    name: str
    status: CheckStatus
    points: int
    max_points: int
    task: int | None = None
    gate: bool = False
    visible: bool = False
    message: str = ""
    expected: str | None = None
    actual: str | None = None
    sent: str | None = None
    hint: str | None = None
    duration: float = 0.0
    rules: tuple[str, ...] = ()
    blocked_by: str | None = None
    #: What the learner's program printed while serving this check (its tracebacks trimmed to the
    #: learner's own frames), when the runner could tell.
    app_output: str | None = None


@dataclass(frozen=True)
class Problem:
    """Why the submission could not run, with what to do about it."""

    category: Category
    message: str
    details: str = ""
    #: Advice for this problem in particular (a diagnosis); empty: the category's fixed advice.
    hint: str = ""

    @property
    def advice(self) -> str:
        return self.hint or ADVICE[self.category]


@dataclass(frozen=True)
class HiddenSummary:
    passed: int
    total: int


@dataclass(frozen=True)
class GradeReport:
    """The whole verdict for one submission of one exercise on one backend."""

    exercise: str
    backend: str
    status: Status
    score: int
    max_score: int
    checks: tuple[CheckResult, ...]
    problems: tuple[Problem, ...] = ()
    output: str = ""
    output_truncated: bool = False
    duration: float = 0.0
    submission_hash: str = ""
    #: What the grade depended on besides the submission (metadata, checks, support files, runner).
    exercise_hash: str = ""
    seed: int = 0
    runner_version: str = ""
    services: dict[str, str] = field(default_factory=dict)

    @property
    def hidden(self) -> HiddenSummary:
        hidden = [c for c in self.checks if not c.visible]
        return HiddenSummary(sum(c.status is CheckStatus.PASSED for c in hidden), len(hidden))

    @property
    def broken_checks(self) -> tuple[CheckResult, ...]:
        """Checks that crashed in a way learner code cannot cause: the grade is the kit's fault."""
        return tuple(c for c in self.checks if c.status is CheckStatus.CHECK_ERROR)

    @property
    def all_passed(self) -> bool:
        return self.status is Status.PASS

    def verdict(self) -> tuple[tuple[str, str], ...]:
        """The parts of a report that must not change between two runs of the same submission."""
        return (*tuple((c.id, c.status.value) for c in self.checks), ("score", str(self.score)))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format_version": RESULT_FORMAT_VERSION,
            "exercise": self.exercise,
            "backend": self.backend,
            "services": dict(self.services),
            "status": self.status.value,
            "score": self.score,
            "max_score": self.max_score,
            "hidden": asdict(self.hidden),
            "problems": [
                {"category": p.category.value, "message": p.message, "details": p.details, "advice": p.advice}
                for p in self.problems
            ],
            "checks": [_check_dict(c) for c in self.checks],
            "output": self.output,
            "output_truncated": self.output_truncated,
            "duration": round(self.duration, 3),
            "submission_hash": self.submission_hash,
            "exercise_hash": self.exercise_hash,
            "seed": self.seed,
            "runner_version": self.runner_version,
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeReport:
        """The inverse of ``to_dict``; a document of another ``format_version`` is refused."""
        version = data.get("format_version")
        if version != RESULT_FORMAT_VERSION:
            raise ValueError(f"a result document of format_version {version!r}; this runner reads "
                             f"version {RESULT_FORMAT_VERSION}")
        checks = tuple(
            CheckResult(**{**c, "status": CheckStatus(c["status"]), "rules": tuple(c.get("rules", ()))})
            for c in data.get("checks", [])
        )
        problems = tuple(_problem(p) for p in data.get("problems", []))
        return cls(
            exercise=data["exercise"],
            backend=data["backend"],
            status=Status(data["status"]),
            score=int(data["score"]),
            max_score=int(data["max_score"]),
            checks=checks,
            problems=problems,
            output=data.get("output", ""),
            output_truncated=bool(data.get("output_truncated", False)),
            duration=float(data.get("duration", 0.0)),
            submission_hash=data.get("submission_hash", ""),
            exercise_hash=data.get("exercise_hash", ""),
            seed=int(data.get("seed", 0)),
            runner_version=data.get("runner_version", ""),
            services=dict(data.get("services", {})),
        )


def _problem(data: dict[str, Any]) -> Problem:
    category = Category(data["category"])
    advice = data.get("advice") or ""
    return Problem(category, data["message"], data.get("details", ""),
                   advice if advice != ADVICE[category] else "")


def _check_dict(check: CheckResult) -> dict[str, Any]:
    data = asdict(check)
    data["status"] = check.status.value
    data["duration"] = round(check.duration, 3)
    data["rules"] = list(check.rules)
    return data
