"""The SQL statements the learner's app sent during a block: ``with statements.watch() as log:``.

For checks such as "GET /posts must not issue one query per post" (N+1)::

    def test_posts_in_few_queries(client, statements):
        with statements.watch() as log:
            client.get("/posts")
        expect_at_most(log, 3, kind="SELECT", what="GET /posts", per="100 posts")

How the statements are observed depends on the backend, and ``log.observed_by`` says it in one
sentence for messages:

- **PostgreSQL (server backend)**: by the server itself, outside the learner's process, with the
  ``pg_stat_statements`` extension (the postgres image preloads it). The judge reads the calls per
  statement of the grade's own database (``dbid``) and role (``userid``: the owner of the database,
  the role the learner's app logs in as) before and after the block; the difference is what the app
  sent. The judge's own queries are not counted: it connects as the admin role. Statements are
  normalized by the server (values become ``$1``, ``$2``), their order is unknown, and statements
  inside functions are in ``log.nested``, not ``log.statements``. Utility statements (BEGIN,
  COMMIT, DDL, SET) are not tracked (``pg_stat_statements.track_utility = off``). The server updates
  its counts when a statement ends, synchronously, so reading them after the HTTP response is
  exact, with one exception: the last SELECT of a connection left *idle in a transaction* is only
  counted when that connection sends its next statement or ends its transaction. When that
  statement has no count at all yet, the judge sees it in ``pg_stat_activity`` and counts it; when
  it was also sent earlier in the block, the count can be one short for that connection.
- **SQLite (embedded backend)**: there is no server to ask. The learner host installs, before any
  learner code is imported, a trace on every ``sqlite3`` connection that appends each statement (one
  line, values filled in) to a file in the grade's ``db/`` folder (``JudgeSpec.statement_log``);
  the judge reads the lines added during the block. It runs inside the learner's process, so it
  is evidence, not proof (code that replaces the trace can hide statements, never add points to
  itself: checks use it to bound counts from above). Transaction control (BEGIN, COMMIT) is left
  out, as on PostgreSQL. A write that fires a trigger or a foreign-key cascade is reported by
  SQLite once more per trigger program; the host drops such back-to-back repeats of a write on one
  connection (so a write repeated back to back, identically, on one connection counts once).
- **Anything else** (a server without ``pg_stat_statements``, such as a user's own through the url
  provider, or a judge that is not a superuser there): ``log.available`` is False and
  ``log.reason`` says why; ``expect_at_most`` then skips its check with that reason (a check that
  cannot observe must not fail the learner; a skipped check scores zero, so grade exercises with
  such checks where statements can be observed).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .. import wire
from .mismatch import Mismatch

__all__ = ["StatementLog", "Statements", "expect_at_most", "statement_kind"]

#: How much of the statement log the judge reads per block (the learner's process writes it).
MAX_READ = 16 << 20
#: How many statements a message shows.
SHOWN = 5

OBSERVED_BY_SERVER = "counted by the PostgreSQL server for your app's own database role (pg_stat_statements)"
OBSERVED_BY_TRACE = "recorded inside your app's process (SQLite has no server to ask)"

_TRANSACTION = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "END", "SAVEPOINT", "RELEASE"})
_COMMENTS = re.compile(r"^\s*(?:(?:--[^\n]*(?:\n|$))|(?:/\*.*?\*/)|\s|\()*", re.S)


def statement_kind(sql: str) -> str:
    """``SELECT``, ``INSERT``, ``UPDATE``, ``DELETE``, ...: the statement's first keyword (for a
    ``WITH``, the statement it leads to)."""
    head = _COMMENTS.sub("", sql, count=1)
    match = re.match(r"[A-Za-z]+", head)
    word = match.group(0).upper() if match else ""
    if word == "WITH":
        writes = re.search(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", head, re.I)
        return writes.group(1).upper() if writes else "SELECT"
    return word


def _shape(sql: str) -> str:
    """A statement with its values replaced by ``?``, so that repeats group together."""
    shape = re.sub(r"'(?:[^']|'')*'", "?", sql)
    shape = re.sub(r"\$\d+", "?", shape)
    shape = re.sub(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])", "?", shape)
    shape = re.sub(r"\(\s*\?(?:\s*,\s*\?)+\s*\)", "(?, …)", shape)
    return " ".join(shape.split())


@dataclass
class StatementLog:
    """What the app sent during one ``watch()`` block (filled in when the block ends)."""

    observed_by: str
    available: bool = True
    #: Why nothing could be observed (when not ``available``).
    reason: str = ""
    #: One entry per statement sent. In order and with values when ``ordered`` (SQLite); grouped by
    #: statement and normalized by the server otherwise (PostgreSQL).
    statements: list[str] = field(default_factory=list)
    #: Statements run inside functions the app called (PostgreSQL only).
    nested: list[str] = field(default_factory=list)
    ordered: bool = False

    def of_kind(self, kind: str | None = "SELECT") -> list[str]:
        """The statements of one kind (``None``: all of them)."""
        if kind is None:
            return list(self.statements)
        kind = kind.upper()
        return [s for s in self.statements if statement_kind(s) == kind]

    def count(self, kind: str | None = "SELECT") -> int:
        """How many statements of ``kind`` were sent (``None``: of any kind); 0 when not ``available``."""
        return len(self.of_kind(kind))

    def grouped(self, kind: str | None = None) -> list[tuple[str, int]]:
        """Distinct statements (values replaced by ``?``) with how often each was sent, most first."""
        counts = Counter(_shape(s) for s in self.of_kind(kind))
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def show(self, kind: str | None = None, limit: int = SHOWN) -> str:
        """The statements for a message: grouped with counts (values shown as ``?``), then (when
        ordered) the first few as they were sent."""
        chosen = self.of_kind(kind)
        if not chosen:
            return "(no statements)"
        groups = self.grouped(kind)
        lines = [f"  {n} × {_cap(sql)}" for sql, n in groups[:limit]]
        if len(groups) > limit:
            lines.append(f"  … and {len(groups) - limit} other statements")
        if self.ordered and len(chosen) > 1:
            lines.append(f"the first {min(limit, len(chosen))}, in order:")
            lines += [f"  {_cap(s)}" for s in chosen[:limit]]
        return "\n".join(lines)


def _cap(sql: str, limit: int = 300) -> str:
    return sql if len(sql) <= limit else sql[:limit] + "…"


def _plural(kind: str | None, n: int) -> str:
    """``101 SELECTs``, ``1 INSERT statement``, ``3 statements``."""
    if not kind:
        word = "statement"
    elif kind.upper() == "SELECT":
        word = "SELECT"
    else:
        word = f"{kind.upper()} statement"
    return f"{n} {word}" + ("" if n == 1 else "s")


def expect_at_most(log: StatementLog, n: int, kind: str | None = "SELECT", what: str = "the request", *,
                   per: str | None = None, hint: str | None = None) -> None:
    """At most ``n`` statements of ``kind`` during the block; skips the check when nothing could be
    observed (``log.reason`` says why).

    ``what`` names the block (``"GET /posts"``), ``per`` what it served (``"100 posts"``): "GET /posts
    issued 101 SELECTs for 100 posts (N+1); at most 3 expected".
    """
    if not log.available:
        import pytest

        pytest.skip(f"Not checked: {log.reason}")
    found = log.count(kind)
    if found <= n:
        return
    groups = log.grouped(kind)
    repeated = bool(groups) and groups[0][1] > max(n, 1)
    message = f"{what} issued {_plural(kind, found)}" + (f" for {per}" if per else "")
    message += (" (N+1)" if repeated else "") + f"; at most {n} expected"
    if hint is None and repeated:
        hint = ("One statement ran once per row: load the related rows together, with a JOIN or one "
                "WHERE … IN (…) query (in SQLAlchemy, selectinload() or joinedload() on the relationship, "
                "or a join in your select()), not a query inside a loop.")
    raise Mismatch(message, expected=f"at most {_plural(kind, n)}",
                   actual=f"{_plural(kind, found)}, {log.observed_by}:\n{log.show(kind)}", hint=hint)


# ---------------------------------------------------------------- sources


class _Source:
    observed_by = ""

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self, token: Any, log: StatementLog) -> None:
        raise NotImplementedError


class _Unavailable(_Source):
    def __init__(self, reason: str, observed_by: str = "not observed") -> None:
        self.reason = reason
        self.observed_by = observed_by

    def start(self) -> None:
        return None

    def stop(self, token: Any, log: StatementLog) -> None:
        log.available = False
        log.reason = self.reason


class _TraceFile(_Source):
    """The lines the learner host appended to the statement log during the block."""

    observed_by = OBSERVED_BY_TRACE

    def __init__(self, path: str) -> None:
        self.path = path

    def start(self) -> int | None:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return None

    def stop(self, token: int | None, log: StatementLog) -> None:
        if token is None:
            log.available = False
            log.reason = ("your app's SQL statements could not be recorded (the learner host did not start "
                          "its statement log); this is not your fault")
            return
        try:
            with open(self.path, "rb") as file:
                file.seek(token)
                data = file.read(MAX_READ)
        except OSError as exc:
            log.available = False
            log.reason = f"your app's statement log could not be read ({exc}); this is not your fault"
            return
        lines = data.decode("utf-8", "replace").splitlines()
        log.ordered = True
        log.statements = [line for line in (ln.strip() for ln in lines)
                          if line and statement_kind(line) not in _TRANSACTION]


class _ServerStats(_Source):
    """Calls per statement of the grade's own database and role, from ``pg_stat_statements``."""

    observed_by = OBSERVED_BY_SERVER

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.reason = ""
        self.view = ""
        self._ready = False

    def prepare(self) -> bool:
        """Find (or create, in a schema the learner's role cannot use) the extension's view."""
        if self._ready:
            return not self.reason
        self._ready = True
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        try:
            with self.engine.connect() as conn:
                loaded = conn.execute(text(
                    "SELECT 1 FROM pg_settings WHERE name = 'shared_preload_libraries' "
                    "AND 'pg_stat_statements' = ANY(string_to_array(replace(setting, ' ', ''), ','))")).first()
                if loaded is None:
                    self.reason = ("this PostgreSQL server does not load pg_stat_statements "
                                   "(shared_preload_libraries), so the statements your app sends cannot be counted")
                    return False
                schema = conn.execute(text(
                    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                    "WHERE e.extname = 'pg_stat_statements'")).scalar()
                if schema is None:
                    conn.execute(text("CREATE SCHEMA IF NOT EXISTS backend_kit"))
                    conn.execute(text("REVOKE ALL ON SCHEMA backend_kit FROM PUBLIC"))
                    conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA backend_kit"))
                    conn.commit()
                    schema = "backend_kit"
                self.view = f'"{schema}".pg_stat_statements'
                conn.execute(text(f"SELECT 1 FROM {self.view} LIMIT 1")).all()
        except DBAPIError as exc:
            first = (str(getattr(exc, "orig", exc)).strip().splitlines() or ["?"])[0]
            self.reason = f"this PostgreSQL server's statement statistics cannot be read ({first[:200]})"
            return False
        return True

    def _snapshot(self) -> tuple[dict[tuple[int, bool], tuple[str, int]], Any]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            result = conn.execute(text(
                f"SELECT s.queryid, s.toplevel, s.query, s.calls FROM {self.view} s "
                "JOIN pg_database d ON d.oid = s.dbid AND d.datname = current_database() "
                "WHERE s.userid = d.datdba")).all()
            now = conn.execute(text("SELECT clock_timestamp()")).scalar()
        return {(int(r[0]), bool(r[1])): (str(r[2]), int(r[3])) for r in result if r[0] is not None}, now

    def start(self) -> Any:
        if not self.prepare():
            return None
        return self._snapshot()

    def _pending(self, since: Any, counted: set[int]) -> list[str]:
        """Last statements of the role's connections left idle in a transaction during the block and
        not counted at all yet (their count arrives with the connection's next statement)."""
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        try:
            with self.engine.connect() as conn:
                found = conn.execute(text(
                    "SELECT a.query_id, a.query FROM pg_stat_activity a "
                    "JOIN pg_database d ON d.oid = a.datid AND d.datname = current_database() "
                    "WHERE a.usesysid = d.datdba AND a.state LIKE 'idle in transaction%' "
                    "AND a.query_start >= :since AND a.query_id IS NOT NULL"), {"since": since}).all()
        except DBAPIError:
            return []
        return [str(query) for query_id, query in found
                if int(query_id) not in counted and statement_kind(str(query)) == "SELECT"]

    def stop(self, token: Any, log: StatementLog) -> None:
        if token is None:
            log.available = False
            log.reason = self.reason
            return
        before, since = token
        after, _ = self._snapshot()
        counted = set()
        for key, (query, calls) in after.items():
            previous = before.get(key, ("", 0))[1]
            # Fewer calls than before: the entry was evicted and made again during the block.
            sent = calls - previous if calls >= previous else calls
            if sent > 0:
                counted.add(key[0])
                (log.statements if key[1] else log.nested).extend([query] * sent)
        log.statements.extend(self._pending(since, counted))


class Statements:
    """The ``statements`` fixture: ``with statements.watch() as log:`` around what the app does."""

    def __init__(self, source: _Source) -> None:
        self._source = source

    @property
    def observed_by(self) -> str:
        return self._source.observed_by

    @contextmanager
    def watch(self) -> Iterator[StatementLog]:
        """The statements the app sent while the block ran; ``log`` is filled in when it ends."""
        log = StatementLog(observed_by=self._source.observed_by)
        token = self._source.start()
        yield log
        self._source.stop(token, log)


def make_statements(spec: wire.JudgeSpec, engine: Any = None) -> Statements:
    """The right source for the grade: the host's statement log (SQLite), the server's statistics
    (PostgreSQL), or none."""
    if spec.statement_log:
        return Statements(_TraceFile(spec.statement_log))
    url = spec.database_url or ""
    if url.startswith("postgresql") and engine is not None:
        return Statements(_ServerStats(engine))
    if not url:
        return Statements(_Unavailable("this exercise has no database"))
    return Statements(_Unavailable("the statements sent to this database cannot be observed"))

