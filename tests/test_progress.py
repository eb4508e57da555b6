"""The pure side of the loop: status, task marks, next, hints and the solution's gate."""

from __future__ import annotations

import pytest

from runner import progress as prog
from runner.errors import UsageError

ORDER = ["01-a", "02-b", "03-c"]


def test_a_malformed_entry_reads_as_not_started():
    data = {"01-a": "garbage", "02-b": {"best": "x", "tasks": {"1": "y"}, "passed": 1}}
    assert prog.entry(data, "01-a", started=False).status is prog.Status.NOT_STARTED
    b = prog.entry(data, "02-b", started=False)
    assert (b.status, b.best, b.tasks, b.score) == (prog.Status.NOT_STARTED, None, {}, "—")


def test_status_and_score():
    data = {"01-a": {"best": 18, "max": 25, "passed": False}, "02-b": {"best": 9, "max": 9, "passed": True}}
    assert prog.entry(data, "01-a", started=True).status is prog.Status.IN_PROGRESS
    assert prog.entry(data, "01-a", started=True).score == "18/25"
    assert prog.entry(data, "02-b", started=True).status is prog.Status.DONE
    assert prog.entry({}, "03-c", started=True).status is prog.Status.IN_PROGRESS


def test_task_marks():
    assert prog.task_marks({"0": (1, 1), "2": (1, 3), "1": (4, 4), "3": (0, 2)}) == "1✓ 2◐ 3·"


def _p(slug, status, graded_at=0.0):
    return prog.Progress(slug=slug, status=status, graded_at=graded_at)


def test_next_is_the_first_not_done_after_the_current():
    rows = [_p("01-a", prog.Status.DONE), _p("02-b", prog.Status.DONE), _p("03-c", prog.Status.NOT_STARTED)]
    assert prog.next_after(ORDER, rows, "01-a") == "03-c"
    assert prog.next_after(ORDER, rows, None) == "03-c"
    assert prog.next_after(ORDER, rows, "03-c") is None


def test_current_prefers_the_workspace_then_the_latest_in_progress():
    rows = [_p("01-a", prog.Status.IN_PROGRESS, 5), _p("02-b", prog.Status.DONE, 9),
            _p("03-c", prog.Status.IN_PROGRESS, 7)]
    assert prog.current(ORDER, rows, "02-b") == "02-b"
    assert prog.current(ORDER, rows, None) == "03-c"


def test_only_in_progress_asks_when_several():
    assert prog.only_in_progress([_p("01-a", prog.Status.IN_PROGRESS), _p("02-b", prog.Status.DONE)]) == "01-a"
    with pytest.raises(UsageError, match="01-a, 03-c"):
        prog.only_in_progress([_p("01-a", prog.Status.IN_PROGRESS), _p("03-c", prog.Status.IN_PROGRESS)])


def test_hint_steps_check_hint_first_then_the_exercise_hints():
    failing = {"id": "t::x", "name": "POST answers 201", "hint": "Return 201."}
    p = prog.Progress(slug="01-a", status=prog.Status.IN_PROGRESS, first_failing=failing, graded_at=1.0)
    first = prog.hint_step(p, ["h1", "h2"])
    assert first.shown == [("From your last grade, POST answers 201", "Return 201.")]
    p = prog.Progress(slug="01-a", status=prog.Status.IN_PROGRESS, first_failing=failing, graded_at=1.0,
                      check_hint_seen=first.check_hint_seen)
    second = prog.hint_step(p, ["h1", "h2"])
    assert second.shown == [("Hint 1/2", "h1")] and second.hints_shown == 1
    done = prog.hint_step(prog.Progress(slug="01-a", status=prog.Status.IN_PROGRESS, hints_shown=2), ["h1", "h2"])
    assert done.exhausted and done.shown == []


def test_solution_only_after_full_marks_or_giving_up():
    refusal = prog.solution_refusal(prog.Progress(slug="01-a", status=prog.Status.IN_PROGRESS, best=3, max=7))
    assert refusal is not None and "3/7" in refusal.message and "--give-up" in (refusal.hint or "")
    assert prog.solution_refusal(prog.Progress(slug="01-a", status=prog.Status.DONE)) is None
    assert prog.solution_refusal(prog.Progress(slug="01-a", status=prog.Status.IN_PROGRESS, gave_up=True)) is None
