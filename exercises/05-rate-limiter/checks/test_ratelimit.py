"""Hidden checks for 05-rate-limiter.

Every check uses API keys of its own, drawn from ``rng`` (different in every grade), so the checks
never share a window. The window is 2 s from a client's first request and ends when its Redis key
expires (the statement says so): checks that need the end of a window read the key's time to live
with the judge's own connection, and bring the end forward with PEXPIRE instead of sleeping it
out, so that a grade stays fast. Retry-After is compared with the key's PTTL read just before and
just after the refused request: the true time left when the app answered lies between the two.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from runner.judge import Mismatch, expect, expect_equal, expect_error_json, expect_json, expect_status, show

LIMIT = 5
WINDOW_MS = 2000
WINDOW = WINDOW_MS / 1000
PREFIX = "ratelimit:"
SLACK_MS = 20  # a TTL read over the network: a window a few milliseconds longer than 2 s is not measurable
WORDS = ["alpha", "bravo", "cedar", "delta", "ember", "fjord", "gamma", "harbor", "indigo", "jade",
         "kilo", "lumen", "maple", "nova", "onyx", "pixel", "quartz", "raven", "sierra", "tango"]

ATOMIC_HINT = (
    "Reading the count and writing it back are two commands: requests that arrive together all read "
    "the same count before any of them writes. Check and count in one atomic step on the Redis server: "
    "a Lua script (EVAL / register_script) that GETs, compares and INCRs, or INCR first and refuse "
    "when the result is over the limit."
)
EXPIRY_HINT = (
    "Give the key its expiry when the window opens, in the same atomic step as the first count: "
    "PEXPIRE in the Lua script when INCR returns 1, or SET key 0 PX 2000 NX before INCR."
)
FIXED_HINT = (
    "Set the expiry only when the window opens (when INCR returns 1, or with SET ... NX). "
    "EXPIRE on every request pushes the end of the window back each time: a busy client is never reset."
)
RETRY_HINT = (
    "Retry-After is the number of whole seconds left in the window, rounded up: "
    "math.ceil(PTTL / 1000), read from the client's key (PTTL gives milliseconds; TTL rounds to "
    "the nearest second, and can give 0)."
)


# ---------------------------------------------------------------- helpers


def new_key(rng: Any, label: str) -> str:
    """An API key no other check uses (the label is unique per check), different in every grade."""
    return f"{label}-{rng.choice(WORDS)}-{rng.randrange(16**8):08x}"


def ping(client: Any, api_key: str) -> Any:
    return client.get("/api/ping", headers={"X-Api-Key": api_key})


def echo(client: Any, api_key: str, body: Any) -> Any:
    return client.post("/api/echo", json=body, headers={"X-Api-Key": api_key})


def expect_passes(response: Any, nth: int, api_key: str, *, hint: str | None = None) -> None:
    """The nth request of a window (1-based) was let through."""
    if response.status == 200:
        return
    if response.status == 429:
        raise Mismatch(
            f"{response.request_line} was request {nth} of a new window for the API key {api_key}, "
            f"and it was refused with 429; the first {LIMIT} requests of a window pass",
            expected=f"200 (request {nth} of {LIMIT} allowed)", actual=f"429 {response.body_excerpt()}",
            hint=hint or f"Let a request through while fewer than {LIMIT} requests passed in the window: "
                         f"refuse only when the count already reached {LIMIT} (count >= {LIMIT} before "
                         f"this request, or > {LIMIT} after counting it).",
        )
    expect_status(response, 200, hint=hint)


def fill(client: Any, api_key: str, n: int = LIMIT, *, hint: str | None = None) -> list[Any]:
    """Open a window for api_key and use n of its requests; each must pass."""
    answers = []
    for nth in range(1, n + 1):
        response = ping(client, api_key)
        expect_passes(response, nth, api_key, hint=hint)
        answers.append(response)
    return answers


def expect_refused(response: Any, nth: int, api_key: str, *, hint: str | None = None) -> None:
    """Request nth of a window (nth > LIMIT) was refused with 429."""
    if response.status == 429:
        return
    if response.status == 200:
        raise Mismatch(
            f"{response.request_line} was request {nth} of the same window for the API key {api_key}, "
            f"and it passed (200); only {LIMIT} requests per window may pass",
            expected="429 Too Many Requests", actual=f"200 {response.body_excerpt()}",
            hint=hint or f"Refuse a request when {LIMIT} requests already passed in the client's window.",
        )
    expect_status(response, 429, hint=hint or "A rate-limited request answers 429 Too Many Requests "
                                              "(not 403, not 503).")


def pttl(redis: Any, key: str) -> int:
    return int(redis.pttl(key))


def key_state(redis: Any, key: str) -> str:
    """The key as a learner reads it: its value and TTL (or that it is absent)."""
    kind = redis.type(key)
    if kind == "none":
        return f"no key {key}"
    left = pttl(redis, key)
    value = redis.get(key) if kind == "string" else f"({kind})"
    return f"{key} = {show(value)}, " + ("no expiry (TTL -1)" if left < 0 else f"TTL {left / 1000:.2f} s")


def retry_after_probe(client: Any, redis: Any, api_key: str, nth: int) -> tuple[Any, set[int]]:
    """Send a request that must be refused; the Retry-After values that are right, from PTTL before and after."""
    key = PREFIX + api_key
    before = pttl(redis, key)
    response = ping(client, api_key)
    after = pttl(redis, key)
    expect_refused(response, nth, api_key)
    expect(before > 0 and after > 0, f"the client's key {key} has no expiry, so its window never ends",
           expected=f"a TTL of at most {WINDOW:g} s", actual=key_state(redis, key), hint=EXPIRY_HINT)
    ceilings = [min(max(math.ceil(ms / 1000), 1), int(WINDOW)) for ms in (after, before)]
    return response, set(range(ceilings[0], ceilings[1] + 1))


def shown_retry_after(value: str) -> str:
    """The header as the learner sent it, when it is short; else what is wrong with it (a report that
    is the same on every run: milliseconds differ from one run to the next)."""
    text = value.strip()
    if text.isdigit() and int(text) <= 10 * WINDOW:
        return f"Retry-After: {int(text)}"
    if text.isdigit():
        return "Retry-After: a number far over the window (milliseconds?)"
    return "Retry-After: not a whole number of seconds"


def expect_retry_after(response: Any, right: set[int], left: str, key: str) -> None:
    value = response.header("Retry-After")
    wanted = " or ".join(str(v) for v in sorted(right))
    when = f"the key {key} had {left} to live when your app answered"
    if value is None:
        raise Mismatch(f"{response.request_line} answered 429 without a Retry-After header",
                       expected=f"Retry-After: {wanted} ({when})", actual="no Retry-After header", hint=RETRY_HINT)
    text = value.strip()
    if not text.isdigit() or int(text) not in right:
        raise Mismatch(f"{response.request_line} answered 429 with a wrong Retry-After: {when}",
                       expected=f"Retry-After: {wanted}", actual=shown_retry_after(value), hint=RETRY_HINT)


def shorten(redis: Any, key: str, milliseconds: int) -> None:
    """Bring the end of the key's window forward, as if time had passed (the window ends when the key expires)."""
    if redis.type(key) == "none":
        raise Mismatch(f"Redis has no key {key} after requests with the API key {key.removeprefix(PREFIX)}",
                       expected=f"a key {key} holding the count", actual="no such key",
                       hint=f"Count each client's requests in Redis under the key {PREFIX}<API key>.")
    redis.pexpire(key, milliseconds)


