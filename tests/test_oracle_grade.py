"""End to end: an oracle suite for 03 (a copy of pricing.py, and asserts that the module agrees with
it) is refused by a gate that names the copy; and what the judge reads as the submission is the
runner's own copy, which learner code rewriting the workspace cannot change."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from runner import wire
from runner.exercises import find_exercise
from runner.grading import grade_files
from runner.results import CheckStatus

from .conftest import write

REPO = Path(__file__).resolve().parent.parent
PRICING = (REPO / "exercises" / "03-testing-pricing" / "starter" / "pricing.py").read_text()
FUNCTIONS = ["apply_discount", "bulk_unit_price", "parse_coupon", "cart_total", "shipping_cents"]


def oracle_suite() -> str:
    """What a learner could write without one expectation of their own: pricing.py pasted under other
    names, and a grid of inputs on which the graded module must answer as the copy does."""
    copy = PRICING.split("from typing import Any\n", 1)[1]
    for name in FUNCTIONS:
        copy = re.sub(rf"\b{name}\b", f"ref_{name}", copy)
    return textwrap.dedent('''
        """My tests."""
        import itertools
        from typing import Any

        import pytest

        import pricing
    ''') + copy + textwrap.dedent('''

        def outcome(fn, *args):
            try:
                return fn(*args)
            except Exception as exc:
                return type(exc).__name__

        INTS = [-1, 0, 1, 5, 9, 10, 49, 50, 100, 101, 4999, 5000, True, 1.5, "1"]


        @pytest.mark.parametrize(("a", "b"), list(itertools.product(INTS, INTS)))
        def test_discount_and_tiers(a, b):
            assert outcome(pricing.apply_discount, a, b) == outcome(ref_apply_discount, a, b)
            assert outcome(pricing.bulk_unit_price, a, b) == outcome(ref_bulk_unit_price, a, b)


        @pytest.mark.parametrize("country", ["US", " us ", "DE", "USA", "", "U1", 1])
        @pytest.mark.parametrize("subtotal", INTS)
        def test_shipping(subtotal, country):
            assert outcome(pricing.shipping_cents, subtotal, country) == outcome(ref_shipping_cents, subtotal, country)
    ''')


@pytest.fixture
def real_kit(monkeypatch):
    monkeypatch.setenv("BACKEND_KIT_ROOT", str(REPO))


def test_an_oracle_suite_is_refused_and_told_why(real_kit):
    """The copy gate fails before any run, naming the copied functions; nothing else is graded."""
    exercise = find_exercise("03-testing-pricing")
    report = grade_files(exercise, {"test_pricing.py": oracle_suite()})
    assert report.score < report.max_score and report.score == 0
    first, *rest = report.checks
    assert first.id.endswith("::test_no_copy_of_the_module") and first.status is CheckStatus.FAILED
    assert first.name == "Your tests state their own expected values (no copy of pricing.py)"
    assert first.message.startswith("test_pricing.py contains a copy of pricing.py's apply_discount, "
                                    "bulk_unit_price, parse_coupon, cart_total, shipping_cents, _require_int, "
                                    "_require_cents. ")
    assert "apply_discount (as ref_apply_discount) at line" in (first.actual or "")
    assert all(check.status is CheckStatus.SKIPPED for check in rest)
    assert "Not run: it needs “Your tests state their own expected values" in rest[0].message


def test_the_judge_spec_carries_the_submission_dir():
    spec = wire.JudgeSpec(kind="tests", submission_dir="/grade/judge/submission")
    assert wire.parse_judge_spec(wire.dump(spec)) == spec
    assert wire.parse_judge_spec(wire.dump(wire.JudgeSpec(kind="tests"))).submission_dir is None  # type: ignore[union-attr]


TAMPER_META = """format_version = 1
title = "Doubling tests"
track = "testing"
difficulty = "beginner"
concepts = ["pytest"]
time_limit = 60
check_timeout = 10
files = ["test_module.py"]

[entry]
kind = "tests"
target = "module"
functions = ["double"]
"""

#: The learner's suite rewrites its own file in the workspace the first time it runs.
TAMPERING = '''from pathlib import Path

from module import double

Path(__file__).write_text("def test_clean():\\n    pass\\n")  # ORIGINAL-MARKER


def test_double():
    assert double(2) == 4
'''

TAMPER_CHECK = '''from pathlib import Path

from runner.judge import expect


def test_reads_what_was_submitted(learner_tests, submission_files, judge_spec):
    """What the judge reads is what was submitted"""
    run = learner_tests.run("def double(n):\\n    return 2 * n\\n", ["double"])
    expect(run.green, "the suite ran", actual=str(run.outcomes))
    workspace = Path(judge_spec.submission_dir).parent.parent / "workspace" / "test_module.py"
    expect("ORIGINAL-MARKER" not in workspace.read_text(), "the learner rewrote the workspace's copy")
    expect("ORIGINAL-MARKER" in submission_files["test_module.py"], "the judge's copy is the submitted one",
           actual=submission_files["test_module.py"])
    expect(sorted(submission_files) == ["test_module.py"], "only the submitted files", actual=str(submission_files))
'''


def test_submission_files_is_the_runners_copy_not_the_workspace(kit):
    """A suite that rewrites itself in the workspace while it runs does not change what checks read."""
    folder = kit / "exercises" / "01-doubling"
    write(folder / "exercise.toml", TAMPER_META)
    write(folder / "README.md", "# Doubling\n")
    write(folder / "starter" / "module.py", "def double(n):\n    return 2 * n\n")
    write(folder / "starter" / "test_module.py", "from module import double  # TODO\n")
    write(folder / "checks" / "test_tamper.py", TAMPER_CHECK)
    exercise = find_exercise("01-doubling", kit)
    report = grade_files(exercise, {"test_module.py": TAMPERING})
    (check,) = report.checks
    assert check.status is CheckStatus.PASSED, (check.message, check.actual, report.problems)
