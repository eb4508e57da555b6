"""The statements a request issued, counted by real grades: embedded (a trace in the learner's process)
and the server backend (pg_stat_statements in PostgreSQL), for an N+1 app and a joined one."""

from __future__ import annotations

import pytest

from runner.exercises import find_exercise
from runner.grading import grade
from runner.judge.mismatch import Mismatch
from runner.judge.statements import (
    OBSERVED_BY_SERVER,
    OBSERVED_BY_TRACE,
    StatementLog,
    expect_at_most,
    statement_kind,
)
from runner.results import CheckStatus

from .conftest import write

TOML = """\
format_version = 1
title = "Posts API"
track = "apis"
difficulty = "intermediate"
concepts = ["N+1"]
time_limit = 60
check_timeout = 20
files = ["app.py"]

[entry]
kind = "wsgi"
target = "app:create_app"

[services]
database = true
redis = false
backends = ["embedded", "server"]
"""

CHECKS = '''
import pytest
from runner.judge import expect_at_most, expect_equal, expect_status, insert

POSTS = 10


@pytest.fixture(scope="module")
def posts(db):
    with db.begin() as conn:
        for n in range(POSTS):
            post = insert(conn, "posts", {"title": f"post {n}"})
            for c in range(2):
                insert(conn, "comments", {"post_id": post, "body": f"comment {c} of {n}"})


@pytest.mark.points(0)
def test_count(client, statements, posts):
    """GET /posts issues one SELECT"""
    with statements.watch() as log:
        response = client.get("/posts")
    expect_status(response, 200)
    expect_equal(len(response.json()), POSTS, "the number of posts")
    if not log.available:
        pytest.skip(log.reason)
    expect_equal(log.count("SELECT"), 1, f"the SELECTs of GET /posts ({log.observed_by})")


def test_at_most(client, statements, posts):
    """GET /posts issues at most 3 SELECTs"""
    with statements.watch() as log:
        client.get("/posts")
    expect_at_most(log, 3, kind="SELECT", what="GET /posts", per=f"{POSTS} posts")


def test_writes(client, statements):
    """POST /posts is one INSERT and no SELECT"""
    with statements.watch() as log:
        expect_status(client.post("/posts", json={"title": "new"}), 201)
    expect_equal((log.count("INSERT"), log.count("SELECT")), (1, 0), "INSERTs and SELECTs")
'''

APP = '''
from flask import Flask, jsonify, request
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, create_engine, insert, select

metadata = MetaData()
posts = Table("posts", metadata, Column("id", Integer, primary_key=True), Column("title", String(80)))
comments = Table("comments", metadata, Column("id", Integer, primary_key=True),
                 Column("post_id", ForeignKey("posts.id")), Column("body", String(80)))


def create_app(config=None):
    app = Flask(__name__)
    engine = create_engine(config["DATABASE_URL"])
    metadata.create_all(engine)

    @app.get("/posts")
    def list_posts():
        with engine.connect() as conn:
{listing}
        return jsonify(out)

    @app.post("/posts")
    def create_post():
        with engine.begin() as conn:
            conn.execute(insert(posts).values(title=request.json["title"]))
        return jsonify(ok=True), 201

    return app
'''

N_PLUS_ONE = '''\
            out = []
            for post in conn.execute(select(posts).order_by(posts.c.id)).mappings().all():
                bodies = conn.execute(select(comments.c.body).where(comments.c.post_id == post["id"])).scalars().all()
                out.append({"id": post["id"], "title": post["title"], "comments": list(bodies)})'''

JOINED = '''\
            rows = conn.execute(select(posts.c.id, posts.c.title, comments.c.body)
                                .outerjoin(comments, comments.c.post_id == posts.c.id)
                                .order_by(posts.c.id, comments.c.id)).all()
            out, seen = [], {}
            for post_id, title, body in rows:
                if post_id not in seen:
                    seen[post_id] = {"id": post_id, "title": title, "comments": []}
                    out.append(seen[post_id])
                if body is not None:
                    seen[post_id]["comments"].append(body)'''


@pytest.fixture
def posts_exercise(kit):
    folder = kit / "exercises" / "01-posts"
    write(folder / "exercise.toml", TOML)
    write(folder / "README.md", "# Posts\n")
    write(folder / "starter" / "app.py", APP.replace("{listing}", "            out = []"))
    write(folder / "checks" / "test_posts.py", CHECKS)
    write(kit / "solutions" / "01-posts" / "app.py", APP.replace("{listing}", JOINED))
    write(kit / "solutions" / "01-posts" / "bugs.toml", "format_version = 1\n")
    return find_exercise("01-posts", kit)


def _checks(report):
    return {c.id.split("::")[-1]: c for c in report.checks}


