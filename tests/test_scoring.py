"""Scoring: only a recorded pass of an expected check earns points."""

from __future__ import annotations

from runner.results import Category, CheckSpec, CheckStatus, GradeReport, Outcome, Problem, Status
from runner.scoring import build_report, overall_status, score_checks

MANIFEST = [CheckSpec("t::a", "A", 2, gate=True), CheckSpec("t::b", "B", 3), CheckSpec("t::c", "C", 1)]


def report(recorded, problems=()):
    return build_report(exercise="x", backend="embedded", manifest=MANIFEST, recorded=recorded, problems=problems)


def test_only_passes_earn_points():
    """Failed, errored, skipped and timed-out checks score zero."""
    result = report({
        "t::a": Outcome(CheckStatus.PASSED),
        "t::b": Outcome(CheckStatus.ERROR, "boom"),
        "t::c": Outcome(CheckStatus.TIMEOUT),
    })
    assert [(c.points, c.max_points) for c in result.checks] == [(2, 2), (0, 3), (0, 1)]
    assert (result.score, result.max_score, result.status) == (2, 6, Status.FAIL)


def test_missing_outcome_is_not_run_and_scores_zero():
    """A check with no recorded outcome is reported as not run, with the reason given."""
    checks = score_checks(MANIFEST, {"t::a": Outcome(CheckStatus.PASSED)}, not_run_reason="grade stopped")
    assert [c.status for c in checks] == [CheckStatus.PASSED, CheckStatus.NOT_RUN, CheckStatus.NOT_RUN]
    assert checks[1].message == "grade stopped"


def test_outcomes_for_unexpected_checks_are_ignored():
    """A pass recorded for a check that is not in the manifest adds nothing."""
    result = report({"t::zzz": Outcome(CheckStatus.PASSED), "t::a": Outcome(CheckStatus.FAILED)})
    assert result.score == 0
    assert [c.id for c in result.checks] == ["t::a", "t::b", "t::c"]


def test_checks_keep_manifest_order():
    """Checks are reported in declaration order, whatever order results arrived in."""
    result = report({"t::c": Outcome(CheckStatus.PASSED), "t::a": Outcome(CheckStatus.PASSED)})
    assert [c.id for c in result.checks] == ["t::a", "t::b", "t::c"]


def test_all_passed_is_pass():
    """PASS only when every check passed."""
    result = report({spec.id: Outcome(CheckStatus.PASSED) for spec in MANIFEST})
    assert (result.status, result.score) == (Status.PASS, 6)


def test_blocking_problem_is_an_error_even_with_checks():
    """A syntax error makes the grade an error, not a failure."""
    problem = Problem(Category.SYNTAX_ERROR, "app.py, line 1")
    assert overall_status(score_checks(MANIFEST, {}), [problem]) is Status.ERROR


def test_crash_after_some_passes_is_a_failure_not_an_error():
    """A crash mid-grade keeps the points earned before it."""
    result = report({"t::a": Outcome(CheckStatus.PASSED)}, [Problem(Category.CRASH, "exited")])
    assert (result.status, result.score) == (Status.FAIL, 2)


def test_no_check_passing_and_a_problem_is_an_error():
    """When nothing ran because of a problem, the grade is an error."""
    result = report({}, [Problem(Category.TIMEOUT, "import took too long")])
    assert result.status is Status.ERROR


def test_hidden_tally_counts_hidden_checks_only():
    """The hidden summary counts passes among hidden checks."""
    manifest = [CheckSpec("t::v", "V", 1, visible=True), CheckSpec("t::h", "H", 1), CheckSpec("t::i", "I", 1)]
    result = build_report(exercise="x", backend="embedded", manifest=manifest,
                          recorded={"t::v": Outcome(CheckStatus.PASSED), "t::h": Outcome(CheckStatus.PASSED)})
    assert (result.hidden.passed, result.hidden.total) == (1, 2)


def test_report_round_trips_through_json_dict():
    """to_dict/from_dict keep every field the verdict depends on."""
    result = report({"t::a": Outcome(CheckStatus.PASSED, hint="h")}, [Problem(Category.CRASH, "exited", "tb")])
    again = GradeReport.from_dict(result.to_dict())
    assert again.verdict() == result.verdict()
    assert again.problems == result.problems
    assert again.to_dict() == result.to_dict()
