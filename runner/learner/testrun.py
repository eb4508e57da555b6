"""pytest plugin loaded in the learner's forked test run: reports each test's outcome on a pipe.

It runs in the learner's process, so what it reports is not trusted as a verdict on its own: the
judge only uses it to compare runs against implementations the learner cannot tell apart.
"""

from __future__ import annotations

import contextlib
import os

import pytest

from .. import wire


def _emit(outcome: wire.TestOutcome) -> None:
    fd = os.environ.get("BACKEND_KIT_OUTCOMES_FD")
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(int(fd), wire.dump(outcome))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _emit(wire.TestOutcome(report.nodeid or "(collection)", "error", "collect", str(report.longrepr)[-2000:]))


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        if report.when != "call" and report.outcome == "skipped":
            outcome = "skipped"
        elif report.when != "call" and report.failed:
            outcome = "error"
        else:
            outcome = report.outcome
        _emit(wire.TestOutcome(report.nodeid, outcome, report.when, _crash(report) if report.failed else ""))


def _crash(report: pytest.TestReport) -> str:
    """pytest's one-line account of a failure (``assert 950 == 1000``, ``ValueError: ...``): the
    run's full FAILURES blocks are not shown, a run against a hidden version is not the learner's
    to read line by line."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", "") or "").strip()
    return message.splitlines()[0][:300] if message else ""
