"""Hidden checks for 06-leaderboard: a game leaderboard on Redis sorted sets.

Every check plays on boards of its own (names drawn from ``rng``), so checks never share a board.
Boards are seeded over HTTP with players whose names are built to trip a wrong tie order
(``ann2`` < ``ann_1`` < ``anna``: digits before ``_`` before letters) and scores drawn so that there
are always ties, negative scores and a zero. The truth is computed here from what was sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from runner.judge import (
    TRANSCRIPT,
    Mismatch,
    expect,
    expect_equal,
    expect_error_json,
    expect_json,
    expect_key,
    expect_keys,
    expect_status,
    expect_ttl_between,
    run_together,
    show,
)

BOARD_TTL = 604800
#: The TTL a board may show when the judge reads it just after the score that set it.
FRESH = (BOARD_TTL - 10, BOARD_TTL)
DEFAULT_LIMIT, MAX_LIMIT = 10, 100
#: How many set-up scores (each for a different player) are sent at the same moment.
SEED_BATCH = 20
BOARD_WORDS = ["spring", "summer", "autumn", "winter", "cup", "arena", "league", "level", "cave", "race"]
NAME_WORDS = ["ada", "ann", "bob", "cy", "eve", "grace", "ken", "linus", "max", "zoe",
              "alan", "mia", "li", "tom", "ivy", "rex", "kai", "sam", "ned", "uma"]
#: Suffixes whose names order differently by character codes than by eye or in reverse:
#: "ann" < "ann0" < "ann2" < "ann_" < "ann_1" < "anna" < "annb".
SUFFIXES = ["", "0", "2", "99", "_", "_1", "_x", "a", "b", "1a"]
NAME_POOL = [word + suffix for word in NAME_WORDS for suffix in SUFFIXES]

ZINCRBY_HINT = ('store.zincrby(f"leaderboard:{board}", points, player) adds to the score (from 0) and '
                "answers the new total.")
TIES_HINT = ("ZREVRANGE orders equal scores by name descending; the board wants them ascending. Take every "
             "player whose score lies between the page's lowest and highest (ZRANGEBYSCORE), sort them by "
             "(-score, name), and cut the page from those (ZCOUNT above the highest score says where they start).")
RANK_HINT = ('rank = 1 + the number of players with a strictly higher score: 1 + store.zcount(key, f"({score}", '
             '"+inf"). Equal scores share a rank; scores 90, 70, 70, 50 have ranks 1, 2, 2, 4.')


# ---------------------------------------------------------------- helpers


def fresh_board(rng: Any, label: str) -> str:
    """A board name no other check uses."""
    return f"{rng.choice(BOARD_WORDS)}-{label}-{rng.randrange(16**6):06x}"


def post_score(client: Any, board: str, player: str, points: int) -> Any:
    return client.post(f"/boards/{board}/scores", json={"player": player, "points": points})


def score(client: Any, board: str, player: str, points: int) -> dict[str, Any]:
    """A score as a set-up step: the answer, or a Mismatch that says the check could not start."""
    response = post_score(client, board, player, points)
    if response.status != 200:
        raise Mismatch(f"this check adds scores first, but {response.request_line} returned {response.status}",
                       expected='200 {"player": ..., "score": ..., "rank": ...}',
                       actual=f"{response.status} {response.body_excerpt()}",
                       hint="Make POST /boards/<board>/scores work first (rule R1).",
                       blocked_by="POST /boards/<board>/scores")
    data = expect_json(response)
    expect_keys(data, ["player", "score", "rank"], f"the answer to {response.request_line}")
    return dict(data)


def seed(client: Any, board: str, totals: dict[str, int], rng: Any, *, split: bool = True) -> None:
    """Put every player on the board with the given total: in one score, or, for half of them when
    ``split``, in two (a gain and a loss, or two gains). Scores are sent in batches of different players, the
    batch's requests at the same moment (so a read-modify-write of one player never races here)."""
    players = list(totals)
    rng.shuffle(players)
    # Half the players (at least one) get a first score that is not 0, then the rest of their total.
    first = {player: rng.choice([-1, 1]) * rng.randint(1, 100) for player in players[::2]} if split else {}
    rounds = [[(player, first[player]) for player in players if player in first],
              [(player, totals[player] - first.get(player, 0)) for player in players]]
    for sends in rounds:
        for start in range(0, len(sends), SEED_BATCH):
            batch = sends[start:start + SEED_BATCH]
            for outcome in run_together(len(batch), lambda i, b=batch: score(client, board, *b[i]), timeout=15):
                if isinstance(outcome, Mismatch):
                    raise outcome
    # The set-up's requests arrived in no fixed order: keep them out of the check's failure messages.
    TRANSCRIPT.clear()


