"""Which check kills which bug or mutant: the kill matrix and the check strength. Pure.

A check *kills* a bug (a catalogued mistake) or a mutant (a machine-made change of the reference
solution) when it does not pass on it for a reason the learner's code caused: failed, error or
timed out. A check that was skipped (a gate before it failed) or never ran killed nothing.

Two questions for an author:

- the kill matrix: does every check catch at least one catalogued bug (else it is *unproven*: it
  might pass on anything), and is every bug caught by the checks it names?
- the strength: of the machine-made mutants that change behaviour (not marked equivalent), which
  share do the checks kill? The survivors, with their diffs, are where a check is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .results import CheckStatus, GradeReport, Status

KILLING = frozenset({CheckStatus.FAILED, CheckStatus.ERROR, CheckStatus.TIMEOUT})
#: The share of non-equivalent mutants an exercise's checks must kill.
STRENGTH_TARGET = 0.90


def base_id(check_id: str) -> str:
    """``file.py::test_x[param]`` → ``test_x``: a parametrised check's cases are one check here."""
    return check_id.rsplit("::", 1)[-1].split("[", 1)[0]


def killers(report: GradeReport) -> tuple[str, ...]:
    """The checks (full ids) that killed what ``report`` graded."""
    return tuple(c.id for c in report.checks if c.status in KILLING)


def killed(report: GradeReport) -> bool:
    """Whether a grade tells the graded code apart from a correct solution."""
    return report.status is not Status.PASS or report.score < report.max_score or bool(killers(report))


@dataclass(frozen=True)
class KillMatrix:
    checks: tuple[str, ...]  # base ids, in the order they run
    bugs: tuple[str, ...]
    kills: frozenset[tuple[str, str]]  # (bug id, base check id)

    def caught_by(self, bug: str) -> tuple[str, ...]:
        return tuple(check for check in self.checks if (bug, check) in self.kills)

    def catches(self, check: str) -> tuple[str, ...]:
        return tuple(bug for bug in self.bugs if (bug, check) in self.kills)

    @property
    def unproven(self) -> tuple[str, ...]:
        """Checks no catalogued bug fails."""
        return tuple(check for check in self.checks if not self.catches(check))


def kill_matrix(check_ids: Iterable[str], bug_reports: Mapping[str, GradeReport]) -> KillMatrix:
    checks: list[str] = []
    for check_id in check_ids:
        if base_id(check_id) not in checks:
            checks.append(base_id(check_id))
    kills = frozenset((bug, base_id(check)) for bug, report in bug_reports.items() for check in killers(report))
    return KillMatrix(tuple(checks), tuple(bug_reports), kills)


@dataclass(frozen=True)
class MutantVerdict:
    id: str
    description: str
    diff: str
    killed: bool
    killed_by: tuple[str, ...]  # base check ids
    equivalent: str | None = None  # the author's reason, when marked equivalent


@dataclass(frozen=True)
class Strength:
    verdicts: tuple[MutantVerdict, ...]
    #: Ids marked equivalent that no longer name a generated mutant (the code they named changed).
    stale_equivalents: tuple[str, ...] = ()

    @property
    def counted(self) -> tuple[MutantVerdict, ...]:
        return tuple(v for v in self.verdicts if v.equivalent is None)

    @property
    def survivors(self) -> tuple[MutantVerdict, ...]:
        return tuple(v for v in self.counted if not v.killed)

    @property
    def equivalent(self) -> tuple[MutantVerdict, ...]:
        return tuple(v for v in self.verdicts if v.equivalent is not None)

    @property
    def share(self) -> float:
        counted = self.counted
        return 1.0 if not counted else sum(v.killed for v in counted) / len(counted)

    @property
    def ok(self) -> bool:
        return self.share >= STRENGTH_TARGET and not self.stale_equivalents


def strength(verdicts: Iterable[MutantVerdict], equivalents: Mapping[str, str]) -> Strength:
    """The verdicts with the author's equivalence marks applied."""
    marked = []
    seen = set()
    for verdict in verdicts:
        seen.add(verdict.id)
        reason = equivalents.get(verdict.id)
        marked.append(verdict if reason is None else MutantVerdict(
            verdict.id, verdict.description, verdict.diff, verdict.killed, verdict.killed_by, reason))
    return Strength(tuple(marked), tuple(sorted(set(equivalents) - seen)))
