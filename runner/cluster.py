"""Grading past one machine: the batch's grades as Celery tasks on a Redis broker.

``runner worker`` starts a worker on any machine that can reach the broker (and the services its
provider names); ``runner grade-batch --engine celery`` sends one task per submission and records
the answers in the gradebook as they come. What makes a killed worker lose nothing:

- **late acknowledgement** (``task_acks_late``, ``task_reject_on_worker_lost``): a task is taken
  off the queue only once its grade is done, so a worker killed mid-grade leaves it unacknowledged;
- the broker's **visibility timeout**, longer than any grade (twice the longest time limit, and at
  least a minute): an unacknowledged task goes back to the queue after it, and another worker takes
  it;
- **idempotent writes**: a task may run twice (redelivered after a kill, or sent again by a rerun of
  the batch); both answers have the same ``EntryKey``, and the gradebook keeps one row per key.

The task carries the submission itself (its files, base64), not a path, so workers need no shared
file system; it carries the exercise's content hash too, and a worker whose copy of the exercise
differs answers an infrastructure error instead of a grade against other checks. Each worker
process keeps one warm grading context (provider and sandbox) for all its tasks.

Every answer is an ``Entry`` (as a dict): the task never raises for a learner's problem or an
infrastructure fault, so Celery's own retry and failure machinery never sees a learner's code.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .batch import BatchEvent, BatchSummary, Job, exercise_of, grade_submission, hidden_for, read_job
from .context import Grading
from .entries import Entry, EntryKey, EntryState
from .errors import InfrastructureError, RunnerError, UsageError
from .exercises import Exercise, find_exercise
from .gradebook import Gradebook
from .intake import Submission, exercise_digest
from .results import Category, Problem, Status

TASK_NAME = "backend_kit.grade"
#: The shortest visibility timeout: a grade that is merely slow must never be handed to a second worker.
MIN_VISIBILITY_TIMEOUT = 60.0


def visibility_timeout(exercises: Iterable[Exercise], retries: int) -> float:
    """Longer than the longest grade a task can take: every attempt at the longest time limit, twice."""
    longest = max((e.meta.time_limit for e in exercises), default=60)
    return max(MIN_VISIBILITY_TIMEOUT, 2.0 * longest * (1 + retries))


def make_app(broker_url: str, *, visibility: float = MIN_VISIBILITY_TIMEOUT) -> Any:
    """The Celery app of backend-kit's grading: a Redis broker and result backend, late acks."""
    from celery import Celery

    app = Celery("backend_kit", broker=broker_url, backend=broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker holds one task at a time: a kill strands one, not many
        broker_transport_options={"visibility_timeout": visibility},
        result_backend_transport_options={"visibility_timeout": visibility},
        task_serializer="json", result_serializer="json", accept_content=["json"],
        result_expires=7 * 24 * 3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # No STARTED state: it would overwrite a stored answer when a duplicate starts (see _grade_task).
        task_track_started=False,
    )
    app.task(name=TASK_NAME, bind=True)(_grade_task)
    return app


# ---------------------------------------------------------------- the task's message


@dataclass(frozen=True)
class GradeRequest:
    """One task: who, which exercise (and which version of it), and the submission's files."""

    learner: str
    exercise: str
    exercise_hash: str
    source: str
    submission: Submission
    #: Folders learner code must not see, as the sender names them: the folder of the other
    #: submissions. A worker on another machine has no such folder; one on the sender's does.
    hidden: tuple[str, ...] = ()

    def to_message(self) -> dict[str, Any]:
        return {
            "learner": self.learner, "exercise": self.exercise, "exercise_hash": self.exercise_hash,
            "source": self.source, "digest": self.submission.digest,
            "files": {name: base64.b64encode(data).decode("ascii") for name, data in self.submission.files.items()},
            "problems": [{"category": p.category.value, "message": p.message, "details": p.details, "hint": p.hint}
                         for p in self.submission.problems],
            "ungraded_modules": list(self.submission.ungraded_modules),
            "hidden": list(self.hidden),
        }

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> GradeRequest:
        submission = Submission(
            files={name: base64.b64decode(text) for name, text in data["files"].items()},
            problems=tuple(Problem(Category(p["category"]), p["message"], p.get("details", ""), p.get("hint", ""))
                           for p in data.get("problems", [])),
            digest=data["digest"], ungraded_modules=tuple(data.get("ungraded_modules", ())))
        return cls(data["learner"], data["exercise"], data["exercise_hash"], data.get("source", ""), submission,
                   tuple(str(path) for path in data.get("hidden", ())))

    @property
    def key(self) -> EntryKey:
        return EntryKey(self.learner, self.exercise, self.submission.digest, self.exercise_hash, __version__)

    @property
    def task_id(self) -> str:
        """The same for the same key: a rerun of the batch sends the task it sent before, not a new one."""
        key = self.key
        text = "\0".join((key.learner, key.exercise, key.submission_hash, key.exercise_hash, key.runner_version))
        return "backend-kit-" + hashlib.sha256(text.encode()).hexdigest()[:40]


