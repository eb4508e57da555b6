"""The app's own output per failing check ("your app"): the judge's trimming, and a real grade."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runner.exercises import find_exercise
from runner.judge import applog
from runner.learner.applog import REQUEST_LIMIT, AppLog
from runner.results import CheckStatus

ROOT = "/tmp/backend-kit-grade-x/workspace"
FLASK_TRACEBACK = f"""\
[2026-12-02 23:40:00,123] ERROR in app: Exception on /bookmarks [POST]
Traceback (most recent call last):
  File "/venv/lib/python3.12/site-packages/flask/app.py", line 1511, in wsgi_app
    response = self.full_dispatch_request()
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/opt/backend-kit/runner/learner/applog.py", line 110, in logged
    return app(environ, start_response)
  File "{ROOT}/app.py", line 94, in create_bookmark
    1 / 0
    ~~^~~
  File "{ROOT}/helpers/db.py", line 3, in save
    raise ZeroDivisionError("division by zero")
ZeroDivisionError: division by zero
"""


def test_tracebacks_keep_only_the_learners_frames_relative_to_the_workspace():
    text = applog.trim([(ROOT, "creating\n" + FLASK_TRACEBACK)])
    assert text == """\
creating
ERROR in app: Exception on /bookmarks [POST]
Traceback (most recent call last):
  File "app.py", line 94, in create_bookmark
    1 / 0
    ~~^~~
  File "helpers/db.py", line 3, in save
    raise ZeroDivisionError("division by zero")
