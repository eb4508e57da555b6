"""Product catalogue: products and their reviews, with Flask and SQLAlchemy 2.

GET /products/<id> works, but every call recomputes the review summary from the database. Your job
(README.md) is to cache its answer in Redis: cache-aside, with invalidation on every write, and no
500 when Redis is down. Run the visible tests with `runner test`, grade with `runner grade`.
"""

import json  # noqa: F401  (you will need it: json.dumps, the cached value)
import os

import redis
from flask import Flask, Response, jsonify, request  # noqa: F401  (Response: a cached JSON text as is)
from sqlalchemy import ForeignKey, String, create_engine, delete, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

MAX_NAME = 100
MAX_PRICE = 1_000_000
CACHE_TTL = 90  # seconds: every cached answer expires after 60 to 120 s (README, rule R5)


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "products"
    # Ids are never reused (SQLite would otherwise give a deleted product's id to the next one): a
    # cached answer under product:<id> can only ever belong to that one product.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    price: Mapped[int]


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    rating: Mapped[int]


def error(status, message):
    """A JSON error response: {"error": message} with the given status code."""
    return jsonify({"error": message}), status


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate(data, partial):
    """(fields, None) when the body is valid, (None, message) otherwise."""
    if not isinstance(data, dict):
        return None, "the body must be a JSON object"
    fields = {}
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
            return None, f"name must be a string of 1 to {MAX_NAME} characters"
        fields["name"] = name
    elif not partial:
        return None, "name is required"
    if "price" in data:
        price = data["price"]
        if not is_int(price) or not 0 <= price <= MAX_PRICE:
            return None, f"price must be an integer from 0 to {MAX_PRICE} (cents)"
        fields["price"] = price
    elif not partial:
        return None, "price is required"
    return fields, None


def product_body(session, product):
    """The answer of GET /products/<id>: the product and its review summary (the expensive part)."""
    count, total = session.execute(
        select(func.count(Review.id), func.coalesce(func.sum(Review.rating), 0))
        .where(Review.product_id == product.id)
    ).one()
    average = round(total / count, 2) if count else None
    return {"id": product.id, "name": product.name, "price": product.price,
            "reviews": {"count": count, "average": average}}


def create_app(config=None):
    config = dict(config or {})
    database_url = config.get("DATABASE_URL") or os.environ.get("DATABASE_URL", "sqlite:///products.db")
    redis_url = config.get("REDIS_URL") or os.environ.get("REDIS_URL", "redis://localhost:6379/0")

    app = Flask(__name__)
    app.config.update(config)
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    Session = sessionmaker(engine)
    # Short timeouts: when Redis is unreachable a request waits half a second at most, then uses the database.
    store = redis.Redis.from_url(  # noqa: F841  (use it: store.get, store.set, store.delete)
        redis_url, decode_responses=True, socket_timeout=0.5, socket_connect_timeout=0.5)

    # TODO (task 2): small helpers make the routes short, e.g. cache_get(product_id) -> JSON text or None,
    # cache_put(product_id, body) and cache_drop(product_id), each catching redis.RedisError (task 4).

    def not_found(product_id):
        return error(404, f"no product with id {product_id}")

    @app.post("/products")
    def create_product():
        fields, problem = validate(request.get_json(silent=True), partial=False)
        if problem:
            return error(400, problem)
        with Session() as session:
            product = Product(**fields)
            session.add(product)
            session.commit()
            return jsonify(product_body(session, product)), 201

    @app.get("/products/<int:product_id>")
    def get_product(product_id):
        # TODO (task 2): cache-aside. Look for the key product:<id> in Redis first and answer its JSON
        # as is when it is there (no database at all); otherwise compute the answer below, store it
        # under product:<id> with a time to live of 60 to 120 s, and answer it. Never cache a 404.
        # TODO (task 4): when Redis is down, answer from the database (200, not 500).
        with Session() as session:
            product = session.get(Product, product_id)
            if product is None:
                return not_found(product_id)
            body = product_body(session, product)
        return jsonify(body)

    @app.patch("/products/<int:product_id>")
    def update_product(product_id):
        with Session() as session:
            product = session.get(Product, product_id)
            if product is None:
                return not_found(product_id)
            fields, problem = validate(request.get_json(silent=True), partial=True)
            if problem:
                return error(400, problem)
            for name, value in fields.items():
                setattr(product, name, value)
            session.commit()
            body = product_body(session, product)
        # TODO (task 3): the cached answer of this product is out of date now: drop it (after the commit).
        return jsonify(body)

    @app.delete("/products/<int:product_id>")
    def delete_product(product_id):
        with Session() as session:
            product = session.get(Product, product_id)
            if product is None:
                return not_found(product_id)
            session.execute(delete(Review).where(Review.product_id == product_id))
            session.delete(product)
            session.commit()
        # TODO (task 3): and here.
        return "", 204

    @app.post("/products/<int:product_id>/reviews")
    def add_review(product_id):
        data = request.get_json(silent=True)
        with Session() as session:
            if session.get(Product, product_id) is None:
                return not_found(product_id)
            rating = data.get("rating") if isinstance(data, dict) else None
            if not is_int(rating) or not 1 <= rating <= 5:
                return error(400, "rating must be an integer from 1 to 5")
            review = Review(product_id=product_id, rating=rating)
            session.add(review)
            session.commit()
            answer = {"id": review.id, "product_id": product_id, "rating": rating}
        # TODO (task 3): a new review changes the product's summary: and here too.
        return jsonify(answer), 201

    return app