# ---------------------------------------------------------------- task 1: the API


@pytest.mark.gate
@pytest.mark.visible
@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R1")
def test_ping_answers(client, rng):
    """GET /api/ping with an X-Api-Key answers 200 with the client's key"""
    api_key = new_key(rng, "gate")
    response = ping(client, api_key)
    expect_status(response, 200)
    expect_equal(expect_json(response), {"client": api_key, "pong": True}, "the body of GET /api/ping")


@pytest.mark.gate
@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R12")
def test_clients_counted_separately(client, rng):
    """Two clients sending in turn each get their own requests"""
    first, second = new_key(rng, "client-a"), new_key(rng, "client-b")
    hint = "Keep one counter per API key: ratelimit:<API key>, not one for the whole app (nor per IP address)."
    # Four each, interleaved: eight in all, so a counter shared by the two refuses some (LIMIT is 5),
    # while a limiter that is only off by one at its boundary still passes this gate.
    for nth in range(1, LIMIT):
        expect_passes(ping(client, first), nth, first, hint=hint)
        expect_passes(ping(client, second), nth, second, hint=hint)


@pytest.mark.task(1)
@pytest.mark.rules("R2")
def test_echo_and_health(client, rng):
    """POST /api/echo answers the JSON it was sent; GET /health answers {"status": "ok"}"""
    api_key = new_key(rng, "echo")
    body = {"word": rng.choice(WORDS), "n": rng.randrange(1000), "tags": rng.sample(WORDS, 2)}
    response = echo(client, api_key, body)
    expect_status(response, 200)
    expect_equal(expect_json(response), {"client": api_key, "echo": body}, "the body of POST /api/echo")
    response = client.get("/health")
    expect_status(response, 200)
    expect_equal(expect_json(response), {"status": "ok"}, "the body of GET /health")


