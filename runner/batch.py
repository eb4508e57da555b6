"""Batch grading: a class's submissions, graded in parallel into a gradebook, resumably.

::

    discover(SUBMISSIONS) ──▶ [Job] ──▶ run_batch ──(threads, one warm Grading)──▶ grade_job ──▶ Entry
                                             │ skip: key already in the gradebook        │
                                             └──────────── Gradebook.record ◀────────────┘ (each at once)

A job's key (``EntryKey``) is known before it is graded: the submission's content hash (intake),
the exercise's hash (``Grader.exercise_hash``) and the runner's version. A job whose key already
has a verdict is skipped, so a batch killed at any point and run again grades only what was not
recorded, and a changed submission or changed checks are graded again.

``grade_job`` never raises for the learner's problems (they are the report) nor for the
infrastructure's (``InfrastructureError``, ``KitBug``, a check that crashed, a disk that is full):
those are retried, and if they persist the job's entry is an ``INFRASTRUCTURE_ERROR`` with the
message, never a learner's zero.
"""

from __future__ import annotations

import atexit
import csv
import datetime
import functools
import os
import shutil
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import __version__, textsafe
from .archive import ArchiveError, is_archive, unpack
from .context import Grading
from .entries import Entry, EntryKey, EntryState
from .errors import InfrastructureError, RunnerError, UsageError
from .exercises import Exercise, all_exercises, find_exercise, kit_root
from .gradebook import Gradebook
from .intake import Submission, read_submission
from .results import Status

#: Free space a grade needs in the temporary folder (workspace, judge, database); below it, the
#: grade would fail for the machine's reason and look like the learner's.
MIN_FREE_BYTES = 32 * 1024 * 1024
ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar")


@dataclass(frozen=True)
class Job:
    """One submission to grade: whose, for which exercise, and where it is (folder or archive)."""

    learner: str
    exercise: str  # the exercise's slug
    source: Path


@dataclass(frozen=True)
class BatchEvent:
    """What ``run_batch`` tells its caller: a job ``started``, ``finished`` (with its entry), or was
    ``skipped`` (already in the gradebook)."""

    kind: str
    job: Job
    entry: Entry | None = None


@dataclass(frozen=True)
class BatchSummary:
    total: int
    graded: int
    full_marks: int
    failed: int  # graded, not full marks (the learner's verdict)
    infrastructure_errors: int
    skipped: int  # already in the gradebook
    wall_time: float

    @property
    def per_minute(self) -> float:
        """Submissions graded (not skipped) per minute of wall time."""
        done = self.graded + self.infrastructure_errors
        return 60.0 * done / self.wall_time if self.wall_time > 0 else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {"total": self.total, "graded": self.graded, "full_marks": self.full_marks, "failed": self.failed,
                "infrastructure_errors": self.infrastructure_errors, "skipped": self.skipped,
                "wall_time": round(self.wall_time, 3), "per_minute": round(self.per_minute, 2)}


# ---------------------------------------------------------------------------------------- discovery


