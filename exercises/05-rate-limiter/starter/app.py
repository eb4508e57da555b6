"""Rate limiting in Redis: every client may make LIMIT requests to /api/ per window of 2 seconds.

Read README.md for the full contract. Run the visible tests with `runner test`,
and grade your work with `runner grade`.
"""

import math  # noqa: F401  (Retry-After rounds up: math.ceil)
import os

import redis
from flask import Flask, g, jsonify, request

LIMIT = 5  # requests let through per client and window
WINDOW_MS = 2000  # the window lasts 2 seconds from the client's first request
KEY_PREFIX = "ratelimit:"

# TODO (tasks 2-4): a Lua script runs on the Redis server as one atomic step. Register it with
# store.register_script(HIT) and call it as hit(keys=[key], args=[LIMIT, WINDOW_MS]).
# KEYS[1] is the client's key, ARGV[1] the limit, ARGV[2] the window in milliseconds.
# It could return {allowed (1 or 0), the count, the key's PTTL}.
HIT = """
return {1, 0, 0}
"""


def error(status, message):
    """A JSON error response: {"error": message} with the given status code."""
    return jsonify({"error": message}), status


def create_app(config=None):
    config = dict(config or {})
    redis_url = config.get("REDIS_URL") or os.environ.get("REDIS_URL", "redis://localhost:6379/0")

    app = Flask(__name__)
    app.config.update(config)
    store = redis.Redis.from_url(redis_url, decode_responses=True)  # noqa: F841  (use it)

    @app.before_request
    def limit():
        """Runs before every request; returning a response here answers instead of the route."""
        client = request.headers.get("X-Api-Key", "")
        # TODO (task 1): only the /api/ routes are limited; /health is not.
        # TODO (task 1): without an API key (missing or empty), answer 401 before touching Redis.
        # TODO (task 2): count the request under the key ratelimit:<API key>; refuse the 6th of a window
        #                with 429 and a JSON error.
        # TODO (task 3): the key expires 2 s after the window opens; Retry-After = ceil(PTTL / 1000).
        # TODO (task 4): check and count atomically (see HIT above), so that 15 requests at once let 5 through.
        g.client = client
        g.remaining = LIMIT - 1  # TODO (task 2): the requests this window still allows after this one
        return None

    @app.after_request
    def remaining_header(response):
        if "remaining" in g:
            response.headers["X-RateLimit-Remaining"] = str(g.remaining)
        return response

    @app.get("/health")
    def health():
        return jsonify({"status": "ok"})

    @app.get("/api/ping")
    def ping():
        return jsonify({"client": g.client, "pong": True})

    @app.post("/api/echo")
    def echo():
        return jsonify({"client": g.client, "echo": request.get_json(silent=True)})

    return app
