"""Shared fixtures: a throwaway kit with small exercises, so runner tests do not depend on content."""

from __future__ import annotations

import contextlib
import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.exercises import Exercise, find_exercise

HELLO_TOML = """\
format_version = 1
title = "Hello API"
track = "apis"
difficulty = "beginner"
concepts = ["routes"]
time_limit = {time_limit}
check_timeout = {check_timeout}
files = ["app.py"]
hints = ["Return JSON with jsonify.", "Count hits with INCR."]

[entry]
kind = "wsgi"
target = "app:create_app"

[services]
database = true
redis = true
backends = ["embedded", "server"]
"""

HELLO_CHECKS = '''
import pytest
from sqlalchemy import text
from runner.judge import expect_equal, expect_json, expect_status

CANARY = "bk-canary-hello-0c1f3b9e2d"


@pytest.mark.gate
@pytest.mark.points(2)
def test_hello(client):
    """GET /hello answers 200"""
    expect_status(client.get("/hello"), 200)


def test_body(client):
    """GET /hello says hello"""
    expect_equal(expect_json(client.get("/hello")).get("message"), "hello", "the message")


def test_counts_hits(client, redis):
    """GET /hello counts hits in Redis"""
    before = int(redis.get("hits") or 0)
    client.get("/hello")
    expect_equal(int(redis.get("hits") or 0), before + 1, "the hits counter")


def test_writes_database(client, db):
    """GET /hello records a visit in the database"""
    client.get("/hello")
    with db.connect() as connection:
        count = connection.execute(text("SELECT COUNT(*) FROM visits")).scalar_one()
    expect_equal(count > 0, True, "visits recorded")


@pytest.mark.timeout(2)
def test_slow(client):
    """GET /slow answers"""
    expect_status(client.get("/slow", timeout=10), 200)


def test_still_alive(client):
    """GET /hello still answers at the end"""
    expect_status(client.get("/hello"), 200)
'''

HELLO_SOLUTION = '''
import redis
from flask import Flask, jsonify
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert

metadata = MetaData()
visits = Table("visits", metadata, Column("id", Integer, primary_key=True))


def create_app(config=None):
    app = Flask(__name__)
    store = redis.Redis.from_url(config["REDIS_URL"])
    engine = create_engine(config["DATABASE_URL"])
    metadata.create_all(engine)

    @app.get("/hello")
    def hello():
        store.incr("hits")
        with engine.begin() as connection:
            connection.execute(insert(visits))
        return jsonify(message="hello")

    @app.get("/slow")
    def slow():
        return jsonify(ok=True)

    return app
'''

