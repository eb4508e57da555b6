"""Hidden checks for 04-product-cache: cache-aside in front of GET /products/<id>.

Every check makes products of its own, with names, prices and ratings drawn from ``rng``: through
the API, or straight into the tables with the judge's ``db`` engine (reviews always are, so the
summary the app computes is never one it was told). What the cache does is observed, never timed:
the keys, values and TTLs are read with the judge's Redis connection, the commands the app sent with
``redis_probe.watch()`` (MONITOR), the SQL it sent with ``statements.watch()``, and Redis is taken
away from the app with ``faults.redis_down()``.

Review counts are 3, 6, 7 or 9 with a total the count does not divide, so every average has more
than two decimals and none ends in an exact half (the rounding is the same everywhere).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from runner.judge import (
    Mismatch,
    expect,
    expect_cache_hit,
    expect_equal,
    expect_error_json,
    expect_header,
    expect_json,
    expect_key,
    expect_no_key,
    expect_status,
    expect_ttl_between,
    insert,
    show,
)
from runner.judge.statements import expect_at_most

#: What the judge accepts as "a TTL of 60 to 120 s", read just after the answer that set it.
TTL = (59.0, 120.0)
MAX_NAME = 100
MAX_PRICE = 1_000_000
WORDS = ["green", "tea", "copper", "kettle", "linen", "mug", "oak", "lamp", "wool", "scarf", "cedar", "soap",
         "honey", "jar", "brass", "bell", "slate", "tray", "amber", "candle"]

KEY_HINT = 'Cache the answer under the key product:<id>: store.set(f"product:{product_id}", json.dumps(body), ex=90).'
TTL_HINT = "Write the key and its time to live in one command: store.set(key, value, ex=<seconds from 60 to 120>)."
DROP_HINT = ("After session.commit() of a write, delete the product's key: store.delete(f\"product:{product_id}\"), "
             "or set it again with the new answer and a new TTL.")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NOT_JSON_HINT = ("A body that is not JSON is a 400 with a JSON error: read it with request.get_json(silent=True), "
                 "which gives None instead of raising.")
DOWN_HINT = ("Catch redis.RedisError around each use of the Redis client (get, set, delete), and fall back to "
             "the database: Redis is a cache, the database is the truth.")


# ---------------------------------------------------------------- helpers


def fresh_name(rng: Any, label: str) -> str:
    return f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {label} {rng.randrange(16**6):06x}"


def fresh_price(rng: Any) -> int:
    """A price away from the bounds of R2 (the boundaries are tried separately)."""
    return rng.randrange(100, 90_000)


def fresh_ratings(rng: Any) -> list[int]:
    """3, 6, 7 or 9 ratings whose mean has more than two decimals (never an exact half to round)."""
    count = rng.choice([3, 6, 7, 9])
    ratings = [rng.randint(1, 5) for _ in range(count)]
    if sum(ratings) * 100 % count == 0:  # the mean would have two decimals or fewer: move it off
        ratings[0] = ratings[0] + 1 if ratings[0] < 5 else ratings[0] - 1
    return ratings


def key_of(product_id: int) -> str:
    return f"product:{product_id}"


def seed_product(db: Any, rng: Any, label: str, *, reviews: bool = True) -> int:
    """A product written straight into the tables (with its reviews); its id."""
    with db.begin() as conn:
        product_id = int(insert(conn, "products", {"name": fresh_name(rng, label), "price": fresh_price(rng)}))
        for rating in fresh_ratings(rng) if reviews else []:
            insert(conn, "reviews", {"product_id": product_id, "rating": rating})
    return product_id


def unknown_id(db: Any, rng: Any) -> int:
    """An id no product has, nor will have in this grade."""
    with db.connect() as conn:
        top = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM products")).scalar_one()
    return int(top) + 10**6 + rng.randrange(10**6)


def truth(db: Any, product_id: int) -> dict[str, Any] | None:
    """What GET /products/<id> must answer, computed by the judge from the tables (None: no such product)."""
    with db.connect() as conn:
        row = conn.execute(text("SELECT id, name, price FROM products WHERE id = :id"), {"id": product_id}).first()
        if row is None:
            return None
        count, total = conn.execute(text("SELECT COUNT(*), COALESCE(SUM(rating), 0) FROM reviews "
                                         "WHERE product_id = :id"), {"id": product_id}).one()
    count, total = int(count), int(total)
    return {"id": int(row[0]), "name": row[1], "price": int(row[2]),
            "reviews": {"count": count, "average": round(total / count, 2) if count else None}}


def differences(actual: Any, expected: dict[str, Any]) -> list[str]:
    """How a product's JSON differs from the expected one (averages compared as numbers)."""
    if not isinstance(actual, dict):
        return [f"expected a JSON object, got {show(actual)}"]
    found = []
    for name in ("id", "name", "price"):
        if name not in actual:
            found.append(f"{name} is missing")
        elif actual[name] != expected[name] or isinstance(actual[name], bool):
            found.append(f"{name}: expected {show(expected[name])}, got {show(actual[name])}")
    reviews = actual.get("reviews")
    if not isinstance(reviews, dict):
        found.append(f"reviews: expected an object {show(expected['reviews'])}, got {show(reviews)}")
        return found
    want = expected["reviews"]
    if reviews.get("count") != want["count"] or isinstance(reviews.get("count"), bool):
        found.append(f"reviews.count: expected {want['count']}, got {show(reviews.get('count'))}")
    average = reviews.get("average")
    if want["average"] is None:
        if average is not None:
            found.append(f"reviews.average: expected null (no reviews), got {show(average)}")
    elif not isinstance(average, int | float) or isinstance(average, bool) or abs(average - want["average"]) > 1e-6:
        found.append(f"reviews.average: expected {want['average']} (the mean rounded to 2 decimals), "
                     f"got {show(average)}")
    return found


