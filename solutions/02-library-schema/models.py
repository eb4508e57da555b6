"""The lending library's schema: SQLAlchemy 2.x declarative models, and create_schema()."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, Table, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


# The many-to-many association: the pair (book_id, tag_id) is the primary key, so a tag cannot be
# attached to the same book twice, and deleting a book or a tag removes its rows here.
book_tags = Table(
    "book_tags",
    Base.metadata,
    Column("book_id", ForeignKey("books.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))

    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "books"
    __table_args__ = (
        CheckConstraint("published_year BETWEEN 1450 AND 2100", name="ck_books_published_year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    isbn: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    published_year: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="RESTRICT"))

    author: Mapped[Author] = relationship(back_populates="books")
    loans: Mapped[list[Loan]] = relationship(back_populates="book", passive_deletes=True)
    tags: Mapped[list[Tag]] = relationship(secondary=book_tags, back_populates="books")


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    loans: Mapped[list[Loan]] = relationship(back_populates="member", passive_deletes=True)


class Loan(Base):
    __tablename__ = "loans"
    __table_args__ = (CheckConstraint("due_on > loaned_on", name="ck_loans_due_after_loaned"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    loaned_on: Mapped[date]
    due_on: Mapped[date]

    book: Mapped[Book] = relationship(back_populates="loans")
    member: Mapped[Member] = relationship(back_populates="loans")


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)

    books: Mapped[list[Book]] = relationship(secondary=book_tags, back_populates="tags")


def create_schema(database_url: str) -> None:
    """Create every table of the schema (tables that already exist are left alone)."""
    engine = create_engine(database_url)
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()