ZeroDivisionError: division by zero"""
    assert "site-packages" not in text and "runner" not in text and "2026" not in text


def test_each_distinct_traceback_is_shown_once_with_its_count():
    other = FLASK_TRACEBACK.replace("line 94", "line 95")
    text = applog.trim([(ROOT, FLASK_TRACEBACK), (ROOT, FLASK_TRACEBACK), (ROOT, other), (ROOT, FLASK_TRACEBACK)])
    assert text is not None
    assert text.count("Traceback (most recent call last):") == 2
    assert "(the same error 3 times)" in text
    assert text.index('line 94') < text.index('line 95')


def test_a_traceback_without_learner_frames_keeps_its_header_and_exception():
    text = applog.trim([(ROOT, 'Traceback (most recent call last):\n  File "/usr/lib/x.py", line 1, in f\n'
                               '    g()\nKeyError: \'url\'\n')])
    assert text == "Traceback (most recent call last):\nKeyError: 'url'"


def test_paths_outside_the_workspace_are_not_the_learners_even_when_they_share_a_prefix():
    text = applog.trim([(ROOT, f'Traceback (most recent call last):\n  File "{ROOT}2/app.py", line 1, in f\n'
                               f'  File "{ROOT}/../x.py", line 2, in g\nValueError: no\n')])
    assert text == "Traceback (most recent call last):\nValueError: no"


def test_long_output_is_capped_with_a_visible_note_and_escapes_removed():
    text = applog.trim([(ROOT, "\x1b[31mred\x1b[0m\n" + "".join(f"line {i}\n" for i in range(100)))])
    assert text is not None
    lines = text.splitlines()
    assert lines[0] == "red"
    assert len(lines) == applog.MAX_LINES + 1
    assert lines[-1] == f"[… {101 - applog.MAX_LINES} more lines of your app's output not shown]"


def test_no_output_is_none_and_malformed_records_are_skipped(tmp_path):
    assert applog.trim([(ROOT, "\n\n")]) is None
    log = tmp_path / "app.log"
    log.write_bytes(b"garbage\n[1]\n" + json.dumps({"id": "ab" * 8, "root": ROOT, "text": "hello"}).encode()
                    + b"\n" + json.dumps({"id": "cd" * 8, "root": 3, "text": "x"}).encode() + b"\n")
    assert applog.app_output(str(log), 0, ["ab" * 8, "cd" * 8]) == "hello"
    assert applog.app_output(str(log), 0, ["ef" * 8]) is None
    assert applog.app_output(str(tmp_path / "none.log"), 0, ["ab" * 8]) is None
    assert applog.app_output(str(log), None, ["ab" * 8]) is None


def test_the_judge_reads_only_a_regular_file_never_a_link_or_a_fifo(tmp_path):
    """The log's folder is writable by the learner's process: a FIFO would block the judge."""
    import os

    real = tmp_path / "real.log"
    real.write_text(json.dumps({"id": "ab" * 8, "root": ROOT, "text": "hello"}) + "\n")
    assert applog.app_output(str(real), 0, ["ab" * 8]) == "hello"
    link = tmp_path / "link.log"
    link.symlink_to(real)
    assert applog.app_output(str(link), 0, ["ab" * 8]) is None
    fifo = tmp_path / "fifo.log"
    os.mkfifo(fifo)
    assert applog.app_output(str(fifo), 0, ["ab" * 8]) is None  # returns at once, no reader blocks


def test_the_host_records_a_requests_output_under_its_id_and_still_prints_it(tmp_path, capsys):
    log = AppLog(str(tmp_path / "app.log"), ROOT)
    log.install()
    try:
        def app(environ, start_response):
            print("x" * (REQUEST_LIMIT * 2))
            print("the end")
            return [b""]

        wrapped = log.wrap(app)
        wrapped({"HTTP_X_BACKEND_KIT_REQUEST": "ab" * 8}, None)
        wrapped({"HTTP_X_BACKEND_KIT_REQUEST": "not an id"}, None)
        wrapped({}, None)
    finally:
        import sys
        sys.stdout = sys.stdout._stream  # type: ignore[attr-defined]
        sys.stderr = sys.stderr._stream  # type: ignore[attr-defined]
    records = [json.loads(line) for line in (tmp_path / "app.log").read_text().splitlines()]
    assert [r["id"] for r in records] == ["ab" * 8]
    assert len(records[0]["text"]) < REQUEST_LIMIT + 100
    assert records[0]["text"].endswith("the end\n") and "characters of your app's output not kept" in records[0]["text"]
    assert capsys.readouterr().out.count("the end") == 3


@pytest.fixture
def raising_bookmarks(tmp_path) -> Path:
    """The reference solution of 01 with a print and a division by zero in POST /bookmarks."""
    exercise = find_exercise("01-bookmarks-api")
    source = (exercise.solution_dir / "app.py").read_text()
    anchor = "    def create_bookmark():\n"
    assert anchor in source
    source = source.replace(anchor, anchor + '        print("creating a bookmark")\n        1 / 0\n', 1)
    (tmp_path / "app.py").write_text(source)
    return tmp_path


def _grade(folder: Path, sandbox=None):
    from runner.grading import grade

    return grade(find_exercise("01-bookmarks-api"), folder, sandbox=sandbox)


def _assert_the_create_check_shows_the_error(report, folder: Path) -> None:
    failing = [c for c in report.checks if c.status is not CheckStatus.PASSED]
    create = next(c for c in failing if c.name.startswith("POST /bookmarks answers 201"))
    assert create.app_output is not None
    line = next(i for i, text in enumerate((folder / "app.py").read_text().splitlines(), 1) if text == "        1 / 0")
    assert "creating a bookmark" in create.app_output
    assert f'  File "app.py", line {line}, in create_bookmark' in create.app_output
    assert create.app_output.rstrip().endswith("ZeroDivisionError: division by zero")
    assert not re.search(r"site-packages|runner/|/tmp/|werkzeug", create.app_output)
    assert all(c.app_output is None for c in report.checks if c.status is CheckStatus.PASSED)


def test_a_failing_check_shows_the_apps_traceback_from_serving_it(raising_bookmarks):
    _assert_the_create_check_shows_the_error(_grade(raising_bookmarks), raising_bookmarks)


@pytest.mark.docker
def test_the_docker_sandbox_shows_it_too(raising_bookmarks):
    from runner.sandbox.docker import DockerSandbox

    from .conftest import require_docker

    require_docker()

    _assert_the_create_check_shows_the_error(_grade(raising_bookmarks, DockerSandbox()), raising_bookmarks)
