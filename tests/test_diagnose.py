"""Diagnose instead of timing out (issue 9): the pure diagnoses, then each one end to end through
the real grader on the throwaway 01-hello exercise."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runner import diagnose
from runner.diagnose import Context, explain, parse_stack, stopped_at
from runner.grading import grade
from runner.results import ADVICE, Category, CheckStatus, GradeReport, Problem

from .conftest import HELLO_SOLUTION, HELLO_STARTER

WORKSPACE = "/tmp/backend-kit-grade-x/workspace"
SAMPLE = f"""{diagnose.SAMPLE_HEADER}{WORKSPACE}
Thread 0x00007f0000000001 (most recent call first):
  File "/usr/lib/python3.12/socketserver.py", line 235 in serve_forever
  File "/venv/lib/python3.12/site-packages/werkzeug/serving.py", line 819 in serve_forever
  File "/venv/lib/python3.12/site-packages/runner/kinds/wsgi.py", line 81 in serve

Thread 0x00007f0000000002 (most recent call first):
  File "/usr/lib/python3.12/selectors.py", line 415 in select
  File "{WORKSPACE}/app.py", line 97 in update_bookmark
  File "/venv/lib/python3.12/site-packages/flask/app.py", line 902 in dispatch_request
  File "{WORKSPACE}/app.py", line 12 in wrapper
"""
CONTEXT = Context(graded=("app.py",), ungraded_modules=("helpers",), packages=("flask 3.1", "sqlalchemy 2.0"))


# ------------------------------------------------------------------ pure


def test_a_stack_sample_is_parsed_into_threads_with_the_learners_frames_relative():
    threads = parse_stack(SAMPLE)
    assert len(threads) == 2
    assert [f.learner for f in threads[1]] == [False, True, False, True]
    assert threads[1][1].file == "app.py" and threads[1][1].line == 97


def test_stopped_at_names_the_learners_innermost_frame_and_the_call_it_waits_in():
    sentence, details = stopped_at(SAMPLE)
    assert sentence == "stopped in update_bookmark, app.py line 97 (in select (selectors))"
    assert "wrapper, app.py line 12" in details
    assert WORKSPACE not in details


def test_a_sample_without_learner_frames_says_nothing():
    assert stopped_at(SAMPLE.split("Thread 0x00007f0000000002")[0]) == ("", "")
    assert stopped_at("") == ("", "")


def test_a_timed_out_check_says_where_the_code_was():
    assert diagnose.timed_out_check("Stopped after 2 s, the time limit of this check.", SAMPLE) == (
        "Stopped after 2 s, the time limit of this check: your code was stopped in update_bookmark, "
        "app.py line 97 (in select (selectors)).")
    assert diagnose.timed_out_check("Stopped.", "") == "Stopped."


def test_app_run_at_import_names_the_file_and_line():
    message, advice = diagnose.server_at_import("app.py", 42, "app.run()", importing=True, factory="create_app")
    assert message == ('app.py line 42 calls app.run() when the module is imported: the grader starts your app '
                       'itself; put it under `if __name__ == "__main__":`')
    assert "__main__" in advice
    message, _ = diagnose.server_at_import("app.py", 7, "app.run()", importing=False, factory="create_app(config)")
    assert "when create_app(config) is called" in message


def test_an_ungraded_local_module_is_named_with_what_to_do():
    problem = Problem(Category.IMPORT_ERROR, "importing app raised ModuleNotFoundError: No module named 'helpers'")
    better = explain(problem, context=CONTEXT)
    assert better.category is Category.IMPORT_ERROR
    assert "helpers.py is not graded" in better.message and "only app.py is graded" in better.message
    assert better.advice.startswith("Only app.py is graded: move the code of helpers.py into app.py")


def test_a_missing_package_lists_what_is_available():
    problem = Problem(Category.IMPORT_ERROR, "importing app raised ModuleNotFoundError: No module named 'pandas.io'")
    better = explain(problem, context=CONTEXT)
    assert "imports pandas.io, which is not installed" in better.message
    assert "flask 3.1, sqlalchemy 2.0" in better.advice and "Remove the import of pandas" in better.advice


def test_a_missing_graded_module_is_left_as_it_is():
    problem = Problem(Category.IMPORT_ERROR, "importing app raised ModuleNotFoundError: No module named 'app'")
    assert explain(problem, context=CONTEXT) == problem


@pytest.mark.parametrize("text", ["OSError: [Errno 98] Address already in use",
                                  "Address already in use\nPort 5000 is in use by another program."])
def test_a_port_in_use_is_said(text):
    problem = Problem(Category.IMPORT_ERROR, "importing app raised OSError: [Errno 98] Address already in use")
    better = explain(problem, context=CONTEXT)
    assert "already in use" in better.message and "on a port it picks" in better.advice
    exited = explain(Problem(Category.IMPORT_ERROR, "importing app raised SystemExit: 1"), output=text)
    assert "tried to listen on" in exited.message
    crash = explain(Problem(Category.CRASH, "Your program exited (exit code 1) while starting."), output=text)
    assert "tried to listen on" in crash.message
    if "Port 5000" in text:
        assert "port 5000" in crash.message


def test_a_startup_timeout_with_the_dev_server_banner_says_so():
    problem = Problem(Category.TIMEOUT, "Your code did not finish starting within 20 s.", "Look for a loop.")
    output = " * Serving Flask app 'app'\n * Debug mode: off\n * Running on http://127.0.0.1:5000\n"
    better = explain(problem, output=output)
    assert "server of your own started on http://127.0.0.1:5000" in better.message
    assert "__main__" in better.advice
    assert "development server" in explain(problem, output=" * Serving Flask app 'app'\n").message


def test_a_startup_timeout_in_a_server_loop_without_banner_says_so():
    problem = Problem(Category.TIMEOUT, "Your code did not finish starting within 20 s.")
    sample = f"""{diagnose.SAMPLE_HEADER}{WORKSPACE}