# ---------------------------------------------------------------- the worker side


@dataclass
class WorkerConfig:
    """How this worker grades: set by ``runner worker`` before the worker starts (and inherited by
    its forked pool processes)."""

    open_grading: Callable[[], Any]  # () -> a context manager yielding a ``Grading``
    retries: int = 2


_CONFIG: WorkerConfig | None = None
_LOCK = threading.Lock()
_CONTEXT: dict[str, Grading] = {}


def configure_worker(config: WorkerConfig) -> None:
    global _CONFIG
    _CONFIG = config


def _grading() -> Grading:
    """This process's warm grading context, opened on its first task and closed when it exits."""
    with _LOCK:
        if "grading" not in _CONTEXT:
            if _CONFIG is None:
                raise InfrastructureError("this worker was not configured: start it with `runner worker`")
            manager = _CONFIG.open_grading()
            _CONTEXT["grading"] = manager.__enter__()
            atexit.register(manager.__exit__, None, None, None)
        return _CONTEXT["grading"]


def _grade_task(task: Any, message: dict[str, Any]) -> dict[str, Any]:
    """The Celery task: grade one submission, answer its ``Entry`` as a dict (never raise).

    A task sent twice (a rerun of the batch sends again what it had not recorded, and the first
    message may still be queued) is graded once: a copy that finds its id's answer already stored
    answers that."""
    done = task.AsyncResult(task.request.id)
    if done.state == "SUCCESS" and isinstance(done.result, dict):
        return done.result
    request = GradeRequest.from_message(message)
    retries = _CONFIG.retries if _CONFIG is not None else 2
    return grade_request(request, _grading, retries=retries).to_dict()


def grade_request(request: GradeRequest, grading: Callable[[], Grading], *, retries: int = 2) -> Entry:
    """Grade ``request`` in this process's context, the way a local batch grades a job
    (``batch.grade_submission``: retries, then an infrastructure error, never a learner's zero); a
    worker whose copy of the exercise differs from the sender's answers an infrastructure error."""
    started = time.monotonic()
    try:
        exercise = find_exercise(request.exercise)
        if exercise_digest(exercise) != request.exercise_hash:
            return _infrastructure_error(
                request, f"this worker's copy of {request.exercise} differs from the one the batch was sent with: "
                "update the kit on the worker (same version, same exercises), then run the batch again", started)
        context = grading()
    except RunnerError as exc:  # the worker cannot grade at all (no such exercise, services down)
        return _infrastructure_error(request, str(exc), started)
    hidden = tuple(Path(path) for path in request.hidden if Path(path).is_dir())
    return grade_submission(request.learner, exercise, lambda: request.submission, context, retries=retries,
                            hidden=hidden, source=request.source)


def _infrastructure_error(request: GradeRequest, error: str, started: float) -> Entry:
    return Entry(request.learner, request.exercise, request.submission.digest, request.exercise_hash, __version__,
                 EntryState.INFRASTRUCTURE_ERROR, None, error=error, attempts=1,
                 duration=time.monotonic() - started, graded_at=_now(), source=request.source)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def run_worker(broker_url: str, config: WorkerConfig, *, concurrency: int, name: str | None = None,
               visibility: float = MIN_VISIBILITY_TIMEOUT, loglevel: str = "INFO") -> None:
    """Start a Celery worker of backend-kit's grading (blocks until it is stopped)."""
    configure_worker(config)
    app = make_app(broker_url, visibility=visibility)
    argv = ["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}", "--without-gossip",
            "--without-mingle", "--pool", "solo" if concurrency == 1 else "prefork"]
    if name:
        argv += ["--hostname", name]
    app.worker_main(argv)


# ---------------------------------------------------------------- the sending side


@dataclass(frozen=True)
class Sent:
    request: GradeRequest
    result: Any  # celery.result.AsyncResult