HELLO_STARTER = '''
from flask import Flask


def create_app(config=None):
    app = Flask(__name__)
    # TODO: GET /hello
    return app
'''


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty kit root; BACKEND_KIT_ROOT and the workspace folder point into it."""
    root = tmp_path / "kit"
    (root / "exercises").mkdir(parents=True)
    (root / "solutions").mkdir()
    monkeypatch.setenv("BACKEND_KIT_ROOT", str(root))
    monkeypatch.delenv("BACKEND_KIT_WORKSPACE", raising=False)
    return root


@pytest.fixture
def hello(kit: Path) -> Exercise:
    """A small wsgi exercise using a database and Redis, with a check that has a 2 s limit."""
    folder = kit / "exercises" / "01-hello"
    write(folder / "exercise.toml", HELLO_TOML.format(time_limit=40, check_timeout=5))
    write(folder / "README.md", "# Hello\n")
    write(folder / "starter" / "app.py", HELLO_STARTER)
    write(folder / "tests" / "test_visible.py", "from app import create_app\n\n\ndef test_factory():\n"
          "    assert create_app({'REDIS_URL': 'redis://x', 'DATABASE_URL': 'sqlite://'})\n")
    write(folder / "checks" / "test_hello.py", HELLO_CHECKS)
    write(kit / "solutions" / "01-hello" / "app.py", HELLO_SOLUTION)
    write(kit / "solutions" / "01-hello" / "bugs.toml", """\
        format_version = 1

        [[bug]]
        id = "wrong-message"
        summary = "Says hi instead of hello"
        file = "app.py"
        find = 'jsonify(message="hello")'
        replace = 'jsonify(message="hi")'
        fails = ["test_body"]
        """)
    return find_exercise("01-hello", kit)


@pytest.fixture
def submit(tmp_path: Path) -> Callable[..., Path]:
    """Write a submission folder from {name: source}; returns the folder."""
    counter = iter(range(10_000))

    def make(files: dict[str, str]) -> Path:
        folder = tmp_path / f"submission-{next(counter)}"
        folder.mkdir()
        for name, text in files.items():
            write(folder / name, text)
        return folder

    return make


def docker_required() -> bool:
    """In CI, tests that need Docker must run: a missing engine is a failure, never a skip."""
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    return ci or bool(os.environ.get("BACKEND_KIT_REQUIRE_DOCKER"))


def require_tool(name: str, why: str) -> str:
    """A program from Debian's packages (chromium, tmux): missing, the test skips, except in CI,
    where .ci/run installs it and a missing one fails the test."""
    import shutil

    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{name} is required here (CI; .ci/run installs it): {why}")
        pytest.skip(f"{name} is not installed (apt-get install -y {name}): {why}")
    return found


def require_docker() -> None:
    """Skip without Docker, except in CI, where a missing engine fails the test."""
    from runner.containers import docker_client
    from runner.errors import InfrastructureError

    try:
        docker_client()
    except InfrastructureError as exc:
        if docker_required():
            pytest.fail(f"Docker is required here (CI): {exc}")
        pytest.skip(f"Docker is not available: {exc.message}")


def uncaptured(config: pytest.Config) -> contextlib.AbstractContextManager[None]:
    """Output shown on the terminal, not captured: the one-line notes of an image built on first use."""
    capture = config.pluginmanager.getplugin("capturemanager")
    return capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()


@pytest.fixture(scope="session")
def docker_services(pytestconfig: pytest.Config) -> Iterator[object]:
    """The docker provider on its own containers (instance 'test'), removed after the session.

    Its images come the runner's own way (``containers.resolve_image``): present, pulled, or built
    from Debian packages on first use; nothing has to be built before the suite runs.
    """
    from runner.services.docker import DockerProvider
    from runner.settings import load

    require_docker()
    # Per session: two test runs at once (a developer and CI) must not stop each other's containers.
    provider = DockerProvider(load(None, provider="docker"), instance=f"test-{os.getpid()}")
    with uncaptured(pytestconfig):
        provider.up()
    yield provider
    provider.down()


@pytest.fixture
def redis_broker(redis_broker_server: str) -> str:
    """A broker of the test's own: a database of its own on the session's Redis, so that tasks a test
    leaves queued (a killed collector's, sent again by its rerun) never reach another test's workers."""
    global _BROKER_DATABASES
    _BROKER_DATABASES += 1
    assert _BROKER_DATABASES < 16, "more broker tests than Redis databases"
    return redis_broker_server.rsplit("/", 1)[0] + f"/{_BROKER_DATABASES}"


_BROKER_DATABASES = 0


@pytest.fixture(scope="session")
def redis_broker_server() -> Iterator[str]:
    """A Redis of its own (the kit's Redis image) for Celery's broker and results, removed at the end."""
    import time

    import redis

    from runner.containers import docker_client
    from runner.services.docker import DockerProvider
    from runner.settings import load

    require_docker()
    client = docker_client()
    image = DockerProvider(load(None, provider="docker")).image_for("redis")
    container = client.containers.run(image, ["redis-server", "--save", "", "--appendonly", "no"], detach=True,
                                      ports={"6379/tcp": ("127.0.0.1", None)}, labels={"backend-kit.test": "broker"})
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None:
            assert time.monotonic() < deadline, "the broker never started"
            container.reload()
            bound = (container.attrs["NetworkSettings"]["Ports"] or {}).get("6379/tcp")
            url = f"redis://127.0.0.1:{bound[0]['HostPort']}/0" if bound else None
            time.sleep(0.1)
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.RedisError:
                assert time.monotonic() < deadline, "the broker never answered"
                time.sleep(0.2)
        yield url
    finally:
        container.remove(force=True)


@pytest.fixture(params=["process", "docker"])
def sandbox(request: pytest.FixtureRequest) -> object:
    """Each sandbox in turn: the hostile-submission suite runs in both."""
    from runner.sandbox import make_sandbox

    if request.param == "docker":
        require_docker()
    sandbox = make_sandbox(request.param)
    if request.param == "docker":
        with uncaptured(request.config):
            _ = sandbox.image  # type: ignore[attr-defined]  # built (and its Python image) on first use
    return sandbox


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop parameter combinations that do not exist: a docker sandbox has no 'without bubblewrap'."""
    impossible = [item for item in items if "[docker-without-bubblewrap]" in item.nodeid]
    if impossible:
        config.hook.pytest_deselected(items=impossible)
        items[:] = [item for item in items if item not in impossible]
