"""Hidden checks for 02-library-schema.

The learner's create_schema() runs once, in the learner's process (the gate). Every other check
looks at the tables with the judge's own engine (``db``) and plain, portable SQL: inserts that
must succeed, inserts and deletes that must be refused with an IntegrityError, deletes that must
cascade. Each attempt runs in its own transaction (``with db.begin()``), because on PostgreSQL a
failed statement aborts the transaction it ran in. Values that must be unique come from ``rng``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import bindparam, inspect, text
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from runner.judge import Mismatch

TABLES = ("authors", "books", "members", "loans", "tags", "book_tags")

COLUMNS: dict[str, tuple[str, ...]] = {
    "authors": ("id", "name"),
    "books": ("id", "isbn", "title", "published_year", "author_id"),
    "members": ("id", "email", "name"),
    "loans": ("id", "book_id", "member_id", "loaned_on", "due_on"),
    "tags": ("id", "name"),
    "book_tags": ("book_id", "tag_id"),
}

# (table, column) -> the type family it must reflect as, and how to say it.
TYPES: dict[tuple[str, str], tuple[type[Any], str, str]] = {}
for _table, _columns in COLUMNS.items():
    for _column in _columns:
        TYPES[(_table, _column)] = (sqltypes.Integer, "an integer", "Mapped[int]")
for _key in [("authors", "name"), ("books", "isbn"), ("books", "title"), ("members", "email"),
             ("members", "name"), ("tags", "name")]:
    TYPES[_key] = (sqltypes.String, "a string", "Mapped[str] = mapped_column(String(n))")
for _key in [("loans", "loaned_on"), ("loans", "due_on")]:
    TYPES[_key] = (sqltypes.Date, "a date", "Mapped[datetime.date] (a Date column, not DateTime or String)")

# (table, column, referred table, ON DELETE): every foreign key of the schema.
FOREIGN_KEYS = [
    ("books", "author_id", "authors", "RESTRICT"),
    ("loans", "book_id", "books", "CASCADE"),
    ("loans", "member_id", "members", "CASCADE"),
    ("book_tags", "book_id", "books", "CASCADE"),
    ("book_tags", "tag_id", "tags", "CASCADE"),
]

# (table, column) -> the most characters the statement says the column holds.
LENGTHS: dict[tuple[str, str], int] = {
    ("authors", "name"): 200,
    ("books", "isbn"): 20,
    ("books", "title"): 300,
    ("members", "email"): 254,
    ("members", "name"): 200,
    ("tags", "name"): 50,
}

FIRST_NAMES = ["Ada", "Brian", "Chidi", "Dolores", "Emeka", "Farah", "Grace", "Hiro", "Ines", "Jonas",
               "Kemal", "Lena", "Mateo", "Nadia", "Oskar", "Priya"]
LAST_NAMES = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Kowalski",
              "Byrne", "Costa", "Ivanova", "Mensah"]
TITLE_WORDS = ["Silent", "River", "Glass", "Empire", "Winter", "Garden", "Cipher", "Harbour", "Lantern",
               "Orchard", "Atlas", "Ember", "Meridian", "Quarry", "Tide", "Velvet"]
TAG_WORDS = ["fiction", "history", "poetry", "science", "travel", "mystery", "biography", "drama",
             "essays", "classics", "fantasy", "philosophy"]


# ---------------------------------------------------------------------------- data


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} {rng.randrange(1000, 10000)}"


def _isbn(rng: random.Random) -> str:
    return "978" + "".join(str(rng.randrange(10)) for _ in range(10))


def _email(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES).lower()}.{rng.randrange(10**6, 10**7)}@example.org"


def _title(rng: random.Random) -> str:
    return f"The {rng.choice(TITLE_WORDS)} {rng.choice(TITLE_WORDS)}"


def _tag(rng: random.Random) -> str:
    return f"{rng.choice(TAG_WORDS)}-{rng.randrange(10**6, 10**7)}"


def _long(rng: random.Random, length: int, *, tail: str = "") -> str:
    """A text of exactly ``length`` characters (ending with ``tail``): the longest the column must hold."""
    words = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(TITLE_WORDS))
    return (" ".join(words)[: length - len(tail)] + tail) if length > len(tail) else tail[:length]


def _day(rng: random.Random) -> dt.date:
    return dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(700))


def _sql_value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str | dt.date):
        return f"'{value}'"
    return str(value)


def _describe(table: str, values: dict[str, Any]) -> str:
    """The INSERT, as text for a message."""
    columns = ", ".join(values)
    shown = ", ".join(_sql_value(v) for v in values.values())
    return f"INSERT INTO {table} ({columns}) VALUES ({shown})"


def _error(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text_ = " ".join(str(original).split())
    return f"{type(original).__name__}: {text_}"[:400]


# ---------------------------------------------------------------------------- SQL


def _insert(conn: Connection, table: str, values: dict[str, Any], *, returning: bool = True) -> int | None:
    """INSERT one row with bound values (dates bound as Date, so SQLite stores ISO text)."""
    columns = ", ".join(values)
    placeholders = ", ".join(f":{name}" for name in values)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
    if returning:
        sql += " RETURNING id"
    params = [
        bindparam(name, value, type_=sqltypes.Date() if isinstance(value, dt.date) else None)
        for name, value in values.items()
    ]
    result = conn.execute(text(sql).bindparams(*params))
    return int(result.scalar_one()) if returning else None


def _count(db: Engine, sql: str, **params: Any) -> int:
    try:
        with db.connect() as conn:
            return int(conn.execute(text(sql), params).scalar_one())
    except DBAPIError as exc:
        raise Mismatch(
            "Reading the tables back failed",
            expected="the query runs (it only uses the columns of the README)",
            actual=_error(exc),
            sent=sql,
            hint="Compare your table and column names with the README's tables.",
        ) from None


NEEDS: dict[str, tuple[str, ...]] = {
    "authors": ("authors",),
    "books": ("authors", "books"),
    "members": ("members",),
    "loans": ("authors", "books", "members", "loans"),
    "tags": ("tags",),
    "book_tags": ("authors", "books", "tags", "book_tags"),
}


def _need(db: Engine, *tables: str) -> None:
    """The tables a check works on must exist; if some do not, the check fails naming them."""
    existing = set(inspect(db).get_table_names())
    missing = [t for t in dict.fromkeys(tables) if t not in existing]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise Mismatch(
            f"This check needs the table{plural} {', '.join(missing)}, which do{'' if plural else 'es'} not exist",
            expected=f"table{'s' if len(tables) > 1 else ''} {', '.join(dict.fromkeys(tables))}",
            actual=f"tables {', '.join(sorted(existing)) or '(none)'}",
            hint="Each model class needs __tablename__ set to the exact name from the README, and must "
                 "subclass the same Base whose metadata create_schema() creates.",
        )


@contextmanager
def _setup(what: str) -> Iterator[None]:
    """Valid statements a check needs before its real test: if the database refuses them, say so."""
    try:
        yield
    except DBAPIError as exc:
        raise Mismatch(
            f"Preparing this check, a valid statement was refused: {what}",
            expected="the statement succeeds (it follows every rule of the README)",
            actual=_error(exc),
            hint="Compare your columns, types and constraints with the README's tables; "
                 "the check “valid rows can be inserted” shows the same problem more directly.",
        ) from None


class Builder:
    """Inserts the valid rows a check needs, each in its own committed transaction."""

    def __init__(self, db: Engine, rng: random.Random) -> None:
        self.db = db
        self.rng = rng

    def row(self, table: str, values: dict[str, Any], *, returning: bool = True) -> int | None:
        with _setup(_describe(table, values)), self.db.begin() as conn:
            return _insert(conn, table, values, returning=returning)

    def author(self) -> int:
        return int(self.row("authors", {"name": _person(self.rng)}) or 0)

    def book(self, author_id: int | None = None, **overrides: Any) -> int:
        values = {
            "isbn": _isbn(self.rng),
            "title": _title(self.rng),
            "published_year": self.rng.randrange(1800, 2025),
            "author_id": self.author() if author_id is None else author_id,
        }
        values.update(overrides)
        return int(self.row("books", values) or 0)

    def member(self) -> int:
        return int(self.row("members", {"email": _email(self.rng), "name": _person(self.rng)}) or 0)

    def loan(self, book_id: int, member_id: int) -> int:
        loaned_on = _day(self.rng)
        due_on = loaned_on + dt.timedelta(days=self.rng.choice([14, 21, 28]))
        values = {"book_id": book_id, "member_id": member_id, "loaned_on": loaned_on, "due_on": due_on}
        return int(self.row("loans", values) or 0)

    def tag(self) -> int:
        return int(self.row("tags", {"name": _tag(self.rng)}) or 0)

    def book_tag(self, book_id: int, tag_id: int) -> None:
        self.row("book_tags", {"book_id": book_id, "tag_id": tag_id}, returning=False)


@pytest.fixture
def build(db: Engine, rng: random.Random) -> Builder:
    return Builder(db, rng)


def _attempt(db: Engine, action: Callable[[Connection], Any]) -> BaseException | None:
    """Run ``action`` in its own transaction; the IntegrityError it raised, or None if it succeeded.

    A success is rolled back, so a check that expected a refusal leaves no stray row behind.
    """
    with db.connect() as conn:
        transaction = conn.begin()
        try:
            action(conn)
        except IntegrityError as exc:
            transaction.rollback()
            return exc
        except DBAPIError:
            transaction.rollback()
            raise
        transaction.rollback()
    return None


def _must_refuse(db: Engine, table: str, values: dict[str, Any], *, tried: str, rule: str, hint: str) -> None:
    """INSERT ``values`` into ``table``; the database must refuse it with an integrity error."""
    statement = _describe(table, values)
    try:
        refused = _attempt(db, lambda conn: _insert(conn, table, values, returning=table != "book_tags"))
    except DBAPIError as exc:
        raise Mismatch(
            f"{tried}; the database raised an error, but not an integrity error",
            expected=f"sqlalchemy.exc.IntegrityError ({rule})",
            actual=_error(exc),
            sent=statement,
            hint=hint,
        ) from None
    if refused is None:
        raise Mismatch(
            f"{tried}; the database accepted it",
            expected=f"the INSERT is refused with an IntegrityError: {rule}",
            actual="the row was inserted",
            sent=statement,
            hint=hint,
        )


# ---------------------------------------------------------------------------- task 1: tables

COLUMN_RULES = ("R4", "R5", "R7", "R8", "R11", "R13", "R16", "R20", "R21", "R24", "R26", "R27", "R31",
                "R35", "R37", "R40", "R41", "R44", "R46")
REQUIRED: dict[str, tuple[str, ...]] = {
    "authors": ("name",),
    "books": ("isbn", "title", "author_id"),
    "members": ("email", "name"),
    "loans": ("book_id", "member_id", "loaned_on", "due_on"),
    "tags": ("name",),
}


@pytest.mark.task(1)
@pytest.mark.gate
@pytest.mark.visible
@pytest.mark.points(2)
@pytest.mark.rules("R1", "R2")
def test_create_schema(learner: Any, learner_database_url: str) -> None:
    """create_schema(database_url) runs, twice, and returns None"""
    for attempt in ("first", "second"):
        try:
            returned = learner.call("create_schema", learner_database_url)
        except learner.Raised as exc:
            if "cannot be sent" in exc.message:
                raise Mismatch(
                    f"create_schema(database_url) returned a value the judge cannot receive ({exc.message})",
                    expected="None",
                    hint="create_schema() only creates the tables: end it without a return statement.",
                ) from None
            again = (" On the second call it must leave the existing tables alone "
                     "(create_all() does, unless checkfirst=False)."
                     if attempt == "second" else "")
            raise Mismatch(
                f"the {attempt} call of create_schema(database_url) raised {exc.type}: {exc.message}"[:600],
                expected="it creates the tables and returns None"
                         + (", also when they exist" if again else ""),
                actual=(exc.details or "")[-1200:] or None,
                sent=f"create_schema({learner_database_url!r})",
                hint="create_schema() should be create_engine(database_url), "
                     "Base.metadata.create_all(engine), engine.dispose()." + again,
            ) from None
        if returned is not None:
            raise Mismatch(
                f"the {attempt} call of create_schema(database_url) returned {returned!r}",
                expected="None",
                hint="create_schema() only creates the tables: end it without a return statement.",
            )


@pytest.mark.task(1)
@pytest.mark.visible
@pytest.mark.points(1)
@pytest.mark.rules("R3")
def test_tables_exist(db: Engine) -> None:
    """create_schema() creates the six tables"""
    existing = set(inspect(db).get_table_names())
    missing = [t for t in TABLES if t not in existing]
    if missing:
        raise Mismatch(
            f"after create_schema(database_url), these tables do not exist: {', '.join(missing)}",
            expected=f"tables {', '.join(TABLES)}",
            actual=f"tables {', '.join(sorted(existing)) or '(none)'}",
            hint="Define each table on Base.metadata (a model with the README's exact __tablename__, or "
                 "a Table(...)), and have create_schema() create them in the database_url it is given.",
        )


@pytest.mark.task(1)
@pytest.mark.visible
@pytest.mark.points(1)
@pytest.mark.rules(*COLUMN_RULES)
@pytest.mark.parametrize("table", TABLES)
def test_columns(db: Engine, table: str) -> None:
    """{table} has the columns of the README"""
    _need(db, table)
    found = [c["name"] for c in inspect(db).get_columns(table)]
    missing = [c for c in COLUMNS[table] if c not in found]
    if missing:
        raise Mismatch(
            f"{table} lacks {', '.join(missing)}",
            expected=f"{table}: {', '.join(COLUMNS[table])}",
            actual=f"{table}: {', '.join(found) or 'no columns'}",
            hint="Column names come from the attribute names of your mapped classes "
                 "(or mapped_column(\"name\", ...)); they must match the README exactly.",
        )


@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules(*COLUMN_RULES)
@pytest.mark.parametrize("table", TABLES)
def test_column_types(db: Engine, table: str) -> None:
    """The columns of {table} have the types of the README"""
    _need(db, table)
    reflected = {c["name"]: c["type"] for c in inspect(db).get_columns(table)}
    problems = []
    wanted = []
    for column in COLUMNS[table]:
        if column not in reflected:
            problems.append(f"{table}.{column} does not exist")
            wanted.append(f"{table}.{column}: {TYPES[(table, column)][2]}")
            continue
        family, words, how = TYPES[(table, column)]
        found = reflected[column]
        if not isinstance(found, family):
            problems.append(f"{table}.{column} is {found}, not {words}")
            wanted.append(f"{table}.{column}: {how}")
            continue
        length = LENGTHS.get((table, column))
        size = getattr(found, "length", None)
        if length is not None and size is not None and size < length:
            problems.append(f"{table}.{column} is {found}: it cannot hold {length} characters")
            wanted.append(f"{table}.{column}: a string of up to {length} characters, String({length})")
    if problems:
        raise Mismatch(
            "Some columns have the wrong type: " + "; ".join(problems),
            expected="; ".join(wanted),
            hint="The Python type in Mapped[...] picks the column type: int → INTEGER, str → VARCHAR, "
                 "datetime.date → DATE; String(n) must be long enough for what the README says it holds.",
        )


@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R4", "R7", "R20", "R26", "R40", "R48")
@pytest.mark.parametrize("table", TABLES)
def test_primary_key(db: Engine, table: str) -> None:
    """The primary key of {table} is the one of the README"""
    _need(db, table)
    inspector = inspect(db)
    pk = list(inspector.get_pk_constraint(table).get("constrained_columns") or [])
    columns = [c["name"] for c in inspector.get_columns(table)]
    if table == "book_tags":
        problems = []
        if sorted(pk) != ["book_id", "tag_id"]:
            problems.append(f"the primary key of book_tags is ({', '.join(pk) or 'none'})")
        if "id" in columns:
            problems.append("book_tags has an id column")
        if problems:
            raise Mismatch(
                "; ".join(problems),
                expected="the primary key of book_tags is the pair (book_id, tag_id), and it has no id column",
                hint="primary_key=True on BOTH columns of book_tags (a composite key, no id), or "
                     "PrimaryKeyConstraint(\"book_id\", \"tag_id\").",
            )
        return
    if pk != ["id"]:
        raise Mismatch(
            f"the primary key of {table} is ({', '.join(pk) or 'none'}), not (id)",
            expected=f"{table}.id is the primary key",
            hint="id: Mapped[int] = mapped_column(primary_key=True)",
        )


@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R18", "R19", "R29", "R30", "R33", "R34", "R44", "R45", "R46", "R47")
@pytest.mark.parametrize("table", ["books", "loans", "book_tags"])
def test_foreign_keys(db: Engine, table: str) -> None:
    """The foreign keys of {table} are the ones of the README"""
    wanted = [(c, target, ondelete) for t, c, target, ondelete in FOREIGN_KEYS if t == table]
    _need(db, table)
    fks = inspect(db).get_foreign_keys(table)
    problems = []
    for column, target, ondelete in wanted:
        match = [fk for fk in fks if list(fk["constrained_columns"]) == [column] and fk["referred_table"] == target
                 and list(fk["referred_columns"]) == ["id"]]
        if not match:
            problems.append(f"{table}.{column} is not a foreign key to {target}.id")
            continue
        found = str((match[0].get("options") or {}).get("ondelete") or "NO ACTION").upper()
        if found != ondelete:
            problems.append(f"{table}.{column} is ON DELETE {found}, not ON DELETE {ondelete}")
    if problems:
        shown = [f"{', '.join(fk['constrained_columns'])} → {fk['referred_table']}"
                 f"({', '.join(fk['referred_columns'])}) ON DELETE "
                 f"{str((fk.get('options') or {}).get('ondelete') or 'NO ACTION').upper()}" for fk in fks]
        raise Mismatch(
            "Some foreign keys are not as the README describes: " + "; ".join(problems),
            expected="; ".join(f"{table}.{c} → {r}.id ON DELETE {o}" for c, r, o in wanted),
            actual=f"foreign keys of {table}: {'; '.join(shown) or 'none'}",
            hint="ForeignKey(\"table.id\", ondelete=\"CASCADE\") (or \"RESTRICT\") on the referencing column; "
                 "a relationship() alone makes no foreign key in the database.",
        )


# ---------------------------------------------------------------------------- task 2: valid data


def _valid_rows(rng: random.Random, table: str) -> list[tuple[str, dict[str, Any]]]:
    """The rows to insert for ``table``, after the rows they need; strings as long as the README allows."""
    author = {"name": _long(rng, 200)}
    book = {"isbn": _isbn(rng) + "".join(str(rng.randrange(10)) for _ in range(7)), "title": _long(rng, 300),
            "published_year": rng.randrange(1450, 2101)}
    other_book = {"isbn": _isbn(rng), "title": _title(rng), "published_year": None}
    member = {"email": _long(rng, 254, tail=f".{rng.randrange(10**6, 10**7)}@example.org").replace(" ", "."),
              "name": _long(rng, 200)}
    loaned_on = _day(rng)
    loan = {"loaned_on": loaned_on, "due_on": loaned_on + dt.timedelta(days=rng.choice([1, 14, 21]))}
    tag = {"name": _long(rng, 50 - 8, tail="") + f"-{rng.randrange(10**6, 10**7)}"}
    other_tag = {"name": _tag(rng)}
    plan: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "authors": [("authors", author), ("authors", {"name": _person(rng)})],
        "books": [("authors", author), ("books", book), ("books", other_book)],
        "members": [("members", member), ("members", {"email": _email(rng), "name": _person(rng)})],
        "loans": [("authors", author), ("books", book), ("members", member), ("loans", loan)],
        "tags": [("tags", tag), ("tags", other_tag)],
        "book_tags": [("authors", author), ("books", book), ("books", other_book), ("tags", tag),
                      ("tags", other_tag), ("book_tags", {"pairs": [(0, 0), (0, 1), (1, 0)]})],
    }
    return plan[table]


@pytest.mark.task(2)
@pytest.mark.visible
@pytest.mark.points(1)
@pytest.mark.rules("R4", "R5", "R7", "R8", "R11", "R14", "R20", "R21", "R24", "R26", "R35", "R37", "R40", "R41",
                   "R44", "R46")
@pytest.mark.parametrize("table", TABLES)
def test_valid_rows(db: Engine, rng: random.Random, table: str) -> None:
    """Valid rows can be inserted into {table} and read back"""
    _need(db, *NEEDS[table])
    steps = _valid_rows(rng, table)
    done: list[str] = []
    current = ""
    ids: dict[str, list[int]] = {}
    inserted: list[tuple[str, dict[str, Any], int | None]] = []
    try:
        with db.begin() as conn:
            for name, values in steps:
                if name == "book_tags":
                    for b, t in values["pairs"]:
                        row = {"book_id": ids["books"][b], "tag_id": ids["tags"][t]}
                        current = _describe("book_tags", row)
                        _insert(conn, "book_tags", row, returning=False)
                        done.append(current)
                        inserted.append(("book_tags", row, None))
                    continue
                row = dict(values)
                if name == "books":
                    row["author_id"] = ids["authors"][0]
                if name == "loans":
                    row = {"book_id": ids["books"][0], "member_id": ids["members"][0], **row}
                current = _describe(name, row)
                new_id = _insert(conn, name, row)
                done.append(current)
                ids.setdefault(name, []).append(int(new_id or 0))
                inserted.append((name, row, new_id))
    except DBAPIError as exc:
        raise Mismatch(
            f"A valid row was refused by the database (inserting into {table})",
            expected="every INSERT succeeds: all of these rows follow the README's rules "
                     "(strings as long as the README allows, published_year NULL or in 1450–2100, "
                     "a loan due after the day it was made)",
            actual=_error(exc),
            sent="\n".join([*done, current + "   ← refused"]),
            hint="Check the column names, that optional columns are nullable (Mapped[int | None]), "
                 "that ids are integer primary keys the database fills in, that String(n) is long enough, "
                 "and that your CHECK constraints accept valid values.",
        ) from None
    mine = [(row, new_id) for name, row, new_id in inserted if name == table]
    if table != "book_tags":
        new_ids = [new_id for _, new_id in mine]
        if len(set(new_ids)) != len(new_ids) or any(not isinstance(i, int) for i in new_ids):
            raise Mismatch(
                f"The database did not give each new {table} row an id of its own",
                expected="distinct integer ids, chosen by the database",
                actual=f"ids {new_ids}",
                hint="id: Mapped[int] = mapped_column(primary_key=True)",
            )
    with db.connect() as conn:
        for row, new_id in mine:
            columns = list(row)
            where = (" AND ".join(f"{c} = :{c}" for c in columns) if table == "book_tags" else "id = :id")
            params = row if table == "book_tags" else {"id": new_id}
            try:
                found = conn.execute(text(f"SELECT {', '.join(columns)} FROM {table} WHERE {where}"),
                                     params).first()
            except DBAPIError as exc:
                raise Mismatch(f"Reading {table} back failed", actual=_error(exc)) from None
            got = None if found is None else {c: (v.isoformat() if isinstance(v, dt.date) else v)
                                              for c, v in zip(columns, found, strict=True)}
            want = {c: (v.isoformat() if isinstance(v, dt.date) else v) for c, v in row.items()}
            if got != want:
                raise Mismatch(
                    f"A row inserted into {table} did not read back the same",
                    expected=str(want)[:400],
                    actual=str(got)[:400],
                    sent=_describe(table, row),
                    hint="Strings must be stored whole (String(n) long enough), dates as dates.",
                )


@pytest.mark.task(2)
@pytest.mark.points(1)
@pytest.mark.rules("R14", "R15")
def test_published_year_bounds(db: Engine, build: Builder, rng: random.Random) -> None:
    """published_year accepts 1450, 2100 and NULL"""
    _need(db, "authors", "books")
    author_id = build.author()
    for year in (1450, 2100, None, rng.randrange(1451, 2100)):
        values = {"isbn": _isbn(rng), "title": _title(rng), "published_year": year, "author_id": author_id}
        try:
            with db.begin() as conn:
                _insert(conn, "books", values)
        except DBAPIError as exc:
            if year is None:
                shown = "NULL (year unknown)"
                hint = "published_year is optional: declare it published_year: Mapped[int | None]."
            else:
                end = {1450: ", the lowest year allowed", 2100: ", the highest year allowed"}.get(year, "")
                shown = f"{year}{end} (1450–2100 inclusive)"
                hint = ("Both ends are allowed: CheckConstraint(\"published_year BETWEEN 1450 AND 2100\"), "
                        "or >= and <=, not > and <.")
            raise Mismatch(
                f"A book with published_year {shown} was refused",
                expected="the INSERT succeeds",
                actual=_error(exc),
                sent=_describe("books", values),
                hint=hint,
            ) from None


# ---------------------------------------------------------------------------- task 3: constraints


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R6", "R9", "R12", "R17", "R22", "R25", "R28", "R32", "R36", "R38", "R42")
@pytest.mark.parametrize("table", list(REQUIRED))
def test_required_columns(db: Engine, build: Builder, rng: random.Random, table: str) -> None:
    """The required columns of {table} refuse NULL"""
    _need(db, *NEEDS[table])
    valid: dict[str, Any]
    if table == "authors":
        valid = {"name": _person(rng)}
    elif table == "books":
        valid = {"isbn": _isbn(rng), "title": _title(rng), "published_year": 2000, "author_id": build.author()}
    elif table == "members":
        valid = {"email": _email(rng), "name": _person(rng)}
    elif table == "loans":
        day = _day(rng)
        valid = {"book_id": build.book(), "member_id": build.member(), "loaned_on": day,
                 "due_on": day + dt.timedelta(days=14)}
    else:
        valid = {"name": _tag(rng)}
    accepted = []
    sent = []
    for column in REQUIRED[table]:
        values = {**valid, column: None}
        try:
            refused = _attempt(db, lambda conn, v=values: _insert(conn, table, v))
        except DBAPIError as exc:
            accepted.append(f"{table}.{column} (refused, but with {_error(exc)[:120]})")
            sent.append(_describe(table, values))
            continue
        if refused is None:
            accepted.append(f"{table}.{column}")
            sent.append(_describe(table, values))
    if accepted:
        raise Mismatch(
            f"Inserted rows with NULL in each required column of {table}; NULL was accepted in "
            f"{', '.join(accepted)}",
            expected="each INSERT is refused with an IntegrityError (NOT NULL)",
            actual=f"NULL accepted in {len(accepted)} of {len(REQUIRED[table])} required columns",
            sent="\n".join(sent),
            hint="Mapped[str] / Mapped[int] / Mapped[datetime.date] (without '| None') make NOT NULL "
                 "columns; so does nullable=False. Only books.published_year may be NULL.",
        )


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R15")
def test_published_year_range(db: Engine, build: Builder, rng: random.Random) -> None:
    """A publication year outside 1450–2100 is refused"""
    _need(db, "authors", "books")
    author_id = build.author()
    build.book(author_id)  # the same book with a year inside the range is accepted
    for year in (1449, 2101, rng.randrange(0, 1449), rng.randrange(2102, 10000)):
        values = {"isbn": _isbn(rng), "title": _title(rng), "published_year": year, "author_id": author_id}
        _must_refuse(db, "books", values, tried=f"Inserted a book with published_year {year}",
                     rule="published_year must be between 1450 and 2100",
                     hint="Add __table_args__ = (CheckConstraint(\"published_year BETWEEN 1450 AND 2100\"),) "
                          "to Book.")


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R10")
def test_isbn_is_unique(db: Engine, build: Builder, rng: random.Random) -> None:
    """Two books cannot share an ISBN"""
    _need(db, "authors", "books")
    isbn = _isbn(rng)
    build.book(isbn=isbn)
    values = {"isbn": isbn, "title": _title(rng), "published_year": 2001, "author_id": build.author()}
    _must_refuse(db, "books", values,
                 tried=f"Inserted a book with isbn {isbn!r}, then a second book with the same isbn",
                 rule="books.isbn is unique",
                 hint="mapped_column(String(20), unique=True) on books.isbn.")


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R23")
def test_member_email_is_unique(db: Engine, build: Builder, rng: random.Random) -> None:
    """Two members cannot share an email address"""
    _need(db, "members")
    email = _email(rng)
    build.row("members", {"email": email, "name": _person(rng)})
    _must_refuse(db, "members", {"email": email, "name": _person(rng)},
                 tried=f"Inserted two members with email {email}",
                 rule="members.email is unique",
                 hint="mapped_column(String(254), unique=True) on members.email.")


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R43")
def test_tag_name_is_unique(db: Engine, build: Builder, rng: random.Random) -> None:
    """Two tags cannot have the same name"""
    _need(db, "tags")
    name = _tag(rng)
    build.row("tags", {"name": name})
    _must_refuse(db, "tags", {"name": name}, tried=f"Inserted two tags named {name!r}",
                 rule="tags.name is unique", hint="mapped_column(String(50), unique=True) on tags.name.")


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R39")
def test_due_after_loaned(db: Engine, build: Builder, rng: random.Random) -> None:
    """A loan due the day after it was made is accepted; due on or before that day, refused"""
    _need(db, *NEEDS["loans"])
    book_id = build.book()
    member_id = build.member()
    loaned_on = _day(rng)
    build.row("loans", {"book_id": book_id, "member_id": member_id, "loaned_on": loaned_on,
                        "due_on": loaned_on + dt.timedelta(days=1)})
    for due_on, words in [(loaned_on, "on the same day as"),
                          (loaned_on - dt.timedelta(days=1), "the day before"),
                          (loaned_on - dt.timedelta(days=rng.randrange(2, 30)), "before")]:
        values = {"book_id": book_id, "member_id": member_id, "loaned_on": loaned_on, "due_on": due_on}
        _must_refuse(db, "loans", values,
                     tried=f"Inserted a loan made on {loaned_on} and due on {due_on}, {words} loaned_on",
                     rule="due_on must be strictly after loaned_on",
                     hint="Add __table_args__ = (CheckConstraint(\"due_on > loaned_on\"),) to Loan "
                          "(> and not >=: a loan must last at least a day).")


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R48")
def test_book_tag_pair_is_unique(db: Engine, build: Builder) -> None:
    """The same tag cannot be attached to a book twice"""
    _need(db, *NEEDS["book_tags"])
    book_id = build.book()
    tag_id = build.tag()
    build.book_tag(book_id, tag_id)
    _must_refuse(db, "book_tags", {"book_id": book_id, "tag_id": tag_id},
                 tried=f"Inserted the book_tags row (book_id {book_id}, tag_id {tag_id}) twice",
                 rule="(book_id, tag_id) is the primary key of book_tags",
                 hint="Make book_id and tag_id together the primary key: primary_key=True on both columns "
                      "(or PrimaryKeyConstraint(\"book_id\", \"tag_id\")), with no id column of its own.")


def _missing_id(db: Engine, table: str, rng: random.Random) -> int:
    return _count(db, f"SELECT COALESCE(MAX(id), 0) FROM {table}") + rng.randrange(1000, 100000)


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R18")
def test_book_needs_existing_author(db: Engine, build: Builder, rng: random.Random) -> None:
    """A book whose author does not exist is refused"""
    _need(db, "authors", "books")
    build.book()  # a book whose author exists is accepted
    missing = _missing_id(db, "authors", rng)
    values = {"isbn": _isbn(rng), "title": _title(rng), "published_year": 1990, "author_id": missing}
    _must_refuse(db, "books", values, tried=f"Inserted a book with author_id {missing}, an id no author has",
                 rule="books.author_id is a foreign key to authors.id",
                 hint="author_id: Mapped[int] = "
                      "mapped_column(ForeignKey(\"authors.id\", ondelete=\"RESTRICT\")).")


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R29", "R33")
def test_loan_needs_existing_book_and_member(db: Engine, build: Builder, rng: random.Random) -> None:
    """A loan whose book or member does not exist is refused"""
    _need(db, *NEEDS["loans"])
    book_id = build.book()
    member_id = build.member()
    missing_book = _missing_id(db, "books", rng)
    missing_member = _missing_id(db, "members", rng)
    loaned_on = _day(rng)
    due_on = loaned_on + dt.timedelta(days=14)
    for column, value, other, other_value, target in [
        ("book_id", missing_book, "member_id", member_id, "books"),
        ("member_id", missing_member, "book_id", book_id, "members"),
    ]:
        values = {column: value, other: other_value, "loaned_on": loaned_on, "due_on": due_on}
        _must_refuse(db, "loans", values,
                     tried=f"Inserted a loan with {column} {value}, an id that is not in {target}",
                     rule=f"loans.{column} is a foreign key to {target}.id",
                     hint=f"{column}: Mapped[int] = "
                          f"mapped_column(ForeignKey(\"{target}.id\", ondelete=\"CASCADE\")).")


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R44", "R46")
def test_book_tag_needs_existing_book_and_tag(db: Engine, build: Builder, rng: random.Random) -> None:
    """A book_tags row whose book or tag does not exist is refused"""
    _need(db, *NEEDS["book_tags"])
    book_id = build.book()
    tag_id = build.tag()
    for column, value, other, other_value, target in [
        ("book_id", _missing_id(db, "books", rng), "tag_id", tag_id, "books"),
        ("tag_id", _missing_id(db, "tags", rng), "book_id", book_id, "tags"),
    ]:
        values = {column: value, other: other_value}
        _must_refuse(db, "book_tags", values,
                     tried=f"Inserted a book_tags row with {column} {value}, an id that is not in {target}",
                     rule=f"book_tags.{column} is a foreign key to {target}.id",
                     hint=f"Column(\"{column}\", ForeignKey(\"{target}.id\", ondelete=\"CASCADE\"), "
                          "primary_key=True) in book_tags.")


# ---------------------------------------------------------------------------- task 4: deletes


def _delete(db: Engine, table: str, row_id: int) -> BaseException | None:
    """DELETE one row in its own transaction (committed); the IntegrityError it raised, if any."""
    sql = f"DELETE FROM {table} WHERE id = :id"
    try:
        with db.begin() as conn:
            conn.execute(text(sql), {"id": row_id})
    except IntegrityError as exc:
        return exc
    except DBAPIError as exc:
        raise Mismatch(
            f"DELETE FROM {table} failed, and not because of a constraint",
            expected="the DELETE succeeds or is refused with an IntegrityError",
            actual=_error(exc),
            sent=f"DELETE FROM {table} WHERE id = {row_id}",
            hint="Compare your tables with the README's.",
        ) from None
    return None


@pytest.mark.task(4)
@pytest.mark.visible
@pytest.mark.points(2)
@pytest.mark.rules("R34")
def test_deleting_member_deletes_their_loans(db: Engine, build: Builder) -> None:
    """Deleting a member deletes their loans"""
    _need(db, *NEEDS["loans"])
    member_id = build.member()
    other_member = build.member()
    books = [build.book() for _ in range(2)]
    for book_id in books:
        build.loan(book_id, member_id)
    build.loan(books[0], other_member)
    sent = f"DELETE FROM members WHERE id = {member_id}   (a member with 2 loans)"
    refused = _delete(db, "members", member_id)
    if refused is not None:
        raise Mismatch(
            "Deleting a member who has loans was refused",
            expected="the member and their 2 loans are deleted",
            actual=_error(refused),
            sent=sent,
            hint="Put the rule on the foreign key: ForeignKey(\"members.id\", ondelete=\"CASCADE\") on "
                 "loans.member_id. A relationship(cascade=...) only works through a Session.",
        )
    left = _count(db, "SELECT COUNT(*) FROM loans WHERE member_id = :m", m=member_id)
    others = _count(db, "SELECT COUNT(*) FROM loans WHERE member_id = :m", m=other_member)
    if left:
        raise Mismatch(
            "A member was deleted, but their loans were left behind",
            expected="0 loans with that member_id",
            actual=f"{left} loans still point to member {member_id}",
            sent=sent,
            hint="ForeignKey(\"members.id\", ondelete=\"CASCADE\") on loans.member_id.",
        )
    if others != 1:
        raise Mismatch(
            "Deleting a member also deleted another member's loan",
            expected="the other member keeps their 1 loan",
            actual=f"the other member has {others} loans",
            sent=sent,
            hint="Only loans whose member_id is the deleted member should go: check loans.member_id's "
                 "foreign key points to members.id.",
        )


@pytest.mark.task(4)
@pytest.mark.points(1)
@pytest.mark.rules("R30")
def test_deleting_book_deletes_its_loans(db: Engine, build: Builder) -> None:
    """Deleting a book deletes its loans"""
    _need(db, *NEEDS["loans"])
    author_id = build.author()
    book_id = build.book(author_id)
    other_book = build.book(author_id)
    member_id = build.member()
    build.loan(book_id, member_id)
    build.loan(other_book, member_id)
    sent = f"DELETE FROM books WHERE id = {book_id}   (a book with 1 loan)"
    refused = _delete(db, "books", book_id)
    if refused is not None:
        raise Mismatch(
            "Deleting a book that has a loan was refused",
            expected="the book and its loan are deleted",
            actual=_error(refused),
            sent=sent,
            hint="ForeignKey(\"books.id\", ondelete=\"CASCADE\") on loans.book_id.",
        )
    loans = _count(db, "SELECT COUNT(*) FROM loans WHERE book_id = :b", b=book_id)
    if loans:
        raise Mismatch(
            "A book was deleted, but its loans were left behind",
            expected="0 loans with that book_id",
            actual=f"{loans} loans still point to book {book_id}",
            sent=sent,
            hint="ForeignKey(\"books.id\", ondelete=\"CASCADE\") on loans.book_id.",
        )
    kept = {
        "loan": _count(db, "SELECT COUNT(*) FROM loans WHERE book_id = :b", b=other_book),
        "member": _count(db, "SELECT COUNT(*) FROM members WHERE id = :m", m=member_id),
        "author": _count(db, "SELECT COUNT(*) FROM authors WHERE id = :a", a=author_id),
    }
    if kept != {"loan": 1, "member": 1, "author": 1}:
        raise Mismatch(
            "Deleting a book also deleted other rows",
            expected="the other book's loan, the borrower and the author are still there",
            actual=f"{kept['loan']} of 1 other loan, {kept['member']} of 1 member, "
                   f"{kept['author']} of 1 author left",
            sent=sent,
            hint="ON DELETE CASCADE goes on the referencing side only (loans.book_id); "
                 "nothing should cascade from books to members or authors.",
        )


@pytest.mark.task(4)
@pytest.mark.points(1)
@pytest.mark.rules("R45")
def test_deleting_book_deletes_its_tags(db: Engine, build: Builder) -> None:
    """Deleting a book removes its book_tags rows and keeps its tags"""
    _need(db, *NEEDS["book_tags"])
    book_id = build.book()
    other_book = build.book()
    tags = [build.tag() for _ in range(2)]
    for tag_id in tags:
        build.book_tag(book_id, tag_id)
    build.book_tag(other_book, tags[0])
    sent = f"DELETE FROM books WHERE id = {book_id}   (a book with 2 tags)"
    refused = _delete(db, "books", book_id)
    if refused is not None:
        raise Mismatch(
            "Deleting a book that has tags was refused",
            expected="the book and its book_tags rows are deleted",
            actual=_error(refused),
            sent=sent,
            hint="ForeignKey(\"books.id\", ondelete=\"CASCADE\") on book_tags.book_id.",
        )
    links = _count(db, "SELECT COUNT(*) FROM book_tags WHERE book_id = :b", b=book_id)
    if links:
        raise Mismatch(
            "A book was deleted, but its book_tags rows were left behind",
            expected="0 book_tags rows with that book_id",
            actual=f"{links} book_tags rows still point to book {book_id}",
            sent=sent,
            hint="ForeignKey(\"books.id\", ondelete=\"CASCADE\") on book_tags.book_id.",
        )
    kept_tags = _count(db, f"SELECT COUNT(*) FROM tags WHERE id IN ({tags[0]}, {tags[1]})")
    kept_links = _count(db, "SELECT COUNT(*) FROM book_tags WHERE book_id = :b", b=other_book)
    if kept_tags != 2 or kept_links != 1:
        raise Mismatch(
            "Deleting a book also deleted other rows",
            expected="the book's 2 tags are still in tags, and the other book keeps its tag",
            actual=f"{kept_tags} of 2 tags left, the other book has {kept_links} of 1 book_tags rows",
            sent=sent,
            hint="ON DELETE CASCADE goes on the referencing side only (book_tags); "
                 "nothing should cascade from books to tags.",
        )


@pytest.mark.task(4)
@pytest.mark.points(1)
@pytest.mark.rules("R47")
def test_deleting_tag_removes_it_from_books(db: Engine, build: Builder) -> None:
    """Deleting a tag removes it from its books"""
    _need(db, *NEEDS["book_tags"])
    book_id = build.book()
    tag_id = build.tag()
    other_tag = build.tag()
    build.book_tag(book_id, tag_id)
    build.book_tag(book_id, other_tag)
    sent = f"DELETE FROM tags WHERE id = {tag_id}   (a tag on 1 book)"
    refused = _delete(db, "tags", tag_id)
    if refused is not None:
        raise Mismatch(
            "Deleting a tag that is on a book was refused",
            expected="the tag and its book_tags rows are deleted",
            actual=_error(refused),
            sent=sent,
            hint="ForeignKey(\"tags.id\", ondelete=\"CASCADE\") on book_tags.tag_id.",
        )
    links = _count(db, "SELECT COUNT(*) FROM book_tags WHERE tag_id = :t", t=tag_id)
    kept = _count(db, "SELECT COUNT(*) FROM book_tags WHERE book_id = :b", b=book_id)
    books = _count(db, "SELECT COUNT(*) FROM books WHERE id = :b", b=book_id)
    if links or kept != 1 or books != 1:
        raise Mismatch(
            "Deleting a tag did not just remove that tag from its book",
            expected="0 book_tags rows for the tag; the book keeps its other tag and still exists",
            actual=f"{links} book_tags rows for the deleted tag, the book has {kept} tags, "
                   f"book exists: {bool(books)}",
            sent=sent,
            hint="ForeignKey(\"tags.id\", ondelete=\"CASCADE\") on book_tags.tag_id.",
        )


@pytest.mark.task(4)
@pytest.mark.points(2)
@pytest.mark.rules("R19")
def test_deleting_author_with_books_is_refused(db: Engine, build: Builder) -> None:
    """Deleting an author who has books is refused"""
    _need(db, "authors", "books")
    author_id = build.author()
    book_id = build.book(author_id)
    sent = f"DELETE FROM authors WHERE id = {author_id}   (an author with 1 book)"
    refused = _delete(db, "authors", author_id)
    if refused is None:
        books = _count(db, "SELECT COUNT(*) FROM books WHERE id = :b", b=book_id)
        raise Mismatch(
            "Deleting an author who has a book succeeded",
            expected="the DELETE is refused with an IntegrityError (ON DELETE RESTRICT)",
            actual="the author was deleted, and " + ("their book was deleted too (CASCADE)" if not books
                                                     else "their book now points to a missing author"),
            sent=sent,
            hint="ForeignKey(\"authors.id\", ondelete=\"RESTRICT\") on books.author_id: "
                 "a library must not lose books because an author record is removed.",
        )
    lonely = build.author()
    refused = _delete(db, "authors", lonely)
    if refused is not None:
        raise Mismatch(
            "Deleting an author with no books was refused",
            expected="the author is deleted",
            actual=_error(refused),
            sent=f"DELETE FROM authors WHERE id = {lonely}   (an author with no books)",
            hint="Only authors who still have books are protected; "
                 "check which foreign keys point to authors.",
        )
