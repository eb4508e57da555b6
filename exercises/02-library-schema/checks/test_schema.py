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

FOREIGN_KEYS = [
    ("books", "author_id", "authors"),
    ("loans", "book_id", "books"),
    ("loans", "member_id", "members"),
    ("book_tags", "book_id", "books"),
    ("book_tags", "tag_id", "tags"),
]

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
    with db.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


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


@pytest.mark.task(1)
@pytest.mark.gate
@pytest.mark.visible
@pytest.mark.points(2)
def test_create_schema(learner: Any, learner_database_url: str, db: Engine) -> None:
    """create_schema() creates the tables"""
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
            again = (" On the second call it must leave the existing tables alone."
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
                f"create_schema(database_url) returned {returned!r}",
                expected="None",
                hint="create_schema() only creates the tables: end it without a return statement.",
            )
        existing = set(inspect(db).get_table_names())
        missing = [t for t in TABLES if t not in existing]
        if missing:
            raise Mismatch(
                f"after the {attempt} call of create_schema(database_url), "
                f"these tables do not exist: {', '.join(missing)}",
                expected=f"tables {', '.join(TABLES)}",
                actual=f"tables {', '.join(sorted(existing)) or '(none)'}",
                sent=f"create_schema({learner_database_url!r})",
                hint="Each model class needs __tablename__ set to the exact name from the README, and must "
                     "subclass the same Base whose metadata create_schema() creates; a Table(...) must be "
                     "defined on Base.metadata.",
            )


@pytest.mark.task(1)
@pytest.mark.visible
@pytest.mark.points(2)
def test_columns(db: Engine) -> None:
    """Every table has the columns of the README"""
    inspector = inspect(db)
    problems = []
    for table, columns in COLUMNS.items():
        found = [c["name"] for c in inspector.get_columns(table)]
        missing = [c for c in columns if c not in found]
        if missing:
            problems.append(f"{table} lacks {', '.join(missing)} (has {', '.join(found) or 'no columns'})")
    if problems:
        raise Mismatch(
            "Some columns are missing: " + "; ".join(problems),
            expected="; ".join(f"{t}: {', '.join(c)}" for t, c in COLUMNS.items()),
            hint="Column names come from the attribute names of your mapped classes "
                 "(or mapped_column(\"name\", ...)); they must match the README exactly.",
        )


@pytest.mark.task(1)
@pytest.mark.points(1)
def test_column_types(db: Engine) -> None:
    """Columns have integer, string and date types"""
    inspector = inspect(db)
    problems = []
    wanted = []
    for table in COLUMNS:
        reflected = {c["name"]: c["type"] for c in inspector.get_columns(table)}
        for (t, column), (family, words, how) in TYPES.items():
            if t != table or column not in reflected:
                continue
            if not isinstance(reflected[column], family):
                problems.append(f"{table}.{column} is {reflected[column]}, not {words}")
                wanted.append(f"{table}.{column}: {how}")
    if problems:
        raise Mismatch(
            "Some columns have the wrong type: " + "; ".join(problems),
            expected="; ".join(wanted),
            hint="The Python type in Mapped[...] picks the column type: int → INTEGER, str → VARCHAR, "
                 "datetime.date → DATE.",
        )


@pytest.mark.task(1)
@pytest.mark.points(2)
def test_keys(db: Engine) -> None:
    """Primary keys and foreign keys are the ones of the README"""
    inspector = inspect(db)
    problems = []
    for table in TABLES:
        if table == "book_tags":
            continue
        pk = inspector.get_pk_constraint(table).get("constrained_columns") or []
        if list(pk) != ["id"]:
            problems.append(f"the primary key of {table} is ({', '.join(pk)}), not (id)")
    pk = inspector.get_pk_constraint("book_tags").get("constrained_columns") or []
    if sorted(pk) != ["book_id", "tag_id"]:
        problems.append(f"the primary key of book_tags is ({', '.join(pk) or 'none'}), not (book_id, tag_id)")
    for table, column, target in FOREIGN_KEYS:
        fks = inspector.get_foreign_keys(table)
        if not any(list(fk["constrained_columns"]) == [column] and fk["referred_table"] == target
                   and list(fk["referred_columns"]) == ["id"] for fk in fks):
            found = [f"{', '.join(fk['constrained_columns'])} → {fk['referred_table']}"
                     f"({', '.join(fk['referred_columns'])})" for fk in fks]
            problems.append(f"{table}.{column} is not a foreign key to {target}.id "
                            f"(foreign keys of {table}: {'; '.join(found) or 'none'})")
    if problems:
        raise Mismatch(
            "Some keys are not as the README describes: " + "; ".join(problems),
            expected="id is the primary key of authors, books, members, loans and tags; "
                     "(book_id, tag_id) is the primary key of book_tags; "
                     + "; ".join(f"{t}.{c} → {r}.id" for t, c, r in FOREIGN_KEYS),
            hint="Use mapped_column(primary_key=True) for ids, ForeignKey(\"table.id\", ondelete=...) for "
                 "references, and primary_key=True on BOTH columns of book_tags (a composite key, no id).",
        )


