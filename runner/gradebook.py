"""The gradebook: every entry of every batch, in SQLite (the default) or PostgreSQL, via SQLAlchemy.

One row per ``EntryKey`` (a unique constraint on its five fields), the entry itself stored as its
JSON record (``Entry.to_dict``), so the gradebook never has to follow the report's shape. Writes are
atomic (one transaction per entry) and idempotent: recording the same key again keeps the one row.
That is what makes a batch resumable: whatever was recorded before a SIGKILL or a power loss is in
the gradebook, whatever was not is graded again, and nothing is there twice.

The one exception to "the first write wins" is an infrastructure error: it is not a verdict, so a
later grade of the same key replaces it (and ``has`` says False for it, so a rerun grades it again).

SQLite is opened in WAL mode with a busy timeout, and every transaction begins IMMEDIATE (it takes
the write lock up front), so several threads or processes (parallel batches, Celery workers on one
machine) can write at once without "database is locked" and without a read-then-write race.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError

from .entries import Entry, EntryKey, EntryState
from .errors import InfrastructureError, UsageError

DEFAULT_URL = "sqlite:///gradebook.sqlite"
#: How long an SQLite writer waits for another's lock before giving up (milliseconds).
BUSY_TIMEOUT_MS = 60_000

_metadata = MetaData()
entries_table = Table(
    "entries", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("learner", String(255), nullable=False),
    Column("exercise", String(255), nullable=False),
    Column("submission_hash", String(64), nullable=False),
    Column("exercise_hash", String(64), nullable=False),
    Column("runner_version", String(64), nullable=False),
    Column("state", String(32), nullable=False),
    Column("graded_at", String(40), nullable=False),
    Column("record", Text, nullable=False),  # Entry.to_dict() as JSON
    UniqueConstraint("learner", "exercise", "submission_hash", "exercise_hash", "runner_version",
                     name="one_entry_per_key"),
)


def _key_clause(key: EntryKey) -> Any:
    t = entries_table.c
    return ((t.learner == key.learner) & (t.exercise == key.exercise) & (t.submission_hash == key.submission_hash)
            & (t.exercise_hash == key.exercise_hash) & (t.runner_version == key.runner_version))


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL + busy timeout on every connection; BEGIN IMMEDIATE so a transaction that reads then
    writes cannot be refused its write lock halfway (SQLITE_BUSY_SNAPSHOT ignores the busy timeout)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN is replaced by ours below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable at checkpoints, atomic always
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Gradebook:
    """The persistent store of a class's entries; safe to share between threads and processes."""

    def __init__(self, url: str = DEFAULT_URL) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise UsageError(f"{url!r} is not a database URL.",
                             hint="Use sqlite:///path/to/gradebook.sqlite or postgresql://user:pass@host/db.") from None
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")  # the driver the kit installs
        self.url = parsed.render_as_string(hide_password=True)
        try:
            if parsed.get_backend_name() == "sqlite":
                self.engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
                _sqlite_pragmas(self.engine)
            else:
                self.engine = create_engine(parsed, pool_pre_ping=True)
        except (NoSuchModuleError, ImportError) as exc:
            raise UsageError(f"no database driver for {self.url}: {exc}",
                             hint="Use an sqlite:/// or postgresql:// URL.") from None
        try:
            _metadata.create_all(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            raise InfrastructureError(f"cannot open the gradebook {self.url}: {exc.orig}",
                                      hint="Check that the database server is running and the URL is right.") from None

    def record(self, entry: Entry) -> bool:
        """Store ``entry`` atomically; True when it is new (no row for its key, or the row held only
        an infrastructure error and this is a verdict). Recording a key twice keeps one row."""
        record = json.dumps(entry.to_dict(), ensure_ascii=False, sort_keys=True)
        values = {"learner": entry.learner, "exercise": entry.exercise, "submission_hash": entry.submission_hash,
                  "exercise_hash": entry.exercise_hash, "runner_version": entry.runner_version,
                  "state": entry.state.value, "graded_at": entry.graded_at, "record": record}
        for _ in range(5):
            try:
                with self.engine.begin() as connection:
                    existing = connection.execute(
                        select(entries_table.c.state).where(_key_clause(entry.key))).scalar_one_or_none()
                    if existing is None:
                        connection.execute(entries_table.insert().values(**values))
                        return True
                    if existing == EntryState.GRADED.value:
                        return False  # the first verdict stays: same key, same verdict
                    connection.execute(update(entries_table).where(_key_clause(entry.key)).values(**values))
                    return entry.graded
            except IntegrityError:
                continue  # another writer inserted this key between our read and our insert: look again
        raise InfrastructureError(f"could not record {entry.learner}'s entry in {self.url}",
                                  hint="Another writer kept conflicting; run the batch again.")

    def has(self, key: EntryKey) -> bool:
        """Whether ``key`` has a verdict (an infrastructure error is not one: a rerun grades it again)."""
        with self.engine.begin() as connection:
            state = connection.execute(select(entries_table.c.state).where(_key_clause(key))).scalar_one_or_none()
        return state == EntryState.GRADED.value

    def get(self, key: EntryKey) -> Entry | None:
        """The entry recorded for ``key``, if any."""
        with self.engine.begin() as connection:
            record = connection.execute(select(entries_table.c.record).where(_key_clause(key))).scalar_one_or_none()
        return None if record is None else Entry.from_dict(json.loads(record))

    def all_entries(self) -> list[Entry]:
        """Every entry, in the order they were first recorded."""
        with self.engine.begin() as connection:
            rows = connection.execute(select(entries_table.c.record).order_by(entries_table.c.id)).scalars().all()
        return [Entry.from_dict(json.loads(record)) for record in rows]

    def entries(self) -> list[Entry]:
        """The latest entry per learner and exercise (the last recorded), sorted by learner, exercise."""
        latest: dict[tuple[str, str], Entry] = {}
        for entry in self.all_entries():
            latest[(entry.learner, entry.exercise)] = entry
        return [latest[pair] for pair in sorted(latest)]

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
