"""Per-grade isolation on real PostgreSQL and Redis servers reached with admin rights.

Used as is by the ``url`` provider (servers the user points at, e.g. ``docker compose up``) and by
the ``docker`` provider (servers the runner starts). For every grade:

- PostgreSQL: a login role of its own (no superuser, no CREATEDB, a connection limit) and a
  database of its own, owned by that role, cloned from a per-exercise template database
  (``CREATE DATABASE … TEMPLATE``: milliseconds, not a new server). CONNECT on every other database
  is revoked from PUBLIC, so the role can reach its own database only. The judge connects to the
  same database as the admin, so a learner who exhausts their role's connections cannot lock it out.
  Dropped after with ``DROP DATABASE … WITH (FORCE)`` and ``DROP ROLE``.
- Redis: a logical database (a "slot", claimed atomically in database 0 so that several runner
  processes can share one server) and an ACL user confined to it: it may SELECT that database only,
  and has no admin or cross-database commands (FLUSHALL, SWAPDB, MOVE, COPY, CONFIG, ...). The slot
  is flushed and the user deleted (its connections killed) after.

Objects are named ``bk_<pid>_<random>``, so leftovers of a crashed runner are recognisable and are
reaped when their process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ..catalog import Backend
from ..errors import InfrastructureError
from ..processes import pid_alive
from . import GradeServices

PREFIX = "bk_"
TEMPLATE_PREFIX = "bk_tpl_"
SLOT_KEY = "backend-kit:slot:{}"
ROLE_CONNECTION_LIMIT = 40
SLOT_TTL = 6 * 3600

#: What a grade's Redis user may do: everything a learner's app needs on its own database.
REDIS_RULES = (
    "+@all -@admin -@dangerous +flushdb +keys +info +sort "
    "-select -swapdb -move -copy -migrate -flushall -monitor -failover -config -debug -shutdown"
)


def _owner_pid(name: str) -> int | None:
    match = re.match(rf"^{PREFIX}(\d+)_[0-9a-f]+$", name)
    return int(match.group(1)) if match else None


def _with_credentials(url: str, user: str, password: str, path: str, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((scheme or parts.scheme, netloc, path, "", ""))


class ServerProvider:
    """Hands out isolated databases and Redis slots on servers reached through admin URLs."""

    def __init__(self, postgres_url: str | None, redis_url: str | None, *, name: str = "url") -> None:
        self.name = name
        self.postgres_url = postgres_url
        self.redis_url = redis_url
        self._lock = threading.Lock()
        self._prepared = False
        self._templates: set[str] = set()
        self._versions: dict[str, str] = {}
        self._slots = 16
        self._admin: Any = None
        self._pg_lock = threading.RLock()

    # ------------------------------------------------------------------ connections

    @contextlib.contextmanager
    def _pg(self) -> Iterator[Any]:
        """The admin connection, kept open across grades (connecting costs more than the DDL)."""
        import psycopg

        assert self.postgres_url is not None
        with self._pg_lock:
            if self._admin is None or self._admin.closed or self._admin.broken:
                try:
                    self._admin = psycopg.connect(self._psycopg_url(self.postgres_url), autocommit=True,
                                                  connect_timeout=10)
                except psycopg.Error as exc:
                    raise InfrastructureError(
                        f"cannot reach PostgreSQL at {self._safe(self.postgres_url)}: {str(exc).strip()}",
                        hint="Start it (`runner services up`, or `docker compose up -d`), or use --provider embedded.",
                    ) from None
            try:
                yield self._admin
            except psycopg.OperationalError as exc:
                self._admin.close()
                self._admin = None
                raise InfrastructureError(f"lost the connection to PostgreSQL: {str(exc).strip()}") from None

    def _redis(self, db: int = 0) -> Any:
        import redis

        assert self.redis_url is not None
        client = redis.Redis.from_url(self.redis_url, db=db, socket_timeout=10, decode_responses=True)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise InfrastructureError(
                f"cannot reach Redis at {self._safe(self.redis_url)}: {exc}",
                hint="Start it (`runner services up`, or `docker compose up -d`), or use --provider embedded.",
            ) from None
        return client

    @staticmethod
    def _psycopg_url(url: str) -> str:
        return re.sub(r"^postgresql\+\w+://", "postgresql://", url)

    @staticmethod
    def _safe(url: str) -> str:
        """A URL without its password, for messages."""
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)

    # ------------------------------------------------------------------ preparation

    @property
    def versions(self) -> dict[str, str]:
        """The servers' versions ("database": "postgresql 15.4", ...), known once ``prepare`` ran."""
        return dict(self._versions)

    def prepare(self) -> None:
        """Once per provider: lock down other databases, learn the slot count, reap leftovers."""
        with self._lock:
            if self._prepared:
                return
            if self.postgres_url:
                with self._pg() as conn:
                    self._versions["database"] = "postgresql " + str(conn.execute("SHOW server_version").fetchone()[0])
                    self._statement_stats(conn)
                    for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datallowconn").fetchall():
                        if not name.startswith(PREFIX):
                            conn.execute(f'REVOKE CONNECT ON DATABASE "{name}" FROM PUBLIC')
            if self.redis_url:
                client = self._redis()
                self._versions["redis"] = "redis " + str(client.info("server").get("redis_version", "?"))
                try:
                    self._slots = int(client.config_get("databases").get("databases", 16))
                except Exception:  # CONFIG may be renamed or forbidden on a managed Redis
                    self._slots = 16
                client.close()
            self._prepared = True
        self.reap()

    @staticmethod
    def _statement_stats(conn: Any) -> None:
        """``CREATE EXTENSION pg_stat_statements`` in the admin's database, when the server can have it.

        The judge counts the statements a grade's role sends with it (``runner.judge.statements``);
        the statistics exist once the server preloads the library (our postgres image does), and
        the extension's view is per database: the judge makes it in a grade's database when a check
        first asks, in a schema the grade's role cannot use. A server without it still grades:
        those checks are skipped with the reason.
        """
        import psycopg

        with contextlib.suppress(psycopg.Error):
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def _ensure_template(self, conn: Any, template: str) -> str:
        name = TEMPLATE_PREFIX + re.sub(r"[^a-z0-9]+", "_", template.lower())[:40]
        if name in self._templates:
            return name
        import psycopg

        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            conn.execute(f'REVOKE CONNECT ON DATABASE "{name}" FROM PUBLIC')
        self._templates.add(name)
        return name

    # ------------------------------------------------------------------ per grade

    def acquire(self, workdir: Path, *, database: bool, redis: bool, template: str = "default",
                listen_host: str = "127.0.0.1") -> GradeServices:
        self.prepare()
        name = f"{PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
        password = secrets.token_hex(16)
        handle: dict[str, str] = {"name": name}
        details = {"provider": self.name}
        database_url = judge_database_url = redis_url = judge_redis_url = None
        try:
            if database:
                if not self.postgres_url:
                    raise InfrastructureError("this exercise needs a database, but no PostgreSQL URL is set",
                                              hint="Pass --database-url, or use --provider docker.")
                with self._pg() as conn:
                    source = self._ensure_template(conn, template)
                    conn.execute(  # name and password are hex: nothing to quote
                        f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE "
                        f"CONNECTION LIMIT {ROLE_CONNECTION_LIMIT}"
                    )
                    handle["role"] = name
                    # FILE_COPY: on a small template with fsync off it is faster than PostgreSQL 15's default
                    # WAL_LOG (measured 20 ms against 25-43 ms to create, 4 ms against 5-50 ms to drop).
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}" OWNER "{name}" STRATEGY FILE_COPY')
                    handle["database"] = name
                    conn.execute(f'REVOKE CONNECT ON DATABASE "{name}" FROM PUBLIC')
                    conn.execute(f'GRANT CONNECT ON DATABASE "{name}" TO "{name}"')
                assert self.postgres_url is not None
                database_url = _with_credentials(self.postgres_url, name, password, f"/{name}", "postgresql+psycopg")
                admin = urlsplit(self.postgres_url)
                judge_database_url = urlunsplit(("postgresql+psycopg", admin.netloc, f"/{name}", "", ""))
                details["database"] = self._versions.get("database", "postgresql")
            if redis:
                if not self.redis_url:
                    raise InfrastructureError("this exercise needs Redis, but no Redis URL is set",
                                              hint="Pass --redis-url, or use --provider docker.")
                slot = self._claim_slot(name)
                handle["slot"] = str(slot)
                client = self._redis()
                client.acl_setuser(name, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"],
                                   commands=[*REDIS_RULES.split(), f"+select|{slot}"], reset=True)
                handle["redis_user"] = name
                client.close()
                redis_url = _with_credentials(self.redis_url, name, password, f"/{slot}")
                admin_redis = urlsplit(self.redis_url)
                judge_redis_url = urlunsplit((admin_redis.scheme, admin_redis.netloc, f"/{slot}", "", ""))
                details["redis"] = self._versions.get("redis", "redis")
        except BaseException:
            self.release(GradeServices(Backend.SERVER, handle=handle))
            raise
        return GradeServices(Backend.SERVER, database_url, redis_url, details, judge_database_url, judge_redis_url,
                             handle)

    def _claim_slot(self, owner: str) -> int:
        client = self._redis()
        try:
            for _ in range(100):
                for slot in range(1, self._slots):
                    if client.set(SLOT_KEY.format(slot), owner, nx=True, ex=SLOT_TTL):
                        client.execute_command("SELECT", slot)
                        client.flushdb()
                        return slot
                self.reap()
                time.sleep(0.1)
        finally:
            client.close()
        raise InfrastructureError(f"all {self._slots - 1} Redis grading slots are busy",
                                  hint="Grade fewer submissions at once, or start Redis with more databases.")

    def release(self, services: GradeServices) -> None:
        handle = services.handle
        name = handle.get("name")
        if not name:
            return
        if self.redis_url and ("redis_user" in handle or "slot" in handle):
            client = self._redis()
            try:
                if "redis_user" in handle:
                    with contextlib.suppress(Exception):
                        client.execute_command("CLIENT", "KILL", "USER", name)
                    client.acl_deluser(name)
                if "slot" in handle:
                    slot = int(handle["slot"])
                    client.execute_command("SELECT", slot)
                    client.flushdb()
                    client.execute_command("SELECT", 0)
                    if client.get(SLOT_KEY.format(slot)) == name:
                        client.delete(SLOT_KEY.format(slot))
            finally:
                client.close()
        if self.postgres_url and ("database" in handle or "role" in handle):
            with self._pg() as conn:
                if "database" in handle:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                if "role" in handle:
                    conn.execute(f'DROP ROLE IF EXISTS "{name}"')

    def reap(self) -> list[str]:
        """Drop databases, roles, Redis users and slots left by runner processes that are gone."""
        reaped: list[str] = []
        if self.postgres_url:
            with self._pg() as conn:
                databases = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
                roles = [r[0] for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()]
                for name in databases:
                    pid = _owner_pid(name)
                    if pid is not None and not pid_alive(pid):
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                        reaped.append(f"database {name}")
                for name in roles:
                    pid = _owner_pid(name)
                    if pid is not None and not pid_alive(pid):
                        conn.execute(f'DROP ROLE IF EXISTS "{name}"')
                        reaped.append(f"role {name}")
        if self.redis_url:
            client = self._redis()
            try:
                for user in client.acl_users():
                    pid = _owner_pid(user)
                    if pid is not None and not pid_alive(pid):
                        client.acl_deluser(user)
                        reaped.append(f"redis user {user}")
                for slot in range(1, self._slots):
                    owner = client.get(SLOT_KEY.format(slot))
                    pid = _owner_pid(owner) if owner else None
                    if pid is not None and not pid_alive(pid):
                        client.execute_command("SELECT", slot)
                        client.flushdb()
                        client.execute_command("SELECT", 0)
                        client.delete(SLOT_KEY.format(slot))
                        reaped.append(f"redis slot {slot}")
            finally:
                client.close()
        return reaped

    def leftovers(self) -> list[str]:
        """Grade objects that still exist (for `runner doctor` and the tests)."""
        found: list[str] = []
        if self.postgres_url:
            with self._pg() as conn:
                found += [f"database {r[0]}" for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'bk\\_%' AND datname NOT LIKE 'bk\\_tpl\\_%'"
                ).fetchall()]
                found += [f"role {r[0]}" for r in conn.execute(
                    "SELECT rolname FROM pg_roles WHERE rolname LIKE 'bk\\_%'").fetchall()]
        if self.redis_url:
            client = self._redis()
            found += [f"redis user {u}" for u in client.acl_users() if u.startswith(PREFIX)]
            for slot in range(1, self._slots):
                if client.get(SLOT_KEY.format(slot)):
                    found.append(f"redis slot {slot}")
            client.close()
        return found

    def close(self) -> None:
        """Close the admin connection; the servers belong to whoever started them."""
        with self._pg_lock:
            if self._admin is not None:
                self._admin.close()
                self._admin = None
