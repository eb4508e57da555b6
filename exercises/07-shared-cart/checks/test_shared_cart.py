"""Hidden checks for 07-shared-cart: two instances of the learner's app, one Redis.

``instances[0]`` and ``instances[1]`` are the two copies (messages call them instance 1 and 2).
Every check signs in users of its own, with names drawn from ``rng``, so checks never share a
session or a cart; the check that stops an instance runs last.
"""

from __future__ import annotations

from typing import Any

import pytest

from runner.judge import (
    Mismatch,
    expect,
    expect_equal,
    expect_error_json,
    expect_json,
    expect_key,
    expect_no_key,
    expect_status,
    expect_ttl_between,
    show,
)

SESSION_TTL = 1800
#: The TTL a session may show when the judge reads it just after the request that set it (a second
#: of slack for a loaded machine; 1799 s set by the app would already show less).
FRESH = (SESSION_TTL - 1, SESSION_TTL)
SKU_WORDS = ["MUG", "TEA", "PEN", "BAG", "CAP", "LAMP", "SOCK", "BOOK", "JAR", "KITE"]
NAME_WORDS = ["ada", "grace", "linus", "alan", "edsger", "barbara", "ken", "dennis", "margaret", "guido"]

MEMORY_HINT = ("Instances share no memory: keep sessions and carts in Redis (one REDIS_URL for both), "
               "not in a dict or a global.")
SESSION_HINT = 'At login: store.set(f"session:{token}", user, ex=1800); on each request: store.get(...) it.'
CART_HINT = 'Keep the cart in the hash cart:<user>: store.hincrby(f"cart:{user}", sku, qty), store.hgetall(...).'


# ---------------------------------------------------------------- helpers


def fresh_user(rng: Any, label: str) -> str:
    """A user name no other check uses, valid under R8 (a-z, 0-9, _; at most 32 characters)."""
    return f"{rng.choice(NAME_WORDS)}_{label}_{rng.randrange(16**6):06x}"[:32]


def fresh_sku(rng: Any) -> str:
    return f"{rng.choice(SKU_WORDS)}-{rng.randrange(10**4):04d}"


def some_qty(rng: Any) -> int:
    """A quantity away from the bounds of R13, for checks that are not about them (same verdict for every seed)."""
    return rng.randint(2, 50)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: Any, user: str) -> str:
    """Sign in (a set-up step of most checks); the token."""
    response = client.post("/login", json={"user": user})
    if response.status != 201:
        raise Mismatch(f"this check signs in first, but {response.request_line} returned {response.status}",
                       expected='201 {"token": "..."}', actual=f"{response.status} {response.body_excerpt()}",
                       hint="Make POST /login work first (rule R1).", blocked_by="POST /login")
    data = expect_json(response)
    token = data.get("token") if isinstance(data, dict) else None
    expect(isinstance(token, str) and token != "", f"{response.request_line} should answer a token",
           expected='{"token": "<string>"}', actual=response.body_excerpt())
    return str(token)


def me(client: Any, token: str, *, hint: str | None = None) -> Any:
    response = client.get("/me", headers=bearer(token))
    expect_status(response, 200, hint=hint)
    return expect_json(response)


def expect_cart(response: Any, items: dict[str, int], *, hint: str | None = None) -> None:
    expect_status(response, 200, hint=hint)
    expect_equal(expect_json(response), {"items": items, "total": sum(items.values())},
                 f"the cart {response.request_line} answered", hint=hint)


def add(client: Any, token: str, sku: str, qty: int) -> Any:
    return client.post("/cart/items", json={"sku": sku, "qty": qty}, headers=bearer(token))


# ---------------------------------------------------------------- task 1: sessions in Redis


@pytest.mark.gate
@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R1")
def test_login(instances, rng):
    """POST /login answers 201 with a token"""
    response = instances[0].post("/login", json={"user": fresh_user(rng, "login")})
    expect_status(response, 201)
    data = expect_json(response)
    expect(isinstance(data, dict) and isinstance(data.get("token"), str) and data["token"] != "",
           f"{response.request_line} should answer {{\"token\": \"<string>\"}}",
           expected='{"token": "<string>"}', actual=response.body_excerpt())


@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R2")
def test_tokens_are_random(instances, rng):
    """Every login gets a new random token, on either instance"""
    user = fresh_user(rng, "tokens")
    tokens = []
    turns = instances.alternate()
    for _ in range(6):
        tokens.append(login(next(turns), user))
    short = [t for t in tokens if len(t) < 32]
    expect(not short, "a token is shorter than 32 characters", expected="at least 32 characters",
           actual=f"{show(short[0])} ({len(short[0])} characters)" if short else None,
           hint="Make tokens with secrets.token_urlsafe(32): random, and 43 characters long.")
    expect(len(set(tokens)) == len(tokens),
           f"six logins of the user {user} (alternating instances) got only {len(set(tokens))} different tokens",
           expected="six different tokens", actual=", ".join(tokens),
           hint="A token must come from the secrets module, never from the user name or a counter "
                "(each instance's counter starts at the same number).")


