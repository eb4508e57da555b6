"""The grade's time rules, driven as a pure state machine: each row is a timeline and its verdict.

No process, no sleep: ``GradeSession`` is told the time. The real-process tests of the same rules
(tests/test_grading.py) stay; these pin every branch in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from runner import wire
from runner.results import Category, CheckSpec, CheckStatus, Outcome
from runner.scoring import score_checks
from runner.session import BOOT_TIMEOUT, NEEDS_MANIFEST, AttemptEnd, GradeSession, describe_exit, startup_limit

A = CheckSpec("c.py::test_a", "A", 2, gate=True, timeout=3.0)
B = CheckSpec("c.py::test_b", "B", 1, timeout=3.0)
C = CheckSpec("c.py::test_c", "C", 1, timeout=5.0)
MANIFEST = wire.Manifest((A, B, C))


def finished(check: CheckSpec, status: CheckStatus = CheckStatus.PASSED) -> wire.CheckFinished:
    return wire.CheckFinished(check.id, Outcome(status))


@dataclass(frozen=True)
class Row:
    """A timeline: (time, what happens) steps; ``None`` as an event means 'tick at this time'."""

    name: str
    steps: tuple[tuple[float, object], ...]
    end: AttemptEnd | None
    recorded: dict[str, CheckStatus]
    problems: tuple[Category, ...] = ()
    time_limit: float = 40.0
    #: The host reports it has booted at once (the usual case) unless a row says when.
    boots_at_once: bool = True


BOOTED = wire.HostBooted()
READY = wire.HostReady(5000)
TICK = None

ROWS = [
    Row("start-up is not charged to a check started while the program starts",
        ((0, MANIFEST), (0.5, wire.CheckStarted(A.id)), (6, TICK), (7, READY), (9.9, TICK), (9.9, finished(A))),
        None, {A.id: CheckStatus.PASSED}),
    Row("a check's clock starts when the program is ready",
        ((0, MANIFEST), (0.5, wire.CheckStarted(A.id)), (7, READY), (10, TICK)),
        AttemptEnd.CHECK_TIMEOUT, {A.id: CheckStatus.TIMEOUT}),
    Row("a check past its own limit is a timeout",
        ((0, MANIFEST), (0, READY), (1, finished(A)), (1, wire.CheckStarted(B.id)), (3.99, TICK), (4, TICK)),
        AttemptEnd.CHECK_TIMEOUT, {A.id: CheckStatus.PASSED, B.id: CheckStatus.TIMEOUT}),
    Row("start-up past its limit is a timeout problem, not a check's",
        ((0, MANIFEST), (0, wire.CheckStarted(A.id)), (startup_limit(40), TICK)),
        AttemptEnd.STARTUP_FAILED, {}, (Category.TIMEOUT,)),
    Row("start-up is reported before a check deadline that passed at the same moment",
        ((0, MANIFEST), (0, wire.CheckStarted(A.id)), (30, TICK)),
        AttemptEnd.STARTUP_FAILED, {}, (Category.TIMEOUT,)),
    Row("the grade's limit before the manifest still ends the attempt with a timeout problem",
        ((0.3, TICK),), AttemptEnd.GRADE_TIMEOUT, {}, (Category.TIMEOUT,), 0.3),
    Row("the grade's limit during a check records that check as a timeout",
        ((0, MANIFEST), (0, READY), (0, finished(A)), (1, wire.CheckStarted(C.id)), (2, TICK)),
        AttemptEnd.GRADE_TIMEOUT, {A.id: CheckStatus.PASSED, C.id: CheckStatus.TIMEOUT}, (Category.TIMEOUT,), 2.0),
    Row("a host that cannot import the learner's code fails start-up with its category",
        ((0, MANIFEST), (1, wire.HostFailed(Category.IMPORT_ERROR, "importing app raised KeyError"))),
        AttemptEnd.STARTUP_FAILED, {}, (Category.IMPORT_ERROR,)),
    Row("booting the host is not on the learner's clock: start-up is counted from the boot",
        ((0, MANIFEST), (startup_limit(40) + 1, TICK), (20, BOOTED), (20 + startup_limit(40) - 0.01, TICK),
         (20 + startup_limit(40), TICK)),
        AttemptEnd.STARTUP_FAILED, {}, (Category.TIMEOUT,), boots_at_once=False),
    Row("a host that never boots is the machine's fault, with no problem for the learner",
        ((0, MANIFEST), (BOOT_TIMEOUT - 0.01, TICK), (BOOT_TIMEOUT, TICK)),
        AttemptEnd.BOOT_FAILED, {}, (), boots_at_once=False),
    Row("a second 'booted' (the learner's code writing it) does not move the start-up deadline",
        ((0, MANIFEST), (5, BOOTED), (startup_limit(40), TICK)),
        AttemptEnd.STARTUP_FAILED, {}, (Category.TIMEOUT,)),
    Row("a result for a check that is not running is recorded, and ticks after it are quiet",
        ((0, MANIFEST), (0, READY), (0, finished(A)), (0, finished(B)), (0, finished(C)), (39, TICK)),
        None, {A.id: CheckStatus.PASSED, B.id: CheckStatus.PASSED, C.id: CheckStatus.PASSED}),
]


def run(row: Row) -> tuple[GradeSession, AttemptEnd | None]:
    session = GradeSession(row.time_limit, 10.0)
    session.start_clock(0)
    session.begin_attempt(0)
    if row.boots_at_once:
        session.on_host_report(BOOTED, 0)
    end = None
    for now, event in row.steps:
        if event is None:
            end = session.tick(now)
        elif isinstance(event, wire.HostBooted | wire.HostReady | wire.HostFailed):
            end = session.on_host_report(event, now)
        else:
            assert isinstance(event, wire.Manifest | wire.CheckStarted | wire.CheckFinished | wire.CollectError)
            session.on_judge_event(event, now)
        if end is not None:
            break
    return session, end


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_timeline(row: Row):
    """Each timeline ends as its row says, with the outcomes and problems it says."""
    session, end = run(row)
    assert end is row.end
    assert {key: outcome.status for key, outcome in session.recorded.items()} == row.recorded
    assert tuple(p.category for p in session.problems) == row.problems


def test_a_timed_out_check_resumes_with_the_next_keeping_earlier_results():
    """After a check timeout, the next attempt skips what is recorded, and the grade completes."""
    session = GradeSession(40, 10)
    session.start_clock(0)
    session.begin_attempt(0)
    for event in (BOOTED, MANIFEST, READY, finished(A), wire.CheckStarted(B.id)):
        if isinstance(event, wire.HostBooted | wire.HostReady):
            session.on_host_report(event, 0)
        else:
            session.on_judge_event(event, 0)
    end = session.tick(3.0)
    assert end is AttemptEnd.CHECK_TIMEOUT and session.resumes(end)
    assert session.done == (A.id, B.id)
    session.begin_attempt(3.5)
    assert session.current is None and not session.learner_ready
    session.on_host_report(READY, 4)
    session.on_judge_event(MANIFEST, 4)  # a later judge's manifest changes nothing
    session.on_judge_event(wire.CheckStarted(C.id), 4)
    assert session.current_deadline == 4 + C.timeout
    session.on_judge_event(finished(C), 5)
    assert session.on_judge_finished() is AttemptEnd.FINISHED and not session.resumes(AttemptEnd.FINISHED)


def test_a_timeout_of_the_last_check_does_not_resume():
    """Nothing is left to run after the last check timed out: no new attempt."""
    session, end = run(Row("", ((0, MANIFEST), (0, READY), (0, finished(A)), (0, finished(B)),
                                (0, wire.CheckStarted(C.id)), (5, TICK)), None, {}))
    assert end is AttemptEnd.CHECK_TIMEOUT and not session.resumes(end)


def test_a_failed_or_timed_out_gate_blocks_what_follows():
    """A gate that fails, and a gate that times out, are both named for the next attempt's judge."""
    failed, _ = run(Row("", ((0, MANIFEST), (0, READY), (0, finished(A, CheckStatus.FAILED))), None, {}))
    assert failed.failed_gates == ["A"]
    timed_out, _ = run(Row("", ((0, MANIFEST), (0, READY), (0, wire.CheckStarted(A.id)), (3, TICK)), None, {}))
    assert timed_out.failed_gates == ["A"]
    passed, _ = run(Row("", ((0, MANIFEST), (0, READY), (0, finished(B, CheckStatus.FAILED))), None, {}))
    assert passed.failed_gates == []  # B is not a gate


