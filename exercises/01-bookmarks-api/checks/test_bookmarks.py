"""Hidden checks for 01-bookmarks-api.

Every check creates the bookmarks it needs, with URLs and titles drawn from ``rng`` (different in
every grade), and never assumes the table is empty: other checks share the same database.
Creating a bookmark for a check accepts 200 or 201, so that only the check about the status code
fails when the status code is wrong.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from runner.judge import Mismatch, expect, expect_equal, expect_json, expect_keys, expect_status, show

KEYS = ["id", "url", "title", "tags"]
HOSTS = ["example.com", "example.org", "docs.example.net", "blog.example.io", "news.example.dev"]
WORDS = [
    "river", "copper", "lantern", "orbit", "maple", "signal", "harbor", "pixel", "meadow", "cipher",
    "falcon", "velvet", "quartz", "ember", "tundra", "saffron", "glacier", "nebula", "willow", "cobalt",
]
JSON_HEADERS = {"Content-Type": "application/json"}

ERROR_HINT = 'Answer errors with a JSON object such as {"error": "url is required"} (jsonify it).'
ROLLBACK_HINT = (
    "After a failed commit (such as an IntegrityError) the session must be rolled back "
    "(session.rollback()), or every later query on it fails; a new session per request "
    "(with Session() as session: ...) avoids sharing a broken one."
)
NOT_FOUND_HINT = (
    "session.get(Bookmark, id) returns None when there is no such row: check for None and answer "
    '404 with {"error": "..."} before using the bookmark.'
)


# ---------------------------------------------------------------- helpers


def fresh_url(rng: Any, label: str) -> str:
    """A URL no other check uses (the label is unique per check), different in every grade."""
    return f"https://{rng.choice(HOSTS)}/{label}/{rng.choice(WORDS)}-{rng.randrange(16**10):010x}"


def fresh_title(rng: Any) -> str:
    return " ".join(rng.sample(WORDS, 3)).capitalize()


def fresh_tags(rng: Any) -> list[str]:
    return rng.sample(WORDS, rng.randint(1, 3))


def create(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Create a bookmark a check needs; 200 or 201 is accepted here (another check insists on 201)."""
    response = client.post("/bookmarks", json=body)
    if response.status not in (200, 201):
        hint = "Make creating a bookmark work first (task 1); this check builds on it."
        if response.status >= 500:
            hint += " If creating worked in other checks, an earlier error may have broken a shared session."
            hint += " " + ROLLBACK_HINT
        raise Mismatch(
            f"this check creates a bookmark first, but {response.request_line} returned {response.status}",
            expected="201 and the created bookmark",
            actual=f"{response.status} {response.body_excerpt()}",
            sent=response.request_summary(),
            hint=hint,
            blocked_by="POST /bookmarks",
        )
    data = expect_json(response)
    expect_keys(data, KEYS, f"the JSON returned by {response.request_line}", sent=response.request_summary())
    expect(
        isinstance(data["id"], int) and not isinstance(data["id"], bool),
        f"the id returned by {response.request_line} should be an integer",
        expected="an integer id, e.g. 1",
        actual=show(data["id"]),
        sent=response.request_summary(),
    )
    return data


def get_list(client: Any, *, hint: str | None = None) -> list[dict[str, Any]]:
    response = client.get("/bookmarks")
    expect_status(response, 200, hint=hint)
    data = expect_json(response)
    expect(isinstance(data, list), "GET /bookmarks should return a JSON list", expected="[...]",
           actual=response.body_excerpt())
    return data


def unknown_id(client: Any, rng: Any) -> int:
    """An id no bookmark has: well above every id in the list."""
    items = get_list(client)
    ids = [item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)]
    return max(ids, default=0) + rng.randrange(1000, 100000)


