"""SQL for hidden checks: inserts, refusals, cascades, row counts and row diffs, with messages.

The judge looks at the grade's database with its own engine (the ``db`` fixture) and plain SQL that
runs on SQLite and on PostgreSQL alike. Every helper that fails raises ``Mismatch`` with what was
sent (the statement, as text), what the database did, what the rule is, and a hint.

- ``expect_accepted`` / ``expect_refused``: one INSERT in a transaction of its own, always rolled
  back (on PostgreSQL a failed statement aborts its transaction, so attempts never share one; and a
  check that expected a refusal leaves no stray row behind when the insert went through). A
  refusal is an ``IntegrityError`` (NOT NULL, UNIQUE, CHECK, FOREIGN KEY); any other database error
  is "refused, but not by a constraint" (a missing column, a wrong type), which fails the check.
- ``expect_delete_refused`` / ``expect_delete_cascades``: one DELETE, the same way; a cascade is
  checked inside the transaction, before it is rolled back.
- ``rows`` / ``expect_rows``: the rows of a table against the rows wanted, reported as pgTAP's
  ``results_eq`` (ordered) and ``bag_eq`` (unordered, duplicates counted) do: the extra rows and the
  missing rows, capped.
- ``watch_tables``: snapshots of some tables before and after a block (an HTTP request, a call of
  the learner's function): ``.inserted``, ``.deleted`` and ``.updated`` rows per table.

Dates are bound as ``Date`` (SQLite stores them as ISO text) and compared as ISO text, so a check
reads the same on both backends. On PostgreSQL, constraints declared ``DEFERRABLE`` are made
immediate for each attempt (``SET CONSTRAINTS ALL IMMEDIATE``); SQLite has no such switch, so a
deferred foreign key there is only enforced at COMMIT, which an attempt never reaches.

Table, column and ``where`` texts are the check's own (trusted) SQL; values are always bound.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .mismatch import Mismatch

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = [
    "TableChanges",
    "TableWatch",
    "db_error",
    "describe_insert",
    "expect_accepted",
    "expect_delete_cascades",
    "expect_delete_refused",
    "expect_refused",
    "expect_row_count",
    "expect_rows",
    "insert",
    "row_count",
    "rows",
    "sql_literal",
    "watch_tables",
]

#: How many rows a message lists of each kind (extra, missing, changed) before "… and N more".
SHOWN_ROWS = 5

Row = dict[str, Any]


# ---------------------------------------------------------------- text for messages


def sql_literal(value: Any) -> str:
    """A value as it would be written in SQL, for messages (never executed)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat(sep=' ')}'"
    if isinstance(value, str | dt.date | dt.time):
        return "'" + str(value).replace("'", "''") + "'"
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    return str(value)


def describe_insert(table: str, values: Mapping[str, Any]) -> str:
    """The INSERT ``insert`` runs, with its values written in, as text for a message."""
    if not values:
        return f"INSERT INTO {table} DEFAULT VALUES"
    columns = ", ".join(values)
    shown = ", ".join(sql_literal(v) for v in values.values())
    return f"INSERT INTO {table} ({columns}) VALUES ({shown})"


def _describe_delete(table: str, where: str, params: Mapping[str, Any]) -> str:
    return f"DELETE FROM {table} WHERE {_fill(where, params)}"


def _fill(sql: str, params: Mapping[str, Any]) -> str:
    """``:name`` placeholders replaced by their values, for a message."""
    return re.sub(r"(?<![:\w]):(\w+)", lambda m: sql_literal(params[m.group(1)]) if m.group(1) in params
                  else m.group(0), sql)


def db_error(exc: BaseException) -> str:
    """The database's own error, on one line: ``IntegrityError: UNIQUE constraint failed: ...``."""
    original = getattr(exc, "orig", None) or exc
    text = " ".join(str(original).split())
    # psycopg appends the failing statement; the message already shows it.
    text = re.sub(r"\s*\[SQL: .*$", "", text)
    return f"{type(original).__name__}: {text}"[:400]