def expect_product(response: Any, expected: dict[str, Any], *, status: int = 200, hint: str | None = None) -> Any:
    """The response has ``status`` and the product's JSON; its body."""
    expect_status(response, status, hint=hint)
    body = expect_json(response)
    found = differences(body, expected)
    if found:
        raise Mismatch(f"{response.request_line} answered the wrong product: " + "; ".join(found),
                       expected=json.dumps(expected), actual=response.body_excerpt(), hint=hint)
    return body


def read(client: Any, db: Any, product_id: int, *, hint: str | None = None) -> Any:
    """GET the product and compare it with the tables; the body."""
    expected = truth(db, product_id)
    assert expected is not None
    return expect_product(client.get(f"/products/{product_id}"), expected, hint=hint)


def read_cached(client: Any, db: Any, redis_probe: Any, product_id: int) -> Any:
    """Read the product so that it is cached (a set-up step): its body; stops the check when no key appears."""
    body = read(client, db, product_id)
    if redis_probe.state(key_of(product_id)) is None:
        raise Mismatch(f"this check needs the product cached first, but after GET /products/{product_id} Redis "
                       f"has no key {key_of(product_id)}", expected=f"a key {key_of(product_id)}",
                       actual=", ".join(redis_probe.keys("*")[:8]) or "no keys",
                       hint="Make the cache work first (rule R4): " + KEY_HINT, blocked_by="the cache (R4)")
    return body


def create(client: Any, rng: Any, label: str) -> int:
    """A product made through the API (a set-up step); its id."""
    response = client.post("/products", json={"name": fresh_name(rng, label), "price": fresh_price(rng)})
    if response.status not in (200, 201):
        raise Mismatch(f"this check creates a product first, but {response.request_line} returned {response.status}",
                       expected="201 and the product", actual=f"{response.status} {response.body_excerpt()}",
                       hint="Make POST /products work first (rule R2).", blocked_by="POST /products")
    body = expect_json(response)
    expect(isinstance(body, dict) and isinstance(body.get("id"), int), f"{response.request_line} should answer "
           "the product with its integer id", expected='{"id": 1, ...}', actual=response.body_excerpt())
    return int(body["id"])


