"""What a class's grades say, as numbers: the content of the class report. Pure: entries in, dataclasses out.

The report (:mod:`runner.classreport`) only lays these out, so every figure on the page is computed
here, once, and can be tested without a browser. Figures use one entry per learner and exercise
(:func:`runner.classexports.latest`), and only graded entries: an infrastructure error is counted
apart, never as a score of 0 and never as a failed check.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .classexports import check_columns, exercises_of, latest
from .entries import Entry, EntryState
from .results import CheckResult, CheckStatus, Problem

#: Score distribution bins, in percent of the maximum: [0, 10), [10, 20), ... [90, 100].
BIN_COUNT = 10
#: A grade is a runtime outlier past Tukey's far fence of its exercise's durations (Q3 + 3·IQR) and
#: at least twice the median: with few or very even durations, a plain fence flags noise.
OUTLIER_IQR = 3.0
OUTLIER_MEDIAN_FACTOR = 2.0
OUTLIER_MIN_ENTRIES = 4


@dataclass(frozen=True)
class Bin:
    low: int  # percent, inclusive
    high: int  # percent, exclusive (the last bin includes 100)
    count: int


@dataclass(frozen=True)
class CheckRate:
    exercise: str
    check_id: str
    name: str
    visible: bool
    passed: int
    total: int  # graded entries of the exercise whose report has this check

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class TaskCompletion:
    exercise: str
    task: int
    completed: int  # graded entries that passed every check of the task
    total: int

    @property
    def rate(self) -> float:
        return self.completed / self.total if self.total else 0.0


@dataclass(frozen=True)
class ExerciseSummary:
    exercise: str
    graded: int
    infrastructure_errors: int
    max_score: int
    mean_score: float | None  # None: nothing graded
    median_score: float | None
    full_marks: int
    could_not_run: int  # graded with status error: the learner's code did not start
    distribution: tuple[Bin, ...]
    checks: tuple[CheckRate, ...]  # declaration order
    tasks: tuple[TaskCompletion, ...]


@dataclass(frozen=True)
class Outlier:
    learner: str
    exercise: str
    duration: float
    median: float


@dataclass(frozen=True)
class InfrastructureFailure:
    learner: str
    exercise: str
    error: str
    attempts: int
    source: str


@dataclass(frozen=True)
class LearnerResult:
    exercise: str
    state: EntryState
    score: int | None
    max_score: int | None
    status: str  # pass / fail / error, or infrastructure_error
    not_passed: tuple[CheckResult, ...]  # the checks to act on, in declaration order
    problems: tuple[Problem, ...]
    error: str  # the infrastructure error's message


@dataclass(frozen=True)
class LearnerSummary:
    learner: str
    results: tuple[LearnerResult, ...]  # by exercise


@dataclass(frozen=True)
class ClassSummary:
    learners: int
    entries: int
    graded: int
    exercises: tuple[ExerciseSummary, ...]
    struggles: tuple[CheckRate, ...]  # every check of every exercise, lowest pass rate first
    outliers: tuple[Outlier, ...]  # slowest first
    infrastructure: tuple[InfrastructureFailure, ...]
    learner_summaries: tuple[LearnerSummary, ...]  # by learner


def summarise(entries: Sequence[Entry]) -> ClassSummary:
    """The class report's figures for these entries (the last graded per learner and exercise)."""
    current = latest(entries)
    checks = check_columns(current)
    exercises = tuple(_exercise(exercise, [e for e in current if e.exercise == exercise], checks.get(exercise, []))
                      for exercise in exercises_of(current))
    order = {(rate.exercise, rate.check_id): i for i, rate in enumerate(r for ex in exercises for r in ex.checks)}
    struggles = tuple(sorted((rate for ex in exercises for rate in ex.checks),
                             key=lambda r: (r.rate, order[(r.exercise, r.check_id)])))
    infrastructure = tuple(InfrastructureFailure(e.learner, e.exercise, e.error, e.attempts, e.source)
                           for e in sorted(current, key=lambda e: (e.learner, e.exercise)) if e.report is None)
    learners = sorted({entry.learner for entry in current})
    return ClassSummary(
        learners=len(learners),
        entries=len(current),
        graded=sum(entry.graded for entry in current),
        exercises=exercises,
        struggles=struggles,
        outliers=outliers(current),
        infrastructure=infrastructure,
        learner_summaries=tuple(
            LearnerSummary(learner, tuple(_learner_result(e) for e in sorted(
                (e for e in current if e.learner == learner), key=lambda e: e.exercise)))
            for learner in learners
        ),
    )


