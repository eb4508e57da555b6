"""The judge plugin on its own (pytester, in process): the manifest, names, markers, gates, what each
kind of exception becomes, and the spec's done and collect-only."""

from __future__ import annotations

import os

import pytest

from runner import wire
from runner.results import CheckStatus

pytest_plugins = ["pytester"]

CHECKS = '''
import pytest
from runner.judge import Mismatch


@pytest.mark.gate
@pytest.mark.points(3)
@pytest.mark.task(1)
def test_first():
    """The first check"""


@pytest.mark.visible
@pytest.mark.timeout(7)
@pytest.mark.parametrize("n", [1, 2])
def test_numbered(n):
    """Check number {n}"""
    if n == 2:
        raise Mismatch("two is wrong", expected=2, actual=[3], sent="GET /2", hint="count again")


def test_without_docstring():
    raise KeyError("shape")


def test_typo():
    """A check with a typo"""
    undefined_name


def test_missing_fixture(no_such_fixture):
    """A check asking for a fixture nobody provides"""


def test_plain_assert():
    """A bare assert"""
    assert 1 == 2, "one is not two"
'''


def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, checks: str,
        **spec: object) -> list[wire.JudgeEvent]:
    """Run the plugin over ``checks`` with a JudgeSpec on a descriptor; the events it wrote."""
    results_read, results_write = os.pipe()
    spec_read, spec_write = os.pipe()
    os.write(spec_write, wire.dump(wire.JudgeSpec(kind="functions", results_fd=results_write, default_timeout=4.0,
                                                  **spec)))  # type: ignore[arg-type]
    os.close(spec_write)
    monkeypatch.setenv("BACKEND_KIT_JUDGE_SPEC_FD", str(spec_read))
    pytester.makepyfile(test_checks=checks)
    pytester.runpytest_inprocess("-p", "runner.judge.plugin", "-p", "no:cacheprovider", "--assert=plain")
    os.close(results_write)
    data = b""
    while chunk := os.read(results_read, 65536):
        data += chunk
    os.close(results_read)
    events = [wire.parse_judge_event(line) for line in data.splitlines()]
    assert None not in events
    return [e for e in events if e is not None]


def _finished(events: list[wire.JudgeEvent]) -> dict[str, wire.CheckFinished]:
    return {e.id.rsplit("::", 1)[-1]: e for e in events if isinstance(e, wire.CheckFinished)}


def test_the_manifest_lists_every_check_in_order_with_its_markers(pytester, monkeypatch):
    """Names from docstrings ({param} filled in, else the function's name), points, task, gate,
    visible and timeout (the spec's default unless a marker says otherwise)."""
    manifest = run(pytester, monkeypatch, CHECKS)[0]
    assert isinstance(manifest, wire.Manifest)
    assert [(c.name, c.points, c.task, c.gate, c.visible, c.timeout) for c in manifest.checks] == [
        ("The first check", 3, 1, True, False, 4.0),
        ("Check number 1", 1, None, False, True, 7.0),
        ("Check number 2", 1, None, False, True, 7.0),
        ("without docstring", 1, None, False, False, 4.0),
        ("A check with a typo", 1, None, False, False, 4.0),
        ("A check asking for a fixture nobody provides", 1, None, False, False, 4.0),
        ("A bare assert", 1, None, False, False, 4.0),
    ]


def test_each_exception_becomes_the_right_status(pytester, monkeypatch):
    """Mismatch and assert: failed with their fields; a KeyError: error (a shape the check did not
    expect); a NameError or a missing fixture: check_error, the kit's fault."""
    events = run(pytester, monkeypatch, CHECKS)
    finished = _finished(events)
    assert {name: e.status for name, e in finished.items()} == {
        "test_first": CheckStatus.PASSED, "test_numbered[1]": CheckStatus.PASSED,
        "test_numbered[2]": CheckStatus.FAILED, "test_without_docstring": CheckStatus.ERROR,
        "test_typo": CheckStatus.CHECK_ERROR, "test_missing_fixture": CheckStatus.CHECK_ERROR,
        "test_plain_assert": CheckStatus.FAILED}
    two = finished["test_numbered[2]"].outcome
    assert (two.message, two.expected, two.actual, two.sent, two.hint) == ("two is wrong", "2", "[3]", "GET /2",
                                                                           "count again")
    assert "not your fault" in finished["test_typo"].outcome.message
    assert "no_such_fixture" in finished["test_missing_fixture"].outcome.message
    # (In process, the outer session's assertion rewriting adds the source line; the real judge runs
    # with --assert=plain, so a learner sees only the message.)
    assert finished["test_plain_assert"].outcome.message.startswith("one is not two")
    starts = [e.id for e in events if isinstance(e, wire.CheckStarted)]
    assert starts == [e.id for e in events if isinstance(e, wire.CheckFinished)]  # each start, then its result


def test_a_failed_gate_skips_the_rest_with_its_name(pytester, monkeypatch):
    """After a gate that did not pass, every later check is skipped, naming the gate."""
    finished = _finished(run(pytester, monkeypatch, CHECKS.replace('"""The first check"""',
                                                                   '"""The first check"""\n    assert False')))
    assert finished["test_first"].status is CheckStatus.FAILED
    later = [e for name, e in finished.items() if name != "test_first"]
    assert {e.status for e in later} == {CheckStatus.SKIPPED}
    assert all(e.outcome.message == "Not run: it needs “The first check” to pass first." for e in later)


def test_done_checks_are_not_run_again_and_collect_only_runs_nothing(pytester, monkeypatch):
    """A resumed attempt skips what was recorded; a collect-only judge lists the checks and runs none."""
    events = run(pytester, monkeypatch, CHECKS, done=("test_checks.py::test_first",),
                 failed_gates=())
    assert "test_first" not in _finished(events) and len(_finished(events)) == 6
    listed = run(pytester, monkeypatch, CHECKS, collect_only=True)
    assert isinstance(listed[0], wire.Manifest) and len(listed[0].checks) == 7 and not _finished(listed)