def tied_board(rng: Any, size: int) -> dict[str, int]:
    """``size`` players (at least 9) with totals from -60 to 400: a tie of three names that order
    differently by character codes than in reverse (``x2``, ``x_1``, ``xa``) in the middle of the
    board, a tie of two at the top, a zero, a negative score, and the rest drawn with more ties."""
    word = rng.choice(NAME_WORDS)
    trap = [word + "2", word + "_1", word + "a"]
    rest = [name for name in NAME_POOL if not name.startswith(word)]
    others = rng.sample(rest, size - len(trap))
    top, middle = rng.randint(300, 400), rng.randint(60, 200)
    totals = {name: middle for name in trap}
    totals[others[0]] = totals[others[1]] = top  # two players share rank 1
    totals[others[2]] = 0
    totals[others[3]] = rng.randint(-60, -1)
    totals[others[4]] = rng.randint(1, middle - 1)  # a lower score after the trap: ranks skip there
    values = rng.sample(range(-60, 300), max(2, (size - 5) // 3))
    for name in others[5:]:
        totals[name] = rng.choice(values)
    return totals


def truth_order(totals: dict[str, int]) -> list[tuple[str, int]]:
    """The board's order: score descending, equal scores by name ascending."""
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def truth_rank(totals: dict[str, int], total: int) -> int:
    return 1 + sum(1 for other in totals.values() if other > total)


def get_page(client: Any, board: str, query: str = "") -> tuple[Any, dict[str, Any]]:
    """GET /boards/<board>?query: the response and its JSON object (the shape checked)."""
    response = client.get(f"/boards/{board}" + (f"?{query}" if query else ""))
    expect_status(response, 200)
    data = expect_json(response)
    expect_keys(data, ["board", "total", "entries"], f"the answer to {response.request_line}")
    entries = data["entries"]
    expect(isinstance(entries, list), f"entries in the answer to {response.request_line} should be a list",
           expected="a list of {rank, player, score}", actual=show(entries))
    for entry in entries:
        expect_keys(entry, ["rank", "player", "score"], f"an entry of {response.request_line}")
    return response, dict(data)


def pairs(entries: Iterable[dict[str, Any]]) -> list[tuple[Any, Any]]:
    return [(entry["player"], entry["score"]) for entry in entries]


def show_pairs(items: Iterable[tuple[Any, Any]], limit: int = 12) -> str:
    shown = [f"{player} {score}" for player, score in items]
    more = len(shown) - limit
    return ", ".join(shown[:limit]) + (f", … ({more} more)" if more > 0 else "") if shown else "(none)"


def first_difference(got: list[Any], want: list[Any]) -> int:
    for index, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return index
    return min(len(got), len(want))


def expect_order(got: list[tuple[Any, Any]], want: list[tuple[str, int]], what: str, *, hint: str) -> None:
    if got == want:
        return
    at = first_difference(got, want)
    low = max(0, at - 2)
    raise Mismatch(f"{what}: the players are not in the board's order from position {at} on",
                   expected=f"from position {low}: " + show_pairs(want[low:low + 6]),
                   actual=f"from position {low}: " + show_pairs(got[low:low + 6]), hint=hint)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def board_keys(redis_probe: Any, board: str) -> dict[str, Any]:
    """Every key that names the board, with its value (whatever the prefix)."""
    return {key: state.value for key, state in redis_probe.snapshot(f"*{board}*").items()}


# ---------------------------------------------------------------- task 1: scores


@pytest.mark.gate
@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R1")
def test_first_score(client, rng):
    """POST /boards/<board>/scores answers the score and rank"""
    response = post_score(client, fresh_board(rng, "first"), rng.choice(NAME_POOL), rng.randint(1, 500))
    expect_status(response, 200)
    expect_keys(expect_json(response), ["player", "score", "rank"], f"the answer to {response.request_line}",
                hint='Answer jsonify({"player": player, "score": score, "rank": rank}).')


@pytest.mark.task(1)
@pytest.mark.points(3)
@pytest.mark.rules("R2")
def test_points_add_up(client, rng):
    """Points add up: each answer has the player's new total"""
    board = fresh_board(rng, "add")
    players = rng.sample(NAME_POOL, 3)
    totals = dict.fromkeys(players, 0)
    steps = [(players[0], rng.randint(100, 900)), (players[0], rng.randint(-90, -1)),
             (players[1], rng.randint(1, 50)), (players[2], 0), (players[1], rng.randint(-999, -900)),
             (players[0], rng.randint(1, 999)), (players[2], rng.randint(1, 80)), (players[2], 0)]
    for player, points in steps:
        totals[player] += points
        answer = score(client, board, player, points)
        expect_equal(answer.get("player"), player, f"player in the answer to POST /boards/{board}/scores")
        if answer.get("score") != totals[player]:
            raise Mismatch(f"after adding {points}, {player} should have {totals[player]}; "
                           f"the answer says {show(answer.get('score'))}", expected=totals[player],
                           actual=answer.get("score"),
                           hint=ZINCRBY_HINT)


@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R3", "R13")
def test_score_validation(client, redis_probe, rng):
    """An invalid player or points answers 400 and writes nothing"""
    board = fresh_board(rng, "valid")
    longest = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_") for _ in range(32))
    player = rng.choice(NAME_POOL)
    for name, points in [(longest, -1000), (rng.choice("abcxyz"), 1000), (player, 0)]:
        response = post_score(client, board, name, points)
        expect_status(response, 200, hint="A player of 1 to 32 characters of a-z, 0-9 and _, and points from "
                                          "-1000 to 1000 (0 included), are valid.")
    before = board_keys(redis_probe, board)
    bad: list[Any] = [
        {"player": player, "points": 1001}, {"player": player, "points": -1001}, {"player": player, "points": "5"},
        {"player": player, "points": True}, {"player": player, "points": 2.5}, {"player": player, "points": None},
        {"player": player}, {"points": 5}, {"player": "", "points": 5}, {"player": longest + "a", "points": 5},
        {"player": "Ada", "points": 5}, {"player": "ada lovelace", "points": 5}, {"player": 7, "points": 5},
        [player, 5],
    ]
    for body in bad:
        expect_error_json(client.post(f"/boards/{board}/scores", json=body), 400)
    expect_error_json(client.post(f"/boards/{board}/scores", data="player=ada&points=5",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"}), 400)
    after = board_keys(redis_probe, board)
    expect_equal(after, before, f"the Redis keys of the board {board} after {len(bad) + 1} refused scores",
                 hint="A refused score writes nothing: validate the body before you touch Redis.")
    untouched = fresh_board(rng, "never")
    for body in bad[:4]:
        expect_error_json(client.post(f"/boards/{untouched}/scores", json=body), 400)
    created = board_keys(redis_probe, untouched)
    expect(not created, f"only refused scores were sent to the board {untouched}, yet Redis has a key for it",
           expected="no key", actual=", ".join(created), hint="Validate before you write anything to Redis.")


@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R4")
def test_board_key(client, redis_probe, rng):
    """The board is the sorted set leaderboard:<board> of totals"""
    board, other = fresh_board(rng, "key"), fresh_board(rng, "other")
    totals = {name: rng.randint(-60, 400) for name in rng.sample(NAME_POOL, rng.randint(3, 6))}
    seed(client, board, totals, rng)
    elsewhere = rng.choice(list(totals))
    score(client, other, elsewhere, 7)
    hint = ('Keep each board in one sorted set named leaderboard:<board>: store.zincrby(f"leaderboard:{board}", '
            "points, player).")
    expect_key(redis_probe, f"leaderboard:{board}", type="zset", value=totals, hint=hint)
    expect_key(redis_probe, f"leaderboard:{other}", type="zset", value={elsewhere: 7},
               hint="Each board is a sorted set of its own: put the board's name in the key.")


@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R5")
def test_board_ttl(client, redis, redis_probe, rng):
    """Each score sets the board's TTL to 604800 s; reads do not"""
    board = fresh_board(rng, "ttl")
    key = f"leaderboard:{board}"
    player, second = rng.sample(NAME_POOL, 2)
    score(client, board, player, rng.randint(1, 500))
    expect_ttl_between(redis_probe, key, *FRESH, hint="After every score: store.expire(key, 604800), "
                                                      "next to the ZINCRBY.")
    for label, (who, points) in [("an existing player", (player, rng.randint(1, 500))),
                                 ("a new player", (second, rng.randint(-500, -1)))]:
        left = rng.randrange(100, 5000)
        redis.expire(key, left)  # as if the board had not been played on for a while
        client.get(f"/boards/{board}")
        client.get(f"/boards/{board}/players/{player}")
        ttl = redis_probe.ttl(key)
        if ttl is None or ttl > left:
            raise Mismatch(f"the judge set the time to live of {key} to {left} s, then read the board and a "
                           f"player; it is now {'gone' if ttl is None else f'{ttl:.0f} s'}",
                           expected=f"at most {left} s: reads do not change it",
                           actual="no expiry" if ttl is None else f"TTL {ttl:.0f} s",
                           hint="Only a score sets the board's time to live; GET routes only read.")
        answer = post_score(client, board, who, points)
        expect_status(answer, 200)
        try:
            expect_ttl_between(redis_probe, key, *FRESH)
        except Mismatch as exc:
            ttl = redis_probe.ttl(key)
            if ttl is not None and ttl <= left:  # the usual mistake; say so without a TTL that ticks
                message = (f"after a score for {label} ({answer.request_line}), {key} still has the "
                           f"{left} s the judge had left it just before")
                actual: Any = f"TTL at most {left} s"
            else:
                message = (f"after a score for {label} ({answer.request_line}), {exc.message[0].lower()}"
                           f"{exc.message[1:]} (the judge had set it to {left} s just before)")
                actual = exc.actual
            raise Mismatch(message, expected=exc.expected, actual=actual,
                           hint="Every score sets the time to live again (EXPIRE on every write, not only when "
                                "the board is new): a board lives a week after its *last* score.") from None
    forever = [k for k in redis_probe.keys(f"*{board}*") if redis_probe.ttl(k) is None]
    expect(not forever, f"Redis keeps {', '.join(forever)} for ever", expected="every key with a time to live",
           actual=", ".join(forever), hint="No key may live for ever: give every key you write a time to live.")


# ---------------------------------------------------------------- task 2: the board


@pytest.mark.task(2)
@pytest.mark.points(4)
@pytest.mark.rules("R6")
def test_order(client, rng):
    """The board lists players by score descending, equal scores by name ascending"""
    board = fresh_board(rng, "order")
    totals = tied_board(rng, rng.randint(11, 19))
    seed(client, board, totals, rng)
    want = truth_order(totals)
    response, page = get_page(client, board, f"limit={MAX_LIMIT}")
    expect_order(pairs(page["entries"]), want, response.request_line, hint=TIES_HINT)
    walked: list[tuple[Any, Any]] = []
    for offset in range(len(want)):  # one player a page: every tie split across pages
        _, page = get_page(client, board, f"limit=1&offset={offset}")
        walked += pairs(page["entries"])
    expect_order(walked, want, f"GET /boards/{board}?limit=1&offset=0, 1, …, {len(want) - 1} (one player a page)",
                 hint=TIES_HINT + " The order must hold across pages too: sorting each page on its own is not "
                                  "enough, a tie may start on one page and end on the next.")


@pytest.mark.task(2)
@pytest.mark.points(4)
@pytest.mark.rules("R7")
def test_ranks(client, rng):
    """Rank = 1 + the number of higher scores, shared by equal scores, on every route"""
    board = fresh_board(rng, "rank")
    totals = tied_board(rng, rng.randint(9, 14))
    seed(client, board, totals, rng)
    want = [truth_rank(totals, total) for _, total in truth_order(totals)]
    response, page = get_page(client, board, f"limit={MAX_LIMIT}")
    got = [entry["rank"] for entry in page["entries"]]
    if got != want:
        at = first_difference(got, want)
        scores = [entry["score"] for entry in page["entries"]]
        raise Mismatch(f"{response.request_line}: the ranks are wrong from position {at} on",
                       expected=f"scores {show(scores[:12])} have ranks {show(want[:12])}",
                       actual=f"ranks {show(got[:12])}", hint=RANK_HINT)
    for player in sorted(totals, key=lambda name: (-totals[name], name)):
        response = client.get(f"/boards/{board}/players/{player}")
        expect_status(response, 200)
        rank = expect_json(response).get("rank")
        expected = truth_rank(totals, totals[player])
        expect(rank == expected, f"{response.request_line}: {player} has the score {totals[player]} and "
                                 f"{expected - 1} players score higher, so the rank is {expected}",
               expected=expected, actual=show(rank), hint=RANK_HINT)
    ordered = truth_order(totals)
    low_player, low_total = ordered[-1]
    target = ordered[2][1]  # the score of the third player: a tie with them after the addition
    totals[low_player] = target
    answer = score(client, board, low_player, target - low_total)
    expected = truth_rank(totals, target)
    expect(answer.get("rank") == expected,
           f"after POST /boards/{board}/scores brings {low_player} to {target}, the score of the third player, "
           f"their rank is {expected}", expected=expected, actual=show(answer.get("rank")),
           hint="The answer's rank is the rank just after the addition; equal scores share a rank.")


@pytest.mark.task(2)
@pytest.mark.points(4)
@pytest.mark.rules("R8")
def test_pages(client, rng):
    """Pages walk the whole board: no gaps, no repeats, the last page short, past the end empty"""
    board = fresh_board(rng, "pages")
    size = rng.randint(101, 119)
    if size % DEFAULT_LIMIT == 0:
        size += 1
    totals = tied_board(rng, size)
    seed(client, board, totals, rng, split=False)
    want_scores = [total for _, total in truth_order(totals)]
    hint = ("A page is the players at positions offset … offset+limit-1: ZREVRANGE's stop is inclusive, so "
            "stop = offset + limit - 1.")

    def check_page(query: str, offset: int, limit: int) -> list[tuple[Any, Any]]:
        response, page = get_page(client, board, query)
        expect(page["total"] == size, f"{response.request_line}: total should be the number of players, {size}",
               expected=size, actual=show(page["total"]), hint="total is ZCARD of the board.")
        got = pairs(page["entries"])
        wanted = want_scores[offset:offset + limit]
        if [s for _, s in got] != wanted:
            raise Mismatch(f"{response.request_line} should answer the {len(wanted)} players at positions {offset} "
                           f"… {offset + len(wanted) - 1} of {size}" if wanted else
                           f"{response.request_line} is past the end of a board of {size}: entries should be []",
                           expected=f"{len(wanted)} entries, scores {show(wanted[:12])}",
                           actual=f"{len(got)} entries: {show_pairs(got)}", hint=hint)
        return got

    first = check_page("", 0, DEFAULT_LIMIT)  # the defaults: offset 0, limit 10
    walked: list[tuple[Any, Any]] = []
    for offset in range(0, size, DEFAULT_LIMIT):
        walked += check_page(f"limit={DEFAULT_LIMIT}&offset={offset}", offset, DEFAULT_LIMIT)
    expect_equal(first, walked[:DEFAULT_LIMIT], f"GET /boards/{board} (no limit, no offset) against limit=10&offset=0",
                 hint="Without limit and offset, answer the first 10 players.")
    players = [player for player, _ in walked]
    repeated = sorted({player for player in players if players.count(player) > 1})
    missing = sorted(set(totals) - set(players))
    expect(not repeated and not missing,
           f"walking GET /boards/{board} 10 players a page should show each of its {size} players once",
           expected=f"{size} players, each once",
           actual=(f"repeated: {', '.join(repeated[:8])}. " if repeated else "")
                  + (f"never shown: {', '.join(missing[:8])}" if missing else ""), hint=hint)
    check_page(f"limit={MAX_LIMIT}", 0, MAX_LIMIT)
    check_page(f"limit={MAX_LIMIT}&offset={MAX_LIMIT}", MAX_LIMIT, MAX_LIMIT)
    check_page(f"offset={size - 1}", size - 1, DEFAULT_LIMIT)
    for offset in (size, size + rng.randint(1, 1000)):
        check_page(f"offset={offset}&limit=5", offset, 5)
    empty = fresh_board(rng, "empty")
    response, page = get_page(client, empty)
    expect_equal(page, {"board": empty, "total": 0, "entries": []}, f"the answer to {response.request_line}",
                 hint='A board with no players: {"board": board, "total": 0, "entries": []}.')


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R9", "R13")
def test_page_parameters(client, rng):
    """limit is an integer from 1 to 100, offset one of 0 or more; anything else is a 400"""
    board = fresh_board(rng, "params")
    totals = {name: rng.randint(-60, 400) for name in rng.sample(NAME_POOL, 3)}
    seed(client, board, totals, rng, split=False)
    for query, count in [("limit=1", 1), (f"limit={MAX_LIMIT}", 3), ("offset=0", 3), ("limit=2&offset=2", 1)]:
        response = client.get(f"/boards/{board}?{query}")
        expect_status(response, 200, hint="limit from 1 to 100 and offset from 0 are valid.")
        entries = expect_json(response).get("entries")
        expect(isinstance(entries, list) and len(entries) == count,
               f"{response.request_line} should answer {count} of the board's 3 players", expected=count,
               actual=len(entries) if isinstance(entries, list) else show(entries))
    for query in ["limit=0", f"limit={MAX_LIMIT + 1}", "limit=-1", "limit=ten", "limit=2.5", "limit=",
                  "offset=-1", "offset=x", "offset=1.5", "offset=", "limit=5&offset=-3", "limit=1000000"]:
        expect_error_json(client.get(f"/boards/{board}?{query}"), 400,
                          hint="limit must be 1 to 100 and offset 0 or more, in decimal digits; anything else "
                               "answers 400 (request.args.get(..., type=int) turns 'ten' into the default: "
                               "check the text yourself).")


@pytest.mark.task(2)
@pytest.mark.points(3)
@pytest.mark.rules("R10", "R13")
def test_player(client, rng):
    """GET /boards/<board>/players/<name> answers the score and rank; 404 for a player not on that board"""
    board, other = fresh_board(rng, "player"), fresh_board(rng, "elsewhere")
    totals = tied_board(rng, 9)
    seed(client, board, totals, rng)
    zero = next(name for name, total in totals.items() if total == 0)
    negative = next(name for name, total in totals.items() if total < 0)
    for player in [zero, negative, *sorted(set(totals) - {zero, negative})]:
        response = client.get(f"/boards/{board}/players/{player}")
        expect_status(response, 200, hint="A player with a score on the board, even 0 (ZSCORE answers 0.0, which "
                                          "is falsy: compare with None), answers 200.")
        expected = {"player": player, "score": totals[player], "rank": truth_rank(totals, totals[player])}
        expect_equal(expect_json(response), expected, f"the answer to {response.request_line}")
    outsider = next(name for name in NAME_POOL if name not in totals)
    score(client, other, outsider, 5)
    for path in [f"/boards/{board}/players/{outsider}", f"/boards/{fresh_board(rng, 'nobody')}/players/{zero}"]:
        expect_error_json(client.get(path), 404, hint="A player with no score on this board answers 404 "
                                                      "(ZSCORE answers None).")


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R12")
def test_integers(client, rng):
    """score and rank are JSON integers on every route"""
    board = fresh_board(rng, "ints")
    player, other = rng.sample(NAME_POOL, 2)
    answers = [("POST /boards/<board>/scores", score(client, board, player, rng.randint(1, 500)))]
    answers.append(("POST /boards/<board>/scores", score(client, board, other, rng.randint(-500, -1))))
    _, page = get_page(client, board)
    answers += [(f"an entry of GET /boards/{board}", entry) for entry in page["entries"]]
    response = client.get(f"/boards/{board}/players/{player}")
    expect_status(response, 200)
    answers.append((response.request_line, expect_json(response)))
    expect(is_int(page["total"]), f"total in GET /boards/{board} should be a JSON integer", expected="an integer",
           actual=show(page["total"]))
    for where, answer in answers:
        for field in ("score", "rank"):
            value = answer.get(field) if isinstance(answer, dict) else None
            expect(is_int(value), f"{field} in {where} should be a JSON integer, like 120",
                   expected="an integer", actual=show(value),
                   hint="redis-py answers scores as floats (120.0): int() them before you jsonify.")


# ---------------------------------------------------------------- task 3: many at once


def expect_all_200(outcomes: list[Any]) -> None:
    for outcome in outcomes:
        if isinstance(outcome, Mismatch):
            raise outcome
        expect_status(outcome, 200)


LOST_HINT = ("Reading the score (ZSCORE) and writing back the sum (ZADD) loses the additions other requests make "
             "in between. ZINCRBY is one atomic command: store.zincrby(key, points, player).")


@pytest.mark.task(3)
@pytest.mark.points(4)
@pytest.mark.rules("R11")
@pytest.mark.timeout(20)
def test_concurrent_one_player(client, rng):
    """Many additions for one player at the same moment all count"""
    rounds, per_round = 3, 30
    for number in range(rounds):
        board = fresh_board(rng, f"race{number}")
        player = rng.choice(NAME_POOL)
        points = [rng.randint(1, 20) for _ in range(per_round)]
        expect_all_200(client.concurrently(per_round, lambda i, b=board, p=player, pts=points:
                                           post_score(client, b, p, pts[i])))
        response = client.get(f"/boards/{board}/players/{player}")
        expect_status(response, 200)
        got = expect_json(response).get("score")
        expected = sum(points)
        if got != expected:
            # How many additions a race loses changes from run to run: the message names no number.
            lost = is_int(got) and got < expected
            raise Mismatch(f"{per_round} scores for {player} sent at the same moment (round {number + 1} of {rounds}) "
                           f"add up to {expected}; {response.request_line} says "
                           + ("less: some additions were lost" if lost else "another score"),
                           expected=expected, actual=f"less than {expected}" if lost else show(got),
                           sent=f"{per_round} × POST /boards/{board}/scores for {player}, all at once", hint=LOST_HINT)


@pytest.mark.task(3)
@pytest.mark.points(3)
@pytest.mark.rules("R11")
@pytest.mark.timeout(20)
def test_concurrent_several_players(client, rng):
    """Additions for several players at the same moment all count, each for its own player"""
    for number in range(2):
        board = fresh_board(rng, f"crowd{number}")
        players = rng.sample(NAME_POOL, 4)
        sends = [(player, rng.randint(-20, 40)) for player in players for _ in range(9)]
        rng.shuffle(sends)
        expect_all_200(client.concurrently(len(sends), lambda i, b=board, s=sends: post_score(client, b, *s[i])))
        totals = dict.fromkeys(players, 0)
        for player, points in sends:
            totals[player] += points
        _, page = get_page(client, board)
        got = dict(pairs(page["entries"]))
        if got != totals:
            # Which players lose additions, and how many, changes from run to run: the message names none.
            raise Mismatch(f"{len(sends)} scores for 4 players sent at the same moment (round {number + 1} of 2) do "
                           f"not add up: GET /boards/{board} shows other totals",
                           expected=show(totals), actual="other totals: some additions were lost or misplaced",
                           sent=f"{len(sends)} × POST /boards/{board}/scores, "
                           "9 for each player, all at once", hint=LOST_HINT)