def _exercise(exercise: str, entries: Sequence[Entry], checks: Sequence[CheckResult]) -> ExerciseSummary:
    reports = [entry.report for entry in entries if entry.report is not None]
    scores = [report.score for report in reports]
    max_score = max((report.max_score for report in reports), default=0)
    rates = []
    for check in checks:
        outcomes = [c.status for report in reports for c in report.checks if c.id == check.id]
        rates.append(CheckRate(exercise, check.id, check.name, check.visible,
                               sum(status is CheckStatus.PASSED for status in outcomes), len(outcomes)))
    tasks = sorted({check.task for check in checks if check.task is not None})
    completion = []
    for task in tasks:
        completed = sum(all(c.status is CheckStatus.PASSED for c in report.checks if c.task == task)
                        and any(c.task == task for c in report.checks) for report in reports)
        completion.append(TaskCompletion(exercise, task, completed, len(reports)))
    return ExerciseSummary(
        exercise=exercise,
        graded=len(reports),
        infrastructure_errors=len(entries) - len(reports),
        max_score=max_score,
        mean_score=statistics.fmean(scores) if scores else None,
        median_score=float(statistics.median(scores)) if scores else None,
        full_marks=sum(report.max_score > 0 and report.score == report.max_score for report in reports),
        could_not_run=sum(report.status.value == "error" for report in reports),
        distribution=distribution([(r.score, r.max_score) for r in reports]),
        checks=tuple(rates),
        tasks=tuple(completion),
    )


def distribution(scores: Sequence[tuple[int, int]]) -> tuple[Bin, ...]:
    """How many (score, max) pairs fall in each tenth of the maximum; a max of 0 counts as 100%."""
    width = 100 // BIN_COUNT
    counts = [0] * BIN_COUNT
    for score, maximum in scores:
        percent = 100.0 * score / maximum if maximum else 100.0
        counts[min(int(percent // width), BIN_COUNT - 1)] += 1
    return tuple(Bin(i * width, (i + 1) * width, count) for i, count in enumerate(counts))


def outliers(entries: Sequence[Entry]) -> tuple[Outlier, ...]:
    """Grades that took far longer than the rest of their exercise's (see ``OUTLIER_*``); infrastructure
    errors are left out (their time is the retries', not the submission's)."""
    found = []
    for exercise in exercises_of(entries):
        timed = [e for e in entries if e.exercise == exercise and e.graded and e.duration > 0]
        if len(timed) < OUTLIER_MIN_ENTRIES:
            continue
        durations = [e.duration for e in timed]
        q1, _, q3 = statistics.quantiles(durations, n=4, method="inclusive")
        median = statistics.median(durations)
        fence = max(q3 + OUTLIER_IQR * (q3 - q1), OUTLIER_MEDIAN_FACTOR * median)
        found += [Outlier(e.learner, e.exercise, e.duration, median) for e in timed if e.duration > fence]
    return tuple(sorted(found, key=lambda o: (-o.duration, o.learner, o.exercise)))


def _learner_result(entry: Entry) -> LearnerResult:
    report = entry.report
    if report is None:
        return LearnerResult(entry.exercise, entry.state, None, None, entry.state.value, (), (), entry.error)
    return LearnerResult(entry.exercise, entry.state, report.score, report.max_score, report.status.value,
                         tuple(c for c in report.checks if c.status is not CheckStatus.PASSED), report.problems, "")