def expect_error(response: Any, status: int, *, hint: str | None = None) -> None:
    """The status, and a JSON body {"error": "<non-empty text>"}."""
    expect_status(response, status, hint=hint)
    try:
        data = expect_json(response)
    except Mismatch as exc:
        raise Mismatch(
            f"{response.request_line} returned {status} as it should, but its body is not JSON",
            expected='{"error": "a message"}',
            actual=exc.actual,
            sent=response.request_summary(),
            hint=ERROR_HINT,
        ) from None
    expect(
        isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"].strip() != "",
        f"{response.request_line} returned {status} as it should, but the body lacks an error message",
        expected='{"error": "a message"}',
        actual=response.body_excerpt(),
        sent=response.request_summary(),
        hint=ERROR_HINT,
    )


def expect_bookmark(actual: Any, expected: dict[str, Any], what: str, *, sent: str | None = None,
                    hint: str | None = None) -> None:
    expect_keys(actual, KEYS, what, sent=sent, hint=hint)
    for key, value in expected.items():
        if actual[key] != value:
            raise Mismatch(f"{what}: {key!r} is wrong", expected=expected, actual=actual, sent=sent,
                           hint=hint)


def expect_unchanged(client: Any, before: dict[str, Any], after_what: str, *, hint: str | None = None) -> None:
    response = client.get(f"/bookmarks/{before['id']}")
    expect_status(response, 200, hint=hint)
    expect_bookmark(
        expect_json(response), before, f"the bookmark after {after_what}", sent=response.request_summary(),
        hint="A rejected request must not change anything: validate everything before you save.",
    )


# ---------------------------------------------------------------- task 1: create and read


@pytest.mark.gate
@pytest.mark.visible
@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R1")
def test_app_answers(client, db):
    """The app answers GET /bookmarks with a JSON list"""
    response = client.get("/bookmarks")
    expect_status(response, 200, hint="Define a GET /bookmarks route that returns jsonify(a list).")
    data = expect_json(response)
    expect(isinstance(data, list), "GET /bookmarks should return a JSON list",
           expected="a JSON list, e.g. []", actual=response.body_excerpt())
    try:
        with db.connect() as connection:
            saved = connection.execute(text("SELECT COUNT(*) FROM bookmarks")).scalar_one()
    except SQLAlchemyError:
        return  # no table yet: another check says so
    expect(saved != 0 or data == [], "GET /bookmarks lists bookmarks although the table bookmarks is empty",
           expected="[] (no bookmark has been created yet)", actual=response.body_excerpt(),
           hint="List the rows of the database table; do not return sample or cached data.")


@pytest.mark.visible
@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R2", "R3")
def test_create_returns_201(client, rng):
    """POST /bookmarks answers 201 with the created bookmark"""
    body = {"url": fresh_url(rng, "create"), "title": fresh_title(rng), "tags": fresh_tags(rng)}
    response = client.post("/bookmarks", json=body)
    expect_status(response, 201, hint="Creating a resource answers 201 Created: return jsonify(...), 201")
    data = expect_json(response)
    sent = response.request_summary()
    expect_bookmark(data, body, f"the JSON returned by {response.request_line}", sent=sent)
    expect(isinstance(data["id"], int) and not isinstance(data["id"], bool),
           "the created bookmark's id should be an integer", expected="an integer, e.g. 1",
           actual=show(data["id"]), sent=sent)


@pytest.mark.visible
@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R3")
def test_create_defaults(client, rng):
    """A bookmark created with only a url gets title "" and tags []"""
    url = fresh_url(rng, "defaults")
    created = create(client, {"url": url})
    expect_bookmark(created, {"url": url, "title": "", "tags": []}, "the JSON returned by POST /bookmarks",
                    sent=f"POST /bookmarks {show({'url': url})}",
                    hint='title defaults to "" and tags to [] when they are left out.')
    response = client.get(f"/bookmarks/{created['id']}")
    expect_status(response, 200)
    expect_bookmark(expect_json(response), {"url": url, "title": "", "tags": []},
                    f"the JSON returned by {response.request_line}", sent=response.request_summary())