@pytest.mark.task(1)
@pytest.mark.rules("R3")
def test_missing_api_key_401(client, redis):
    """A request to /api/ without an X-Api-Key (or with an empty one) answers 401 and counts nothing"""
    before = set(redis.scan_iter(match=PREFIX + "*"))
    for headers in ({}, {"X-Api-Key": ""}):
        for _ in range(LIMIT + 1):
            response = client.get("/api/ping", headers=headers)
            expect_error_json(response, 401, hint="Read the client's key with request.headers.get('X-Api-Key'); "
                                                  'when it is missing or empty, answer 401 with {"error": "..."} '
                                                  "before counting anything.")
    created = sorted(set(redis.scan_iter(match=PREFIX + "*")) - before)
    expect(not created, "requests without an API key created a rate-limit key in Redis",
           expected="no new key (a request without a key is not counted)", actual=", ".join(created),
           hint="Answer 401 before you touch Redis: an anonymous request belongs to no client.")


@pytest.mark.task(1)
@pytest.mark.rules("R14")
def test_health_not_limited(client, rng, redis):
    """GET /health is never limited nor counted, with or without an API key"""
    api_key = new_key(rng, "health")
    for headers in ({}, {"X-Api-Key": api_key}):
        for nth in range(1, 2 * LIMIT + 1):
            response = client.get("/health", headers=headers)
            if response.status != 200:
                raise Mismatch(f"GET /health number {nth} answered {response.status}",
                               expected="200 every time: /health is not rate-limited and needs no API key",
                               actual=f"{response.status} {response.body_excerpt()}",
                               hint="Apply the limiter to the /api/ routes only (e.g. check request.path "
                                    "in before_request).")
    key = PREFIX + api_key
    expect(redis.type(key) == "none", f"GET /health with X-Api-Key: {api_key} was counted in Redis",
           expected=f"no key {key}", actual=key_state(redis, key),
           hint="Only requests to /api/ count; /health never touches the limiter.")
    fill(client, api_key, hint="Requests to /health must not use up the client's window.")


# ---------------------------------------------------------------- task 2: counting


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R4", "R5")
def test_limit_boundary(client, rng):
    """Request 5 of a window passes, request 6 answers 429 with a JSON error"""
    api_key = new_key(rng, "boundary")
    fill(client, api_key)
    response = ping(client, api_key)
    expect_refused(response, LIMIT + 1, api_key)
    expect_error_json(response, 429)
    response = echo(client, api_key, {"n": 1})
    expect_refused(response, LIMIT + 2, api_key)


