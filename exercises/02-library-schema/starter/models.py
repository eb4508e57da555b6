"""The lending library's schema: SQLAlchemy 2.x declarative models, and create_schema().

Read README.md for the exact tables, columns and rules. Every rule must be a constraint in the
database: the judge checks your tables with plain SQL, never through these classes.
"""

from __future__ import annotations

from datetime import date  # noqa: F401 - you will need it for the loan dates

from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table, create_engine  # noqa: F401
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship  # noqa: F401


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    # TODO: name (required string, up to 200 characters)


class Book(Base):
    __tablename__ = "books"
    # TODO: __table_args__ with a CheckConstraint: published_year between 1450 and 2100

    id: Mapped[int] = mapped_column(primary_key=True)
    # TODO: isbn (required, unique), title (required), published_year (optional integer),
    # TODO: author_id (required foreign key to authors.id; an author with books cannot be deleted)


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    # TODO: email (required, unique), name (required)


class Loan(Base):
    __tablename__ = "loans"
    # TODO: __table_args__ with a CheckConstraint: due_on strictly after loaned_on

    id: Mapped[int] = mapped_column(primary_key=True)
    # TODO: book_id and member_id (required foreign keys; deleting the book or the member deletes the loan)
    # TODO: loaned_on and due_on (required dates)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    # TODO: name (required, unique)


# TODO: the many-to-many association "book_tags" between books and tags: columns book_id and tag_id
# (foreign keys; deleting a book or a tag deletes its rows here), and the pair (book_id, tag_id) as the
# primary key. Either a Table("book_tags", Base.metadata, Column(...), ...) or a mapped class.


def create_schema(database_url: str) -> None:
    """Create every table of the schema (tables that already exist are left alone)."""
    engine = create_engine(database_url)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()
