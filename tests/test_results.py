"""The result document: to_dict and from_dict are inverses, and another format version is refused."""

from __future__ import annotations

import json

import pytest

from runner.results import RESULT_FORMAT_VERSION, Category, CheckSpec, CheckStatus, GradeReport, Outcome, Problem
from runner.scoring import build_report


def _report() -> GradeReport:
    return build_report(
        exercise="01-hello", backend="embedded",
        manifest=[CheckSpec("c.py::test_a", "A", 2, task=1, gate=True), CheckSpec("c.py::test_b", "B", 1),
                  CheckSpec("c.py::test_c", "C", 1, visible=True)],
        recorded={"c.py::test_a": Outcome(CheckStatus.PASSED, duration=0.125),
                  "c.py::test_b": Outcome(CheckStatus.FAILED, "wrong", "1", "2", "GET /", "try"),
                  "c.py::test_c": Outcome(CheckStatus.CHECK_ERROR, "broken")},
        problems=[Problem(Category.CRASH, "stopped", "details")], output="out", output_truncated=True,
        duration=1.5, submission_hash="s" * 64, exercise_hash="e" * 64, seed=7, runner_version="0.1.0",
        services={"database": "sqlite"})


def test_from_dict_inverts_to_dict():
    """Every field survives a JSON round trip, the exercise hash and a broken check included."""
    report = _report()
    document = json.loads(json.dumps(report.to_dict()))
    assert GradeReport.from_dict(document) == report
    assert document["exercise_hash"] == "e" * 64
    assert [c.id for c in report.broken_checks] == ["c.py::test_c"]


@pytest.mark.parametrize("version", [None, 0, RESULT_FORMAT_VERSION + 1, "1"])
def test_another_format_version_is_refused(version):
    """A document without format_version 1 is not read as one (a future or foreign format)."""
    document = _report().to_dict()
    document["format_version"] = version
    with pytest.raises(ValueError, match="format_version"):
        GradeReport.from_dict(document)


def test_every_check_status_can_be_rendered_and_exported():
    """A status the terminal report or JUnit cannot show would crash the renderer (a bug of the kit)."""
    from runner.exports import _JUNIT_OUTCOME
    from runner.report import SYMBOL

    assert set(SYMBOL) == set(CheckStatus)
    assert set(_JUNIT_OUTCOME) == set(CheckStatus) - {CheckStatus.PASSED}