def cached_json(redis_probe: Any, key: str) -> Any:
    """The JSON the key holds (the key exists, as a string)."""
    state = expect_key(redis_probe, key, type="string", hint=KEY_HINT)
    try:
        return json.loads(state.value)
    except ValueError:
        raise Mismatch(f"The Redis key {key} does not hold JSON", expected="the JSON of the response body",
                       actual=show(state.value),
                       hint="Store json.dumps(body): the text of the JSON the read answers, not str(body).") from None


def expect_dropped_or_fresh(redis_probe: Any, key: str, expected: dict[str, Any], after: str) -> None:
    """After a write: the key is gone, or holds the new answer with a new TTL in range."""
    state = redis_probe.state(key)
    if state is None:
        return
    try:
        value = json.loads(state.value) if state.type == "string" else None
    except ValueError:
        value = None
    found = differences(value, expected) if value is not None else ["not the JSON of a product"]
    if found:
        raise Mismatch(f"after {after}, Redis still has the key {key} with out-of-date data: " + "; ".join(found),
                       expected=f"no key {key}, or {json.dumps(expected)}", actual=show(state.value), hint=DROP_HINT)
    try:
        expect_ttl_between(redis_probe, key, *TTL, hint=TTL_HINT)
    except Mismatch as exc:
        raise Mismatch(f"after {after}, the key {key} holds the new answer, but {exc.message[0].lower()}"
                       f"{exc.message[1:]}", expected=exc.expected, actual=exc.actual,
                       hint="Every write of the key sets its TTL again: " + TTL_HINT) from None


# ---------------------------------------------------------------- task 1: the catalogue


@pytest.mark.gate
@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R1")
def test_get_product(client, db, rng):
    """GET /products/<id> answers the product and its review summary"""
    with_reviews = seed_product(db, rng, "gate")
    without = seed_product(db, rng, "gate-none", reviews=False)
    seed_product(db, rng, "gate-other")  # its reviews must not count for the others
    for product_id in (with_reviews, without):
        read(client, db, product_id, hint="count = the product's reviews, average = round(total / count, 2), "
                                          "null when there are none (the starter's product_body).")


@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R2")
def test_create_and_patch(client, db, rng):
    """POST /products answers 201; PATCH changes only the fields sent"""
    name, price = fresh_name(rng, "create"), fresh_price(rng)
    response = client.post("/products", json={"name": name, "price": price})
    expect_status(response, 201, hint="return jsonify(product_body(session, product)), 201")
    body = expect_json(response)
    expect(isinstance(body, dict) and isinstance(body.get("id"), int), f"{response.request_line} should answer the "
           "product with its integer id", expected='{"id": 1, ...}', actual=response.body_excerpt())
    product_id = int(body["id"])
    expected = {"id": product_id, "name": name, "price": price, "reviews": {"count": 0, "average": None}}
    expect_product(response, expected, status=201)
    read(client, db, product_id)
    changes = [{"price": fresh_price(rng)}, {"name": fresh_name(rng, "renamed")}, {}]
    for change in changes:
        expected = {**expected, **change}
        response = client.patch(f"/products/{product_id}", json=change)
        expect_product(response, expected, hint="PATCH changes only the fields it is sent, and answers the whole "
                                                "product.")
        expect_equal(differences(truth(db, product_id), expected), [],
                     f"how the saved row differs after {response.request_line}", hint="Commit the change.")