@pytest.mark.task(2)
@pytest.mark.rules("R7")
def test_remaining_header(client, rng):
    """Each request let through says X-RateLimit-Remaining: 4, 3, 2, 1, 0"""
    api_key = new_key(rng, "remaining")
    for nth, response in enumerate(fill(client, api_key), start=1):
        wanted = str(LIMIT - nth)
        value = response.header("X-RateLimit-Remaining")
        if value is None or value.strip() != wanted:
            raise Mismatch(
                f"request {nth} of a window answered X-RateLimit-Remaining: {value}",
                expected=f"X-RateLimit-Remaining: {wanted} (requests still allowed after this one)",
                actual="no such header" if value is None else f"X-RateLimit-Remaining: {value}",
                hint=f"Remaining counts this request too: {LIMIT} minus the count after counting it.",
            )


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R8")
def test_key_name_and_value(client, rng, redis):
    """The count is kept in Redis under ratelimit:<API key>"""
    api_key = new_key(rng, "keyname")
    n = rng.randint(2, LIMIT - 1)
    fill(client, api_key, n)
    key = PREFIX + api_key
    kind = redis.type(key)
    if kind == "none":
        others = sorted(redis.scan_iter(match=f"*{api_key}*"))
        raise Mismatch(f"after {n} requests with X-Api-Key: {api_key}, Redis has no key {key}",
                       expected=f"a key {key} holding {n}",
                       actual=("keys with that API key: " + ", ".join(others)) if others else
                       "no key contains that API key",
                       hint=f"Name each client's counter {PREFIX}<the X-Api-Key value>, exactly.")
    expect(kind == "string", f"the Redis key {key} is a {kind}", expected=f"a string holding {n}",
           actual=kind, hint="Keep the count as a plain integer string (INCR does that).")
    value = redis.get(key)
    expect(value == str(n), f"after {n} requests the Redis key {key} holds {show(value)}",
           expected=str(n), actual=key_state(redis, key),
           hint="The key holds the number of requests let through in the current window.")


@pytest.mark.task(2)
@pytest.mark.rules("R13")
def test_routes_share_the_limit(client, rng):
    """GET /api/ping and POST /api/echo share one limit per client"""
    api_key = new_key(rng, "routes")
    for nth in range(1, LIMIT + 1):
        response = ping(client, api_key) if nth % 2 else echo(client, api_key, {"nth": nth})
        expect_passes(response, nth, api_key)
    hint = "Count every /api/ request of a client under the same key, whatever the route."
    expect_refused(echo(client, api_key, {"nth": LIMIT + 1}), LIMIT + 1, api_key, hint=hint)
    expect_refused(ping(client, api_key), LIMIT + 2, api_key, hint=hint)


# ---------------------------------------------------------------- task 3: the window


@pytest.mark.task(3)
@pytest.mark.points(2)
@pytest.mark.rules("R10", "R16")
def test_first_request_sets_expiry(client, rng, redis):
    """Right after the first request of a window, its key expires in at most 2 s"""
    api_key = new_key(rng, "expiry")
    fill(client, api_key, 1)
    key = PREFIX + api_key
    left = pttl(redis, key)
    expect(left != -2, f"after one request with X-Api-Key: {api_key}, Redis has no key {key}",
           expected=f"a key {key} that expires in at most {WINDOW:g} s", actual="no such key",
           hint=f"Count each client's requests in Redis under the key {PREFIX}<API key>.")
    expect(left > 0, f"after the first request of a window, the key {key} has no expiry",
           expected=f"a TTL of at most {WINDOW:g} s, set together with the first count",
           actual=key_state(redis, key), hint=EXPIRY_HINT)
    expect(WINDOW_MS - 500 <= left <= WINDOW_MS + SLACK_MS, f"after the first request of a window, the key {key} "
           f"expires in about {left / 1000:.1f} s", expected=f"about {WINDOW:g} s (the window is {WINDOW:g} s)",
           actual=key_state(redis, key), hint="The window lasts 2 s: PEXPIRE key 2000 (or EXPIRE key 2).")


