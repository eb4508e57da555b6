"""Scoring: turn the judge's manifest and recorded outcomes into a report. Pure, no I/O.

The one rule that matters: only a *recorded pass of an expected check* earns points. A check that
is missing from the record, skipped, errored, timed out or never reached scores zero, and anything
recorded for a check that is not in the manifest is ignored (it can only be a forgery or a bug).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .results import (
    Category,
    CheckResult,
    CheckSpec,
    CheckStatus,
    GradeReport,
    Outcome,
    Problem,
    Status,
)

#: Problems after which nothing of the submission ran, so the grade is an error, not a failure.
BLOCKING = frozenset(
    {
        Category.MISSING_FILE,
        Category.REJECTED_FILE,
        Category.SYNTAX_ERROR,
        Category.IMPORT_ERROR,
        Category.STARTUP_ERROR,
    }
)


def score_checks(
    manifest: Iterable[CheckSpec],
    recorded: Mapping[str, Outcome],
    *,
    not_run_reason: str = "This check was not reached.",
) -> tuple[CheckResult, ...]:
    """One result per expected check, in manifest order; points only for recorded passes."""
    results = []
    for spec in manifest:
        outcome = recorded.get(spec.id) or Outcome(CheckStatus.NOT_RUN, not_run_reason)
        earned = spec.points if outcome.status is CheckStatus.PASSED else 0
        results.append(
            CheckResult(
                id=spec.id,
                name=spec.name,
                status=outcome.status,
                points=earned,
                max_points=spec.points,
                task=spec.task,
                gate=spec.gate,
                visible=spec.visible,
                message=outcome.message,
                expected=outcome.expected,
                actual=outcome.actual,
                sent=outcome.sent,
                hint=outcome.hint,
                duration=outcome.duration,
                rules=spec.rules,
                blocked_by=outcome.blocked_by,
                app_output=outcome.app_output,
            )
        )
    return tuple(results)


def overall_status(checks: Iterable[CheckResult], problems: Iterable[Problem]) -> Status:
    """ERROR if the submission could not run at all, PASS only if every check passed, else FAIL.

    "Could not run" is a blocking problem (nothing was started), or a problem after which no check ran.
    """
    checks = tuple(checks)
    problems = tuple(problems)
    if any(p.category in BLOCKING for p in problems):
        return Status.ERROR
    if problems and all(c.status is CheckStatus.NOT_RUN for c in checks):
        return Status.ERROR
    if checks and all(c.status is CheckStatus.PASSED for c in checks):
        return Status.PASS
    return Status.FAIL


def build_report(
    *,
    exercise: str,
    backend: str,
    manifest: Iterable[CheckSpec],
    recorded: Mapping[str, Outcome],
    problems: Iterable[Problem] = (),
    not_run_reason: str = "This check was not reached.",
    output: str = "",
    output_truncated: bool = False,
    duration: float = 0.0,
    submission_hash: str = "",
    exercise_hash: str = "",
    seed: int = 0,
    runner_version: str = "",
    services: Mapping[str, str] | None = None,
) -> GradeReport:
    """Assemble a full report: the scored checks, the overall status, and the descriptive fields."""
    problems = tuple(problems)
    checks = score_checks(manifest, recorded, not_run_reason=not_run_reason)
    return GradeReport(
        exercise=exercise,
        backend=backend,
        status=overall_status(checks, problems),
        score=sum(c.points for c in checks),
        max_score=sum(c.max_points for c in checks),
        checks=checks,
        problems=problems,
        output=output,
        output_truncated=output_truncated,
        duration=duration,
        submission_hash=submission_hash,
        exercise_hash=exercise_hash,
        seed=seed,
        runner_version=runner_version,
        services=dict(services or {}),
    )