@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R2")
def test_product_validation(client, db, rng):
    """name is 1 to 100 characters, price an integer from 0 to 1,000,000; else 400"""
    longest = "x" * MAX_NAME
    for body in [{"name": longest, "price": 0}, {"name": "a", "price": MAX_PRICE}]:
        expect_status(client.post("/products", json=body), 201,
                      hint=f"A name of 1 to {MAX_NAME} characters and a price from 0 to {MAX_PRICE} are valid.")
    name, price = fresh_name(rng, "valid"), fresh_price(rng)
    bad = [{"name": longest + "x", "price": price}, {"name": "", "price": price}, {"name": 42, "price": price},
           {"name": name, "price": -1}, {"name": name, "price": MAX_PRICE + 1}, {"name": name, "price": True},
           {"name": name, "price": "450"}, {"name": name, "price": 4.5}, {"name": name}, {"price": price},
           [name, price], "a product"]
    with db.connect() as conn:
        before = conn.execute(text("SELECT COUNT(*) FROM products")).scalar_one()
    for body in bad:
        expect_error_json(client.post("/products", json=body), 400)
    expect_error_json(client.post("/products", data=f"name=tea&price={price}", headers=FORM), 400,
                      hint=NOT_JSON_HINT)
    with db.connect() as conn:
        after = conn.execute(text("SELECT COUNT(*) FROM products")).scalar_one()
    expect_equal(after, before, "products in the table after the refused POSTs", hint="A 400 saves nothing.")
    product_id = seed_product(db, rng, "patch-bad", reviews=False)
    expected = truth(db, product_id)
    assert expected is not None
    for body in [{"name": longest + "x"}, {"name": ""}, {"price": -1}, {"price": MAX_PRICE + 1}, {"price": False},
                 {"name": None}, [1]]:
        expect_error_json(client.patch(f"/products/{product_id}", json=body), 400)
    expect_error_json(client.patch(f"/products/{product_id}", data="price=1", headers=FORM), 400, hint=NOT_JSON_HINT)
    expect_equal(truth(db, product_id), expected, "the product after the refused PATCHes",
                 hint="Validate the whole body before changing anything.")


@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R3")
def test_reviews(client, db, rng):
    """POST /products/<id>/reviews answers 201; a rating is an integer from 1 to 5"""
    product_id = seed_product(db, rng, "reviews", reviews=False)
    for rating in (1, 5, rng.randint(2, 4)):
        response = client.post(f"/products/{product_id}/reviews", json={"rating": rating})
        expect_status(response, 201)
        body = expect_json(response)
        expect(isinstance(body, dict) and isinstance(body.get("id"), int)
               and body.get("product_id") == product_id and body.get("rating") == rating,
               f"{response.request_line} should answer the review",
               expected=f'{{"id": <int>, "product_id": {product_id}, "rating": {rating}}}',
               actual=response.body_excerpt())
    for body in [{"rating": 0}, {"rating": 6}, {"rating": True}, {"rating": "4"}, {"rating": 4.5}, {}, [4]]:
        expect_error_json(client.post(f"/products/{product_id}/reviews", json=body), 400)
    expect_error_json(client.post(f"/products/{product_id}/reviews", data="rating=4", headers=FORM), 400,
                      hint=NOT_JSON_HINT)
    expected = truth(db, product_id)
    assert expected is not None
    expect_equal(expected["reviews"]["count"], 3, "reviews saved (three valid, eight refused)",
                 hint="A 400 saves nothing.")
    read(client, db, product_id, hint="The table holds the three accepted reviews, so the read must count them; "
                                      "if it answered from Redis, the cached answer is out of date (rule R9).")


@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R3")
def test_delete(client, db, rng):
    """DELETE answers 204 and removes the product and its reviews"""
    product_id = seed_product(db, rng, "delete")
    response = client.delete(f"/products/{product_id}")
    expect_status(response, 204)
    expect_equal(response.text, "", f"the body of {response.request_line}", hint='return "", 204')
    expect_error_json(client.get(f"/products/{product_id}"), 404)
    expect_error_json(client.delete(f"/products/{product_id}"), 404)
    with db.connect() as conn:
        left = conn.execute(text("SELECT COUNT(*) FROM reviews WHERE product_id = :id"), {"id": product_id})
        expect_equal(left.scalar_one(), 0, f"reviews of the deleted product {product_id} left in the table",
                     hint="Delete the product's reviews with it.")


@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R3")
def test_unknown_404(client, db, rng):
    """An unknown id answers 404 on every route"""
    missing = unknown_id(db, rng)
    path = f"/products/{missing}"
    expect_error_json(client.get(path), 404)
    expect_error_json(client.patch(path, json={"price": fresh_price(rng)}), 404)
    expect_error_json(client.patch(path, json={"price": -1}), 404)
    expect_error_json(client.delete(path), 404)
    expect_error_json(client.post(f"{path}/reviews", json={"rating": 4}), 404,
                      hint="Look the product up first: a review of a product that does not exist is a 404.")
    expect_error_json(client.post(f"{path}/reviews", json={"rating": 9}), 404)
    with db.connect() as conn:
        orphans = conn.execute(text("SELECT COUNT(*) FROM reviews WHERE product_id = :id"), {"id": missing})
        expect_equal(orphans.scalar_one(), 0, f"reviews saved for the unknown product {missing}")


