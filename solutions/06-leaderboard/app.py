"""A game leaderboard on Redis sorted sets: one sorted set per board, players as members, their
scores as the members' scores. Additions are atomic (ZINCRBY); the board keeps living for a week
after its last score."""

import re

import redis
from flask import Flask, jsonify, request

BOARD_TTL = 7 * 24 * 3600  # seconds: a board expires a week after its last score
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MIN_POINTS, MAX_POINTS = -1000, 1000
PLAYER = re.compile(r"[a-z0-9_]{1,32}")
DIGITS = re.compile(r"[0-9]+")


def error(status, message):
    return jsonify({"error": message}), status


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(config or {})
    store = redis.Redis.from_url(app.config["REDIS_URL"], decode_responses=True)

    def board_key(board):
        return f"leaderboard:{board}"

    def rank_of(key, score):
        """1 + the number of players with a strictly higher score: equal scores share a rank."""
        return 1 + store.zcount(key, f"({score}", "+inf")

    def add_points(board, player, points):
        """The player's score after adding points, and their rank then."""
        key = board_key(board)
        score = int(store.zincrby(key, points, player))  # one atomic command: read, add and write
        store.expire(key, BOARD_TTL)
        return score, rank_of(key, score)

    def standing(board, player):
        """(score, rank) of the player, or None when they are not on the board."""
        key = board_key(board)
        score = store.zscore(key, player)
        if score is None:
            return None
        score = int(score)
        return score, rank_of(key, score)

    def page(board, offset, limit):
        """The number of players, and the entries offset .. offset+limit-1 of the board in its order:
        score descending, equal scores by name ascending."""
        key = board_key(board)
        total = store.zcard(key)
        # ZREVRANGE orders equal scores by name *descending*: it gives the right scores for the
        # page, but among ties the wrong names. Take every player whose score is in the page's
        # range, order them by (score descending, name ascending), and cut the page from those.
        window = store.zrevrange(key, offset, offset + limit - 1, withscores=True)
        if not window:
            return total, []
        high, low = window[0][1], window[-1][1]
        above = store.zcount(key, f"({high}", "+inf")  # players ranked before everyone in the band
        band = store.zrangebyscore(key, low, high, withscores=True)
        band.sort(key=lambda entry: (-entry[1], entry[0]))
        ranks = {}
        for position, (_, score) in enumerate(band, start=above + 1):
            ranks.setdefault(score, position)  # the first of equal scores: 1 + those above it
        start = offset - above
        return total, [{"rank": ranks[score], "player": player, "score": int(score)}
                       for player, score in band[start:start + limit]]

    def query_int(name, default, low, high=None):
        """The query parameter as an int (digits only, low..high), the default when absent; None if invalid."""
        text = request.args.get(name)
        if text is None:
            return default
        if not DIGITS.fullmatch(text):
            return None
        value = int(text)
        if value < low or (high is not None and value > high):
            return None
        return value

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
