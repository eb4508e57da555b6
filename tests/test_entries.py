"""The gradebook entry: a round trip through JSON lines, and no report without a grade."""

from __future__ import annotations

import json

import pytest

from runner.entries import Entry, EntryState
from runner.results import CheckResult, CheckStatus, GradeReport, Status


def report(score: int) -> GradeReport:
    check = CheckResult("checks/test_a.py::test_a", "A works", CheckStatus.PASSED if score else CheckStatus.FAILED,
                        score, 2, task=1, message="" if score else "GET /a returned 500")
    return GradeReport("01-bookmarks-api", "embedded", Status.PASS if score == 2 else Status.FAIL, score, 2,
                       (check,), submission_hash="s1", exercise_hash="e1", runner_version="0.1")


def test_a_graded_entry_survives_json_lines():
    entry = Entry("ada", "01-bookmarks-api", "s1", "e1", "0.1", EntryState.GRADED, report(2), duration=1.25,
                  graded_at="2026-12-03T13:00:00Z", source="class/ada")
    again = Entry.from_dict(json.loads(json.dumps(entry.to_dict())))
    assert again == entry
    assert (again.score, again.max_score, again.graded) == (2, 2, True)


def test_an_infrastructure_error_has_no_score_not_a_zero():
    entry = Entry("bob", "01-bookmarks-api", "s2", "e1", "0.1", EntryState.INFRASTRUCTURE_ERROR,
                  error="PostgreSQL stopped answering", attempts=3)
    assert entry.score is None and entry.to_dict()["score"] is None
    assert Entry.from_dict(entry.to_dict()) == entry


@pytest.mark.parametrize("state,has_report", [(EntryState.GRADED, False), (EntryState.INFRASTRUCTURE_ERROR, True)])
def test_a_report_comes_with_a_grade_only(state, has_report):
    with pytest.raises(ValueError):
        Entry("x", "e", "s", "h", "v", state, report(0) if has_report else None)


def test_another_format_version_is_refused():
    data = Entry("x", "e", "s", "h", "v", EntryState.INFRASTRUCTURE_ERROR).to_dict() | {"format_version": 99}
    with pytest.raises(ValueError, match="format_version 99"):
        Entry.from_dict(data)
