"""The judge's isolation: each submission scores what its real behaviour deserves, with a clear category."""

from __future__ import annotations

import json
import resource
import textwrap

from runner.grading import grade
from runner.results import Category, CheckStatus, Status

from .conftest import HELLO_SOLUTION, HELLO_STARTER

FULL = 7


def statuses(report):
    return {c.id.split("::")[-1]: c.status for c in report.checks}


def test_reference_scores_full_marks(hello, submit):
    """The reference solution passes every check on the embedded backend."""
    report = grade(hello, submit({"app.py": HELLO_SOLUTION}))
    assert (report.status, report.score, report.max_score) == (Status.PASS, FULL, FULL)
    assert report.backend == "embedded"
    assert report.services == {"database": "sqlite", "redis": "fakeredis"}


def test_starter_fails_the_gate_and_skips_the_rest(hello, submit):
    """A failed gate skips later checks with a reason naming the gate."""
    report = grade(hello, submit({"app.py": HELLO_STARTER}))
    assert (report.status, report.score) == (Status.FAIL, 0)
    assert report.checks[0].status is CheckStatus.FAILED
    assert "returned status 404, expected 200" in report.checks[0].message
    assert all(c.status is CheckStatus.SKIPPED for c in report.checks[1:])
    assert "GET /hello answers 200" in report.checks[1].message


def test_learner_conftest_and_config_files_are_ignored(hello, submit):
    """conftest.py, pytest.ini, sitecustomize.py and .env beside a wrong app change nothing."""
    force_pass = """
        import pytest

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(item, call):
            outcome = yield
            report = outcome.get_result()
            report.outcome = "passed"
            report.longrepr = None
    """
    report = grade(hello, submit({
        "app.py": HELLO_STARTER,
        "conftest.py": force_pass,
        "pytest.ini": "[pytest]\naddopts = -p no:runner.judge.plugin\n",
        "sitecustomize.py": "import os; os._exit(0)\n",
        ".env": "DATABASE_URL=sqlite:////tmp/elsewhere.db\n",
        "tests/conftest.py": force_pass,
    }))
    assert report.score == 0
    assert report.checks[0].status is CheckStatus.FAILED


def test_exit_at_import_is_a_crash_not_a_pass(hello, submit):
    """os._exit(0) while importing scores zero with the crash category."""
    report = grade(hello, submit({"app.py": "import os\nos._exit(0)\n"}))
    assert (report.status, report.score) == (Status.ERROR, 0)
    assert [p.category for p in report.problems] == [Category.CRASH]
    assert "exit code 0" in report.problems[0].message
    assert all(c.status is CheckStatus.NOT_RUN for c in report.checks)


def test_patching_pytest_and_the_judge_in_the_learner_process_changes_nothing(hello, submit):
    """Learner code that patches pytest and the judge plugin only patches its own process."""
    patcher = """
        import _pytest.runner
        import runner.judge.plugin as plugin
        import runner.scoring as scoring

        _pytest.runner.call_and_report = lambda *a, **k: None
        plugin._describe_exception = lambda exc: {"status": "passed"}
        scoring.score_checks = lambda *a, **k: ()
    """
    report = grade(hello, submit({"app.py": textwrap.dedent(patcher) + HELLO_STARTER}))
    assert (report.status, report.score) == (Status.FAIL, 0)


def test_forged_result_lines_on_inherited_descriptors_are_ignored(hello, submit):
    """Writing fake judge events to every file descriptor earns nothing."""
    forger = """
        import json, os
        fake = [{"event": "manifest", "checks": []}] + [
            {"event": "result", "id": f"test_hello.py::{name}", "status": "passed"}
            for name in ("test_hello", "test_body", "test_counts_hits", "test_writes_database",
                         "test_slow", "test_still_alive")
        ]
        for fd in range(3, 64):
            for event in fake:
                try:
                    os.write(fd, (json.dumps(event) + "\\n").encode())
                except OSError:
                    pass
    """
    report = grade(hello, submit({"app.py": textwrap.dedent(forger) + HELLO_STARTER}))
    assert report.score == 0
    assert report.checks[0].status is CheckStatus.FAILED