def test_a_judge_that_stops_before_every_check_is_the_kits_failure():
    """End of the results channel with checks missing is JUDGE_FAILED, never a learner's verdict."""
    session, _ = run(Row("", ((0, MANIFEST), (0, READY), (0, finished(A))), None, {}))
    assert session.on_judge_finished() is AttemptEnd.JUDGE_FAILED


def test_the_report_lists_every_check_after_a_grade_limit_before_the_manifest():
    """The manifest read after the limit still lists every check, each not run, with the reason."""
    session, end = run(Row("", ((0.3, TICK),), None, {}, time_limit=0.3))
    assert end in NEEDS_MANIFEST
    session.on_judge_event(MANIFEST, 1)
    checks = score_checks(session.manifest or (), session.recorded, not_run_reason=session.not_run_reason())
    assert [c.status for c in checks] == [CheckStatus.NOT_RUN] * 3
    assert checks[0].message.startswith("Not run: Grading stopped at the exercise's time limit")


def test_next_deadline_is_the_earliest_that_applies():
    """The grade, the running check, and start-up only while the program is still starting."""
    session = GradeSession(40, 10)
    session.start_clock(0)
    session.begin_attempt(1)
    assert session.next_deadline() == 1 + BOOT_TIMEOUT
    session.on_host_report(BOOTED, 1.5)
    assert session.next_deadline() == 1.5 + startup_limit(40)
    session.on_host_report(READY, 2)
    assert session.next_deadline() == 40
    session.on_judge_event(MANIFEST, 2)
    session.on_judge_event(wire.CheckStarted(B.id), 3)
    assert session.next_deadline() == 6


