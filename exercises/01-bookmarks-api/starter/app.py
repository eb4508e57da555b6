"""Bookmarks API: a small REST resource with Flask and SQLAlchemy 2.

Read README.md for the full contract. Run the visible tests with `runner test`,
and grade your work with `runner grade`.
"""

import os

from flask import Flask, jsonify, request  # noqa: F401  (you will need request)
from sqlalchemy import JSON, String, create_engine, select  # noqa: F401  (and select)
from sqlalchemy.exc import IntegrityError  # noqa: F401  (task 4)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

MAX_URL = 2000
MAX_TITLE = 200


class Base(DeclarativeBase):
    pass


class Bookmark(Base):
    __tablename__ = "bookmarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    # TODO (task 4): no two bookmarks may have the same url; let the database enforce it.
    url: Mapped[str] = mapped_column(String(MAX_URL))
    title: Mapped[str] = mapped_column(String(MAX_TITLE), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    def to_dict(self):
        return {"id": self.id, "url": self.url, "title": self.title, "tags": list(self.tags or [])}


def error(status, message):
    """A JSON error response: {"error": message} with the given status code."""
    return jsonify({"error": message}), status


def create_app(config=None):
    config = dict(config or {})
    database_url = config.get("DATABASE_URL") or os.environ.get("DATABASE_URL", "sqlite:///bookmarks.db")

    app = Flask(__name__)
    app.config.update(config)
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    Session = sessionmaker(engine)  # noqa: F841  (use it: `with Session() as session:`)

    @app.get("/bookmarks")
    def list_bookmarks():
        # TODO (task 1): return every bookmark as a JSON list, oldest first (ascending id).
        return jsonify([])

    @app.post("/bookmarks")
    def create_bookmark():
        # TODO (task 1): save the bookmark and answer 201 with it as JSON.
        # TODO (task 2): validate the JSON body; answer 400 with {"error": "..."} when it is invalid.
        # TODO (task 4): answer 409 when the url is already saved.
        return error(501, "POST /bookmarks is not implemented yet")

    @app.get("/bookmarks/<int:bookmark_id>")
    def get_bookmark(bookmark_id):
        # TODO (task 1): answer 200 with the bookmark, or 404 with {"error": "..."} if there is none.
        return error(501, "GET /bookmarks/<id> is not implemented yet")

    @app.patch("/bookmarks/<int:bookmark_id>")
    def update_bookmark(bookmark_id):
        # TODO (task 3): change only the fields sent (validated like POST), save, answer 200 with the bookmark.
        # TODO (task 4): answer 409 when the new url belongs to another bookmark.
        return error(501, "PATCH /bookmarks/<id> is not implemented yet")

    @app.delete("/bookmarks/<int:bookmark_id>")
    def delete_bookmark(bookmark_id):
        # TODO (task 3): delete the bookmark and answer 204 with an empty body (404 if there is none).
        return error(501, "DELETE /bookmarks/<id> is not implemented yet")

    return app