# ---------------------------------------------------------------- task 2: cache-aside


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R4")
def test_read_stores_the_answer(client, db, redis_probe, rng):
    """A read stores its answer under product:<id>, as the JSON of the body"""
    for label in ("store", "store-api"):
        product_id = seed_product(db, rng, label) if label == "store" else create(client, rng, label)
        body = read(client, db, product_id)
        value = cached_json(redis_probe, key_of(product_id))
        expect_equal(value, body, f"json.loads of the key {key_of(product_id)}, against the body GET answered",
                     hint="Cache the whole answer (the product and its reviews summary), exactly as the read "
                          "answers it: json.dumps(body).")


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R5")
def test_ttl(client, db, redis, redis_probe, rng):
    """Every write of the key sets a time to live of 60 to 120 s"""
    product_id = seed_product(db, rng, "ttl")
    key = key_of(product_id)
    read(client, db, product_id)
    expect_ttl_between(redis_probe, key, *TTL, hint=TTL_HINT)
    redis.delete(key)  # as if it had expired: the next read writes it again
    read(client, db, product_id)
    try:
        expect_ttl_between(redis_probe, key, *TTL, hint=TTL_HINT)
    except Mismatch as exc:
        raise Mismatch(f"after the key expired (the judge deleted it) and was read again, {exc.message[0].lower()}"
                       f"{exc.message[1:]}", expected=exc.expected, actual=exc.actual, hint=TTL_HINT) from None


@pytest.mark.task(2)
@pytest.mark.points(3)
@pytest.mark.rules("R6")
def test_second_read_is_a_hit(client, db, redis, redis_probe, statements, rng):
    """The second read is served from Redis: GET product:<id>, no SQL"""
    product_id = seed_product(db, rng, "hit")
    key = key_of(product_id)
    path = f"/products/{product_id}"
    first = read_cached(client, db, redis_probe, product_id)
    with statements.watch() as sql, redis_probe.watch(f"GET {path} (the second read)") as log:
        response = client.get(path)
    expect_status(response, 200)
    expect_cache_hit(log, key, command="GET", hint=f"Look the answer up first: cached = store.get({key!r}).")
    expect_at_most(sql, 0, "SELECT", f"GET {path} (a cache hit)",
                   hint="On a hit, answer the cached JSON at once: open no database session, not even to check "
                        "that the product exists.")
    expect_header(response, "Content-Type", "application/json",
                  hint='Answer the cached text as JSON: Response(cached, mimetype="application/json").')
    expect_equal(expect_json(response), first, f"the body of {response.request_line} against the first read")
    # The judge changes the cached answer: a hit must answer what Redis holds, as it is.
    marked = {**first, "name": fresh_name(rng, "from-redis")}
    redis.set(key, json.dumps(marked), keepttl=True)
    response = client.get(path)
    expect_status(response, 200)
    expect_equal(expect_json(response), marked,
                 f"the body of {response.request_line} after the judge changed the value of {key}",
                 hint="On a hit, answer the cached JSON as it is, without recomputing it from the database.")


@pytest.mark.task(2)
@pytest.mark.points(2)
@pytest.mark.rules("R7")
def test_404_not_cached(client, db, redis_probe, rng):
    """A 404 is never cached"""
    missing = unknown_id(db, rng)
    key = key_of(missing)
    for _ in range(2):
        expect_error_json(client.get(f"/products/{missing}"), 404)
        expect_no_key(redis_probe, key, hint="Cache only what a 200 answers: when the product is not found, "
                                             "return the 404 without writing to Redis.")
    with db.begin() as conn:
        insert(conn, "products", {"id": missing, "name": fresh_name(rng, "late"), "price": fresh_price(rng)})
    read(client, db, missing, hint="The product exists now: nothing cached may still answer 404 for it.")