@pytest.mark.visible
@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R6", "R3")
def test_get_one(client, rng):
    """GET /bookmarks/<id> returns the bookmark that was created"""
    body = {"url": fresh_url(rng, "get-one"), "title": fresh_title(rng), "tags": fresh_tags(rng)}
    created = create(client, body)
    response = client.get(f"/bookmarks/{created['id']}")
    expect_status(response, 200, hint="Look the bookmark up by id with session.get(Bookmark, id).")
    expect_bookmark(expect_json(response), {**body, "id": created["id"]},
                    f"the JSON returned by {response.request_line}", sent=response.request_summary(),
                    hint="Return the same fields as POST: id, url, title, tags.")


@pytest.mark.visible
@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R7", "R16")
def test_get_unknown_404(client, rng):
    """GET /bookmarks/<id> answers 404 with a JSON error for an unknown id"""
    missing = unknown_id(client, rng)
    expect_error(client.get(f"/bookmarks/{missing}"), 404, hint=NOT_FOUND_HINT)


@pytest.mark.visible
@pytest.mark.task(1)
@pytest.mark.points(2)
@pytest.mark.rules("R8")
def test_list_in_creation_order(client, rng):
    """GET /bookmarks lists every bookmark, oldest first"""
    # Titles and urls are in reverse alphabetical order, so sorting by either is not creation order.
    words = sorted(rng.sample(WORDS, 3), reverse=True)
    host = rng.choice(HOSTS)
    bodies = [
        {"url": f"https://{host}/list/{word}/{rng.randrange(16**10):010x}",
         "title": f"{word.capitalize()} {rng.choice(WORDS)}", "tags": fresh_tags(rng)}
        for word in words
    ]
    created = [create(client, body) for body in bodies]
    items = get_list(client)
    by_id = {item.get("id"): item for item in items if isinstance(item, dict)}
    for body, bookmark in zip(bodies, created, strict=True):
        listed = by_id.get(bookmark["id"])
        if listed is None:
            raise Mismatch(
                f"GET /bookmarks does not include bookmark {bookmark['id']}, created just before",
                expected=bookmark,
                actual=f"ids {list(by_id)[:20]}",
                sent="GET /bookmarks",
                hint="Return every row of the table, not only some of them.",
            )
        expect_bookmark(listed, {**body, "id": bookmark["id"]},
                        f"bookmark {bookmark['id']} in GET /bookmarks", sent="GET /bookmarks")
    ids = [item.get("id") for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)]
    ours = [i for i in ids if i in {b["id"] for b in created}]
    expect(
        ours == [b["id"] for b in created] and ids == sorted(ids),
        "GET /bookmarks is not in creation order (oldest first, i.e. by ascending id)",
        expected=f"the ids in ascending order; the 3 just created as {[b['id'] for b in created]}",
        actual=f"ids in this order: {ids[:30]}",
        sent="3 × POST /bookmarks, then GET /bookmarks",
        hint="Sort explicitly: select(Bookmark).order_by(Bookmark.id). Without ORDER BY a database "
             "may return rows in any order.",
    )


@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R9")
def test_saved_in_bookmarks_table(client, db, rng):
    """Bookmarks are saved in the database table named bookmarks"""
    body = {"url": fresh_url(rng, "table"), "title": fresh_title(rng)}
    created = create(client, body)
    try:
        with db.connect() as connection:
            row = connection.execute(
                text("SELECT id, url, title FROM bookmarks WHERE id = :id"), {"id": created["id"]}
            ).first()
    except SQLAlchemyError as exc:
        raise Mismatch(
            "could not read the table bookmarks in the database",
            expected='a table "bookmarks" with columns id, url, title, tags',
            actual=str(getattr(exc, "orig", exc)).splitlines()[0][:200],
            hint='Name the model\'s table "bookmarks" (__tablename__ = "bookmarks") and create it with '
                 "Base.metadata.create_all(engine) in create_app, using config[\"DATABASE_URL\"].",
        ) from None
    expect(
        row is not None and (row.id, row.url, row.title) == (created["id"], body["url"], body["title"]),
        f"bookmark {created['id']} is not in the table bookmarks after POST /bookmarks",
        expected=f"a row with id {created['id']}, url {body['url']!r}, title {body['title']!r}",
        actual="no such row" if row is None else show(list(row)),
        sent=f"POST /bookmarks {show(body)}",
        hint="Store bookmarks with SQLAlchemy in the database given by config[\"DATABASE_URL\"] "
             "(not in a Python list), and commit the session.",
    )