def _show_row(row: Mapping[str, Any]) -> str:
    return "(" + ", ".join(f"{k}={sql_literal(v)}" for k, v in row.items()) + ")"


def _show_rows(rows: Sequence[Mapping[str, Any]], limit: int = SHOWN_ROWS) -> str:
    lines = [f"  {_show_row(r)}" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"  … and {len(rows) - limit} more")
    return "\n".join(lines) if lines else "  (none)"


def _rows_word(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


# ---------------------------------------------------------------- statements


def _bind(values: Mapping[str, Any]) -> list[Any]:
    from sqlalchemy import bindparam
    from sqlalchemy import types as sqltypes

    params = []
    for name, value in values.items():
        type_: Any = None
        if isinstance(value, dt.datetime):
            type_ = sqltypes.DateTime()
        elif isinstance(value, dt.date):
            type_ = sqltypes.Date()
        params.append(bindparam(name, value, type_=type_))
    return params


def _text(sql: str, values: Mapping[str, Any]) -> Any:
    from sqlalchemy import text

    statement = text(sql)
    return statement.bindparams(*_bind(values)) if values else statement


def insert(conn: Connection, table: str, values: Mapping[str, Any], *, returning: str | None = "id") -> Any:
    """INSERT one row with bound values; the ``returning`` column of the new row (None: nothing).

    Runs on the caller's connection and transaction; the caller commits or rolls back.
    """
    if values:
        placeholders = ", ".join(f":{name}" for name in values)
        sql = f"INSERT INTO {table} ({', '.join(values)}) VALUES ({placeholders})"
    else:
        sql = f"INSERT INTO {table} DEFAULT VALUES"
    if returning:
        sql += f" RETURNING {returning}"
    result = conn.execute(_text(sql, values))
    return result.scalar_one() if returning else None


@contextmanager
def _transaction(db: Engine) -> Iterator[Connection]:
    """A connection in a transaction of its own, always rolled back."""
    with db.connect() as conn:
        transaction = conn.begin()
        try:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")
            yield conn
        finally:
            transaction.rollback()


def _attempt(db: Engine, action: Callable[[Connection], Any]) -> BaseException | None:
    """``action`` in its own rolled-back transaction: the IntegrityError it raised, or None.

    Any other database error propagates (the statement was refused, but not by a constraint).
    """
    from sqlalchemy.exc import IntegrityError

    try:
        with _transaction(db) as conn:
            action(conn)
    except IntegrityError as exc:
        return exc
    return None


def expect_accepted(db: Engine, table: str, values: Mapping[str, Any], *, rule: str, hint: str | None = None,
                    tried: str | None = None, returning: str | None = "id") -> None:
    """The INSERT must succeed (``rule`` says why it is valid); it is rolled back either way."""
    from sqlalchemy.exc import DBAPIError

    statement = describe_insert(table, values)
    tried = tried or f"Inserted a valid row into {table}"
    try:
        refused = _attempt(db, lambda conn: insert(conn, table, values, returning=returning))
    except DBAPIError as exc:
        refused = exc
    if refused is not None:
        raise Mismatch(f"{tried}; the database refused it", expected=f"the INSERT succeeds: {rule}",
                       actual=db_error(refused), sent=statement, hint=hint)


def expect_refused(db: Engine, table: str, values: Mapping[str, Any], *, rule: str, hint: str | None = None,
                   tried: str | None = None, returning: str | None = "id") -> None:
    """The INSERT must be refused with an IntegrityError (``rule`` names the constraint)."""
    from sqlalchemy.exc import DBAPIError

    statement = describe_insert(table, values)
    tried = tried or f"Inserted a row into {table} that breaks a rule"
    try:
        refused = _attempt(db, lambda conn: insert(conn, table, values, returning=returning))
    except DBAPIError as exc:
        raise Mismatch(f"{tried}; the database refused it, but not by a constraint",
                       expected=f"an IntegrityError ({rule})", actual=db_error(exc), sent=statement,
                       hint=hint) from None
    if refused is None:
        raise Mismatch(f"{tried}; the database accepted it",
                       expected=f"the INSERT is refused with an IntegrityError: {rule}",
                       actual="the row was inserted", sent=statement, hint=hint)


def _count(conn: Connection, table: str, where: str | None, params: Mapping[str, Any]) -> int:
    sql = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")
    return int(conn.execute(_text(sql, _used(sql, params))).scalar_one())


def _used(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` names (one set of parameters serves several statements)."""
    names = set(re.findall(r"(?<![:\w]):(\w+)", sql))
    return {k: v for k, v in params.items() if k in names}


def expect_delete_refused(db: Engine, table: str, where: str, params: Mapping[str, Any] | None = None, *,
                          rule: str, hint: str | None = None, tried: str | None = None) -> None:
    """``DELETE FROM table WHERE where`` must be refused with an IntegrityError (rolled back either way)."""
    from sqlalchemy.exc import DBAPIError

    params = dict(params or {})
    statement = _describe_delete(table, where, params)
    tried = tried or f"Deleted a row of {table} that other rows depend on"
    deleted: list[int] = []

    def delete(conn: Connection) -> None:
        sql = f"DELETE FROM {table} WHERE {where}"
        deleted.append(conn.execute(_text(sql, _used(sql, params))).rowcount)

    try:
        refused = _attempt(db, delete)
    except DBAPIError as exc:
        raise Mismatch(f"{tried}; the database refused it, but not by a constraint",
                       expected=f"an IntegrityError ({rule})", actual=db_error(exc), sent=statement,
                       hint=hint) from None
    if refused is None:
        raise Mismatch(f"{tried}; the database deleted it",
                       expected=f"the DELETE is refused with an IntegrityError: {rule}",
                       actual=f"{_rows_word(deleted[0] if deleted else 0)} deleted", sent=statement, hint=hint)


def expect_delete_cascades(db: Engine, table: str, where: str, params: Mapping[str, Any] | None = None, *,
                           removes: Mapping[str, str], keeps: Mapping[str, str] | None = None, rule: str,
                           hint: str | None = None, tried: str | None = None) -> None:
    """``DELETE FROM table WHERE where`` must succeed and take the rows of ``removes`` with it.

    ``removes`` maps each dependent table to the condition its dependent rows meet, with the same
    parameters (``{"loans": "book_id = :id"}``); ``keeps`` lists rows that must survive the delete
    (another member's loans, the book's author). All of it is checked inside the DELETE's own
    transaction, then rolled back.
    """
    from sqlalchemy.exc import DBAPIError

    params = dict(params or {})
    keeps = dict(keeps or {})
    statement = _describe_delete(table, where, params)
    tried = tried or f"Deleted a row of {table} that other rows depend on"
    problem: Mismatch | None = None
    with _transaction(db) as conn:
        before = {t: _count(conn, t, cond, params) for t, cond in removes.items()}
        kept_before = {t: _count(conn, t, cond, params) for t, cond in keeps.items()}
        depends = ", ".join(f"{_rows_word(n)} of {t}" for t, n in before.items())
        sent = f"{statement}   (rows that depend on it: {depends})" if depends else statement
        sql = f"DELETE FROM {table} WHERE {where}"
        try:
            conn.execute(_text(sql, _used(sql, params)))
        except DBAPIError as exc:  # nothing more runs in this transaction: PostgreSQL has aborted it
            problem = Mismatch(f"{tried}; the database refused it",
                               expected=f"the row and the rows that depend on it are deleted: {rule}",
                               actual=db_error(exc), sent=sent, hint=hint)
        else:
            still = _count(conn, table, where, params)
            left = {t: n for t, cond in removes.items() if (n := _count(conn, t, cond, params))}
            kept = {t: _count(conn, t, cond, params) for t, cond in keeps.items()}
            lost = {t: (kept_before[t], n) for t, n in kept.items() if n != kept_before[t]}
            if still:
                problem = Mismatch(f"{tried}; the row is still there", expected="the DELETE removes it",
                                   actual=f"{_rows_word(still)} of {table} still match", sent=sent, hint=hint)
            elif left:
                problem = Mismatch(
                    f"{tried}; it was deleted, but rows that depend on it were left behind",
                    expected=f"{rule}: no rows of {', '.join(removes)} point to it any more",
                    actual="; ".join(f"{_rows_word(n)} of {t} ({removes[t]}) still there" for t, n in left.items()),
                    sent=sent, hint=hint)
            elif lost:
                problem = Mismatch(
                    f"{tried}; it also deleted rows that should have stayed",
                    expected="; ".join(f"{_rows_word(b)} of {t} ({keeps[t]}) kept" for t, (b, _) in lost.items()),
                    actual="; ".join(f"{n} of {b} left in {t}" for t, (b, n) in lost.items()),
                    sent=sent, hint=hint)
    if problem is not None:
        raise problem


# ---------------------------------------------------------------- counts and rows


def row_count(db: Engine, table: str, where: str | None = None, **params: Any) -> int:
    """``SELECT COUNT(*) FROM table [WHERE where]``, with ``params`` bound."""
    with db.connect() as conn:
        return _count(conn, table, where, params)


def expect_row_count(db: Engine, table: str, expected: int, where: str | None = None,
                     params: Mapping[str, Any] | None = None, *, what: str | None = None,
                     hint: str | None = None) -> None:
    """The table has ``expected`` rows (that match ``where``)."""
    params = dict(params or {})
    found = row_count(db, table, where, **params)
    if found != expected:
        sql = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {_fill(where, params)}" if where else "")
        what = what or f"the rows of {table}" + (f" where {_fill(where, params)}" if where else "")
        raise Mismatch(f"{what}: found {found}, expected {expected}", expected=_rows_word(expected),
                       actual=_rows_word(found), sent=sql, hint=hint)


def _select(table: str, columns: Sequence[str] | None, where: str | None, order_by: str | None) -> str:
    sql = f"SELECT {', '.join(columns) if columns else '*'} FROM {table}"
    if where:
        sql += f" WHERE {where}"
    if order_by:
        sql += f" ORDER BY {order_by}"
    return sql


def rows(db: Engine, table: str, columns: Sequence[str] | None = None, where: str | None = None,
         params: Mapping[str, Any] | None = None, *, order_by: str | None = None) -> list[Row]:
    """The rows of ``table`` (its ``columns``, all when None) as dicts, in the database's order
    (``order_by`` to fix it)."""
    sql = _select(table, columns, where, order_by)
    with db.connect() as conn:
        result = conn.execute(_text(sql, _used(sql, dict(params or {}))))
        return [dict(row) for row in result.mappings()]


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$")


def _normal(value: Any) -> Any:
    """One value as both backends can agree on it: dates and times as ISO text, numbers as numbers."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, str):
        if _DATE.match(value):
            return value
        if _DATETIME.match(value):
            try:
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat(sep=" ")
            except ValueError:
                return value
    return value


def _key(row: Mapping[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    return tuple(_normal(row.get(c)) for c in columns)


def _sort_key(row: Mapping[str, Any]) -> str:
    return json.dumps([_normal(v) for v in row.values()], default=str)


def expect_rows(db: Engine, table: str, want: Sequence[Mapping[str, Any]], *, columns: Sequence[str] | None = None,
                where: str | None = None, params: Mapping[str, Any] | None = None, ordered: bool = False,
                order_by: str | None = None, what: str | None = None, hint: str | None = None) -> list[Row]:
    """The rows of ``table`` (``where``) are exactly ``want``; returns the rows found.

    ``columns`` defaults to the keys of ``want`` (so ids the database chose need not be known).
    Unordered (the default) compares as a bag: duplicates count, order does not. ``ordered``
    compares row by row, in ``order_by`` order, and reports the first row that differs.
    """
    params = dict(params or {})
    if columns is None:
        columns = list(dict.fromkeys(k for r in want for k in r)) or None
    have = rows(db, table, columns, where, params, order_by=order_by)
    shown_columns = list(columns) if columns else list(dict.fromkeys(k for r in have for k in r))
    sql = _fill(_select(table, columns, where, order_by), params)
    what = what or f"the rows of {table}" + (f" where {_fill(where, params)}" if where else "")
    want_rows = [{c: r.get(c) for c in shown_columns} for r in want]
    if ordered:
        first = next((i for i, (h, w) in enumerate(zip(have, want_rows, strict=False))
                      if _key(h, shown_columns) != _key(w, shown_columns)), None)
        if first is None and len(have) == len(want_rows):
            return have
        at = first if first is not None else min(len(have), len(want_rows))
        have_row = _show_row(have[at]) if at < len(have) else "(no more rows)"
        want_row = _show_row(want_rows[at]) if at < len(want_rows) else "(no more rows)"
        raise Mismatch(
            f"{what} differ beginning at row {at + 1} (found {_rows_word(len(have))}, expected {len(want_rows)})",
            expected=f"row {at + 1}: {want_row}\nall rows, in order:\n{_show_rows(want_rows)}",
            actual=f"row {at + 1}: {have_row}\nall rows, in order:\n{_show_rows(have)}",
            sent=sql, hint=hint)
    missing_count = Counter(_key(r, shown_columns) for r in want_rows)
    extra: list[Row] = []
    for row in have:
        key = _key(row, shown_columns)
        if missing_count[key] > 0:
            missing_count[key] -= 1
        else:
            extra.append(row)
    missing = []
    for row in want_rows:
        key = _key(row, shown_columns)
        if missing_count[key] > 0:
            missing_count[key] -= 1
            missing.append(row)
    if not extra and not missing:
        return have
    parts = []
    if missing:
        parts.append(f"{_rows_word(len(missing))} missing")
    if extra:
        parts.append(f"{_rows_word(len(extra))} extra")
    extra.sort(key=_sort_key)
    missing.sort(key=_sort_key)
    raise Mismatch(
        f"{what} are not the ones expected: {' and '.join(parts)}",
        expected=f"{_rows_word(len(want_rows))}; missing (expected, not found):\n{_show_rows(missing)}",
        actual=f"{_rows_word(len(have))}; extra (found, not expected):\n{_show_rows(extra)}",
        sent=sql, hint=hint)


# ---------------------------------------------------------------- the tables a block touched


@dataclass
class TableChanges:
    """What happened to one table during a ``watch_tables`` block, rows identified by primary key
    (by the whole row when the table has none: an update then shows as a delete and an insert)."""

    table: str
    key: tuple[str, ...] = ()
    inserted: list[Row] = field(default_factory=list)
    deleted: list[Row] = field(default_factory=list)
    updated: list[tuple[Row, Row]] = field(default_factory=list)

    @property
    def touched(self) -> bool:
        return bool(self.inserted or self.deleted or self.updated)

    def summary(self) -> str:
        """``books: 1 inserted, 2 updated`` (or ``books: unchanged``)."""
        parts = [f"{len(rows_)} {word}" for rows_, word in
                 ((self.inserted, "inserted"), (self.deleted, "deleted"), (self.updated, "updated")) if rows_]
        return f"{self.table}: {', '.join(parts) or 'unchanged'}"

    def describe(self, limit: int = SHOWN_ROWS) -> str:
        """Every change, capped: for a message's ``actual``."""
        lines = [self.summary()]
        for word, changed in (("inserted", self.inserted), ("deleted", self.deleted)):
            lines += [f"  {word} {_show_row(r)}" for r in changed[:limit]]
            if len(changed) > limit:
                lines.append(f"  … and {len(changed) - limit} more {word}")
        for old, new in self.updated[:limit]:
            diff = {c: new[c] for c in new if _normal(new[c]) != _normal(old.get(c))}
            was = {c: old.get(c) for c in diff}
            lines.append(f"  updated {_show_row({c: old[c] for c in self.key})}: {_show_row(was)} → {_show_row(diff)}")
        if len(self.updated) > limit:
            lines.append(f"  … and {len(self.updated) - limit} more updated")
        return "\n".join(lines)


class TableWatch:
    """Snapshots of some tables, taken by ``watch_tables`` before and after its block."""

    def __init__(self, db: Engine, tables: Sequence[str]) -> None:
        self.db = db
        self.tables = tuple(tables)
        self.changes: dict[str, TableChanges] = {}
        self._before: dict[str, tuple[tuple[str, ...], dict[Any, Row]]] = {}

    def _snapshot(self) -> dict[str, tuple[tuple[str, ...], dict[Any, Row]]]:
        from sqlalchemy import inspect

        inspector = inspect(self.db)  # a new one each time: the block may have created tables
        existing = set(inspector.get_table_names())
        snapshot: dict[str, tuple[tuple[str, ...], dict[Any, Row]]] = {}
        for table in self.tables:
            if table not in existing:
                snapshot[table] = ((), {})
                continue
            key = tuple(inspector.get_pk_constraint(table).get("constrained_columns") or ())
            found: dict[Any, Row] = {}
            for row in rows(self.db, table):
                identity = _key(row, key) if key else _key(row, list(row))
                if not key:  # no primary key: identical rows are told apart by their number
                    n = 0
                    while (identity, n) in found:
                        n += 1
                    found[(identity, n)] = row
                else:
                    found[identity] = row
            snapshot[table] = (key, found)
        return snapshot

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> None:
        after = self._snapshot()
        for table in self.tables:
            key_before, before = self._before.get(table, ((), {}))
            key, now = after[table]
            key = key or key_before
            changes = TableChanges(table, key)
            for identity, row in now.items():
                old = before.get(identity)
                if old is None:
                    changes.inserted.append(row)
                elif _key(old, list(row)) != _key(row, list(row)):
                    changes.updated.append((old, row))
            changes.deleted = [row for identity, row in before.items() if identity not in now]
            self.changes[table] = changes

    def __getitem__(self, table: str) -> TableChanges:
        return self.changes[table]

    @property
    def inserted(self) -> dict[str, list[Row]]:
        return {t: c.inserted for t, c in self.changes.items()}

    @property
    def deleted(self) -> dict[str, list[Row]]:
        return {t: c.deleted for t, c in self.changes.items()}

    @property
    def updated(self) -> dict[str, list[tuple[Row, Row]]]:
        return {t: c.updated for t, c in self.changes.items()}

    @property
    def touched(self) -> list[str]:
        """The tables the block changed, in the order they were given."""
        return [t for t, c in self.changes.items() if c.touched]

    def summary(self) -> str:
        """One line per table: ``books: 1 inserted; loans: unchanged``."""
        return "; ".join(c.summary() for c in self.changes.values())

    def describe(self, limit: int = SHOWN_ROWS) -> str:
        return "\n".join(c.describe(limit) for c in self.changes.values())


@contextmanager
def watch_tables(db: Engine, tables: Sequence[str]) -> Iterator[TableWatch]:
    """``with watch_tables(db, ["books", "loans"]) as watch: client.post(...)``, then
    ``watch.inserted["books"]``, ``watch["loans"].deleted``, ``watch.touched``.

    The snapshots are whole tables read by the judge: keep the watched tables small (a check's
    own data), and read them only around the block (the after-snapshot is taken when it ends).
    """
    watch = TableWatch(db, tables)
    watch.start()
    yield watch
    watch.stop()
