"""Visible tests for the leaderboard. Run them with `runner test`.

They use Flask's test client on a real (fake) Redis server, reached by your app's own client. The
hidden checks test much more (random boards with ties, every page, the bounds of limit and offset,
the key's time to live, many additions at the same moment): see README.md for the whole contract.
"""

import pytest
from app import create_app


@pytest.fixture
def client(redis_url):
    app = create_app({"REDIS_URL": redis_url})
    app.testing = True
    return app.test_client()


def score(client, board, player, points):
    response = client.post(f"/boards/{board}/scores", json={"player": player, "points": points})
    assert response.status_code == 200
    return response.get_json()


def test_points_add_up(client):
    assert score(client, "spring", "ada", 40)["score"] == 40
    assert score(client, "spring", "ada", -15) == {"player": "ada", "score": 25, "rank": 1}


def test_board_is_a_sorted_set(client, redis_client):
    score(client, "spring", "ada", 40)
    score(client, "spring", "grace", 30)
    assert redis_client.type("leaderboard:spring") == "zset"
    assert redis_client.zscore("leaderboard:spring", "grace") == 30
    assert 604790 <= redis_client.ttl("leaderboard:spring") <= 604800


def test_ties_by_name_and_shared_ranks(client):
    for player, points in [("linus", 70), ("ada", 90), ("grace", 70), ("alan", 50)]:
        score(client, "summer", player, points)
    response = client.get("/boards/summer")
    assert response.status_code == 200
    assert response.get_json() == {"board": "summer", "total": 4, "entries": [
        {"rank": 1, "player": "ada", "score": 90},
        {"rank": 2, "player": "grace", "score": 70},
        {"rank": 2, "player": "linus", "score": 70},
        {"rank": 4, "player": "alan", "score": 50},
    ]}


def test_second_page(client):
    for number in range(5):
        score(client, "autumn", f"p{number}", 10 * number)
    page = client.get("/boards/autumn?limit=2&offset=2").get_json()
    assert [entry["player"] for entry in page["entries"]] == ["p2", "p1"]


def test_limit_bounds(client):
    assert client.get("/boards/winter?limit=0").status_code == 400
    assert client.get("/boards/winter?limit=100").status_code == 200


def test_unknown_player_is_404(client):
    score(client, "spring", "ada", 1)
    assert client.get("/boards/spring/players/nobody").status_code == 404