# ---------------------------------------------------------------------------- task 2: valid data


@pytest.mark.task(2)
@pytest.mark.visible
@pytest.mark.points(2)
def test_valid_rows(db: Engine, rng: random.Random) -> None:
    """Valid rows can be inserted into every table"""
    author = {"name": _person(rng)}
    book = {"isbn": _isbn(rng), "title": _title(rng), "published_year": rng.randrange(1850, 2025)}
    other_book = {"isbn": _isbn(rng), "title": _title(rng), "published_year": None}
    member = {"email": _email(rng), "name": _person(rng)}
    loaned_on = _day(rng)
    loan = {"loaned_on": loaned_on, "due_on": loaned_on + dt.timedelta(days=21)}
    tags = [{"name": _tag(rng)}, {"name": _tag(rng)}]
    done: list[str] = []
    current = ""
    try:
        with db.begin() as conn:
            current = _describe("authors", author)
            author_id = _insert(conn, "authors", author)
            done.append(current)
            book_ids = []
            for values in (book, other_book):
                values = {**values, "author_id": author_id}
                current = _describe("books", values)
                book_ids.append(_insert(conn, "books", values))
                done.append(current)
            current = _describe("members", member)
            member_id = _insert(conn, "members", member)
            done.append(current)
            values = {"book_id": book_ids[0], "member_id": member_id, **loan}
            current = _describe("loans", values)
            _insert(conn, "loans", values)
            done.append(current)
            tag_ids = []
            for values in tags:
                current = _describe("tags", values)
                tag_ids.append(_insert(conn, "tags", values))
                done.append(current)
            pairs = [(book_ids[0], tag_ids[0]), (book_ids[0], tag_ids[1]), (book_ids[1], tag_ids[0])]
            for book_id, tag_id in pairs:
                values = {"book_id": book_id, "tag_id": tag_id}
                current = _describe("book_tags", values)
                _insert(conn, "book_tags", values, returning=False)
                done.append(current)
    except DBAPIError as exc:
        raise Mismatch(
            "A valid row was refused by the database",
            expected="every INSERT succeeds: all of these rows follow the README's rules",
            actual=_error(exc),
            sent="\n".join([*done, current + "   ← refused"]),
            hint="Check the column names, that optional columns are nullable (Mapped[int | None]), "
                 "that ids are integer primary keys the database fills in, and that your CHECK "
                 "constraints accept valid values.",
        ) from None
    with db.connect() as conn:
        row = conn.execute(
            text("SELECT b.title, a.name, l.due_on FROM loans l JOIN books b ON b.id = l.book_id "
                 "JOIN authors a ON a.id = b.author_id WHERE l.member_id = :m"),
            {"m": member_id},
        ).first()
        tagged = int(conn.execute(text("SELECT COUNT(*) FROM book_tags WHERE book_id = :b"),
                                  {"b": book_ids[0]}).scalar_one())
    if row is None or row[0] != book["title"] or row[1] != author["name"] or tagged != 2:
        raise Mismatch(
            "The rows were inserted, but reading them back joined across the foreign keys did not find them",
            expected=f"loan of {book['title']!r} by {author['name']!r}, and 2 tags on that book",
            actual=f"loan row {tuple(row) if row else None}, {tagged} tags on that book",
            hint="Check that the foreign keys point to the right tables (loans.book_id → books.id, ...).",
        )