# ---------------------------------------------------------------- task 2: validation


@pytest.mark.visible
@pytest.mark.task(2)
@pytest.mark.points(1)
@pytest.mark.rules("R10", "R16", "R17")
def test_missing_url_400(client, rng):
    """POST /bookmarks without a url answers 400 with a JSON error"""
    title = fresh_title(rng) + f" {rng.randrange(10**9)}"
    response = client.post("/bookmarks", json={"title": title})
    expect_error(response, 400,
                 hint="url is required: check it is in the JSON body before creating anything.")
    expect(all(item.get("title") != title for item in get_list(client) if isinstance(item, dict)),
           "a bookmark was saved although the request was rejected", expected="nothing saved",
           actual=f"a bookmark titled {title!r} in GET /bookmarks", sent=response.request_summary())


BAD_URLS: dict[str, Any] = {
    "no-scheme": lambda rng: f"{rng.choice(HOSTS)}/{rng.choice(WORDS)}",
    "ftp": lambda rng: f"ftp://{rng.choice(HOSTS)}/{rng.choice(WORDS)}",
    "missing-colon": lambda rng: f"https//{rng.choice(HOSTS)}/{rng.choice(WORDS)}",
    "a-number": lambda rng: rng.randrange(10**6),
    "2001-chars": lambda rng: _url_of_length(rng, 2001),
    "upper-case-scheme": lambda rng: f"HTTPS://{rng.choice(HOSTS)}/{rng.choice(WORDS)}",
}


def _url_of_length(rng: Any, length: int) -> str:
    head = f"https://{rng.choice(HOSTS)}/{rng.randrange(16**8):08x}/"
    return head + "a" * (length - len(head))


@pytest.mark.visible
@pytest.mark.task(2)
@pytest.mark.points(1)
@pytest.mark.parametrize("kind", list(BAD_URLS))
@pytest.mark.rules("R11", "R12", "R16", "R17")
def test_bad_url_400(client, rng, kind):
    """POST /bookmarks with an invalid url ({kind}) answers 400"""
    url = BAD_URLS[kind](rng)
    response = client.post("/bookmarks", json={"url": url, "title": fresh_title(rng)})
    expect_error(response, 400, hint="url must be a string that starts with http:// or https:// and has "
                                     "at most 2000 characters (check isinstance(url, str) first).")
    expect(all(item.get("url") != url for item in get_list(client) if isinstance(item, dict)),
           "a bookmark was saved although the request was rejected", expected="nothing saved",
           actual=f"a bookmark with url {show(url, 80)} in GET /bookmarks", sent=response.request_summary())


@pytest.mark.task(2)
@pytest.mark.points(1)
@pytest.mark.rules("R11", "R12")
def test_good_urls_accepted(client, rng):
    """A url of exactly 2000 characters is accepted, and so is one starting with http://"""
    for url in (_url_of_length(rng, 2000), f"http://{rng.choice(HOSTS)}/{rng.choice(WORDS)}-{rng.randrange(10**9)}"):
        response = client.post("/bookmarks", json={"url": url})
        expect_status(response, (200, 201), hint="Accept a url of up to 2000 characters (reject only len(url) > 2000) "
                                                 "that starts with http:// or https://.")
        expect_bookmark(expect_json(response), {"url": url}, f"the JSON returned by {response.request_line}")


