"""Several copies of the learner's app in one grade (``entry.instances``), in each sandbox: both copies
share the grade's services, the judge reaches each, and a check can stop one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.errors import ContentError
from runner.exercises import Exercise, find_exercise
from runner.grading import grade
from runner.results import CheckStatus

from .conftest import write

TOML = """\
format_version = 1
title = "Counter"
track = "caching"
difficulty = "beginner"
concepts = ["scaling out"]
time_limit = 40
check_timeout = 10
files = ["app.py"]
hints = ["Keep the count in Redis."]

[entry]
kind = "wsgi"
target = "app:create_app"
instances = {instances}

[services]
redis = true
backends = ["embedded", "server"]
"""

CHECKS = '''
import pytest
from runner.judge import Mismatch, expect_equal, expect_status


@pytest.mark.points(1)
def test_two_addresses(instances, client):
    """the judge reaches two copies, each on its own port"""
    expect_equal(len(instances), 2, "instances")
    expect_equal(instances[0] is client, True, "instance 0 is the client fixture")
    expect_equal(len({(c.host, c.port) for c in instances}), 2, "distinct addresses")
    # Not the pid: each sandboxed copy may have a pid namespace of its own.
    tokens = {c.get("/pid").json()["token"] for c in instances}
    expect_equal(len(tokens), 2, "distinct processes")


@pytest.mark.points(1)
def test_shared_count(instances):
    """hits counted across both copies"""
    turns = instances.alternate()
    counts = [next(turns).post("/hit").json()["count"] for _ in range(6)]
    expect_equal(counts, [1, 2, 3, 4, 5, 6], "the counts, alternating copies")


@pytest.mark.points(1)
def test_survives_a_stop(instances):
    """instance 1 keeps the count after instance 0 stops"""
    before = instances[0].post("/hit").json()["count"]
    instances.stop(0)
    expect_equal(instances.running, [1], "running")
    with pytest.raises(Mismatch):
        instances[0].get("/pid")
    expect_equal(instances[1].post("/hit").json()["count"], before + 1, "the count on instance 1")
'''

SHARED = '''
import secrets
import redis
from flask import Flask, jsonify


TOKEN = secrets.token_hex(8)


def create_app(config=None):
    app = Flask(__name__)
    store = redis.Redis.from_url(config["REDIS_URL"])

    @app.get("/pid")
    def pid():
        return jsonify(token=TOKEN)

    @app.post("/hit")
    def hit():
        return jsonify(count=store.incr("hits"))

    return app
'''

IN_MEMORY = '''
import secrets
from flask import Flask, jsonify

COUNT = [0]


TOKEN = secrets.token_hex(8)


def create_app(config=None):
    app = Flask(__name__)
    # TODO: keep the count in Redis

    @app.get("/pid")
    def pid():
        return jsonify(token=TOKEN)

    @app.post("/hit")
    def hit():
        COUNT[0] += 1
        return jsonify(count=COUNT[0])

    return app
'''


def counter_exercise(kit: Path, instances: int = 2) -> Exercise:
    folder = kit / "exercises" / "01-counter"
    write(folder / "exercise.toml", TOML.format(instances=instances))
    write(folder / "README.md", "# Counter\n")
    write(folder / "starter" / "app.py", IN_MEMORY)
    write(folder / "checks" / "test_counter.py", CHECKS)
    write(kit / "solutions" / "01-counter" / "app.py", SHARED)
    return find_exercise("01-counter", kit)


def statuses(report: Any) -> dict[str, CheckStatus]:
    return {c.id.split("::")[-1]: c.status for c in report.checks}


def test_two_copies_share_the_grade_services(kit: Path, submit: Any, sandbox: Any) -> None:
    """The shared-state app passes all three checks, in both sandboxes: two processes, one Redis,
    and a stop that the runner confirms before the check goes on."""
    report = grade(counter_exercise(kit), submit({"app.py": SHARED}), sandbox=sandbox)
    assert statuses(report) == dict.fromkeys(["test_two_addresses", "test_shared_count", "test_survives_a_stop"],
                                             CheckStatus.PASSED), report.checks
    assert not report.problems, report.problems  # a stopped copy is not a crash


def test_state_in_memory_fails_across_copies(kit: Path, submit: Any) -> None:
    """Each copy counting in its own memory is caught: the counts go 1, 1, 2, 2, ..."""
    report = grade(counter_exercise(kit), submit({"app.py": IN_MEMORY}))
    found = statuses(report)
    assert found["test_two_addresses"] is CheckStatus.PASSED
    assert found["test_shared_count"] is CheckStatus.FAILED
    assert found["test_survives_a_stop"] is CheckStatus.FAILED


def test_a_copy_that_cannot_start_fails_the_start(kit: Path, submit: Any) -> None:
    """A program that starts once but not twice (a fixed port, say) is a start-up problem, reported once."""
    once = SHARED.replace("def create_app(config=None):", """def create_app(config=None):
    import fcntl
    lock = open("one-copy.lock", "a")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    create_app.lock = lock""")
    report = grade(counter_exercise(kit), submit({"app.py": once}))
    assert report.problems, report.checks
    assert all(c.status is not CheckStatus.PASSED for c in report.checks)


def test_only_wsgi_runs_several_copies(kit: Path) -> None:
    folder = kit / "exercises" / "01-counter"
    counter_exercise(kit)
    text = (folder / "exercise.toml").read_text().replace('kind = "wsgi"', 'kind = "functions"').replace(
        'target = "app:create_app"', 'target = "app"\nfunctions = ["f"]')
    (folder / "exercise.toml").write_text(text)
    with pytest.raises(ContentError, match="only a wsgi program"):
        find_exercise("01-counter", kit)