@pytest.mark.task(2)
@pytest.mark.points(1)
def test_published_year_bounds(db: Engine, build: Builder, rng: random.Random) -> None:
    """published_year accepts 1450, 2100 and NULL"""
    author_id = build.author()
    for year in (1450, 2100, None):
        values = {"isbn": _isbn(rng), "title": _title(rng), "published_year": year, "author_id": author_id}
        try:
            with db.begin() as conn:
                _insert(conn, "books", values)
        except DBAPIError as exc:
            if year is None:
                shown = "NULL (year unknown)"
                hint = "published_year is optional: declare it published_year: Mapped[int | None]."
            else:
                end = "lowest" if year == 1450 else "highest"
                shown = f"{year}, the {end} year allowed (1450–2100 inclusive)"
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
def test_isbn_is_unique(db: Engine, build: Builder, rng: random.Random) -> None:
    """Two books cannot share an ISBN"""
    isbn = _isbn(rng)
    build.book(isbn=isbn)
    values = {"isbn": isbn, "title": _title(rng), "published_year": 2001, "author_id": build.author()}
    _must_refuse(db, "books", values,
                 tried=f"Inserted a book with isbn {isbn!r}, then a second book with the same isbn",
                 rule="books.isbn is unique",
                 hint="mapped_column(String(20), unique=True) on books.isbn.")


@pytest.mark.task(3)
@pytest.mark.points(1)
def test_title_is_required(db: Engine, build: Builder, rng: random.Random) -> None:
    """A book without a title is refused"""
    author_id = build.author()
    build.book(author_id)  # the same book with a title is accepted
    values = {"isbn": _isbn(rng), "title": None, "published_year": 1999, "author_id": author_id}
    _must_refuse(db, "books", values, tried="Inserted a book with title NULL",
                 rule="books.title is NOT NULL",
                 hint="Mapped[str] (not Mapped[str | None]) makes a NOT NULL column; or nullable=False.")


@pytest.mark.task(3)
@pytest.mark.points(1)
def test_other_required_columns(db: Engine, build: Builder, rng: random.Random) -> None:
    """The other required columns refuse NULL"""
    author_id = build.author()
    book_id = build.book(author_id)
    member_id = build.member()
    day = _day(rng)
    later = day + dt.timedelta(days=14)
    cases = [
        ("authors", "name", {"name": None}),
        ("books", "isbn", {"isbn": None, "title": _title(rng), "published_year": 2000,
                           "author_id": author_id}),
        ("books", "author_id", {"isbn": _isbn(rng), "title": _title(rng), "published_year": 2000,
                                "author_id": None}),
        ("members", "email", {"email": None, "name": _person(rng)}),
        ("members", "name", {"email": _email(rng), "name": None}),
        ("loans", "book_id", {"book_id": None, "member_id": member_id, "loaned_on": day, "due_on": later}),
        ("loans", "member_id", {"book_id": book_id, "member_id": None, "loaned_on": day, "due_on": later}),
        ("loans", "loaned_on", {"book_id": book_id, "member_id": member_id, "loaned_on": None,
                                "due_on": later}),
        ("loans", "due_on", {"book_id": book_id, "member_id": member_id, "loaned_on": day, "due_on": None}),
        ("tags", "name", {"name": None}),
    ]
    accepted = []
    sent = []
    for table, column, values in cases:
        try:
            refused = _attempt(db, lambda conn, t=table, v=values: _insert(conn, t, v))
        except DBAPIError as exc:
            accepted.append(f"{table}.{column} (refused, but with {_error(exc)[:120]})")
            sent.append(_describe(table, values))
            continue
        if refused is None:
            accepted.append(f"{table}.{column}")
            sent.append(_describe(table, values))
    if accepted:
        raise Mismatch(
            f"Inserted rows with NULL in each required column; NULL was accepted in {', '.join(accepted)}",
            expected="each INSERT is refused with an IntegrityError (NOT NULL)",
            actual=f"NULL accepted in {len(accepted)} of {len(cases)} required columns",
            sent="\n".join(sent),
            hint="Mapped[str] / Mapped[int] / Mapped[datetime.date] (without '| None') make NOT NULL "
                 "columns; so does nullable=False. Only books.published_year may be NULL.",
        )


