"""Fixtures for an exercise's *visible* tests (``runner test``): a Redis the learner's app can reach.

An exercise's ``tests/conftest.py`` loads this plugin with ``pytest_plugins = ["runner.visible"]``;
its tests then ask for ``redis_url``, a URL to hand to ``create_app({"REDIS_URL": redis_url, ...})``
exactly as the grader does. The app connects with its own client (``redis.Redis.from_url``), so it
is tested the way it is graded, over TCP, not through an object swapped in for the test.

Which Redis:

- ``BACKEND_KIT_TEST_REDIS_URL`` set (e.g. ``redis://localhost:6379/15`` with ``docker compose up
  redis``): that real server. Its logical database is **emptied before every test** (FLUSHDB), so
  point it at a database you keep nothing in; the variable's long name is there so that a stray
  ``REDIS_URL`` is never wiped by accident.
- otherwise: fakeredis's TCP server on a free loopback port, one per test session, emptied before
  every test. Nothing to install (fakeredis is a dependency of the kit).

``redis_client`` is a client of the tests' own (strings decoded) on the same database, to look at
what the app stored: ``redis_client.ttl("product:7")``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

#: The environment variable naming a real Redis for the visible tests (its database is wiped per test).
REAL_REDIS = "BACKEND_KIT_TEST_REDIS_URL"


def fake_redis_server() -> tuple[Any, str]:
    """A fakeredis TCP server on a free loopback port, serving in a daemon thread, and its URL."""
    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", 0), server_type="redis")
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = int(server.server_address[1])
    return server, f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def _visible_redis() -> Iterator[str]:
    url = os.environ.get(REAL_REDIS)
    if url:
        yield url
        return
    server, url = fake_redis_server()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def redis_client(_visible_redis: str) -> Iterator[Any]:
    """A client on the tests' Redis (strings decoded), emptied before the test."""
    import redis

    client = redis.Redis.from_url(_visible_redis, decode_responses=True, socket_timeout=5)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def redis_url(_visible_redis: str, redis_client: Any) -> str:
    """The URL of an empty Redis database for this test (fakeredis, or ``BACKEND_KIT_TEST_REDIS_URL``)."""
    return _visible_redis
