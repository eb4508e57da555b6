"""One grade's bookkeeping and time rules, as a state machine. Pure: it is told the time.

``Grader`` does the I/O (launching, selecting, reading); everything it reads is handed to a
``GradeSession`` with the current ``now``, and the session answers what happens next: keep going,
when the next deadline is, or that the attempt ended and why (``AttemptEnd``). The fairness rules
live here, where a table test can drive them in milliseconds:

- the grade's clock starts once the sandbox and services are ready (``start_clock``), not before;
- start-up has its own limit (a third of the grade's, at most ``STARTUP_TIMEOUT``), counted from
  when the host has booted (a container or a cold interpreter is the sandbox's cost; a host that
  cannot boot within ``BOOT_TIMEOUT`` is the machine's fault), and a check the judge starts while
  the learner's program is still starting gets its clock only once it is ready;
- a check past its limit is a timeout, and grading resumes with the next check in a fresh attempt,
  keeping every result recorded before; a gate that did not pass skips what follows it;
- past the grade's limit, the running check is a timeout and the rest is not run, but the report
  still lists every check (the judge's manifest), even when the limit ran out before it came.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from . import textsafe
from .results import Category, CheckSpec, CheckStatus, Outcome, Problem
from .wire import (
    CheckFinished,
    CheckStarted,
    CollectError,
    HostBooted,
    HostFailed,
    HostReady,
    HostReport,
    JudgeEvent,
    Manifest,
)

#: The longest start-up any exercise allows, whatever its time limit.
STARTUP_TIMEOUT = 20.0
#: How long the sandbox may take to boot the learner host (a container, a cold interpreter) before
#: the learner's start-up clock begins; past it, the machine is at fault, never the learner.
BOOT_TIMEOUT = 30.0


class AttemptEnd(enum.Enum):
    """Why one attempt (a learner process and a judge) ended."""

    FINISHED = "finished"  # the judge ran every check it was given
    STARTUP_FAILED = "startup_failed"  # the learner's program could not start
    BOOT_FAILED = "boot_failed"  # the sandbox could not even start the host: the machine's fault
    CHECK_TIMEOUT = "check_timeout"  # a check ran past its limit; resume after it if checks remain
    GRADE_TIMEOUT = "grade_timeout"  # the grade's limit ran out
    LIMIT_EXCEEDED = "limit_exceeded"  # the program wrote past the disk quota
    JUDGE_FAILED = "judge_failed"  # the judge stopped before reporting every check: the kit's fault


#: ``GradeSession.timed_out`` when start-up ran out of time.
STARTUP = "start-up"

#: After these, the judge is still asked for its manifest, so the report lists every check.
NEEDS_MANIFEST = frozenset({AttemptEnd.STARTUP_FAILED, AttemptEnd.GRADE_TIMEOUT, AttemptEnd.LIMIT_EXCEEDED})


def startup_limit(time_limit: float) -> float:
    """Importing and starting the learner's code may take at most a third of the grade's time."""
    return min(STARTUP_TIMEOUT, max(2.0, time_limit / 3))


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


@dataclass
class GradeSession:
    """The state of one grade across its attempts. Times are ``time.monotonic()`` seconds."""

    time_limit: float
    check_timeout: float
    problems: list[Problem] = field(default_factory=list)
    manifest: tuple[CheckSpec, ...] | None = None
    recorded: dict[str, Outcome] = field(default_factory=dict)
    failed_gates: list[str] = field(default_factory=list)
    judge_output: list[str] = field(default_factory=list)
    current: str | None = None
    current_deadline: float | None = None
    #: The learner's program has reported ready in this attempt (a check's clock may run).
    learner_ready: bool = False
    #: The learner's program is still starting (its start-up report has not come).
    starting: bool = False
    #: The host has said it is up (``HostBooted``): the start-up deadline is counted from then.
    booted: bool = False
    grade_deadline: float | None = None
    startup_deadline: float | None = None
    #: What this attempt was stopped for time in: ``STARTUP``, or the id of the check; None if nothing
    #: (the runner takes a stack sample of the program for it before the kill).
    timed_out: str | None = None

    # ------------------------------------------------------------------ clock and attempts

    @property
    def startup_limit(self) -> float:
        return startup_limit(self.time_limit)

    def start_clock(self, now: float) -> None:
        """The learner's time starts now (sandbox and services are ready)."""
        self.grade_deadline = now + self.time_limit

    def begin_attempt(self, now: float) -> None:
        self.learner_ready = False
        self.starting = True
        self.booted = False
        # Until the host has booted, it may take BOOT_TIMEOUT; then the learner's start-up limit runs.
        self.startup_deadline = now + BOOT_TIMEOUT
        self.current = self.current_deadline = None
        self.timed_out = None

    def next_deadline(self) -> float | None:
        """The earliest moment ``tick`` may have something to say."""
        deadlines = [d for d in (self.grade_deadline, self.current_deadline) if d is not None]
        if self.starting and self.startup_deadline is not None:
            deadlines.append(self.startup_deadline)
        return min(deadlines) if deadlines else None

    def tick(self, now: float) -> AttemptEnd | None:
        """Deadlines passed by ``now``: start-up first, then the running check, then the grade."""
        if self.starting and self.startup_deadline is not None and now >= self.startup_deadline:
            self.starting = False
            if not self.booted:
                return AttemptEnd.BOOT_FAILED
            self.problems.append(Problem(
                Category.TIMEOUT, f"Your code did not finish starting within {self.startup_limit:g} s.",
                "Look for an infinite loop or a long-running call at the top level of a module."))
            self.timed_out = STARTUP
            return AttemptEnd.STARTUP_FAILED
        if self.current_deadline is not None and now >= self.current_deadline:
            self._record_timeout(grade_limit=False)
            return AttemptEnd.CHECK_TIMEOUT
        if self.grade_deadline is not None and now >= self.grade_deadline:
            self.problems.append(Problem(
                Category.TIMEOUT, f"Grading stopped at the exercise's time limit of {self.time_limit:g} s."))
            if self.current is not None:
                self._record_timeout(grade_limit=True)
            return AttemptEnd.GRADE_TIMEOUT
        return None

    # ------------------------------------------------------------------ the learner's program

    def on_host_report(self, report: HostReport, now: float) -> AttemptEnd | None:
        if isinstance(report, HostBooted):
            if self.starting and not self.booted:  # the first one only: later ones are the learner's
                self.booted = True
                self.startup_deadline = now + self.startup_limit
            return None
        self.starting = False
        if isinstance(report, HostReady):
            self.learner_ready = True
            if self.current is not None and self.current_deadline is None:
                self.current_deadline = now + self._timeout_of(self.current)
            return None
        assert isinstance(report, HostFailed)
        details, _ = textsafe.cap(report.details, 4000)
        self.problems.append(Problem(report.category, textsafe.short(report.message, 600), details,
                                     textsafe.short(report.advice, 600)))
        return AttemptEnd.STARTUP_FAILED

    def on_host_died(self, exit_code: int | None) -> AttemptEnd:
        """The program ended (or closed its channel) before any start-up report."""
        self.starting = False
        self.problems.append(Problem(
            Category.CRASH,
            f"Your program exited ({describe_exit(exit_code)}) while starting, before it could be graded."))
        return AttemptEnd.STARTUP_FAILED

    def on_over_quota(self, quota_mib: int, quota_files: int) -> AttemptEnd:
        self.problems.append(Problem(
            Category.LIMIT_EXCEEDED,
            f"Your program wrote more than {quota_mib} MiB or {quota_files} files to disk; it was stopped."))
        if self.current is not None:
            self.recorded[self.current] = Outcome(
                CheckStatus.ERROR, "Stopped: your program exceeded the disk quota during this check.")
            self.current = self.current_deadline = None
        return AttemptEnd.LIMIT_EXCEEDED

    def note_crash(self, exit_code: int | None) -> None:
        """After a finished attempt: a program that is no longer running stopped on its own."""
        if exit_code is not None:
            self.problems.append(Problem(
                Category.CRASH,
                f"Your program stopped during grading ({describe_exit(exit_code)}); "
                "checks after that could not reach it."))

    # ------------------------------------------------------------------ the judge

    def on_judge_event(self, event: JudgeEvent, now: float) -> None:
        if isinstance(event, Manifest):
            if self.manifest is None:
                self.manifest = event.checks
        elif isinstance(event, CheckStarted):
            self.current = event.id
            self.current_deadline = now + self._timeout_of(event.id) if self.learner_ready else None
        elif isinstance(event, CheckFinished):
            o = event.outcome
            self.recorded[event.id] = replace(o, message=textsafe.short(o.message, 1000), expected=_short(o.expected),
                                              actual=_short(o.actual), sent=_short(o.sent), hint=_short(o.hint))
            spec = self._spec(event.id)
            if spec is not None and spec.gate and event.status is not CheckStatus.PASSED:
                self.failed_gates.append(spec.name)
            self.current = self.current_deadline = None
        elif isinstance(event, CollectError):
            self.judge_output.append(event.details[-3000:])

    def on_judge_finished(self) -> AttemptEnd:
        return AttemptEnd.FINISHED if self.complete else AttemptEnd.JUDGE_FAILED

    @property
    def complete(self) -> bool:
        return self.manifest is not None and all(spec.id in self.recorded for spec in self.manifest)

    def resumes(self, end: AttemptEnd) -> bool:
        """Whether another attempt follows: only after a check timeout that left checks to run."""
        return end is AttemptEnd.CHECK_TIMEOUT and not self.complete

    @property
    def done(self) -> tuple[str, ...]:
        """Checks the next attempt's judge must not run again."""
        return tuple(sorted(self.recorded))

    def not_run_reason(self) -> str:
        problems = [p for p in self.problems if p.category is not Category.IGNORED_FILE]
        if problems:
            return f"Not run: {problems[0].message}"
        return "This check was not reached."

    # ------------------------------------------------------------------ helpers

    def _spec(self, check_id: str) -> CheckSpec | None:
        return next((spec for spec in self.manifest or () if spec.id == check_id), None)

    def _timeout_of(self, check_id: str) -> float:
        spec = self._spec(check_id)
        return spec.timeout if spec else self.check_timeout

    def _record_timeout(self, *, grade_limit: bool) -> None:
        assert self.current is not None
        self.timed_out = self.current
        spec = self._spec(self.current)
        message = ("Stopped when the grade's time limit ran out." if grade_limit
                   else f"Stopped after {spec.timeout if spec else 0:g} s, the time limit of this check.")
        self.recorded[self.current] = Outcome(
            CheckStatus.TIMEOUT, message,
            hint="Look for an infinite loop or a blocking call in the code this check uses.")
        if spec is not None and spec.gate:
            self.failed_gates.append(spec.name)
        self.current = self.current_deadline = None


def _short(value: str | None) -> str | None:
    return None if value is None else textsafe.short(value, 1500)

