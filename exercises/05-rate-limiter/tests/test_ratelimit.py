"""Visible tests for the rate limiter (tasks 1-3). Run them with `runner test`.

Each test gets a fresh app on an empty Redis (a fakeredis server started for you, or the real Redis
named by BACKEND_KIT_TEST_REDIS_URL), through Flask's test client. The hidden checks of
`runner grade` test much more, including many requests at once: see README.md for the contract.
"""

import pytest
from app import create_app


@pytest.fixture
def client(redis_url):
    app = create_app({"REDIS_URL": redis_url})
    app.testing = True
    return app.test_client()


def ping(client, api_key):
    return client.get("/api/ping", headers={"X-Api-Key": api_key})


def test_ping(client):
    response = ping(client, "team-1")
    assert response.status_code == 200
    assert response.get_json() == {"client": "team-1", "pong": True}


def test_no_api_key_401(client):
    response = client.get("/api/ping")
    assert response.status_code == 401
    assert isinstance(response.get_json()["error"], str)


def test_health_needs_no_key(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_sixth_request_429(client):
    for _ in range(5):
        assert ping(client, "team-2").status_code == 200
    response = ping(client, "team-2")
    assert response.status_code == 429
    assert isinstance(response.get_json()["error"], str)
    assert response.headers["Retry-After"] == "2"


def test_key_counts_and_expires(client, redis_client):
    for _ in range(3):
        ping(client, "team-3")
    assert redis_client.get("ratelimit:team-3") == "3"
    assert 0 < redis_client.pttl("ratelimit:team-3") <= 2000


@pytest.mark.parametrize("left_ms, retry_after", [(1400, "2"), (400, "1")])
def test_retry_after_rounds_up(client, redis_client, left_ms, retry_after):
    for _ in range(5):
        ping(client, "team-4")
    redis_client.pexpire("ratelimit:team-4", left_ms)  # as if time had passed: the window ends with the key
    response = ping(client, "team-4")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == retry_after
