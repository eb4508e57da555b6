"""Outages of this grade's own services, for checks of how the learner's app behaves without them.

The ``faults`` fixture is a ``Faults``::

    def test_degrades_without_redis(client, faults):
        with faults.redis_down():
            response = client.get("/posts/7")     # the app's Redis is unreachable here
        expect_status(response, 200, hint=f"Serve from the database when Redis is down ({faults.how}).")

Only the grade's own services go down, never another grade's, and always come back: at the end of
the block, and at the end of the check even if it crashed inside one.

How each backend does it (``faults.how`` says which, for messages):

- Redis on a server: the grade's ACL user is switched ``off`` and its connections are killed
  (``CLIENT KILL USER``), from the judge's admin connection; ``on`` again after. The app's
  reconnections fail authentication while it is off.
- PostgreSQL on a server: the grade's role gets ``NOLOGIN`` and its backends are terminated
  (``pg_terminate_backend``), from the judge's admin connection; ``LOGIN`` again after.
- the embedded Redis: the control command ``BACKENDKIT.FAULT <token> down`` (the token is the
  grade's secret, ``JudgeSpec.fault_token``); the server closes the app's connections, and new
  ones at their first command, until ``up``. The judge's own connections keep working.
- the embedded SQLite database: a judge connection holds ``BEGIN EXCLUSIVE`` for the block, so
  the app's queries wait for their busy timeout and fail with "database is locked" (SQLite has no
  server to stop). In WAL mode an exclusive lock blocks writers only: reads still succeed.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["Faults"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class Faults:
    """Context managers that take this grade's Redis or database away from the learner's app."""

    def __init__(self, *, judge_redis_url: str | None = None, learner_redis_url: str | None = None,
                 judge_database_url: str | None = None, learner_database_url: str | None = None,
                 fault_token: str | None = None, lock_timeout: float = 10.0) -> None:
        self.judge_redis_url = judge_redis_url
        self.learner_redis_url = learner_redis_url
        self.judge_database_url = judge_database_url
        self.learner_database_url = learner_database_url
        self.fault_token = fault_token
        self.lock_timeout = lock_timeout
        #: How the last fault was made (for messages), e.g. "the grade's Redis user was disabled".
        self.how = ""
        self._restores: dict[str, Callable[[], None]] = {}

    # ---------------------------------------------------------------- Redis

    @contextlib.contextmanager
    def redis_down(self) -> Iterator[Faults]:
        """The learner's app cannot reach its Redis inside the block."""
        if not self.judge_redis_url:
            raise RuntimeError("faults.redis_down(): this exercise has no Redis")
        if "redis" in self._restores:
            raise RuntimeError("faults.redis_down() is already active")
        import redis as redis_module

        admin: Any = redis_module.Redis.from_url(self.judge_redis_url, decode_responses=True, socket_timeout=10)
        if self.fault_token:
            def switch(state: str) -> None:
                admin.execute_command("BACKENDKIT.FAULT", self.fault_token, state)

            def back_up() -> None:
                try:
                    switch("up")
                finally:
                    admin.close()

            switch("down")
            self.how = "the embedded Redis closed the app's connections and refused new ones"
            restore = _once(back_up)
        else:
            user = self._learner_user(self.learner_redis_url, "REDIS_URL")
            admin.execute_command("ACL", "SETUSER", user, "off")
            with contextlib.suppress(redis_module.ResponseError):  # no connection to kill
                admin.execute_command("CLIENT", "KILL", "USER", user)
            self.how = f"the grade's Redis user {user} was disabled (ACL SETUSER off) and its connections killed"
            def enable() -> None:
                try:
                    admin.execute_command("ACL", "SETUSER", user, "on")
                finally:
                    admin.close()

            restore = _once(enable)
        self._restores["redis"] = restore
        try:
            yield self
        finally:
            self._restores.pop("redis", None)
            restore()

    # ---------------------------------------------------------------- database

    @contextlib.contextmanager
    def database_down(self) -> Iterator[Faults]:
        """The learner's app cannot use its database inside the block."""
        if not self.judge_database_url:
            raise RuntimeError("faults.database_down(): this exercise has no database")
        if "database" in self._restores:
            raise RuntimeError("faults.database_down() is already active")
        if self.judge_database_url.startswith("sqlite"):
            restore = self._sqlite_down(self.judge_database_url)
        else:
            restore = self._postgres_down(self.judge_database_url)
        self._restores["database"] = restore
        try:
            yield self
        finally:
            self._restores.pop("database", None)
            restore()

    def _sqlite_down(self, url: str) -> Callable[[], None]:
        import sqlite3

        path = url.split(":///", 1)[1] if ":///" in url else url.removeprefix("sqlite:")
        connection = sqlite3.connect(path, timeout=self.lock_timeout, isolation_level=None)
        try:
            wal = str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
            connection.execute("BEGIN EXCLUSIVE")
        except BaseException:
            connection.close()
            raise
        self.how = ("the judge held an exclusive lock on the SQLite database (BEGIN EXCLUSIVE), so the app's "
                    "queries failed with “database is locked”"
                    + (" (the database is in WAL mode: only writes were blocked)" if wal else ""))

        def restore() -> None:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            connection.close()

        return _once(restore)

    def _postgres_down(self, url: str) -> Callable[[], None]:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        role = self._learner_user(self.learner_database_url, "DATABASE_URL")
        quoted = '"' + role.replace('"', '""') + '"'
        engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")

        def alter(login: str) -> None:
            with engine.connect() as connection:
                connection.execute(text(f"ALTER ROLE {quoted} {login}"))
                if login == "NOLOGIN":
                    connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                            "WHERE usename = :role AND pid <> pg_backend_pid()"), {"role": role})

        try:
            alter("NOLOGIN")
        except BaseException:
            with contextlib.suppress(Exception):
                alter("LOGIN")
            engine.dispose()
            raise
        self.how = f"the grade's PostgreSQL role {role} lost LOGIN and its connections were terminated"

        def restore() -> None:
            try:
                alter("LOGIN")
            finally:
                engine.dispose()

        return _once(restore)

    # ---------------------------------------------------------------- teardown

    def restore_all(self) -> None:
        """Bring back whatever is still down (the fixture's teardown; a check that crashed in a block)."""
        errors = []
        for name in list(self._restores):
            restore = self._restores.pop(name)
            try:
                restore()
            except Exception as exc:  # restore the others all the same
                errors.append(f"{name}: {exc}")
        if errors:
            raise RuntimeError("could not restore " + "; ".join(errors))

    @staticmethod
    def _learner_user(url: str | None, setting: str) -> str:
        user = unquote(urlsplit(url).username or "") if url else ""
        if not user or not _SAFE_NAME.match(user):
            raise RuntimeError(f"the learner's {setting} names no user this judge can disable")
        return user


def _once(action: Callable[[], Any]) -> Callable[[], None]:
    """``action`` run at most once, however many times it is called (block exit, then teardown)."""
    done: list[bool] = []

    def run() -> None:
        if not done:
            done.append(True)
            action()

    return run
