"""Grading on Celery workers: a real Redis broker, two real worker processes, one SIGKILLed mid-grade.

The class is small (a grade of 01 takes a second or two here) but has every shape of answer: the
reference solution, catalogued bugs and a submission that does not compile. What must hold: every
submission gets exactly one entry, the killed worker's task is redelivered and graded by the other
worker (not recorded as a failure, never a zero), and the verdicts equal a local grade's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner import __version__
from runner.cluster import GradeRequest, collect, grade_request, make_app, send, visibility_timeout
from runner.entries import Entry, EntryState
from runner.exercises import find_exercise
from runner.intake import Submission, exercise_digest, read_submission
from runner.results import Category

from .conftest import require_docker

EXERCISE = "01-bookmarks-api"
VISIBILITY = 20.0  # longer than a grade of 01 here (1–3 s, 8 s under load), short enough for a test


def test_a_request_survives_the_message_and_keeps_its_task_id():
    exercise = find_exercise(EXERCISE)
    submission = read_submission(exercise, exercise.solution_dir)
    request = GradeRequest("ada", EXERCISE, exercise_digest(exercise), "class/ada", submission)
    again = GradeRequest.from_message(request.to_message())
    assert again == request
    assert again.task_id == request.task_id
    other = GradeRequest("bob", EXERCISE, exercise_digest(exercise), "class/bob", submission)
    assert other.task_id != request.task_id  # one task per learner, even for the same files


def test_the_visibility_timeout_outlasts_every_attempt_of_the_longest_grade():
    exercises = [find_exercise(EXERCISE), find_exercise("03-testing-pricing")]
    longest = max(e.meta.time_limit for e in exercises)
    assert visibility_timeout(exercises, retries=2) >= 3 * longest


def test_a_worker_with_another_copy_of_the_exercise_answers_an_infrastructure_error():
    exercise = find_exercise(EXERCISE)
    request = GradeRequest("ada", EXERCISE, "0" * 64, "", read_submission(exercise, exercise.solution_dir))

    def no_grading() -> object:
        raise AssertionError("a stale exercise is never graded")

    entry = grade_request(request, no_grading, retries=2)
    assert entry.state is EntryState.INFRASTRUCTURE_ERROR and entry.score is None
    assert "update the kit on the worker" in entry.error


# ---------------------------------------------------------------- real broker, real workers


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """A Redis of its own (the kit's Redis image), removed after the module."""
    require_docker()
    from runner.containers import docker_client
    from runner.services.docker import DockerProvider
    from runner.settings import load

    client = docker_client()
    image = DockerProvider(load(None, provider="docker")).image_for("redis")
    container = client.containers.run(image, ["redis-server", "--save", "", "--appendonly", "no"], detach=True,
                                      ports={"6379/tcp": ("127.0.0.1", None)}, labels={"backend-kit.test": "broker"})
    try:
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            container.reload()
            bound = (container.attrs["NetworkSettings"]["Ports"] or {}).get("6379/tcp")
            port = int(bound[0]["HostPort"]) if bound else None
            time.sleep(0.2)
        assert port, "the broker's port was never published"
        url = f"redis://127.0.0.1:{port}/0"
        import redis

        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.RedisError:
                time.sleep(0.2)
        yield url
    finally:
        container.remove(force=True)


def start_worker(broker_url: str, name: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "worker", "--broker", broker_url, "--name", name, "--sandbox", "process",
         "--visibility-timeout", str(VISIBILITY), "--retries", "1"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "BACKEND_KIT_PROVIDER": "embedded"})


def wait_ready(log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while b" ready." not in log.read_bytes():
        assert process.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "the worker never became ready:\n" + log.read_text(errors="replace")
        time.sleep(0.2)


def the_class() -> list[GradeRequest]:
    """The reference solution twice, eight catalogued bugs, and one that does not compile (small: the
    whole of a class is tests/test_batch.py's business; this one is about workers)."""
    exercise = find_exercise(EXERCISE)
    digest = exercise_digest(exercise)
    texts = exercise.solution_files()
    solution = Submission.from_texts(texts)
    requests = [GradeRequest(f"solution-{i}", EXERCISE, digest, "solution", solution) for i in range(2)]
    for bug in exercise.bugs[:8]:
        requests.append(GradeRequest(f"bug-{bug.id}", EXERCISE, digest, bug.id,
                                     Submission.from_texts(exercise.bug_files(bug))))
    broken = dict(texts, **{"app.py": texts["app.py"] + "\ndef broken(:\n"})
    requests.append(GradeRequest("broken", EXERCISE, digest, "broken", Submission.from_texts(broken)))
    return requests


def test_two_workers_one_killed_mid_grade_lose_nothing(broker, tmp_path):
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    workers = [start_worker(broker, f"w{i + 1}@test", logs[i]) for i in range(2)]
    try:
        for process, log in zip(workers, logs, strict=True):
            wait_ready(log, process)
        app = make_app(broker, visibility=VISIBILITY)
        requests = the_class()
        sent = send(app, requests)
        # Kill w1 while it grades: a task it has started (task_track_started) and not finished.
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline:
            for item in sent:
                info = item.result.info if item.result.state == "STARTED" else None
                if isinstance(info, dict) and str(info.get("hostname", "")).startswith("w1@"):
                    victim = item
                    break
            time.sleep(0.05)
        assert victim is not None, "w1 never started a task"
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait(timeout=10)
        got: list[Entry] = []
        collect(sent, got.append, timeout=VISIBILITY * 6)
    finally:
        for process in workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
    by_learner = {entry.learner: entry for entry in got}
    assert len(got) == len(requests) == len(by_learner), "one entry per submission, none twice"
    assert all(entry.state is EntryState.GRADED for entry in got), [e.error for e in got if not e.graded]
    again = by_learner[victim.request.learner]
    assert again.report is not None and again.runner_version == __version__
    assert "w2@" in logs[1].read_text(errors="replace")
    assert victim.request.task_id in logs[1].read_text(errors="replace"), "the killed task went to the other worker"
    for learner, entry in by_learner.items():
        assert entry.report is not None
        if learner.startswith("solution-"):
            assert entry.score == entry.max_score, learner
        elif learner == "broken":
            assert entry.score == 0 and [p.category for p in entry.report.problems] == [Category.SYNTAX_ERROR]
        else:
            assert entry.score is not None and entry.max_score is not None and entry.score < entry.max_score, learner
