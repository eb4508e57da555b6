"""A game leaderboard on Redis sorted sets (see README.md). The routes and the validation of a
score are here; the Redis side, the four functions marked TODO, and reading limit and offset are yours."""

import re

import redis
from flask import Flask, jsonify, request

BOARD_TTL = 7 * 24 * 3600  # seconds: a board expires a week after its last score
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MIN_POINTS, MAX_POINTS = -1000, 1000
PLAYER = re.compile(r"[a-z0-9_]{1,32}")


def error(status, message):
    return jsonify({"error": message}), status


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(config or {})
    store = redis.Redis.from_url(app.config["REDIS_URL"], decode_responses=True)  # noqa: F841 (yours to use)

    def board_key(board):
        # TODO: the name of the board's sorted set (README.md, "Where the board lives")
        return board

    def add_points(board, player, points):
        """The player's score after adding points, and their rank then."""
        # TODO: add atomically (many requests may add for the same player at the same moment),
        # and set the board's time to live
        return points, 1

    def standing(board, player):
        """(score, rank) of the player, or None when they are not on the board."""
        # TODO: rank = 1 + the number of players with a strictly higher score
        return None

    def page(board, offset, limit):
        """The number of players, and the entries offset .. offset+limit-1 of the board in its order
        (score descending, equal scores by name ascending), each {"rank", "player", "score"}."""
        # TODO: careful, ZREVRANGE orders equal scores by name descending
        return 0, []

    def query_int(name, default, low, high=None):
        """The query parameter as an int from low to high (no high: no upper bound), the default when
        it is absent; None when it is invalid."""
        # TODO: decimal digits only; anything else, or out of range, is invalid
        return default

    @app.post("/boards/<board>/scores")
    def post_score(board):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return error(400, "send a JSON object with player and points")
        player, points = data.get("player"), data.get("points")
        if not isinstance(player, str) or not PLAYER.fullmatch(player):
            return error(400, "player must be 1 to 32 characters of a-z, 0-9 and _")
        if not isinstance(points, int) or isinstance(points, bool) or not MIN_POINTS <= points <= MAX_POINTS:
            return error(400, f"points must be an integer from {MIN_POINTS} to {MAX_POINTS}")
        score, rank = add_points(board, player, points)
        return jsonify({"player": player, "score": score, "rank": rank})

    @app.get("/boards/<board>")
    def get_board(board):
        limit = query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        if limit is None:
            return error(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
        offset = query_int("offset", 0, 0)
        if offset is None:
            return error(400, "offset must be an integer from 0")
        total, entries = page(board, offset, limit)
        return jsonify({"board": board, "total": total, "entries": entries})

    @app.get("/boards/<board>/players/<player>")
    def get_player(board, player):
        found = standing(board, player)
        if found is None:
            return error(404, f"{player} has no score on the board {board}")
        score, rank = found
        return jsonify({"player": player, "score": score, "rank": rank})

    return app