def learner_name(path: Path) -> str:
    """A submission's learner: its folder's name, or its archive's without the archive suffix."""
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if path.is_file() and name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _scratch() -> Path:
    """A folder for an unpacked SUBMISSIONS archive, removed when the process ends."""
    folder = Path(tempfile.mkdtemp(prefix="backend-kit-batch-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _unpacked(submissions: Path) -> Path:
    try:
        return unpack(submissions, _scratch()).folder
    except ArchiveError as exc:
        raise UsageError(f"{submissions} cannot be read as an archive of submissions: {exc}",
                         hint="Pass a folder of submissions, or a .zip / .tar[.gz] of one.") from None


def _children(folder: Path) -> list[Path]:
    """Submissions in ``folder``: its sub-folders and archives (hidden entries and other files ignored)."""
    return sorted(p for p in folder.iterdir()
                  if not p.name.startswith((".", "_")) and (p.is_dir() or (p.is_file() and is_archive(p))))


def _exercise(name: str) -> Exercise:
    try:
        return find_exercise(name)
    except UsageError as exc:
        known = ", ".join(ex.slug for ex in all_exercises())
        raise UsageError(f"unknown exercise {name!r}: {exc.message}", hint=f"The exercises are: {known}.") from None


def _jobs_in(folder: Path, exercise: Exercise) -> list[Job]:
    jobs: list[Job] = []
    seen: dict[str, Path] = {}
    for path in _children(folder):
        learner = learner_name(path)
        if learner in seen:
            raise UsageError(f"two submissions for learner {learner!r} of {exercise.slug}: {seen[learner].name} "
                             f"and {path.name}", hint="Keep one of them (a folder or an archive, not both).")
        seen[learner] = path
        jobs.append(Job(learner, exercise.slug, path))
    return jobs


def _manifest_jobs(manifest: Path, base: Path) -> list[Job]:
    """A CSV (header ``learner,exercise,path``) or TOML (``[[submission]]`` tables with those keys)
    manifest; relative paths are relative to SUBMISSIONS."""
    try:
        text = manifest.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the manifest {manifest}: {exc.strerror}") from None
    rows: list[dict[str, str]]
    if manifest.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{manifest} is not valid TOML: {exc}") from None
        raw = data.get("submission")
        if not isinstance(raw, list):
            raise UsageError(f"{manifest} has no [[submission]] tables",
                             hint='Write one per submission: learner = "…", exercise = "…", path = "…".')
        rows = [{k: str(v) for k, v in item.items()} for item in raw if isinstance(item, dict)]
    else:
        rows = list(csv.DictReader(text.splitlines()))
    jobs: list[Job] = []
    seen: set[tuple[str, str]] = set()
    for number, row in enumerate(rows, start=1):
        learner, exercise, path = (row.get(k, "").strip() for k in ("learner", "exercise", "path"))
        if not (learner and exercise and path):
            raise UsageError(f"{manifest}, submission {number}: learner, exercise and path are all required",
                             hint="A CSV manifest starts with the header line learner,exercise,path.")
        slug = _exercise(exercise).slug
        if (learner, slug) in seen:
            raise UsageError(f"{manifest}: learner {learner!r} has two submissions for {slug}",
                             hint="Keep one line per learner and exercise.")
        seen.add((learner, slug))
        source = Path(path) if Path(path).is_absolute() else base / path
        if not source.exists():
            raise UsageError(f"{manifest}, submission {number}: {source} does not exist")
        jobs.append(Job(learner, slug, source))
    return jobs


def discover(submissions: Path, exercise: str | None = None, manifest: Path | None = None) -> list[Job]:
    """The jobs in SUBMISSIONS: ``<learner>`` folders or archives for ``exercise``, a manifest, or
    ``<exercise-slug>/<learner>`` for a whole assignment. SUBMISSIONS may itself be an archive of
    any of these (unpacked with the kit's safe archive reader)."""
    if not submissions.exists():
        raise UsageError(f"{submissions} does not exist.", hint="Pass the folder (or archive) of submissions.")
    if exercise is not None and manifest is not None:
        raise UsageError("--exercise and --manifest do not go together",
                         hint="A manifest names each submission's exercise itself.")
    folder = _unpacked(submissions) if submissions.is_file() else submissions
    if manifest is not None:
        jobs = _manifest_jobs(manifest, folder)
    elif exercise is not None:
        jobs = _jobs_in(folder, _exercise(exercise))
    else:
        jobs = []
        children = [p for p in _children(folder) if p.is_dir()]
        slugs = {ex.slug for ex in all_exercises()}
        unknown = [p.name for p in children if p.name not in slugs]
        if unknown:
            raise UsageError(f"{submissions}: {', '.join(unknown[:5])} is not an exercise",
                             hint="For one exercise's submissions pass --exercise X; for an assignment, name "
                                  f"each sub-folder after an exercise ({', '.join(sorted(slugs))}), or --manifest.")
        for child in children:
            jobs += _jobs_in(child, find_exercise(child.name))
    if not jobs:
        raise UsageError(f"no submissions in {submissions}",
                         hint="Expected one folder or archive per learner (or a manifest that lists them).")
    return jobs


# ---------------------------------------------------------------------------------------- one job


@functools.cache
def _load(root: Path, slug: str) -> Exercise:
    return find_exercise(slug, root)


def exercise_of(slug: str) -> Exercise:
    """Loaded once per kit and slug (a batch asks for the same exercise for every job)."""
    return _load(kit_root(), slug)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def hidden_for(job: Job) -> tuple[Path, ...]:
    """The folder holding the submission: the other learners' submissions are in it."""
    return (job.source.resolve().parent,)


def read_job(job: Job, exercise: Exercise) -> Submission:
    with tempfile.TemporaryDirectory(prefix="backend-kit-intake-") as scratch:
        return read_submission(exercise, job.source, Path(scratch))


def job_key(job: Job, grading: Grading) -> EntryKey:
    """The job's key before it is graded (reads and hashes the submission; an OSError propagates)."""
    exercise = exercise_of(job.exercise)
    submission = read_job(job, exercise)
    return EntryKey(job.learner, exercise.slug, submission.digest, grading.grader(exercise).exercise_hash,
                    __version__)


def _check_disk() -> None:
    folder = tempfile.gettempdir()
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise InfrastructureError(f"the disk holding {folder} is full ({free >> 20} MiB free; a grade needs "
                                  f"{MIN_FREE_BYTES >> 20} MiB)", hint="Free some space (or set TMPDIR), then run "
                                  "the batch again: it grades only what is missing.")


def _probe_services(grading: Grading, exercise: Exercise) -> None:
    """Acquire and release the exercise's services once more, the way a grade does: a verdict below
    full marks while PostgreSQL, Redis or Docker had gone away is the machine's failure, not the
    learner's (their app could not reach its database), so it must not be recorded as theirs."""
    services = exercise.meta.services
    with tempfile.TemporaryDirectory(prefix="backend-kit-probe-") as scratch:
        try:
            acquired = grading.provider.acquire(Path(scratch), database=services.database, redis=services.redis,
                                                template=exercise.slug)
            grading.provider.release(acquired)
        except RunnerError as exc:
            raise InfrastructureError(f"the services failed during the grade (its verdict is discarded): {exc}",
                                      hint="Check the database and Redis servers (`runner doctor`), then run the "
                                           "batch again.") from None
        except Exception as exc:
            raise InfrastructureError("the services failed during the grade (its verdict is discarded): "
                                      f"{type(exc).__name__}: {exc}") from None


def grade_job(job: Job, grading: Grading, *, retries: int = 2) -> Entry:
    """Grade one job into an entry; infrastructure faults are retried ``retries`` times, then
    recorded as an ``INFRASTRUCTURE_ERROR`` entry (never raised, never a learner's zero)."""
    exercise = exercise_of(job.exercise)
    return grade_submission(job.learner, exercise, lambda: read_job(job, exercise), grading, retries=retries,
                            hidden=hidden_for(job), source=str(job.source))


def grade_submission(learner: str, exercise: Exercise, read: Callable[[], Submission], grading: Grading, *,
                     retries: int = 2, hidden: tuple[Path, ...] = (), source: str = "") -> Entry:
    """``grade_job``'s core, shared with the Celery worker (whose submission comes in its task, not
    from a path): ``read`` gives the submission on each attempt; ``hidden``, folders learner code
    must not see (the other submissions)."""
    grader = grading.grader(exercise)
    started = time.monotonic()
    digest = ""
    error = ""
    attempts = 0
    for attempts in range(1, retries + 2):
        try:
            _check_disk()
            submission = read()
            digest = submission.digest
            report = grader.grade(submission, hidden=hidden)
            if report.status is not Status.PASS:  # was it the machine? (the learner's verdict otherwise)
                _check_disk()
                _probe_services(grading, exercise)
            if report.broken_checks:
                names = ", ".join(c.id.rsplit("::", 1)[-1] for c in report.broken_checks[:3])
                raise InfrastructureError(f"{len(report.broken_checks)} check(s) of {exercise.slug} crashed "
                                          f"({names}): a bug in the exercise, not in the submission",
                                          hint=f"Run `runner validate {exercise.slug}` and report the output.")
        except RunnerError as exc:
            error = str(exc)
            continue
        except OSError as exc:  # reading the submission or making the grade's folders (ENOSPC, EMFILE)
            error = f"the machine failed while grading: {exc}"
            continue
        except Exception as exc:  # a bug in the kit, outside Grader.grade's own net
            error = f"this is a bug in backend-kit: {type(exc).__name__}: {exc}"
            continue
        return Entry(learner=learner, exercise=exercise.slug, submission_hash=digest,
                     exercise_hash=grader.exercise_hash, runner_version=__version__, state=EntryState.GRADED,
                     report=report, attempts=attempts, duration=time.monotonic() - started, graded_at=_now(),
                     source=source)
    return Entry(learner=learner, exercise=exercise.slug, submission_hash=digest,
                 exercise_hash=grader.exercise_hash, runner_version=__version__,
                 state=EntryState.INFRASTRUCTURE_ERROR, error=textsafe.short(error, 4000), attempts=attempts,
                 duration=time.monotonic() - started, graded_at=_now(), source=source)


# ---------------------------------------------------------------------------------------- the batch


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_batch(jobs: Sequence[Job], gradebook: Gradebook, grading: Grading, *, jobs_n: int | None = None,
              retries: int = 2, on_event: Callable[[BatchEvent], None] | None = None) -> BatchSummary:
    """Grade ``jobs`` ``jobs_n`` at a time (default: the cores), skipping those whose key is in the
    gradebook and recording each entry the moment it is done."""
    started = time.monotonic()
    emit = on_event or (lambda _event: None)
    lock = threading.Lock()
    counts = {"graded": 0, "full": 0, "failed": 0, "infra": 0, "skipped": 0}
    # Graders are made here, in one thread: Grading's cache is a plain dict.
    for slug in sorted({job.exercise for job in jobs}):
        grading.grader(exercise_of(slug))

    def run(job: Job) -> None:
        try:
            known = gradebook.has(job_key(job, grading))
        except OSError:
            known = False  # unreadable now: grade_job retries and records why
        if known:
            with lock:
                counts["skipped"] += 1
            emit(BatchEvent("skipped", job))
            return
        emit(BatchEvent("started", job))
        entry = grade_job(job, grading, retries=retries)
        gradebook.record(entry)
        with lock:
            if entry.report is None:
                counts["infra"] += 1
            else:
                counts["graded"] += 1
                counts["full" if entry.report.status is Status.PASS else "failed"] += 1
        emit(BatchEvent("finished", job, entry))

    pool = ThreadPoolExecutor(max_workers=jobs_n or default_jobs(), thread_name_prefix="grade")
    try:
        for future in [pool.submit(run, job) for job in jobs]:
            future.result()
    except BaseException:
        # Ctrl-C, or the gradebook failing: nothing more starts; grades under way finish and are recorded.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return BatchSummary(total=len(jobs), graded=counts["graded"], full_marks=counts["full"], failed=counts["failed"],
                        infrastructure_errors=counts["infra"], skipped=counts["skipped"],
                        wall_time=time.monotonic() - started)


# ---------------------------------------------------------------------------------------- the sandbox


def docker_works() -> bool:
    """Whether the Docker engine answers here (the docker sandbox's precondition)."""
    from .containers import docker_client

    try:
        docker_client()
    except InfrastructureError:
        return False
    return True


def choose_sandbox(name: str | None, *, unconfined: bool) -> str:
    """The sandbox for grading other people's code: the one asked for, else docker if it works
    here, else the process sandbox confined by bubblewrap. The plain process sandbox (no
    bubblewrap) is refused unless ``unconfined`` says the instructor accepts what it gives up."""
    from .sandbox.process import bubblewrap

    chosen = name or os.environ.get("BACKEND_KIT_SANDBOX") or ("docker" if docker_works() else "process")
    if chosen == "process" and bubblewrap() is None and not unconfined:
        raise UsageError(
            "the process sandbox is not confined here (bubblewrap is missing or does not work), and in a batch "
            "each learner's code could read the other submissions, the hidden checks and the solutions.",
            hint="Install bubblewrap (apt-get install bubblewrap) or start Docker (--sandbox docker); or pass "
                 "--unconfined to grade anyway, accepting that.")
    return chosen