@pytest.mark.task(3)
@pytest.mark.points(1)
def test_published_year_range(db: Engine, build: Builder, rng: random.Random) -> None:
    """A publication year outside 1450–2100 is refused"""
    author_id = build.author()
    build.book(author_id)  # the same book with a year inside the range is accepted
    for year in (rng.choice([1200, 1066, 1449]), rng.choice([2101, 2500, 3024])):
        values = {"isbn": _isbn(rng), "title": _title(rng), "published_year": year, "author_id": author_id}
        _must_refuse(db, "books", values, tried=f"Inserted a book with published_year {year}",
                     rule="published_year must be between 1450 and 2100",
                     hint="Add __table_args__ = (CheckConstraint(\"published_year BETWEEN 1450 AND 2100\"),) "
                          "to Book.")


@pytest.mark.task(3)
@pytest.mark.points(1)
def test_member_email_is_unique(db: Engine, build: Builder, rng: random.Random) -> None:
    """Two members cannot share an email address"""
    email = _email(rng)
    build.row("members", {"email": email, "name": _person(rng)})
    _must_refuse(db, "members", {"email": email, "name": _person(rng)},
                 tried=f"Inserted two members with email {email}",
                 rule="members.email is unique",
                 hint="mapped_column(String(254), unique=True) on members.email.")


@pytest.mark.task(3)
@pytest.mark.points(1)
def test_tag_name_is_unique(db: Engine, build: Builder, rng: random.Random) -> None:
    """Two tags cannot have the same name"""
    name = _tag(rng)
    build.row("tags", {"name": name})
    _must_refuse(db, "tags", {"name": name}, tried=f"Inserted two tags named {name!r}",
                 rule="tags.name is unique", hint="mapped_column(String(50), unique=True) on tags.name.")


@pytest.mark.task(3)
@pytest.mark.points(1)
def test_due_after_loaned(db: Engine, build: Builder, rng: random.Random) -> None:
    """A loan due on or before the day it was made is refused"""
    book_id = build.book()
    member_id = build.member()
    loaned_on = _day(rng)
    for due_on, words in [(loaned_on - dt.timedelta(days=rng.randrange(1, 30)), "before"),
                          (loaned_on, "on the same day as")]:
        values = {"book_id": book_id, "member_id": member_id, "loaned_on": loaned_on, "due_on": due_on}
        _must_refuse(db, "loans", values,
                     tried=f"Inserted a loan made on {loaned_on} and due on {due_on}, {words} loaned_on",
                     rule="due_on must be strictly after loaned_on",
                     hint="Add __table_args__ = (CheckConstraint(\"due_on > loaned_on\"),) to Loan "
                          "(> and not >=: a loan must last at least a day).")


@pytest.mark.task(3)
@pytest.mark.points(1)
def test_book_tag_pair_is_unique(db: Engine, build: Builder) -> None:
    """The same tag cannot be attached to a book twice"""
    book_id = build.book()
    tag_id = build.tag()
    build.book_tag(book_id, tag_id)
    _must_refuse(db, "book_tags", {"book_id": book_id, "tag_id": tag_id},
                 tried=f"Inserted the book_tags row (book_id {book_id}, tag_id {tag_id}) twice",
                 rule="(book_id, tag_id) is the primary key of book_tags",
                 hint="Make book_id and tag_id together the primary key: primary_key=True on both columns "
                      "(or PrimaryKeyConstraint(\"book_id\", \"tag_id\")), with no id column of its own.")


@pytest.mark.task(3)
@pytest.mark.points(1)
def test_book_needs_existing_author(db: Engine, build: Builder, rng: random.Random) -> None:
    """A book whose author does not exist is refused"""
    build.book()  # a book whose author exists is accepted
    missing = _count(db, "SELECT COALESCE(MAX(id), 0) FROM authors") + rng.randrange(1000, 100000)
    values = {"isbn": _isbn(rng), "title": _title(rng), "published_year": 1990, "author_id": missing}
    _must_refuse(db, "books", values, tried=f"Inserted a book with author_id {missing}, an id no author has",
                 rule="books.author_id is a foreign key to authors.id",
                 hint="author_id: Mapped[int] = "
                      "mapped_column(ForeignKey(\"authors.id\", ondelete=\"RESTRICT\")).")