# ---------------------------------------------------------------- task 3: invalidation


@pytest.mark.task(3)
@pytest.mark.points(3)
@pytest.mark.rules("R8")
def test_patch_invalidates(client, db, redis_probe, rng):
    """After a PATCH the next read answers the new data"""
    product_id = seed_product(db, rng, "patch")
    key = key_of(product_id)
    for change in ({"name": fresh_name(rng, "patched"), "price": fresh_price(rng)}, {"price": fresh_price(rng)}):
        read_cached(client, db, redis_probe, product_id)
        response = client.patch(f"/products/{product_id}", json=change)
        expected = truth(db, product_id)
        assert expected is not None
        expect_product(response, expected)
        expect_dropped_or_fresh(redis_probe, key, expected, response.request_line)
        read(client, db, product_id, hint=DROP_HINT)


@pytest.mark.task(3)
@pytest.mark.points(3)
@pytest.mark.rules("R9")
def test_review_invalidates(client, db, redis_probe, rng):
    """After a new review the next read answers the new count and average"""
    product_id = seed_product(db, rng, "review")
    key = key_of(product_id)
    for _ in range(2):
        read_cached(client, db, redis_probe, product_id)
        response = client.post(f"/products/{product_id}/reviews", json={"rating": rng.randint(1, 5)})
        expect_status(response, 201)
        expected = truth(db, product_id)
        assert expected is not None
        expect_dropped_or_fresh(redis_probe, key, expected, response.request_line)
        read(client, db, product_id, hint="A review changes the product's summary: " + DROP_HINT)


@pytest.mark.task(3)
@pytest.mark.points(2)
@pytest.mark.rules("R10")
def test_delete_invalidates(client, db, redis_probe, rng):
    """After a DELETE the key is gone and the next read answers 404"""
    product_id = seed_product(db, rng, "gone")
    key = key_of(product_id)
    read_cached(client, db, redis_probe, product_id)
    response = client.delete(f"/products/{product_id}")
    expect_status(response, 204)
    expect_no_key(redis_probe, key, hint=f"After deleting the product, delete its key: store.delete({key!r}).")
    expect_error_json(client.get(f"/products/{product_id}"), 404)
    expect_no_key(redis_probe, key)


@pytest.mark.task(3)
@pytest.mark.points(2)
@pytest.mark.rules("R11")
def test_other_keys_untouched(client, db, redis_probe, rng):
    """A write drops only its own product's key"""
    target = seed_product(db, rng, "target")
    others = [seed_product(db, rng, "bystander") for _ in range(2)]
    for product_id in (target, *others):
        read_cached(client, db, redis_probe, product_id)
    kept = {key_of(p): redis_probe.value(key_of(p)) for p in others}
    writes = [("PATCH", f"/products/{target}", {"price": fresh_price(rng)}),
              ("POST", f"/products/{target}/reviews", {"rating": rng.randint(1, 5)}),
              ("DELETE", f"/products/{target}", None)]
    for method, path, body in writes:
        response = client.request(method, path, json_body=body)
        expect_status(response, (200, 201, 204))
        for key, value in kept.items():
            now = redis_probe.value(key)
            expect(now == value, f"after {response.request_line}, the key {key} of another product "
                   + ("is gone" if now is None else "changed"), expected=f"{key} unchanged: {show(value)}",
                   actual="no such key" if now is None else show(now),
                   hint="Delete only the written product's key (store.delete(f\"product:{id}\")): no FLUSHDB, "
                        "no loop over every product:* key.")


# ---------------------------------------------------------------- task 4: when Redis is down


@pytest.mark.task(4)
@pytest.mark.points(3)
@pytest.mark.rules("R12")
def test_reads_when_redis_down(client, db, redis_probe, faults, rng):
    """With Redis down, reads answer 200 from the database"""
    cached = seed_product(db, rng, "down-cached")
    uncached = seed_product(db, rng, "down-fresh")
    missing = unknown_id(db, rng)
    read_cached(client, db, redis_probe, cached)
    with faults.redis_down():
        answers = [(product_id, client.get(f"/products/{product_id}")) for product_id in (cached, uncached)]
        not_found = client.get(f"/products/{missing}")
    hint = f"Redis was down ({faults.how}). " + DOWN_HINT
    for product_id, response in answers:
        expected = truth(db, product_id)
        assert expected is not None
        expect_product(response, expected, hint=hint)
    expect_error_json(not_found, 404, hint=hint)


