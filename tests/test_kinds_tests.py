"""The tests kind's runs of a learner's suite (runner.kinds.tests): every run starts from the same
state whether pytest's configuration was prepared once before the forks or, when it cannot be, per
run; and one judge serves each implementation under its own token."""

from __future__ import annotations

import pytest

from runner.exercises import find_exercise
from runner.grading import grade_files
from runner.results import CheckStatus, Status

from .conftest import write

META = """format_version = 1
title = "Doubling tests"
track = "testing"
difficulty = "beginner"
concepts = ["pytest"]
time_limit = 90
check_timeout = 10
files = ["test_module.py", "conftest.py"]

[entry]
kind = "tests"
target = "module"
functions = ["double"]
"""

REFERENCE = "def double(n):\n    return 2 * n\n"
MUTANT = "def double(n):\n    return n + 2\n"

CHECK = f'''from runner.judge import expect

REFERENCE = {REFERENCE!r}
MUTANT = {MUTANT!r}


def test_runs(learner_tests):
    """Reference green three times, the mutant red, each run on its own"""
    runs = [learner_tests.run(REFERENCE, ["double"]) for _ in range(3)]
    for run in runs:
        expect(run.green, "the suite passes on the reference", actual=str(run.outcomes))
    mutant = learner_tests.run(MUTANT, ["double"])
    expect(mutant.red, "the suite fails on the mutant", actual=str(mutant.outcomes))
'''

SUITE = '''from module import double

import conftest


def test_double():
    conftest.RUNS.append(1)
    assert len(conftest.RUNS) == 1, "a run saw an earlier run's state"
    assert double(2) == 4
    assert double(5) == 10
'''


@pytest.fixture
def doubling(kit):
    folder = kit / "exercises" / "01-doubling"
    write(folder / "exercise.toml", META)
    write(folder / "README.md", "# Doubling\n")
    write(folder / "starter" / "module.py", REFERENCE)
    write(folder / "starter" / "test_module.py", "from module import double  # TODO\n")
    write(folder / "starter" / "conftest.py", "")
    write(folder / "checks" / "test_runs.py", CHECK)
    return find_exercise("01-doubling", kit)


@pytest.mark.parametrize("conftest", [
    pytest.param("RUNS = []\n", id="prepared-once"),
    # Calls the module under test at import: only a run serves it, so each run starts pytest itself.
    pytest.param("from module import double\n\nRUNS = []\nFOUR = double(2)\n", id="per-run"),
])
def test_every_run_starts_from_the_same_state(doubling, conftest):
    report = grade_files(doubling, {"test_module.py": SUITE, "conftest.py": conftest})
    (check,) = report.checks
    assert (report.status, check.status) == (Status.PASS, CheckStatus.PASSED), (check.message, check.actual,
                                                                                 report.problems)


def test_a_conftest_that_exits_at_import_fails_the_runs_not_the_grade(doubling):
    report = grade_files(doubling, {"test_module.py": SUITE, "conftest.py": "raise SystemExit(0)\n"})
    (check,) = report.checks
    assert check.status is CheckStatus.FAILED and "passes on the reference" in check.message
    assert report.problems == ()
