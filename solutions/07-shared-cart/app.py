"""A shopping cart with sign-in, stateless: every session and every cart lives in Redis, so any
request can go to any instance and an instance can stop at any time without losing anything."""

import re
import secrets

import redis
from flask import Flask, jsonify, request

SESSION_TTL = 1800
USER = re.compile(r"[a-z0-9_]{1,32}")
SKU = re.compile(r"[A-Z0-9-]{1,40}")


def error(status, message):
    return jsonify({"error": message}), status


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(config or {})
    store = redis.Redis.from_url(app.config["REDIS_URL"], decode_responses=True)

    # Sessions: the string session:<token> holds the user name, and expires after SESSION_TTL idle seconds.
    def save_session(token, user):
        store.set(f"session:{token}", user, ex=SESSION_TTL)

    def load_session(token):
        """The session's user (None if there is none), its time to live started again."""
        key = f"session:{token}"
        pipe = store.pipeline()
        pipe.get(key)
        pipe.expire(key, SESSION_TTL)
        user, _ = pipe.execute()
        return user

    def drop_session(token):
        store.delete(f"session:{token}")

    # Carts: the hash cart:<user>, one field per SKU, its value the quantity.
    def cart_of(user):
        items = {sku: int(qty) for sku, qty in store.hgetall(f"cart:{user}").items()}
        return {"items": items, "total": sum(items.values())}

    def add_to_cart(user, sku, qty):
        store.hincrby(f"cart:{user}", sku, qty)

    def remove_from_cart(user, sku):
        """Whether the SKU was in the cart."""
        return store.hdel(f"cart:{user}", sku) == 1

    def current_user():
        """The signed-in user of this request and its token, or (None, None)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            return None, None
        return load_session(token), token

    def unauthorized():
        return error(401, "sign in first: send Authorization: Bearer <token>")

    @app.post("/login")
    def login():
        data = request.get_json(silent=True)
        user = data.get("user") if isinstance(data, dict) else None
        if not isinstance(user, str) or not USER.fullmatch(user):
            return error(400, "user must be 1 to 32 characters of a-z, 0-9 and _")
        token = secrets.token_urlsafe(32)
        save_session(token, user)
        return jsonify({"token": token}), 201

    @app.get("/me")
    def me():
        user, _ = current_user()
        if user is None:
            return unauthorized()
        return jsonify({"user": user})

    @app.post("/logout")
    def logout():
        user, token = current_user()
        if user is None:
            return unauthorized()
        drop_session(token)
        return "", 204

    @app.get("/cart")
    def get_cart():
        user, _ = current_user()
        if user is None:
            return unauthorized()
        return jsonify(cart_of(user))

    @app.post("/cart/items")
    def add_item():
        user, _ = current_user()
        if user is None:
            return unauthorized()
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return error(400, "send a JSON object with sku and qty")
        sku, qty = data.get("sku"), data.get("qty")
        if not isinstance(sku, str) or not SKU.fullmatch(sku):
            return error(400, "sku must be 1 to 40 characters of A-Z, 0-9 and -")
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= 99:
            return error(400, "qty must be an integer from 1 to 99")
        add_to_cart(user, sku, qty)
        return jsonify(cart_of(user))

    @app.delete("/cart/items/<sku>")
    def remove_item(sku):
        user, _ = current_user()
        if user is None:
            return unauthorized()
        if not remove_from_cart(user, sku):
            return error(404, f"{sku} is not in your cart")
        return "", 204

    return app