def _grade_both(exercise, submit, provider):
    joined = _checks(grade(exercise, submit({"app.py": APP.replace("{listing}", JOINED)}), provider=provider))
    n_plus_one = _checks(grade(exercise, submit({"app.py": APP.replace("{listing}", N_PLUS_ONE)}), provider=provider))
    return joined, n_plus_one


def _assert_counts(joined, n_plus_one, observed_by):
    for check in joined.values():
        assert check.status is CheckStatus.PASSED, (check.id, check.message, check.actual)
    count, at_most = n_plus_one["test_count"], n_plus_one["test_at_most"]
    assert count.status is CheckStatus.FAILED, count.message
    assert (count.expected, count.actual) == ("1", "11")
    assert observed_by in count.message
    assert at_most.status is CheckStatus.FAILED
    assert at_most.message == "GET /posts issued 11 SELECTs for 10 posts (N+1); at most 3 expected"
    assert at_most.expected == "at most 3 SELECTs"
    assert at_most.actual.startswith(f"11 SELECTs, {observed_by}:\n  10 × SELECT comments.body FROM comments")
    assert "selectinload()" in at_most.hint
    assert n_plus_one["test_writes"].status is CheckStatus.PASSED, n_plus_one["test_writes"].message


def test_embedded_counts_the_selects_of_a_request(posts_exercise, submit):
    """SQLite: the host's trace counts 1 SELECT for the joined app, 11 for the N+1 one."""
    joined, n_plus_one = _grade_both(posts_exercise, submit, None)
    _assert_counts(joined, n_plus_one, OBSERVED_BY_TRACE)
    assert OBSERVED_BY_TRACE == "recorded inside your app's process (SQLite has no server to ask)"
    # In order, with values: the first statements of the N+1 request.
    assert "the first 5, in order:\n  SELECT posts.id, posts.title FROM posts ORDER BY posts.id" in (
        n_plus_one["test_at_most"].actual)


@pytest.mark.docker
def test_server_counts_the_selects_of_a_request(posts_exercise, submit, docker_services):
    """PostgreSQL: pg_stat_statements, for the grade's own role, counts the same."""
    joined, n_plus_one = _grade_both(posts_exercise, submit, docker_services)
    _assert_counts(joined, n_plus_one, OBSERVED_BY_SERVER)
    assert "10 × SELECT comments.body FROM comments WHERE comments.post_id = ?::INTEGER" in (
        n_plus_one["test_at_most"].actual)


def test_a_log_that_cannot_observe_skips_the_check():
    """Nothing observed: expect_at_most skips, with the reason, instead of failing the learner."""
    log = StatementLog(observed_by="not observed", available=False, reason="this server has no pg_stat_statements")
    with pytest.raises(pytest.skip.Exception, match="Not checked: this server has no pg_stat_statements"):
        expect_at_most(log, 3)


def test_kinds_and_grouping():
    """Statement kinds (WITH, comments, parentheses) and repeats grouped with their values as ?."""
    assert [statement_kind(s) for s in ("  select 1", "/* x */ (SELECT 1)", "WITH a AS (SELECT 1) SELECT * FROM a",
                                        "WITH a AS (SELECT 1) DELETE FROM t", "-- c\nINSERT INTO t VALUES (1)")] == [
        "SELECT", "SELECT", "SELECT", "DELETE", "INSERT"]
    log = StatementLog("recorded", statements=["SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = 2",
                                               "SELECT * FROM t WHERE name = 'O''Brien' AND id IN (1, 2, 3)",
                                               "UPDATE t SET n = 2"], ordered=True)
    assert log.count() == 3 and log.count("update") == 1 and log.count(None) == 4
    assert log.grouped("SELECT") == [("SELECT * FROM t WHERE id = ?", 2),
                                     ("SELECT * FROM t WHERE name = ? AND id IN (?, …)", 1)]
    with pytest.raises(Mismatch) as caught:
        expect_at_most(log, 1, what="GET /t")
    assert caught.value.message == "GET /t issued 3 SELECTs (N+1); at most 1 expected"


@pytest.mark.docker
def test_the_docker_sandbox_records_in_the_mounted_db_folder(posts_exercise, submit):
    """The container sees the grade's db/ folder at /data: the log is written there and read outside."""
    from runner.sandbox import make_sandbox

    from .conftest import require_docker

    require_docker()
    report = grade(posts_exercise, submit({"app.py": APP.replace("{listing}", N_PLUS_ONE)}),
                   sandbox=make_sandbox("docker"))
    at_most = _checks(report)["test_at_most"]
    assert at_most.message == "GET /posts issued 11 SELECTs for 10 posts (N+1); at most 3 expected", (
        report.problems, at_most.message)