def test_disk_quota_during_a_check_is_that_checks_error():
    """Past the quota: a limit problem, and the running check ends as an error."""
    session, _ = run(Row("", ((0, MANIFEST), (0, READY), (0, wire.CheckStarted(A.id))), None, {}))
    assert session.on_over_quota(256, 20000) is AttemptEnd.LIMIT_EXCEEDED
    assert session.recorded[A.id].status is CheckStatus.ERROR
    assert [p.category for p in session.problems] == [Category.LIMIT_EXCEEDED]


def test_a_program_that_dies_while_starting_is_a_crash_and_one_that_stops_later_is_noted():
    """Death before the report is a crash at start-up; a program gone after the checks is a crash note."""
    session = GradeSession(40, 10)
    session.begin_attempt(0)
    assert session.on_host_died(-9) is AttemptEnd.STARTUP_FAILED
    assert "killed by signal 9" in session.problems[0].message
    later = GradeSession(40, 10)
    later.note_crash(None)
    assert later.problems == []
    later.note_crash(3)
    assert later.problems[0].category is Category.CRASH and describe_exit(3) in later.problems[0].message


def test_startup_limit_is_a_third_of_the_grade_within_bounds():
    """A third of the grade's limit, at least 2 s and at most 20 s."""
    assert (startup_limit(3), startup_limit(18), startup_limit(600)) == (2.0, 6.0, 20.0)