@pytest.mark.task(1)
@pytest.mark.points(3)
@pytest.mark.rules("R3")
def test_session_on_both_instances(instances, rng):
    """A session started on one instance is valid on the other"""
    for first, second in ((0, 1), (1, 0)):
        user = fresh_user(rng, "both")
        token = login(instances[first], user)
        expect_equal(me(instances[second], token, hint=MEMORY_HINT), {"user": user},
                     f"GET /me on instance {second + 1}")


@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R4")
def test_session_key(instances, redis_probe, rng):
    """The session is the key session:<token> = user, for 1800 s"""
    user = fresh_user(rng, "key")
    token = login(instances[rng.randrange(2)], user)
    expect_key(redis_probe, f"session:{token}", type="string", value=user, ttl=FRESH, hint=SESSION_HINT)


@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R5")
def test_sliding_expiry(instances, redis, redis_probe, rng):
    """Each authenticated request resets the session's TTL to 1800 s"""
    user = fresh_user(rng, "sliding")
    token = login(instances[0], user)
    key = f"session:{token}"
    hint = ("Every authenticated request, on any route and either instance, must reset the session's "
            "time to live: store.expire(key, 1800) where you read the session.")
    for index, (method, path) in enumerate([("GET", "/me"), ("GET", "/cart"), ("GET", "/me")]):
        left = rng.randrange(60, 900)
        redis.expire(key, left)  # as if the session had been idle for a while
        response = instances[(index + 1) % 2].request(method, path, headers=bearer(token))
        expect_status(response, 200, hint=MEMORY_HINT)
        try:
            expect_ttl_between(redis_probe, key, *FRESH, hint=hint)
        except Mismatch as exc:
            raise Mismatch(f"after {response.request_line}, {exc.message[0].lower()}{exc.message[1:]} "
                           f"(the judge had set it to {left} s just before)", expected=exc.expected,
                           actual=exc.actual, hint=hint) from None


@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R6", "R17")
def test_unauthenticated_401(instances, rng):
    """Without a valid bearer token every route but /login answers 401"""
    token = login(instances[0], fresh_user(rng, "unauth"))
    bad = [
        ("no Authorization header", {}),
        ("another scheme", {"Authorization": f"Basic {token}"}),
        ("an unknown token", bearer(token[:-4] + ("abcd" if not token.endswith("abcd") else "wxyz"))),
        ("Bearer with no token", {"Authorization": "Bearer "}),
    ]
    routes = [("GET", "/me", None), ("GET", "/cart", None), ("POST", "/cart/items", {"sku": "MUG-1", "qty": 1}),
              ("DELETE", "/cart/items/MUG-1", None), ("POST", "/logout", None)]
    for number, (what, headers) in enumerate(bad):
        method, path, body = routes[number % len(routes)]
        for client in instances:
            response = client.request(method, path, headers=headers, json_body=body)
            expect_error_json(response, 401, hint=f"With {what}, answer 401 {{\"error\": ...}} on every route "
                                                  "but /login.")
    for method, path, body in routes:
        expect_error_json(instances[1].request(method, path, json_body=body), 401)


@pytest.mark.task(1)
@pytest.mark.points(3)
@pytest.mark.rules("R7")
def test_logout(instances, redis_probe, rng):
    """Logout answers 204 and ends the session on both instances"""
    user = fresh_user(rng, "logout")
    token = login(instances[0], user)
    me(instances[0], token)  # this instance has seen the session: a copy in its memory would outlive logout
    me(instances[1], token, hint=MEMORY_HINT)
    response = instances[1].post("/logout", headers=bearer(token))
    expect_status(response, 204)
    expect_equal(response.text, "", f"the body of {response.request_line}",
                 hint='204 means no content: return "", 204')
    expect_no_key(redis_probe, f"session:{token}", hint="Logout deletes the session's key: store.delete(...).")
    for client in instances:
        expect_error_json(client.get("/me", headers=bearer(token)), 401,
                          hint="After logout the token is dead on every instance: read the session from Redis on "
                               "every request, and keep no copy of it in the process.")
    expect_error_json(instances[0].post("/logout", headers=bearer(token)), 401)