def send(app: Any, requests: Sequence[GradeRequest]) -> list[Sent]:
    """One task per request, with the request's stable id."""
    task = app.tasks[TASK_NAME]
    return [Sent(r, task.apply_async(args=[r.to_message()], task_id=r.task_id)) for r in requests]


def collect(sent: Sequence[Sent], record: Callable[[Entry], None], *, timeout: float,
            poll: float = 0.2, on_wait: Callable[[int], None] | None = None) -> None:
    """Record each answer as it arrives; an InfrastructureError when some never come within ``timeout``
    seconds of the last answer (no worker, or every worker gone): what was recorded stays recorded."""
    pending = {s.request.task_id: s for s in sent}
    last = time.monotonic()
    while pending:
        progressed = False
        for task_id, item in list(pending.items()):
            if not item.result.ready():
                continue
            del pending[task_id]
            progressed = True
            try:
                entry = Entry.from_dict(item.result.get(timeout=10, propagate=True))
            except Exception as exc:  # the task itself failed: not the learner's zero
                entry = _infrastructure_error(item.request, f"the worker's task failed: {type(exc).__name__}: {exc}",
                                              time.monotonic())
            record(entry)  # the answer stays in the backend (result_expires): a late duplicate returns it
        if progressed:
            last = time.monotonic()
        elif time.monotonic() - last > timeout:
            raise InfrastructureError(
                f"{len(pending)} submission(s) got no answer from any worker in {timeout:.0f} s",
                hint="Start workers with `runner worker --broker URL` (they must reach the broker), then run "
                     "the batch again: what was graded is kept, and only the rest is sent.")
        if on_wait is not None:
            on_wait(len(pending))
        if pending and not progressed:
            time.sleep(poll)


def check_broker(broker_url: str) -> None:
    """A usage error naming the URL when the broker does not answer."""
    import redis

    try:
        redis.Redis.from_url(broker_url, socket_connect_timeout=5).ping()
    except (redis.RedisError, ValueError) as exc:
        raise UsageError(f"the broker at {broker_url} does not answer: {exc}",
                         hint="Start one (`docker compose up -d broker`), or pass --broker redis://HOST:PORT/N."
                         ) from None


# ---------------------------------------------------------------- the batch on workers


def run_celery_batch(jobs: Sequence[Job], gradebook: Gradebook, app: Any, *, timeout: float,
                     on_event: Callable[[BatchEvent], None] | None = None) -> BatchSummary:
    """``batch.run_batch`` on workers: every job not in the gradebook yet is sent as a task, and each
    answer is recorded the moment it arrives (so an interrupted run, run again, sends only the rest)."""
    started = time.monotonic()
    emit = on_event or (lambda _event: None)
    counts = {"graded": 0, "full": 0, "failed": 0, "infra": 0, "skipped": 0}
    by_name: dict[tuple[str, str], Job] = {}
    requests: list[GradeRequest] = []
    for job in jobs:
        exercise = exercise_of(job.exercise)
        try:
            submission = read_job(job, exercise)
        except OSError as exc:  # unreadable here: nothing to send; recorded, and tried again next run
            entry = Entry(job.learner, exercise.slug, "", exercise_digest(exercise), __version__,
                          EntryState.INFRASTRUCTURE_ERROR, error=f"the submission could not be read: {exc}",
                          graded_at=_now(), source=str(job.source))
            gradebook.record(entry)
            counts["infra"] += 1
            emit(BatchEvent("finished", job, entry))
            continue
        request = GradeRequest(job.learner, exercise.slug, exercise_digest(exercise), str(job.source), submission,
                               tuple(str(path) for path in hidden_for(job)))
        if gradebook.has(request.key):
            counts["skipped"] += 1
            emit(BatchEvent("skipped", job))
            continue
        by_name[(job.learner, exercise.slug)] = job
        requests.append(request)

    def record(entry: Entry) -> None:
        gradebook.record(entry)
        if entry.report is None:
            counts["infra"] += 1
        else:
            counts["graded"] += 1
            counts["full" if entry.report.status is Status.PASS else "failed"] += 1
        job = by_name.get((entry.learner, entry.exercise))
        if job is not None:
            emit(BatchEvent("finished", job, entry))

    collect(send(app, requests), record, timeout=timeout)
    return BatchSummary(total=len(jobs), graded=counts["graded"], full_marks=counts["full"], failed=counts["failed"],
                        infrastructure_errors=counts["infra"], skipped=counts["skipped"],
                        wall_time=time.monotonic() - started)