@pytest.mark.task(1)
@pytest.mark.points(1)
@pytest.mark.rules("R4", "R5")
def test_stored_as_sent(client, rng):
    """Values are kept exactly as sent; id and unknown keys in the body are ignored"""
    word = rng.choice(WORDS)
    url = f"https://{rng.choice(HOSTS)}/Case/{word.upper()}-{rng.randrange(16**8):08x}"
    title = f"  {word.capitalize()}  Title "
    tags = [f"Zz-{word}", "aa", f"{word} mid", "aa2"]
    taken = unknown_id(client, rng)
    body = {"url": url, "title": title, "tags": tags, "id": taken, "owner": "somebody"}
    response = client.post("/bookmarks", json=body)
    expect_status(response, (200, 201), hint="Ignore keys other than url, title and tags, including id.")
    created = expect_json(response)
    expect_keys(created, KEYS, f"the JSON returned by {response.request_line}")
    expect(created["id"] != taken, "the bookmark took the id sent in the body",
           expected=f"an id chosen by the database, not {taken}", actual=show(created["id"]),
           hint="Never copy id from the request: the database chooses it.")
    again = client.get(f"/bookmarks/{created['id']}")
    expect_status(again, 200)
    expect_bookmark(expect_json(again), {"url": url, "title": title, "tags": tags},
                    f"the JSON returned by {again.request_line}",
                    hint="Store values exactly as sent: no strip(), lower() or sorting of tags.")


@pytest.mark.task(2)
@pytest.mark.points(1)
@pytest.mark.rules("R13")
def test_title_limits(client, rng):
    """A title may have up to 200 characters; 201 is rejected with 400"""
    base = fresh_title(rng) + " "
    longest = (base * 40)[:200]
    response = client.post("/bookmarks", json={"url": fresh_url(rng, "title-200"), "title": longest})
    expect_status(response, (200, 201),
                  hint="Exactly 200 characters is allowed: reject only len(title) > 200.")
    created = expect_json(response)
    expect_keys(created, KEYS, f"the JSON returned by {response.request_line}",
                sent=response.request_summary())
    expect_equal(created["title"], longest, "the title of a bookmark created with a 200-character title",
                 sent=response.request_summary())
    too_long = (base * 40)[:201]
    response = client.post("/bookmarks", json={"url": fresh_url(rng, "title-201"), "title": too_long})
    expect_error(response, 400, hint="Reject a title longer than 200 characters with 400.")


@pytest.mark.task(2)
@pytest.mark.points(1)
@pytest.mark.rules("R13")
def test_title_wrong_type(client, rng):
    """A title that is not a string is rejected with 400"""
    for title in (rng.randrange(1, 10**6), [fresh_title(rng)]):
        response = client.post("/bookmarks", json={"url": fresh_url(rng, "title-type"), "title": title})
        expect_error(response, 400, hint="Check isinstance(title, str) before saving.")


@pytest.mark.task(2)
@pytest.mark.points(1)
@pytest.mark.rules("R14")
def test_tags_must_be_strings(client, rng):
    """tags must be a list of strings, else 400"""
    for tags in (rng.choice(WORDS), [rng.choice(WORDS), rng.randrange(100)], {"tag": rng.choice(WORDS)}):
        response = client.post("/bookmarks", json={"url": fresh_url(rng, "tags"), "tags": tags})
        expect_error(response, 400, hint="Check that tags is a list and that every item is a string.")


@pytest.mark.task(2)
@pytest.mark.points(1)
@pytest.mark.rules("R15", "R16")
def test_body_not_json_object(client, rng):
    """A body that is not a JSON object answers 400 with a JSON error"""
    url = fresh_url(rng, "not-json")
    bodies = [
        f'{{"url": "{url}", "title": ',  # cut short: not valid JSON
        f"url={url}",
        f'["{url}"]',  # valid JSON, but a list
        '"' + url + '"',  # valid JSON, but a string
    ]
    for body in bodies:
        response = client.post("/bookmarks", data=body, headers=JSON_HEADERS)
        expect_error(response, 400,
                     hint="Use request.get_json(silent=True): it gives None instead of Flask's HTML error "
                          "page when the body is not JSON; then check isinstance(data, dict).")


# ---------------------------------------------------------------- task 3: update and delete


