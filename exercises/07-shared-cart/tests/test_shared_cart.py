"""Visible tests for the shared cart. Run them with `runner test`.

Each test creates TWO apps on the same Redis: two instances, as `runner grade` runs them. A session or
a cart kept in one app's memory is invisible to the other, so these fail on the starter. The hidden
checks test much more (the keys, time to live, logout, concurrent additions, an instance stopped):
see README.md for the whole contract.
"""

import pytest
from app import create_app


@pytest.fixture
def two(redis_url):
    """Two instances of the app, each with Flask's test client."""
    clients = []
    for _ in range(2):
        app = create_app({"REDIS_URL": redis_url})
        app.testing = True
        clients.append(app.test_client())
    return clients


def login(client, user):
    response = client.post("/login", json={"user": user})
    assert response.status_code == 201
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_login_answers_a_token(two):
    response = two[0].post("/login", json={"user": "ada"})
    assert response.status_code == 201
    token = response.get_json()["token"]
    assert isinstance(token, str) and len(token) >= 32


def test_session_is_seen_by_the_other_instance(two):
    auth = login(two[0], "ada")
    response = two[1].get("/me", headers=auth)
    assert response.status_code == 200
    assert response.get_json() == {"user": "ada"}


def test_session_is_stored_in_redis(two, redis_client):
    auth = login(two[0], "grace")
    token = auth["Authorization"].removeprefix("Bearer ")
    assert redis_client.get(f"session:{token}") == "grace"
    assert 1790 <= redis_client.ttl(f"session:{token}") <= 1800


def test_cart_is_shared(two):
    auth = login(two[0], "linus")
    two[0].post("/cart/items", json={"sku": "MUG-01", "qty": 2}, headers=auth)
    response = two[1].post("/cart/items", json={"sku": "MUG-01", "qty": 1}, headers=auth)
    assert response.status_code == 200
    assert response.get_json() == {"items": {"MUG-01": 3}, "total": 3}
    assert two[0].get("/cart", headers=auth).get_json() == {"items": {"MUG-01": 3}, "total": 3}


def test_no_token_is_401(two):
    assert two[1].get("/me").status_code == 401
