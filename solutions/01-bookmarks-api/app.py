"""Bookmarks API: a small REST resource with Flask and SQLAlchemy 2 (reference solution)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy import JSON, String, create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

MAX_URL = 2000
MAX_TITLE = 200


class Base(DeclarativeBase):
    pass


class Bookmark(Base):
    __tablename__ = "bookmarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(MAX_URL), unique=True)
    title: Mapped[str] = mapped_column(String(MAX_TITLE), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "title": self.title, "tags": list(self.tags or [])}


def error(status: int, message: str):
    return jsonify({"error": message}), status


def not_found(bookmark_id: int):
    return error(404, f"bookmark {bookmark_id} does not exist")


def read_json() -> Any:
    """The request's JSON body, or None if it is missing or not valid JSON."""
    return request.get_json(silent=True)


def validate(data: Any, *, partial: bool) -> tuple[dict[str, Any], str | None]:
    """The fields to save, or an error message. ``partial`` (PATCH) makes every field optional."""
    if not isinstance(data, dict):
        return {}, "the request body must be a JSON object"
    fields: dict[str, Any] = {}
    if "url" in data:
        url = data["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return {}, "url must be a string starting with http:// or https://"
        if len(url) > MAX_URL:
            return {}, f"url must be at most {MAX_URL} characters"
        fields["url"] = url
    elif not partial:
        return {}, "url is required"
    if "title" in data:
        title = data["title"]
        if not isinstance(title, str):
            return {}, "title must be a string"
        if len(title) > MAX_TITLE:
            return {}, f"title must be at most {MAX_TITLE} characters"
        fields["title"] = title
    if "tags" in data:
        tags = data["tags"]
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            return {}, "tags must be a list of strings"
        fields["tags"] = tags
    return fields, None


def create_app(config: dict[str, Any] | None = None) -> Flask:
    config = dict(config or {})
    database_url = config.get("DATABASE_URL") or os.environ.get("DATABASE_URL", "sqlite:///bookmarks.db")

    app = Flask(__name__)
    app.config.update(config)
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    Session = sessionmaker(engine)

    @app.get("/bookmarks")
    def list_bookmarks():
        with Session() as session:
            bookmarks = session.scalars(select(Bookmark).order_by(Bookmark.id)).all()
            return jsonify([bookmark.to_dict() for bookmark in bookmarks])

    @app.post("/bookmarks")
    def create_bookmark():
        fields, problem = validate(read_json(), partial=False)
        if problem:
            return error(400, problem)
        with Session() as session:
            bookmark = Bookmark(**fields)
            session.add(bookmark)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return error(409, "a bookmark with this url already exists")
            return jsonify(bookmark.to_dict()), 201, {"Location": f"/bookmarks/{bookmark.id}"}

    @app.get("/bookmarks/<int:bookmark_id>")
    def get_bookmark(bookmark_id: int):
        with Session() as session:
            bookmark = session.get(Bookmark, bookmark_id)
            if bookmark is None:
                return not_found(bookmark_id)
            return jsonify(bookmark.to_dict())

    @app.patch("/bookmarks/<int:bookmark_id>")
    def update_bookmark(bookmark_id: int):
        with Session() as session:
            bookmark = session.get(Bookmark, bookmark_id)
            if bookmark is None:
                return not_found(bookmark_id)
            fields, problem = validate(read_json(), partial=True)
            if problem:
                return error(400, problem)
            for name, value in fields.items():
                setattr(bookmark, name, value)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return error(409, "another bookmark already has this url")
            return jsonify(bookmark.to_dict())

    @app.delete("/bookmarks/<int:bookmark_id>")
    def delete_bookmark(bookmark_id: int):
        with Session() as session:
            bookmark = session.get(Bookmark, bookmark_id)
            if bookmark is None:
                return not_found(bookmark_id)
            session.delete(bookmark)
            session.commit()
            return "", 204

    return app