def test_infinite_loop_at_import_is_a_timeout(kit, hello, submit):
    """A module that never finishes importing is stopped and reported as a timeout."""
    (hello.root / "exercise.toml").write_text(
        (hello.root / "exercise.toml").read_text().replace("time_limit = 40", "time_limit = 9")
    )
    from runner.exercises import find_exercise

    quick = find_exercise("01-hello", kit)
    report = grade(quick, submit({"app.py": "while True:\n    pass\n"}))
    assert (report.status, report.score) == (Status.ERROR, 0)
    assert [p.category for p in report.problems] == [Category.TIMEOUT]
    assert report.duration < 9


def test_syntax_error_is_reported_with_its_line(hello, submit):
    """A syntax error names the file and line, and nothing is run."""
    report = grade(hello, submit({"app.py": "def create_app(config:\n    pass\n"}))
    assert (report.status, report.score) == (Status.ERROR, 0)
    problem = report.problems[0]
    assert problem.category is Category.SYNTAX_ERROR
    assert problem.message.startswith("app.py, line 1")
    assert len(report.checks) == 6


def test_missing_file_is_reported(hello, submit):
    """A submission without the required file gets the missing-file category."""
    report = grade(hello, submit({"other.py": "x = 1\n"}))
    assert [p.category for p in report.problems] == [Category.MISSING_FILE]
    assert report.status is Status.ERROR


def test_symlinked_file_is_rejected(hello, submit, tmp_path):
    """A symlink in place of a learner file is rejected (it could point at the solution)."""
    folder = submit({})
    (folder / "app.py").symlink_to(hello.solution_dir / "app.py")
    report = grade(hello, folder)
    assert [p.category for p in report.problems] == [Category.REJECTED_FILE]
    assert report.score == 0


def test_check_timeout_keeps_earlier_and_later_results(hello, submit):
    """A handler stuck in a loop times out its check only; checks before and after keep their result."""
    looping = HELLO_SOLUTION.replace("        return jsonify(ok=True)", "        while True:\n            pass")
    report = grade(hello, submit({"app.py": looping}))
    result = statuses(report)
    assert result["test_slow"] is CheckStatus.TIMEOUT
    assert result["test_hello"] is CheckStatus.PASSED
    assert result["test_still_alive"] is CheckStatus.PASSED
    assert report.score == FULL - 1


def test_app_that_exits_mid_grade_loses_later_checks_with_a_crash_note(hello, submit):
    """An app that exits while handling a request is reported as a crash; later checks fail clearly."""
    exiting = HELLO_SOLUTION.replace("        return jsonify(ok=True)", "        import os\n        os._exit(3)")
    report = grade(hello, submit({"app.py": exiting}))
    result = statuses(report)
    assert result["test_hello"] is CheckStatus.PASSED
    assert result["test_still_alive"] is CheckStatus.FAILED
    assert "no longer running" in report.checks[-1].message
    assert Category.CRASH in [p.category for p in report.problems]


def test_huge_output_is_capped_and_memory_stays_bounded(hello, submit):
    """50 MB printed at import is cut to a capped excerpt with a note; the grade still counts."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    noisy = "import sys\nfor _ in range(50):\n    sys.stdout.write('x' * 1_000_000)\nsys.stdout.flush()\n"
    report = grade(hello, submit({"app.py": noisy + HELLO_SOLUTION}))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert report.score == FULL
    assert report.output_truncated
    assert "[output truncated:" in report.output
    assert len(report.output) < 10_000
    assert grown_kib < 40_000


def test_control_characters_in_output_are_stripped(hello, submit):
    """Escape sequences printed by learner code never reach the report."""
    sneaky = "print('\\x1b[2J\\x1b]0;pwned\\x07visible\\x00text')\n" + HELLO_SOLUTION
    report = grade(hello, submit({"app.py": sneaky}))
    assert "visibletext" in report.output
    assert "\x1b" not in report.output and "\x00" not in report.output and "\x07" not in report.output


def test_two_runs_of_the_same_submission_agree(hello, submit):
    """Grading is deterministic: same checks, same statuses, same seed."""
    folder = submit({"app.py": HELLO_SOLUTION.replace('message="hello"', 'message="hi"')})
    first, second = grade(hello, folder), grade(hello, folder)
    assert first.verdict() == second.verdict()
    assert first.seed == second.seed


def test_learner_environment_is_clean(hello, submit, monkeypatch):
    """The runner's environment (secrets, PYTHON* settings) does not reach learner code."""
    monkeypatch.setenv("BACKEND_KIT_SECRET", "s3cret-value")
    monkeypatch.setenv("PYTHONPATH", "/nonexistent")
    spy = "import os, sys\nprint('ENV', sorted(os.environ), sys.flags.isolated)\n" + HELLO_SOLUTION
    report = grade(hello, submit({"app.py": spy}))
    assert "BACKEND_KIT_SECRET" not in report.output
    assert "PYTHONPATH" not in report.output
    assert "'DATABASE_URL'" in report.output and "'REDIS_URL'" in report.output
    assert "] 1" in report.output  # sys.flags.isolated