@pytest.mark.task(3)
@pytest.mark.points(2)
@pytest.mark.rules("R10")
def test_window_does_not_restart(client, rng, redis):
    """A later request of the window does not push its end back"""
    api_key = new_key(rng, "fixed")
    key = PREFIX + api_key
    fill(client, api_key, 1)
    first = pttl(redis, key)
    time.sleep(0.3)
    fill(client, api_key, 1)
    second = pttl(redis, key)
    expect(first > 0 and second > 0, f"the key {key} has no expiry", expected="a TTL set by the first request",
           actual=key_state(redis, key), hint=EXPIRY_HINT)
    expect(second <= first - 250, f"the second request, 0.3 s into the window, moved its end back: after it the key "
           f"{key} had as long to live as after the first request",
           expected=f"about {WINDOW - 0.3:g} s left (the window ends {WINDOW:g} s after its first request)",
           actual=f"about {second / 1000:.1f} s left", hint=FIXED_HINT)


@pytest.mark.task(3)
@pytest.mark.points(2)
@pytest.mark.rules("R9")
def test_refused_not_counted(client, rng, redis):
    """Refused requests are not counted and do not extend the window"""
    api_key = new_key(rng, "refused")
    key = PREFIX + api_key
    fill(client, api_key)
    # Half the window left, as if a second had passed: a refusal that restarts the window puts it
    # back near 2 s, far above this, however slow the machine is.
    shorten(redis, key, WINDOW_MS // 2)
    left = pttl(redis, key)
    refused = rng.randint(2, 4)
    for nth in range(LIMIT + 1, LIMIT + 1 + refused):
        expect_refused(ping(client, api_key), nth, api_key)
    value = redis.get(key)
    expect(value == str(LIMIT), f"after {LIMIT} requests let through and {refused} refused, the key {key} "
           f"holds {show(value)}", expected=str(LIMIT), actual=key_state(redis, key),
           hint=f"Count only the requests you let through: the count never goes over {LIMIT}. "
                "Compare before counting (in a Lua script), or DECR again when you refuse.")
    now = pttl(redis, key)
    expect(0 < now <= left, f"the refused requests moved the end of the window of {key} back",
           expected="the end the window had before them", actual=key_state(redis, key), hint=FIXED_HINT)


@pytest.mark.task(3)
@pytest.mark.points(2)
@pytest.mark.rules("R6")
def test_retry_after(client, rng, redis):
    """A 429 says Retry-After: the whole seconds left in the window, rounded up (2 early, 1 late)"""
    api_key = new_key(rng, "retry")
    key = PREFIX + api_key
    fill(client, api_key)
    nth = LIMIT + 1
    for left, said in ((None, "almost 2 s"), (1400, "1.4 s"), (400, "0.4 s")):  # then as if 0.6 s, 1.6 s passed
        if left is not None:
            shorten(redis, key, left)
        response, right = retry_after_probe(client, redis, api_key, nth)
        expect_retry_after(response, right, said, key)
        nth += 1


@pytest.mark.task(3)
@pytest.mark.points(2)
@pytest.mark.rules("R11")
def test_window_resets(client, rng, redis):
    """When the window's key expires, the client gets 5 new requests"""
    api_key = new_key(rng, "reset")
    key = PREFIX + api_key
    fill(client, api_key)
    expect_refused(ping(client, api_key), LIMIT + 1, api_key)
    shorten(redis, key, 300)  # as if 1.7 s had passed
    expect_refused(ping(client, api_key), LIMIT + 2, api_key)
    deadline = time.monotonic() + 1.5
    while redis.type(key) != "none":
        if time.monotonic() > deadline:
            raise Mismatch(f"the window of {key} should have ended 0.3 s after this refused request, but the key "
                           "is still there 1.5 s later", expected="the key expires and a new window opens",
                           actual=key_state(redis, key), hint=FIXED_HINT)
        time.sleep(0.02)
    fill(client, api_key, hint="Once the key has expired, the next request opens a new window: count from 0 again.")
    expect_refused(ping(client, api_key), LIMIT + 1, api_key)
    left = pttl(redis, key)
    expect(WINDOW_MS - 500 <= left <= WINDOW_MS + SLACK_MS,
           f"the new window's key {key} expires in about {left / 1000:.1f} s",
           expected=f"about {WINDOW:g} s", actual=key_state(redis, key), hint=EXPIRY_HINT)


# ---------------------------------------------------------------- task 4: under load

ROUNDS = 8  # one client per round; each round lets a racy limiter through with probability ~0.8
PAIR_ROUNDS = 2  # two clients at once, their requests interleaved
BURST = 3 * LIMIT


def burst(client: Any, keys: list[str]) -> tuple[list[Any], float]:
    order = [keys[i % len(keys)] for i in range(BURST * len(keys))]
    started = time.monotonic()
    answers = client.concurrently(len(order), lambda i: ping(client, order[i]))
    return list(zip(order, answers, strict=True)), time.monotonic() - started


@pytest.mark.task(4)
@pytest.mark.points(4)
@pytest.mark.timeout(30)
@pytest.mark.rules("R15")
def test_concurrent_burst(client, rng, redis):
    """15 requests at once from one client: exactly 5 pass (several rounds, and two clients at once)"""
    plan = [1] * ROUNDS + [2] * PAIR_ROUNDS
    for number, clients in enumerate(plan, start=1):
        for attempt in range(3):
            keys = [new_key(rng, f"burst{number}-{attempt}-{c}") for c in range(clients)]
            results, elapsed = burst(client, keys)
            if elapsed < WINDOW * 0.75:
                break  # else the window may have ended during the burst: try again
        for api_key in keys:
            mine = [answer for sent_key, answer in results if sent_key == api_key]
            broken = [answer for answer in mine if isinstance(answer, Mismatch)]
            if broken:
                raise broken[0]
            passed = sum(1 for answer in mine if answer.status == 200)
            refused = sum(1 for answer in mine if answer.status == 429)
            if passed == LIMIT and refused == BURST - LIMIT:
                continue
            # A race lets a different number through on every run: the message names none of them,
            # so that the report is the same whenever the same mistake is made.
            together = (f"{BURST} requests with one API key, sent at once" if clients == 1 else
                        f"{BURST} requests from each of {clients} API keys, interleaved and sent at once")
            sent = f"{BURST} × GET /api/ping -H 'X-Api-Key: <one key>'" + (
                f", {clients} keys at once" if clients > 1 else "") + ", in a new window"
            if passed > LIMIT:
                raise Mismatch(f"{together}: more than {LIMIT} of them passed", sent=sent,
                               expected=f"exactly {LIMIT} × 200 and {BURST - LIMIT} × 429",
                               actual=f"more than {LIMIT} × 200", hint=ATOMIC_HINT)
            statuses = ", ".join(f"{sum(1 for a in mine if a.status == code)} × {code}"
                                 for code in sorted({a.status for a in mine}))
            raise Mismatch(f"{together}: {passed} passed and {refused} were refused", sent=sent,
                           expected=f"exactly {LIMIT} × 200 and {BURST - LIMIT} × 429", actual=statuses,
                           hint=f"The first {LIMIT} requests of a window pass, the others answer 429.")


@pytest.mark.task(4)
@pytest.mark.points(2)
@pytest.mark.rules("R16")
def test_every_key_expires(client, rng, redis):
    """Every ratelimit: key in Redis expires within 2 s"""
    ours = [new_key(rng, "sweep"), new_key(rng, "sweep2")]
    burst(client, ours)
    # This check's own clients only: other checks' keys are at any point of their windows (and some
    # shortened by the judge), which would make the verdict depend on timing.
    found = [PREFIX + k for k in ours if redis.type(PREFIX + k) != "none"]
    expect(found, "after requests from several clients Redis has no ratelimit: key at all",
           expected=f"keys {PREFIX}<API key>", actual="no key", hint=f"Count in Redis under {PREFIX}<API key>.")
    for key in found:
        left = pttl(redis, key)
        if left == -2:
            continue  # it expired while we looked
        expect(0 < left <= WINDOW_MS + SLACK_MS, f"the Redis key {key} " +
               ("never expires" if left < 0 else f"expires in about {left / 1000:.1f} s"),
               expected=f"every {PREFIX} key expires within {WINDOW:g} s", actual=key_state(redis, key),
               hint=EXPIRY_HINT)
