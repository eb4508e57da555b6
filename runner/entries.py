"""The gradebook's entry: one submission of one learner for one exercise, graded in a batch.

Pure: no I/O. The batch (``runner.batch``) makes entries, the gradebook (``runner.gradebook``)
stores them, and the exports and the class report read them; this module is the one shape they
share, so each of them can be built and tested on plain data.

An entry is keyed by what its grade depended on: the submission's content hash, the exercise's
content hash and the runner's version. The same three mean the same verdict, so a batch run again
skips it; a change to any of them (the learner resubmits, a check is fixed, the kit is upgraded)
grades it again.

An infrastructure fault that persists after the retries (a service died, Docker stopped, the disk
filled) is an entry too, in state ``INFRASTRUCTURE_ERROR`` without a report: it is never a score of
0, so a class report counts it apart and a rerun of the batch grades it again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from .results import GradeReport

ENTRY_FORMAT_VERSION = 1


class EntryState(enum.StrEnum):
    GRADED = "graded"  # the report is the learner's verdict (pass, fail, or their code's error)
    INFRASTRUCTURE_ERROR = "infrastructure_error"  # the kit or the machine failed; no verdict


@dataclass(frozen=True)
class EntryKey:
    """What an entry's verdict depends on; equal keys, equal verdicts."""

    learner: str
    exercise: str
    submission_hash: str
    exercise_hash: str
    runner_version: str


@dataclass(frozen=True)
class Entry:
    """One graded (or ungradable) submission."""

    learner: str  # who: the submission's folder or archive name, or the manifest's name for it
    exercise: str  # the exercise's slug
    submission_hash: str
    exercise_hash: str
    runner_version: str
    state: EntryState
    report: GradeReport | None = None  # None exactly when state is INFRASTRUCTURE_ERROR
    error: str = ""  # the infrastructure error's last message, with what to do next
    attempts: int = 1  # grades tried (more than 1: an infrastructure fault was retried)
    duration: float = 0.0  # wall-clock seconds of the attempts, queueing excluded
    graded_at: str = ""  # when it finished, ISO 8601 UTC
    source: str = ""  # the submission's path as the batch was given it

    def __post_init__(self) -> None:
        if (self.report is None) != (self.state is EntryState.INFRASTRUCTURE_ERROR):
            raise ValueError("an entry has a report exactly when it was graded")

    @property
    def key(self) -> EntryKey:
        return EntryKey(self.learner, self.exercise, self.submission_hash, self.exercise_hash, self.runner_version)

    @property
    def graded(self) -> bool:
        return self.state is EntryState.GRADED

    @property
    def score(self) -> int | None:
        """Points earned; None for an infrastructure error (which is not a 0)."""
        return self.report.score if self.report is not None else None

    @property
    def max_score(self) -> int | None:
        return self.report.max_score if self.report is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-lines record of this entry (``format_version`` says its shape)."""
        return {
            "format_version": ENTRY_FORMAT_VERSION,
            "learner": self.learner,
            "exercise": self.exercise,
            "submission_hash": self.submission_hash,
            "exercise_hash": self.exercise_hash,
            "runner_version": self.runner_version,
            "state": self.state.value,
            "score": self.score,
            "max_score": self.max_score,
            "error": self.error,
            "attempts": self.attempts,
            "duration": round(self.duration, 3),
            "graded_at": self.graded_at,
            "source": self.source,
            "report": self.report.to_dict() if self.report is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        """The inverse of ``to_dict``; a record of another ``format_version`` is refused."""
        version = data.get("format_version")
        if version != ENTRY_FORMAT_VERSION:
            raise ValueError(f"a gradebook record of format_version {version!r}; this runner reads "
                             f"version {ENTRY_FORMAT_VERSION}")
        report = data.get("report")
        return cls(
            learner=data["learner"], exercise=data["exercise"], submission_hash=data["submission_hash"],
            exercise_hash=data["exercise_hash"], runner_version=data["runner_version"],
            state=EntryState(data["state"]), report=GradeReport.from_dict(report) if report is not None else None,
            error=data.get("error", ""), attempts=int(data.get("attempts", 1)),
            duration=float(data.get("duration", 0.0)), graded_at=data.get("graded_at", ""),
            source=data.get("source", ""),
        )