@pytest.mark.task(3)
@pytest.mark.points(1)
def test_loan_needs_existing_book_and_member(db: Engine, build: Builder, rng: random.Random) -> None:
    """A loan whose book or member does not exist is refused"""
    book_id = build.book()
    member_id = build.member()
    missing_book = _count(db, "SELECT COALESCE(MAX(id), 0) FROM books") + rng.randrange(1000, 100000)
    missing_member = _count(db, "SELECT COALESCE(MAX(id), 0) FROM members") + rng.randrange(1000, 100000)
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


# ---------------------------------------------------------------------------- task 4: deletes


def _delete(db: Engine, table: str, row_id: int) -> BaseException | None:
    """DELETE one row in its own transaction (committed); the IntegrityError it raised, if any."""
    try:
        with db.begin() as conn:
            conn.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": row_id})
    except IntegrityError as exc:
        return exc
    return None


@pytest.mark.task(4)
@pytest.mark.visible
@pytest.mark.points(2)
def test_deleting_member_deletes_their_loans(db: Engine, build: Builder) -> None:
    """Deleting a member deletes their loans"""
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
@pytest.mark.points(2)
def test_deleting_book_deletes_its_loans_and_tags(db: Engine, build: Builder) -> None:
    """Deleting a book deletes its loans and its book_tags rows"""
    author_id = build.author()
    book_id = build.book(author_id)
    member_id = build.member()
    tags = [build.tag() for _ in range(2)]
    for tag_id in tags:
        build.book_tag(book_id, tag_id)
    build.loan(book_id, member_id)
    sent = f"DELETE FROM books WHERE id = {book_id}   (a book with 1 loan and 2 tags)"
    refused = _delete(db, "books", book_id)
    if refused is not None:
        raise Mismatch(
            "Deleting a book that has loans and tags was refused",
            expected="the book, its loan and its book_tags rows are deleted",
            actual=_error(refused),
            sent=sent,
            hint="ForeignKey(\"books.id\", ondelete=\"CASCADE\") on loans.book_id and on book_tags.book_id.",
        )
    loans = _count(db, "SELECT COUNT(*) FROM loans WHERE book_id = :b", b=book_id)
    links = _count(db, "SELECT COUNT(*) FROM book_tags WHERE book_id = :b", b=book_id)
    if loans or links:
        raise Mismatch(
            "A book was deleted, but rows pointing to it were left behind",
            expected="0 loans and 0 book_tags rows with that book_id",
            actual=f"{loans} loans and {links} book_tags rows still point to book {book_id}",
            sent=sent,
            hint="ForeignKey(\"books.id\", ondelete=\"CASCADE\") on loans.book_id and on book_tags.book_id.",
        )
    kept = {
        "tags": _count(db, f"SELECT COUNT(*) FROM tags WHERE id IN ({tags[0]}, {tags[1]})"),
        "member": _count(db, "SELECT COUNT(*) FROM members WHERE id = :m", m=member_id),
        "author": _count(db, "SELECT COUNT(*) FROM authors WHERE id = :a", a=author_id),
    }
    if kept != {"tags": 2, "member": 1, "author": 1}:
        raise Mismatch(
            "Deleting a book also deleted rows it points to",
            expected="the book's 2 tags, its borrower and its author are still there",
            actual=f"{kept['tags']} of 2 tags, {kept['member']} of 1 member, "
                   f"{kept['author']} of 1 author left",
            sent=sent,
            hint="ON DELETE CASCADE goes on the referencing side only (loans, book_tags); "
                 "nothing should cascade from books to tags, members or authors.",
        )


@pytest.mark.task(4)
@pytest.mark.points(1)
def test_deleting_tag_removes_it_from_books(db: Engine, build: Builder) -> None:
    """Deleting a tag removes it from its books"""
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
def test_deleting_author_with_books_is_refused(db: Engine, build: Builder) -> None:
    """Deleting an author who has books is refused"""
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