@pytest.mark.task(4)
@pytest.mark.points(3)
@pytest.mark.rules("R13")
def test_writes_when_redis_down(client, db, redis, redis_probe, faults, rng):
    """With Redis down, every write succeeds and is saved"""
    changed = seed_product(db, rng, "down-patch")
    removed = seed_product(db, rng, "down-delete")
    for product_id in (changed, removed):
        read_cached(client, db, redis_probe, product_id)
    name, price, rating = fresh_name(rng, "down-new"), fresh_price(rng), rng.randint(1, 5)
    new_name = fresh_name(rng, "down-renamed")
    with faults.redis_down():
        created = client.post("/products", json={"name": name, "price": price})
        patched = client.patch(f"/products/{changed}", json={"name": new_name})
        reviewed = client.post(f"/products/{changed}/reviews", json={"rating": rating})
        deleted = client.delete(f"/products/{removed}")
    # The keys cached before the outage may now be out of date (the statement allows it): drop them.
    redis.delete(key_of(changed), key_of(removed))
    hint = f"Redis was down ({faults.how}). " + DOWN_HINT
    expect_status(created, 201, hint=hint)
    body = expect_json(created)
    created_id = body.get("id") if isinstance(body, dict) else None
    expect(isinstance(created_id, int) and truth(db, created_id) is not None,
           f"{created.request_line} answered 201 while Redis was down, but the product is not in the table",
           expected=f"a row in products named {name!r}", actual=created.body_excerpt(), hint=hint)
    expect_status(patched, 200, hint=hint)
    expect_status(reviewed, 201, hint=hint)
    expect_status(deleted, 204, hint=hint)
    now = truth(db, changed)
    expect(now is not None and now["name"] == new_name,
           f"{patched.request_line} answered 200 while Redis was down, but the new name was not saved",
           expected=new_name, actual=show(now and now["name"]), hint="Commit first, then drop the key.")
    expect(truth(db, removed) is None, f"{deleted.request_line} answered 204 while Redis was down, but the "
           "product is still in the table", expected="no row", actual="the row is there",
           hint="Commit first, then drop the key.")
    read(client, db, changed)


@pytest.mark.task(4)
@pytest.mark.points(2)
@pytest.mark.rules("R14")
def test_cache_back_after_outage(client, db, redis_probe, statements, faults, rng):
    """When Redis is back, the cache works again"""
    product_id = seed_product(db, rng, "back")
    key = key_of(product_id)
    path = f"/products/{product_id}"
    with faults.redis_down():
        during = client.get(path)
    expected = truth(db, product_id)
    assert expected is not None
    expect_product(during, expected, hint=f"Redis was down ({faults.how}). " + DOWN_HINT)
    body = read(client, db, product_id)
    if redis_probe.state(key) is None:  # one read may still meet a connection that broke during the outage
        body = read(client, db, product_id)
    hint = ("Redis is back: keep using the same client (it reconnects by itself), and never switch the cache "
            "off for good after an error.")
    value = cached_json(redis_probe, key) if redis_probe.state(key) is not None else None
    if value is None:
        raise Mismatch(f"Redis was back, but two reads of {path} stored no key {key}", expected=f"a key {key}",
                       actual=", ".join(redis_probe.keys("product:*")[:8]) or "no product keys", hint=hint)
    expect_equal(value, body, f"json.loads of the key {key}", hint=hint)
    with statements.watch() as sql, redis_probe.watch(f"GET {path} (after the outage)") as log:
        response = client.get(path)
    expect_status(response, 200)
    expect_cache_hit(log, key, command="GET", hint=hint)
    expect_at_most(sql, 0, "SELECT", f"GET {path} (a cache hit after the outage)", hint=hint)
