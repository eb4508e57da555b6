"""Product catalogue with cache-aside: GET /products/<id> is answered from Redis when it can be,
every successful write drops the product's cached answer after its commit, and the app keeps
answering from the database when Redis is down."""

import contextlib
import json
import os

import redis
from flask import Flask, Response, jsonify, request
from sqlalchemy import ForeignKey, String, create_engine, delete, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

MAX_NAME = 100
MAX_PRICE = 1_000_000
CACHE_TTL = 90  # seconds; the statement allows 60 to 120


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
    store = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=0.5, socket_connect_timeout=0.5)

    def cache_key(product_id):
        return f"product:{product_id}"

    def cache_get(product_id):
        """The cached answer (JSON text), or None on a miss or when Redis is down."""
        try:
            return store.get(cache_key(product_id))
        except redis.RedisError:  # Redis is down: the database answers
            return None

    def cache_put(product_id, body):
        with contextlib.suppress(redis.RedisError):  # Redis is down: not cached this time
            store.set(cache_key(product_id), json.dumps(body), ex=CACHE_TTL)

    def cache_drop(product_id):
        """Forget the cached answer; called after the change is committed."""
        with contextlib.suppress(redis.RedisError):  # Redis is down: the old answer may stay until its TTL ends
            store.delete(cache_key(product_id))

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
        cached = cache_get(product_id)
        if cached is not None:
            return Response(cached, mimetype="application/json")
        with Session() as session:
            product = session.get(Product, product_id)
            if product is None:
                return not_found(product_id)
            body = product_body(session, product)
        cache_put(product_id, body)
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
        cache_drop(product_id)
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
        cache_drop(product_id)
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
        cache_drop(product_id)
        return jsonify(answer), 201

    return app
