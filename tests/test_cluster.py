"""Grading on Celery workers: a real Redis broker, two real worker processes, one SIGKILLed mid-grade.

The class is small (a grade of 01 takes a second or two here) but has every shape of answer: the
reference solution, catalogued bugs and a submission that does not compile. What must hold: every
submission gets exactly one entry, the killed worker's task is redelivered and graded by the other
worker (not recorded as a failure, never a zero), and the verdicts equal a local grade's.
"""

from __future__ import annotations

import time

from runner import __version__
from runner.cluster import GradeRequest, collect, grade_request, make_app, send, visibility_timeout
from runner.entries import Entry, EntryState
from runner.exercises import find_exercise
from runner.intake import Submission, exercise_digest, read_submission
from runner.results import Category

from .celery_workers import VISIBILITY, kill_mid_task, workers

EXERCISE = "01-bookmarks-api"


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


def test_two_workers_one_killed_mid_grade_lose_nothing(redis_broker, tmp_path):
    app = make_app(redis_broker, visibility=VISIBILITY)
    requests = the_class()
    with workers(redis_broker, tmp_path) as started:
        sent = send(app, requests)
        (w1, w1_log), (_, w2_log) = started
        victim = kill_mid_task(w1, w1_log)
        got: list[Entry] = []
        collect(sent, got.append, timeout=VISIBILITY * 6)
    by_learner = {entry.learner: entry for entry in got}
    assert len(got) == len(requests) == len(by_learner), "one entry per submission, none twice"
    assert all(entry.state is EntryState.GRADED for entry in got), [e.error for e in got if not e.graded]
    assert victim in w2_log.read_text(errors="replace"), "the killed task went to the other worker"
    killed = next(r for r in requests if r.task_id == victim)
    assert by_learner[killed.learner].runner_version == __version__
    for learner, entry in by_learner.items():
        assert entry.report is not None
        if learner.startswith("solution-"):
            assert entry.score == entry.max_score, learner
        elif learner == "broken":
            assert entry.score == 0 and [p.category for p in entry.report.problems] == [Category.SYNTAX_ERROR]
        else:
            assert entry.score is not None and entry.max_score is not None and entry.score < entry.max_score, learner


def test_a_task_sent_twice_is_graded_once(redis_broker, tmp_path):
    """A rerun of a batch sends again what it had not recorded; a copy whose answer is already stored
    answers it instead of grading again (the answer's graded_at stays the first grade's)."""
    app = make_app(redis_broker, visibility=VISIBILITY)
    request = the_class()[0]
    with workers(redis_broker, tmp_path, count=1) as started:
        ((_, log),) = started
        first: list[Entry] = []
        collect(send(app, [request]), first.append, timeout=VISIBILITY * 6)
        again: list[Entry] = []
        collect(send(app, [request]), again.append, timeout=VISIBILITY * 6)
        deadline = time.monotonic() + 60
        while log.read_text(errors="replace").count(f"[{request.task_id}] succeeded") < 2:
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
    assert first[0].graded and again[0].graded_at == first[0].graded_at
    assert make_app(redis_broker).AsyncResult(request.task_id).result["graded_at"] == first[0].graded_at