Current thread 0x00007f0000000001 (most recent call first):
  File "/usr/lib/python3.12/socket.py", line 295 in accept
  File "{WORKSPACE}/app.py", line 4 in <module>
"""
    better = explain(problem, sample=sample)
    assert "started a server of its own (accept (socket))" in better.message
    assert "stopped in <module>, app.py line 4" in better.message
    assert "listening socket" in better.advice


def test_a_plain_startup_timeout_is_unchanged_without_evidence():
    problem = Problem(Category.TIMEOUT, "Your code did not finish starting within 20 s.", "Look for a loop.")
    better = explain(problem)
    assert (better.message, better.details, better.advice) == (problem.message, problem.details,
                                                              ADVICE[Category.TIMEOUT])


def test_specific_advice_survives_the_json_document():
    problem = Problem(Category.IMPORT_ERROR, "m", "d", "do this")
    report = GradeReport("ex", "embedded", __import__("runner.results").results.Status.ERROR, 0, 1, (),
                         problems=(problem, Problem(Category.CRASH, "c")))
    again = GradeReport.from_dict(report.to_dict())
    assert again.problems == report.problems
    assert report.to_dict()["problems"][0]["advice"] == "do this"


def test_the_learner_packages_are_those_of_the_docker_image():
    from runner.sandbox.docker import REQUIREMENTS

    assert {r for r in REQUIREMENTS if not r.endswith("-binary")} <= set(diagnose.LEARNER_PACKAGES)


# ------------------------------------------------------------------ end to end, through the real grader


def _quick(kit, hello, seconds):
    """01-hello with a shorter time limit: start-up may take a third of it."""
    from runner.exercises import find_exercise

    meta = hello.root / "exercise.toml"
    meta.write_text(meta.read_text().replace("time_limit = 40", f"time_limit = {seconds}"))
    return find_exercise("01-hello", kit)


def _line_of(source: str, text: str) -> int:
    """The line of ``text`` in the file as ``submit`` writes it (dedented, leading newlines dropped)."""
    return textwrap.dedent(source).lstrip("\n").splitlines().index(text) + 1


def _problem(report) -> Problem:
    assert len(report.problems) == 1, report.problems
    return report.problems[0]


def test_app_run_at_import_fails_at_once_with_the_line(hello, submit):
    """`app.run()` at import: reported in about a second, not after the 13 s start-up limit."""
    source = HELLO_SOLUTION + "\n\napp = create_app(__import__('os').environ)\napp.run(port=5000)\n"
    line = _line_of(source, "app.run(port=5000)")
    report = grade(hello, submit({"app.py": source}))
    problem = _problem(report)
    assert problem.category is Category.IMPORT_ERROR
    assert problem.message.startswith(f"app.py line {line} calls app.run() when the module is imported: "
                                      "the grader starts your app itself")
    assert "__main__" in problem.advice
    assert report.duration < 10
    assert report.score == 0


def test_app_run_in_the_factory_is_a_startup_error(hello, submit):
    source = HELLO_SOLUTION.replace("    return app\n", "    app.run()\n    return app\n")
    report = grade(hello, submit({"app.py": source}))
    problem = _problem(report)
    assert problem.category is Category.STARTUP_ERROR
    assert "calls app.run() when create_app(config) is called" in problem.message
    assert report.duration < 10


def test_app_run_under_main_guard_still_grades(hello, submit):
    """The guard itself is the fix: the grade goes on normally."""
    guarded = HELLO_SOLUTION + '\nif __name__ == "__main__":\n    create_app({}).run()\n'
    report = grade(hello, submit({"app.py": guarded}))
    assert report.problems == () and report.score == 7


def test_importing_an_ungraded_file_of_the_folder_says_only_app_py_is_graded(hello, submit):
    report = grade(hello, submit({"app.py": "import helpers\n" + HELLO_STARTER, "helpers.py": "X = 1\n"}))
    problem = _problem(report)
    assert problem.category is Category.IMPORT_ERROR
    assert "helpers.py is not graded" in problem.message
    assert "move the code of helpers.py into app.py" in problem.advice
    assert "<frozen" not in problem.details  # the learner's own frames only


def test_a_missing_package_lists_the_available_ones(hello, submit):
    report = grade(hello, submit({"app.py": "import flask_marshmallow\n" + HELLO_STARTER}))
    problem = _problem(report)
    assert "imports flask_marshmallow, which is not installed" in problem.message
    assert "flask " in problem.advice and "sqlalchemy " in problem.advice


def test_a_port_already_in_use_at_import_is_said(hello, submit):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        source = (f"import socket\nserver = socket.socket()\nserver.bind(('127.0.0.1', {port}))\nserver.listen()\n"
                  + HELLO_STARTER)
        report = grade(hello, submit({"app.py": source}))
    problem = _problem(report)
    assert problem.category is Category.IMPORT_ERROR
    assert "already in use" in problem.message and "on a port it picks" in problem.advice


def test_a_server_of_the_learners_own_at_import_is_explained_with_its_banner(kit, hello, submit):
    """A dev server started some other way than app.run() (here werkzeug's make_server): the start-up
    timeout says the output shows a server of the learner's own, and where the code sat."""
    quick = _quick(kit, hello, 9)
    source = textwrap.dedent("""\
        from flask import Flask
        from werkzeug.serving import make_server
        app = Flask(__name__)
        server = make_server("127.0.0.1", 0, app)
        server.log_startup()
        server.serve_forever()
        """)
    report = grade(quick, submit({"app.py": source}))
    problem = _problem(report)
    assert problem.category is Category.TIMEOUT
    assert "the output shows a server of your own started on http://127.0.0.1:" in problem.message
    assert "stopped in <module>, app.py line 6 (in serve_forever" in problem.message
    assert "__main__" in problem.advice


def test_a_listening_socket_of_the_learners_own_is_explained_from_the_stack(kit, hello, submit):
    quick = _quick(kit, hello, 9)
    source = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\ns.accept()\n"
    problem = _problem(grade(quick, submit({"app.py": source})))
    assert problem.category is Category.TIMEOUT
    assert "started a server of its own (accept (socket))" in problem.message
    assert "app.py line 5" in problem.message


def test_a_startup_loop_is_stopped_with_where_it_was(kit, hello, submit):
    quick = _quick(kit, hello, 9)
    report = grade(quick, submit({"app.py": "def spin():\n    while True:\n        pass\n\n\nspin()\n"}))
    problem = _problem(report)
    assert problem.category is Category.TIMEOUT
    assert "stopped in spin, app.py line 2" in problem.message or "stopped in spin, app.py line 3" in problem.message
    assert "<module>, app.py line 6" in problem.details
    assert report.duration < 9


def test_a_timed_out_request_says_where_the_handler_was(hello, submit):
    looping = HELLO_SOLUTION.replace("        return jsonify(ok=True)", "        while True:\n            pass")
    line = _line_of(looping, "        while True:")
    report = grade(hello, submit({"app.py": looping}))
    slow = next(c for c in report.checks if c.id.endswith("test_slow"))
    assert slow.status is CheckStatus.TIMEOUT
    assert f"your code was stopped in slow, app.py line {line}" in slow.message or \
        f"your code was stopped in slow, app.py line {line + 1}" in slow.message
    assert report.score == 6


# ------------------------------------------------------------------ nothing left behind


REAPER = """
import ctypes, os, subprocess, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # orphans of the grade come to us
code = subprocess.call([sys.executable, "-m", "runner", "grade", "01-hello", "--submission", sys.argv[1]],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1.0)
left = []
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid():
            left.append(stat.split(" ", 1)[1].rsplit(")", 1)[0] + ")" + " state " + fields[0])
print(code, left)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_CHILD_SUBREAPER is Linux's")
@pytest.mark.parametrize("program", ["solution", "timeout"])
def test_runner_grade_leaves_no_process_of_its_own_behind(kit, hello, submit, program):
    """Run `runner grade` under a subreaper: whatever the grade started and did not reap would come
    back to it (alive or a zombie) once the runner exits."""
    source = HELLO_SOLUTION if program == "solution" else "while True:\n    pass\n"
    if program == "timeout":
        _quick(kit, hello, 6)
    folder = submit({"app.py": source})
    env = {**os.environ, "BACKEND_KIT_ROOT": str(kit)}
    result = subprocess.run([sys.executable, "-c", REAPER, str(folder)], capture_output=True, text=True,
                            env=env, cwd=Path(__file__).resolve().parent.parent, timeout=120)
    code, _, left = result.stdout.strip().partition(" ")
    assert code in ("0", "1"), result.stdout + result.stderr
    assert left == "[]", left


# ------------------------------------------------------------------ both sandboxes


def test_the_stack_sample_and_app_run_work_in_every_sandbox(kit, hello, submit, sandbox):
    """The docker sandbox signals the container's PID 1 (the host) and reads the sample from a
    folder it mounts; app.run() at import is refused the same way."""
    quick = _quick(kit, hello, 9)
    report = grade(quick, submit({"app.py": "def spin():\n    while True:\n        pass\n\n\nspin()\n"}),
                   sandbox=sandbox)
    problem = _problem(report)
    assert problem.category is Category.TIMEOUT
    assert "stopped in spin, app.py line" in problem.message
    report = grade(quick, submit({"app.py": "from flask import Flask\napp = Flask(__name__)\napp.run()\n"}),
                   sandbox=sandbox)
    assert _problem(report).message.startswith("app.py line 3 calls app.run() when the module is imported")


def test_what_the_learners_output_says_is_capped():
    problem = Problem(Category.TIMEOUT, "Your code did not finish starting within 20 s.")
    better = explain(problem, output="Running on http://" + "x" * 100_000)
    assert len(better.message) < 400


def test_the_sample_is_read_from_a_regular_file_only(tmp_path):
    """The sample's folder is writable by learner code: a FIFO there must not hang the runner, a
    symbolic link must not be followed."""
    from runner.processes import sample_stack

    sample = tmp_path / "stack-sample.txt"
    sample.write_text(f"{diagnose.SAMPLE_HEADER}/w\n")

    def send():
        with sample.open("a") as out:
            out.write('Current thread 0x1 (most recent call first):\n  File "/w/app.py", line 3 in spin\n')

    text = sample_stack(sample, send)
    assert stopped_at(text)[0] == "stopped in spin, app.py line 3"
    assert sample_stack(sample, lambda: None, wait=0.05) == ""  # nothing new: no sample
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{diagnose.SAMPLE_HEADER}/w\n")
    sample.unlink()
    sample.symlink_to(secret)
    assert sample_stack(sample, lambda: secret.open("a").write("  File \"/w/x.py\", line 1 in f\n")) == ""
    sample.unlink()
    os.mkfifo(sample)
    assert sample_stack(sample, lambda: None, wait=0.05) == ""


def test_app_run_at_the_bottom_of_the_bookmarks_starter(monkeypatch, submit):
    """The mistake as learners make it, on the real 01-bookmarks-api starter: `python app.py` works
    for them, the grade says which line to guard instead of waiting 20 s."""
    from runner.exercises import find_exercise

    repo = Path(__file__).resolve().parent.parent
    monkeypatch.setenv("BACKEND_KIT_ROOT", str(repo))
    exercise = find_exercise("01-bookmarks-api", repo)
    starter = (exercise.starter_dir / "app.py").read_text()
    source = starter + '\n\napp = create_app({"DATABASE_URL": "sqlite:///bookmarks.db"})\napp.run(debug=True)\n'
    report = grade(exercise, submit({"app.py": source}))
    problem = _problem(report)
    assert problem.category is Category.IMPORT_ERROR
    assert problem.message.startswith(f"app.py line {_line_of(source, 'app.run(debug=True)')} calls app.run() "
                                      "when the module is imported")
    assert report.duration < 10
