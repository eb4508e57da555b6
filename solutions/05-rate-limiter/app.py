"""Rate limiting in Redis: every client may make LIMIT requests to /api/ per fixed window.

Reference solution. The limiter is one Lua script, so checking the count, counting the request and
setting the window's expiry happen together on the Redis server: no two requests can both see the
last free place, and no key is ever left without an expiry.
"""

import math
import os

import redis
from flask import Flask, g, jsonify, request

LIMIT = 5  # requests let through per client and window
WINDOW_MS = 2000  # the window lasts 2 seconds from the client's first request
KEY_PREFIX = "ratelimit:"

# KEYS[1] the client's key; ARGV[1] the limit; ARGV[2] the window in milliseconds.
# Returns {allowed (1 or 0), the count of requests let through, milliseconds left in the window}.
HIT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
    return {0, count, redis.call('PTTL', KEYS[1])}
end
count = redis.call('INCR', KEYS[1])
if count == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {1, count, redis.call('PTTL', KEYS[1])}
"""


def error(status, message):
    """A JSON error response: {"error": message} with the given status code."""
    return jsonify({"error": message}), status


def create_app(config=None):
    config = dict(config or {})
    redis_url = config.get("REDIS_URL") or os.environ.get("REDIS_URL", "redis://localhost:6379/0")

    app = Flask(__name__)
    app.config.update(config)
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    hit = store.register_script(HIT)

    @app.before_request
    def limit():
        if not request.path.startswith("/api/"):
            return None
        client = request.headers.get("X-Api-Key", "")
        if not client:
            return error(401, "send your API key in the X-Api-Key header")
        allowed, count, left_ms = hit(keys=[KEY_PREFIX + client], args=[LIMIT, WINDOW_MS])
        if not allowed:
            retry_after = max(1, math.ceil(left_ms / 1000))
            response, status = error(429, f"rate limit exceeded: {LIMIT} requests per {WINDOW_MS // 1000} s")
            response.headers["Retry-After"] = str(retry_after)
            return response, status
        g.client = client
        g.remaining = LIMIT - count
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