def test_hidden_check_source_printed_by_learner_code_never_reaches_the_report(hello, submit):
    """Learner code that looks for the hidden checks cannot see them (bubblewrap), or they are redacted."""
    from runner.sandbox.process import bubblewrap

    snoop = textwrap.dedent(f"""
        from pathlib import Path
        found = [p for p in Path({str(hello.root.parent.parent)!r}).rglob("*.py")
                 if "checks" in p.parts or "solutions" in p.parts]
        print("FOUND", len(found))
        for path in found:
            print(path.read_text())
    """) + HELLO_SOLUTION
    report = grade(hello, submit({"app.py": snoop}))
    document = json.dumps(report.to_dict())
    assert report.score == FULL
    assert "bk-canary-hello-0c1f3b9e2d" not in document
    if bubblewrap():
        assert "FOUND 0" in report.output
    else:
        assert "[hidden content redacted]" in report.output


def test_redaction_without_bubblewrap(hello, submit, monkeypatch):
    """Without bubblewrap the files are readable, and what is printed of them is redacted."""
    from runner.sandbox import process

    monkeypatch.setattr(process, "bubblewrap", lambda: None)
    snoop = textwrap.dedent(f"""
        from pathlib import Path
        for path in Path({str(hello.root.parent.parent)!r}).rglob("*.py"):
            if "checks" in path.parts or "solutions" in path.parts:
                print(path.read_text())
    """) + HELLO_SOLUTION
    report = grade(hello, submit({"app.py": snoop}))
    assert "bk-canary-hello-0c1f3b9e2d" not in json.dumps(report.to_dict())
    assert "[hidden content redacted]" in report.output


def test_slow_start_is_not_charged_to_the_first_check(hello, submit):
    """An app that takes longer to import than one check may take, but less than the start-up limit, scores full."""
    report = grade(hello, submit({"app.py": "import time\ntime.sleep(7)\n" + HELLO_SOLUTION}))
    assert (report.status, report.score) == (Status.PASS, FULL)


def test_writing_past_the_disk_quota_stops_the_program(hello, submit, monkeypatch):
    """Many files under the per-file limit still hit the grade's disk quota: stopped, limit category."""
    from runner import quota

    monkeypatch.setattr(quota, "DISK_QUOTA", 20 * 1024 * 1024)
    filler = textwrap.dedent("""
        import os, time
        for number in range(60):
            with open(f"filler-{number}.bin", "wb") as handle:
                handle.write(os.urandom(1024 * 1024))
        time.sleep(30)
    """) + HELLO_SOLUTION
    report = grade(hello, submit({"app.py": filler}))
    assert report.score == 0
    assert Category.LIMIT_EXCEEDED in [p.category for p in report.problems]
    assert report.duration < 20


def _with_time_limit(kit, hello, seconds):
    from runner.exercises import find_exercise

    meta = hello.root / "exercise.toml"
    meta.write_text(meta.read_text().replace("time_limit = 40", f"time_limit = {seconds}"))
    return find_exercise("01-hello", kit)


def test_grade_limit_reached_before_the_checks_are_listed_is_reported_not_a_traceback(kit, hello, submit):
    """A time limit that runs out before the judge lists its checks still gives a report with every check."""
    quick = _with_time_limit(kit, hello, 0.3)
    report = grade(quick, submit({"app.py": HELLO_SOLUTION}))
    assert Category.TIMEOUT in [p.category for p in report.problems]
    assert len(report.checks) == 6 and report.score == 0


def test_slow_service_set_up_is_not_charged_to_the_learner(kit, hello, submit):
    """Time spent getting services ready (containers starting, an image building) is not the learner's."""
    import time as clock

    from runner.services.embedded import EmbeddedProvider

    class SlowProvider(EmbeddedProvider):
        def acquire(self, *args, **kwargs):
            clock.sleep(7)
            return super().acquire(*args, **kwargs)

    report = grade(_with_time_limit(kit, hello, 6), submit({"app.py": HELLO_SOLUTION}), provider=SlowProvider())
    assert (report.status, report.score) == (Status.PASS, FULL)
