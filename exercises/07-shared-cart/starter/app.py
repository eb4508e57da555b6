"""A shopping cart with sign-in. It works, on one instance: sessions and carts are kept in this
process's memory. Move them to Redis (see README.md) so that two instances behave as one."""

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
    store = redis.Redis.from_url(app.config["REDIS_URL"], decode_responses=True)  # noqa: F841 (yours to use)

    # TODO: these two dicts are the problem: each instance has its own. Move sessions and carts
    # into Redis (README.md says which keys), in the six functions below, then delete the dicts.
    sessions = {}  # token -> user
    carts = {}  # user -> {sku: qty}

    # Sessions.
    def save_session(token, user):
        # TODO: the string session:<token> holding the user name, expiring after SESSION_TTL seconds
        sessions[token] = user

    def load_session(token):
        """The session's user (None if there is none)."""
        # TODO: read it from Redis, and start its time to live again
        return sessions.get(token)

    def drop_session(token):
        # TODO: delete it from Redis
        sessions.pop(token, None)

    # Carts.
    def cart_of(user):
        # TODO: read the hash cart:<user> (quantities come back as text)
        items = dict(carts.get(user, {}))
        return {"items": items, "total": sum(items.values())}

    def add_to_cart(user, sku, qty):
        # TODO: add atomically in Redis: two instances may add at the same moment
        cart = carts.setdefault(user, {})
        cart[sku] = cart.get(sku, 0) + qty

    def remove_from_cart(user, sku):
        """Whether the SKU was in the cart."""
        # TODO: remove the field from the hash
        return carts.get(user, {}).pop(sku, None) is not None

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