@pytest.mark.task(3)
@pytest.mark.points(2)
@pytest.mark.rules("R18")
def test_patch_updates_and_persists(client, rng):
    """PATCH /bookmarks/<id> changes only the fields sent, and the change is saved"""
    body = {"url": fresh_url(rng, "patch"), "title": fresh_title(rng), "tags": fresh_tags(rng)}
    created = create(client, body)
    path = f"/bookmarks/{created['id']}"
    changes: list[dict[str, Any]] = [
        {},
        {"title": fresh_title(rng) + " (edited)"},
        {"url": fresh_url(rng, "patched"), "tags": [*fresh_tags(rng), "edited"]},
    ]
    expected = dict(created)
    for change in changes:
        expected.update(change)
        response = client.patch(path, json=change)
        expect_status(response, 200, hint="PATCH answers 200 with the whole updated bookmark.")
        expect_bookmark(expect_json(response), expected, f"the JSON returned by {response.request_line}",
                        sent=response.request_summary(),
                        hint="Change only the fields in the body; keep the others as they were.")
        again = client.get(path)
        expect_status(again, 200)
        expect_bookmark(expect_json(again), expected, f"GET {path} after PATCH {show(change)}",
                        sent=f"PATCH {path} {show(change)}, then GET {path}",
                        hint="The change must be saved: call session.commit() after changing the bookmark.")


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R19", "R17")
def test_patch_validates(client, rng):
    """PATCH /bookmarks/<id> with invalid fields answers 400 and changes nothing"""
    created = create(client, {"url": fresh_url(rng, "patch-400"), "title": fresh_title(rng)})
    path = f"/bookmarks/{created['id']}"
    changes = [
        {"url": rng.choice(WORDS)},
        {"url": None},
        {"title": "x" * 201},
        {"tags": rng.choice(WORDS)},
        {"title": fresh_title(rng), "url": 7},
    ]
    for change in changes:
        response = client.patch(path, json=change)
        expect_error(response, 400, hint="Validate the fields of a PATCH with the same rules as POST.")
        expect_unchanged(client, created, f"the rejected PATCH {path} {show(change)}")


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R7")
def test_patch_unknown_404(client, rng):
    """PATCH /bookmarks/<id> answers 404 for an unknown id"""
    missing = unknown_id(client, rng)
    response = client.patch(f"/bookmarks/{missing}", json={"title": fresh_title(rng)})
    expect_error(response, 404, hint=NOT_FOUND_HINT)
    response = client.patch(f"/bookmarks/{missing}", json={"url": 7})
    expect_error(response, 404, hint="Look the bookmark up before validating the body: for an unknown id, "
                                     "404 wins over a bad body.")


@pytest.mark.task(3)
@pytest.mark.points(2)
@pytest.mark.rules("R20")
def test_delete_204(client, rng):
    """DELETE /bookmarks/<id> answers 204 with no body, and the bookmark is gone"""
    created = create(client, {"url": fresh_url(rng, "delete"), "title": fresh_title(rng)})
    path = f"/bookmarks/{created['id']}"
    response = client.delete(path)
    expect_status(response, 204, hint='204 No Content: return "", 204')
    expect(response.raw == b"", f"{response.request_line} returned 204 with a body; 204 means no body",
           expected="(empty body)", actual=response.body_excerpt(), sent=response.request_summary(),
           hint='Return "", 204')
    after = client.get(path)
    expect_error(after, 404, hint="The bookmark must really be deleted: session.delete(bookmark), then "
                                  "session.commit().")
    expect(all(item.get("id") != created["id"] for item in get_list(client) if isinstance(item, dict)),
           f"GET /bookmarks still lists bookmark {created['id']} after DELETE {path}",
           expected="not listed", actual="listed", sent=f"DELETE {path}, then GET /bookmarks")
    expect_error(client.delete(path), 404, hint="Deleting a bookmark that is already gone answers 404.")