@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R8", "R17")
def test_user_names(instances, rng):
    """User names: 1 to 32 of a-z, 0-9 and _, else 400"""
    longest = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_") for _ in range(32))
    for name in [longest, rng.choice("abcxyz"), f"{rng.randrange(10**6)}_{rng.choice(NAME_WORDS)}"]:
        response = instances[1].post("/login", json={"user": name})
        expect_status(response, 201, hint="1 to 32 characters of a-z, 0-9 and _ are a valid user name.")
    for body in [{"user": longest + "x"}, {"user": ""}, {"user": "Ada"}, {"user": "ada lovelace"},
                 {"user": 42}, {"user": None}, {}, {"name": "ada"}, ["ada"]]:
        expect_error_json(instances[0].post("/login", json=body), 400)
    form = instances[1].post("/login", data="user=ada", headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_error_json(form, 400, hint="A body that is not JSON is a 400 too: request.get_json(silent=True) returns "
                                      "None for it instead of raising.")


# ---------------------------------------------------------------- task 2: carts in Redis


@pytest.mark.task(2)
@pytest.mark.points(1)
@pytest.mark.rules("R9")
def test_empty_cart(instances, rng):
    """A new user's cart is empty"""
    token = login(instances[0], fresh_user(rng, "empty"))
    for client in instances:
        expect_cart(client.get("/cart", headers=bearer(token)), {})


@pytest.mark.task(2)
@pytest.mark.points(3)
@pytest.mark.rules("R10")
def test_cart_shared(instances, rng):
    """Items added on either instance add up, and both instances show the cart"""
    token = login(instances[0], fresh_user(rng, "shared"))
    skus = [fresh_sku(rng) for _ in range(3)]
    truth: dict[str, int] = {}
    turns = instances.alternate()
    for step in range(7):
        sku = skus[step % len(skus)] if step < 5 else rng.choice(skus)
        qty = some_qty(rng)
        truth[sku] = truth.get(sku, 0) + qty
        expect_cart(add(next(turns), token, sku, qty), truth, hint=MEMORY_HINT)
    for client in instances:
        expect_cart(client.get("/cart", headers=bearer(token)), truth, hint=MEMORY_HINT)


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R11")
def test_cart_key(instances, redis_probe, rng):
    """The cart is the hash cart:<user>, one field per SKU"""
    user = fresh_user(rng, "hash")
    token = login(instances[1], user)
    truth: dict[str, int] = {}
    for _ in range(rng.randint(2, 4)):
        sku, qty = fresh_sku(rng), some_qty(rng)
        truth[sku] = truth.get(sku, 0) + qty
        expect_status(add(instances[rng.randrange(2)], token, sku, qty), 200)
    expect_key(redis_probe, f"cart:{user}", type="hash", value=truth, hint=CART_HINT)


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R12")
def test_cart_belongs_to_the_user(instances, rng):
    """A new login sees the same cart; two users' carts are separate"""
    user, other = fresh_user(rng, "owner"), fresh_user(rng, "other")
    token = login(instances[0], user)
    sku, qty = fresh_sku(rng), some_qty(rng)
    expect_status(add(instances[0], token, sku, qty), 200)
    again = login(instances[1], user)
    expect_cart(instances[1].get("/cart", headers=bearer(again)), {sku: qty},
                hint="The cart belongs to the user, not to the token: key it cart:<user>.")
    stranger = login(instances[0], other)
    expect_cart(instances[0].get("/cart", headers=bearer(stranger)), {},
                hint="Each user has a cart of their own: cart:<user>.")


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R13", "R17")
def test_item_validation(instances, rng):
    """SKUs of 1 to 40 of A-Z, 0-9, -, and quantities from 1 to 99; else 400 and no change"""
    token = login(instances[0], fresh_user(rng, "valid"))
    longest = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") for _ in range(40))
    truth: dict[str, int] = {}
    for sku, qty in [(longest, 1), (fresh_sku(rng), 99), (rng.choice("ABC"), rng.randint(2, 98))]:
        response = add(instances[1], token, sku, qty)
        truth[sku] = truth.get(sku, 0) + qty
        expect_cart(response, truth, hint="1 to 40 characters of A-Z, 0-9 and -, and a qty from 1 to 99, are valid.")
    sku = fresh_sku(rng)
    bad: list[Any] = [
        {"sku": sku, "qty": 0}, {"sku": sku, "qty": 100}, {"sku": sku, "qty": -1}, {"sku": sku, "qty": "2"},
        {"sku": sku, "qty": True}, {"sku": sku, "qty": 1.5}, {"sku": sku}, {"qty": 1},
        {"sku": "", "qty": 1}, {"sku": longest + "A", "qty": 1}, {"sku": sku.lower(), "qty": 1},
        {"sku": "MUG 01", "qty": 1}, {"sku": 7, "qty": 1}, [sku, 1],
    ]
    for body in bad:
        client = instances[rng.randrange(2)]
        expect_error_json(client.post("/cart/items", json=body, headers=bearer(token)), 400)
    text = instances[1].post("/cart/items", data=f"{sku} 1", headers={**bearer(token), "Content-Type": "text/plain"})
    expect_error_json(text, 400, hint="A body that is not JSON is a 400 too: request.get_json(silent=True).")
    expect_cart(instances[0].get("/cart", headers=bearer(token)), truth,
                hint="A refused item changes nothing: validate before you touch Redis.")


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R14")
def test_remove_item(instances, rng):
    """DELETE /cart/items/<sku> answers 204 and the SKU is gone on both; 404 when not in the cart"""
    token = login(instances[0], fresh_user(rng, "remove"))
    keep = fresh_sku(rng)
    drop = next(sku for sku in iter(lambda: fresh_sku(rng), None) if sku != keep)
    left = {keep: some_qty(rng)}
    expect_status(add(instances[0], token, keep, left[keep]), 200)
    expect_status(add(instances[0], token, drop, some_qty(rng)), 200)
    response = instances[1].delete(f"/cart/items/{drop}", headers=bearer(token))
    expect_status(response, 204, hint=MEMORY_HINT)
    expect_equal(response.text, "", f"the body of {response.request_line}", hint='return "", 204')
    for client in instances:
        expect_cart(client.get("/cart", headers=bearer(token)), left, hint=MEMORY_HINT)
    expect_error_json(instances[0].delete(f"/cart/items/{drop}", headers=bearer(token)), 404,
                      hint="A SKU that is not in the cart (any more) answers 404: store.hdel returns 0 then.")
    expect_error_json(instances[1].delete(f"/cart/items/{fresh_sku(rng)}", headers=bearer(token)), 404)


# ---------------------------------------------------------------- task 3: two instances at once


@pytest.mark.task(3)
@pytest.mark.points(4)
@pytest.mark.rules("R15")
@pytest.mark.concurrent
@pytest.mark.timeout(20)
def test_concurrent_additions(instances, rng):
    """Additions from both instances at the same moment are all counted"""
    rounds, per_round = 3, 24
    for round_number in range(rounds):
        token = login(instances[round_number % 2], fresh_user(rng, f"race{round_number}"))
        sku = fresh_sku(rng)
        quantities = [rng.randint(1, 9) for _ in range(per_round)]

        def one(i: int, token: str = token, sku: str = sku, quantities: list[int] = quantities) -> Any:
            return add(instances[i % 2], token, sku, quantities[i])

        outcomes = instances[0].concurrently(per_round, one)
        for outcome in outcomes:
            if isinstance(outcome, Mismatch):
                raise outcome
            expect_status(outcome, 200)
        expected = sum(quantities)
        for client in instances:  # both: neither may answer from a copy of its own
            response = client.get("/cart", headers=bearer(token))
            expect_status(response, 200)
            cart = expect_json(response)
            items = cart.get("items") if isinstance(cart, dict) else None
            got = items.get(sku) if isinstance(items, dict) else None
            if got == expected:
                continue
            raise Mismatch(
                f"{per_round} additions to {sku} sent at once to both instances (round {round_number + 1} of "
                f"{rounds}) should make {expected}; {response.request_line} says {got}: "
                f"{'some additions were lost' if isinstance(got, int) and got < expected else 'wrong total'}",
                expected=expected, actual=got, sent=f"{per_round} × POST /cart/items, half on each instance",
                hint="Reading a quantity and writing back the sum loses additions made in between by the other "
                     "instance. Let Redis add: store.hincrby(f\"cart:{user}\", sku, qty) is one atomic command; "
                     "and read the cart from Redis every time.")


@pytest.mark.task(3)
@pytest.mark.points(3)
@pytest.mark.rules("R16")
def test_instance_stopped(instances, rng):
    """Instance 1 stops; instance 2 serves its sessions and carts"""
    user = fresh_user(rng, "survivor")
    token = login(instances[0], user)
    truth: dict[str, int] = {}
    for _ in range(3):
        sku, qty = fresh_sku(rng), some_qty(rng)
        truth[sku] = truth.get(sku, 0) + qty
        expect_status(add(instances[0], token, sku, qty), 200)
    instances.stop(0)
    hint = "Instance 1 was stopped: whatever it kept in memory is gone. Keep sessions and carts in Redis."
    expect_equal(me(instances[1], token, hint=hint), {"user": user}, "GET /me on instance 2", hint=hint)
    expect_cart(instances[1].get("/cart", headers=bearer(token)), truth, hint=hint)
    fresh = login(instances[1], fresh_user(rng, "after"))
    expect_cart(add(instances[1], fresh, "AFTER-1", 1), {"AFTER-1": 1})
