"""runner.kills: the kill matrix and the check strength; runner.goldens: normalised feedback."""

from __future__ import annotations

from runner.goldens import compare, golden_name, normalise
from runner.kills import MutantVerdict, kill_matrix, killed, strength
from runner.results import CheckResult, CheckStatus, GradeReport, Status


def report(**statuses: CheckStatus) -> GradeReport:
    checks = tuple(CheckResult(id=f"t.py::{name.replace('__', '[')}{']' if '__' in name else ''}", name=name,
                               status=status, points=int(status is CheckStatus.PASSED), max_points=1)
                   for name, status in statuses.items())
    score = sum(c.points for c in checks)
    return GradeReport(exercise="x", backend="embedded", status=Status.PASS if score == len(checks) else Status.FAIL,
                       score=score, max_score=len(checks), checks=checks)


P, F, S = CheckStatus.PASSED, CheckStatus.FAILED, CheckStatus.SKIPPED


def test_kill_matrix_counts_failures_not_skips_and_groups_cases():
    bugs = {"off-by-one": report(test_a=P, test_b__x=F, test_b__y=P, test_c=P),
            "gate-broken": report(test_a=F, test_b__x=S, test_b__y=S, test_c=S)}
    matrix = kill_matrix(["t.py::test_a", "t.py::test_b[x]", "t.py::test_b[y]", "t.py::test_c"], bugs)
    assert matrix.checks == ("test_a", "test_b", "test_c")
    assert matrix.catches("test_b") == ("off-by-one",)
    assert matrix.caught_by("gate-broken") == ("test_a",)
    assert matrix.unproven == ("test_c",)  # skipped after a failed gate proves nothing


def test_killed_means_the_grade_tells_it_apart():
    assert killed(report(test_a=P, test_b=F))
    assert not killed(report(test_a=P, test_b=P))


def test_strength_applies_equivalents_and_reports_stale_ones():
    verdicts = [MutantVerdict(f"app.py:constant:{i:08x}", "d", "diff", killed=i < 8, killed_by=()) for i in range(10)]
    plain = strength(verdicts, {})
    assert plain.share == 0.8 and not plain.ok and len(plain.survivors) == 2
    marked = strength(verdicts, {"app.py:constant:00000009": "the statement says nothing about it",
                                 "app.py:constant:deadbeef": "gone"})
    assert round(marked.share, 3) == 0.889 and len(marked.equivalent) == 1
    assert marked.stale_equivalents == ("app.py:constant:deadbeef",) and not marked.ok
    full = strength(verdicts, {"app.py:constant:00000008": "x" * 10, "app.py:constant:00000009": "y" * 10})
    assert full.share == 1.0 and full.ok


def test_goldens_ignore_what_varies_between_runs():
    one = ("Score: 3/5 (1.2 s)\n  sent: GET http://127.0.0.1:40123/x\n  at 0x7f3a9c0d12e0 in "
           "/tmp/backend-kit-grade-abc123/workspace/app.py\n127.0.0.1 - - [02/Dec/2026 05:30:00] GET  \n")
    two = ("Score: 3/5 (4.8 s)\n  sent: GET http://127.0.0.1:51999/x\n  at 0x7f00000000aa in "
           "/tmp/backend-kit-grade-zz9/workspace/app.py\n127.0.0.1 - - [03/Jan/2027 11:00:59] GET\n")
    assert normalise(one) == normalise(two)
    assert normalise("Score: 3/5") != normalise("Score: 4/5")
    assert (normalise('{"token":"CFXaCJvRa-p9VNl68m0yT47--81Kr5BNzqciKbYjeHg"}')
            == normalise('{"token":"-MJeRevDy-BQMXxNHrcHe7wOst-WxRLYeLrj5zfF0rQ"}') == '{"token":"<token>"}\n')
    assert normalise("a_word_that_is_long_but_has_no_digits_at_all") == "a_word_that_is_long_but_has_no_digits_at_all\n"


def test_golden_comparison_gives_a_reviewable_diff():
    assert golden_name("bug title-off-by-one") == "bug-title-off-by-one.txt"
    assert compare("starter", None, "x\n").missing
    assert compare("starter", "x\n", "x\n").ok
    diff = compare("starter", "Score: 1/5\n", "Score: 2/5\n")
    assert not diff.ok and "-Score: 1/5" in diff.diff and "+Score: 2/5" in diff.diff


def test_goldens_leave_out_the_numbers_of_concurrent_checks_only():
    """How many of 30 requests sent at once got through varies between runs; other checks' numbers do not."""
    from dataclasses import replace

    from runner.goldens import normalise_report

    base = report(test_race=F, test_other=F)
    racy, plain = base.checks

    def with_message(text: str) -> GradeReport:
        return replace(base, checks=(replace(racy, message=text, actual=text), replace(plain, message="11 of 10")))

    one = normalise_report(with_message("12 of 10 requests passed"), frozenset({racy.id}))
    two = normalise_report(with_message("14 of 10 requests passed"), frozenset({racy.id}))
    assert one == two
    assert one.checks[0].message == "<n> of <n> requests passed"
    assert one.checks[1].message == "11 of 10"
    assert normalise_report(with_message("12 of 10"), frozenset()).checks[0].message == "12 of 10"