@pytest.mark.task(3)
@pytest.mark.points(1)
@pytest.mark.rules("R7")
def test_delete_unknown_404(client, rng):
    """DELETE /bookmarks/<id> answers 404 for an unknown id"""
    missing = unknown_id(client, rng)
    expect_error(client.delete(f"/bookmarks/{missing}"), 404, hint=NOT_FOUND_HINT)


# ---------------------------------------------------------------- task 4: duplicates


@pytest.mark.task(4)
@pytest.mark.points(2)
@pytest.mark.rules("R21")
def test_duplicate_url_409(client, rng):
    """POST /bookmarks with a url that is already saved answers 409"""
    url = fresh_url(rng, "duplicate")
    first = create(client, {"url": url, "title": fresh_title(rng)})
    response = client.post("/bookmarks", json={"url": url, "title": fresh_title(rng) + " (again)"})
    expect_error(response, 409, hint="Make url unique in the model (unique=True) and answer 409 when "
                                     "session.commit() raises IntegrityError (after session.rollback()).")
    same = [item for item in get_list(client, hint=ROLLBACK_HINT)
            if isinstance(item, dict) and item.get("url") == url]
    expect(len(same) == 1 and same[0] == first,
           "after the rejected duplicate, GET /bookmarks should list the url once, unchanged",
           expected=[first], actual=same, sent=f"POST /bookmarks twice with url {url}")
    other = url.replace("https://", "https://www.", 1).upper().replace("HTTPS://", "https://", 1)
    response = client.post("/bookmarks", json={"url": other})
    expect_status(response, (200, 201), hint="urls are compared exactly, character for character: a url that "
                                             "differs only in case is another url.")


@pytest.mark.task(4)
@pytest.mark.points(1)
@pytest.mark.rules("R22")
def test_patch_duplicate_url_409(client, rng):
    """PATCH to a url another bookmark has answers 409; keeping its own url is fine"""
    first = create(client, {"url": fresh_url(rng, "taken"), "title": fresh_title(rng)})
    second = create(client, {"url": fresh_url(rng, "taker"), "title": fresh_title(rng)})
    response = client.patch(f"/bookmarks/{second['id']}", json={"url": first["url"]})
    expect_error(response, 409, hint="session.commit() raises IntegrityError for a duplicate url: roll "
                                     "back and answer 409.")
    expect_unchanged(client, second, f"the rejected {response.request_summary()}", hint=ROLLBACK_HINT)
    title = fresh_title(rng)
    response = client.patch(f"/bookmarks/{first['id']}", json={"url": first["url"], "title": title})
    expect_status(response, 200, hint="A bookmark keeping its own url is not a duplicate.")
    expect_bookmark(expect_json(response), {**first, "title": title},
                    f"the JSON returned by {response.request_line}", sent=response.request_summary())


@pytest.mark.task(4)
@pytest.mark.points(1)
@pytest.mark.rules("R23")
def test_works_after_duplicate(client, rng):
    """After a duplicate is rejected, the app still creates and reads bookmarks"""
    url = fresh_url(rng, "dup-then")
    create(client, {"url": url})
    client.post("/bookmarks", json={"url": url})
    body = {"url": fresh_url(rng, "after-dup"), "title": fresh_title(rng)}
    response = client.post("/bookmarks", json=body)
    if response.status not in (200, 201):
        raise Mismatch(
            f"after a duplicate url was posted, creating another bookmark failed with {response.status}",
            expected="201 and the created bookmark",
            actual=f"{response.status} {response.body_excerpt()}",
            sent=f"POST /bookmarks twice with url {url}, then {response.request_summary()}",
            hint=ROLLBACK_HINT,
        )
    created = expect_json(response)
    expect_keys(created, KEYS, f"the JSON returned by {response.request_line}",
                sent=response.request_summary())
    again = client.get(f"/bookmarks/{created['id']}")
    expect_status(again, 200, hint=ROLLBACK_HINT)
    expect_bookmark(expect_json(again), body, f"the JSON returned by {again.request_line}",
                    sent=again.request_summary())
