"""The gradebook: one row per key, atomic and idempotent writes, concurrent writers, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from runner.entries import Entry, EntryKey, EntryState
from runner.errors import UsageError
from runner.gradebook import Gradebook
from runner.results import GradeReport, Status


def report(score: int, max_score: int = 10) -> GradeReport:
    return GradeReport(exercise="01-bookmarks-api", backend="embedded",
                       status=Status.PASS if score == max_score else Status.FAIL, score=score, max_score=max_score,
                       checks=())


def entry(learner: str, score: int | None = 10, *, submission: str = "s1", exercise_hash: str = "e1",
          graded_at: str = "2026-12-03T10:00:00.000+00:00") -> Entry:
    if score is None:
        return Entry(learner, "01-bookmarks-api", submission, exercise_hash, "0.1.0",
                     EntryState.INFRASTRUCTURE_ERROR, error="the judge stopped", graded_at=graded_at)
    return Entry(learner, "01-bookmarks-api", submission, exercise_hash, "0.1.0", EntryState.GRADED,
                 report=report(score), graded_at=graded_at)


def test_record_is_idempotent_and_says_whether_it_was_new(tmp_path):
    """The same key twice keeps one row (the first verdict), and record says True only the first time."""
    with Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}") as book:
        assert book.record(entry("ada", 10)) is True
        assert book.record(entry("ada", 3)) is False
        assert book.has(entry("ada").key)
        assert not book.has(EntryKey("ada", "01-bookmarks-api", "other", "e1", "0.1.0"))
        assert [e.score for e in book.all_entries()] == [10]
        assert book.get(entry("ada").key) == entry("ada", 10)


def test_an_infrastructure_error_is_not_a_verdict_and_is_replaced_by_one(tmp_path):
    """has() is False for an infrastructure error (a rerun grades it), and a later verdict replaces it."""
    with Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}") as book:
        assert book.record(entry("ada", None)) is True
        assert not book.has(entry("ada").key)
        assert book.record(entry("ada", None)) is False
        assert book.record(entry("ada", 7)) is True
        assert book.record(entry("ada", None)) is False  # a verdict is never replaced by a fault
        (only,) = book.all_entries()
        assert only.state is EntryState.GRADED and only.score == 7


def test_entries_are_the_latest_per_learner_and_exercise_sorted(tmp_path):
    """A resubmission and a new exercise hash add rows; entries() keeps the last recorded of each pair."""
    with Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}") as book:
        book.record(entry("bob", 4))
        book.record(entry("ada", 2))
        book.record(entry("ada", 9, submission="s2"))
        book.record(entry("bob", 5, exercise_hash="e2"))
        assert [(e.learner, e.score) for e in book.entries()] == [("ada", 9), ("bob", 5)]
        assert len(book.all_entries()) == 4


def test_the_default_url_is_a_file_in_the_current_folder(tmp_path, monkeypatch):
    """Gradebook() writes gradebook.sqlite where it is run, in WAL mode."""
    monkeypatch.chdir(tmp_path)
    with Gradebook() as book:
        book.record(entry("ada"))
        with book.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "gradebook.sqlite").is_file()


def test_a_bad_url_is_a_usage_error():
    with pytest.raises(UsageError, match="not a database URL"):
        Gradebook("not a url at all")


def test_concurrent_threads_keep_one_row_per_key(tmp_path):
    """Eight threads record the same 40 entries at once: 40 rows, and exactly 40 'new' answers."""
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")
    news: list[bool] = []
    lock = threading.Lock()

    def write() -> None:
        for index in range(40):
            new = book.record(entry(f"learner-{index:02d}", index % 11))
            with lock:
                news.append(new)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(news) == 40 and len(news) == 320
    assert len(book.all_entries()) == 40
    book.close()


WRITER = """
import sys
from runner.entries import Entry, EntryState
from runner.gradebook import Gradebook
from runner.results import GradeReport, Status
book = Gradebook(sys.argv[1])
new = 0
for index in range(60):
    report = GradeReport(exercise="x", backend="embedded", status=Status.PASS, score=1, max_score=1, checks=())
    new += book.record(Entry(f"l{index}", "x", "s", "e", "v", EntryState.GRADED, report=report))
print(new)
"""


def test_two_processes_keep_one_row_per_key(tmp_path):
    """Two processes record the same 60 entries into one SQLite file at once: 60 rows, 60 'new' in total."""
    url = f"sqlite:///{tmp_path / 'g.sqlite'}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True, env=env)
               for _ in range(2)]
    outputs = [writer.communicate(timeout=120)[0] for writer in writers]
    assert all(writer.returncode == 0 for writer in writers)
    assert sum(int(out) for out in outputs) == 60
    with Gradebook(url) as book:
        assert len(book.all_entries()) == 60


@pytest.mark.docker
def test_postgresql_round_trip(docker_services):
    """On the PostgreSQL the docker provider starts (the test session's own containers, not a user's):
    entries written and read back equal, idempotent."""
    import psycopg

    admin_url, _ = docker_services.up()
    name = f"gradebook_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        with Gradebook(url) as book:
            assert book.record(entry("ada", 10)) is True
            assert book.record(entry("ada", 10)) is False
            assert book.record(entry("bob", None)) is True
            assert book.record(entry("bob", 6)) is True
        with Gradebook(url) as book:  # a new connection reads what the first wrote
            assert book.entries() == [entry("ada", 10), entry("bob", 6)]
            assert book.url.startswith("postgresql+psycopg://") and "***" in book.url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
