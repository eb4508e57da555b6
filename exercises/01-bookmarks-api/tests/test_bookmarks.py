"""Visible tests for the Bookmarks API (tasks 1 and 2). Run them with `runner test`.

Each test gets a fresh app on its own SQLite file, through Flask's test client.
The hidden checks of `runner grade` test much more: see README.md for the whole contract.
"""

import pytest
from app import create_app


@pytest.fixture
def client(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/t.db"})
    app.testing = True
    return app.test_client()


def test_list_starts_empty(client):
    response = client.get("/bookmarks")
    assert response.status_code == 200
    assert response.get_json() == []


def test_create_returns_201(client):
    body = {"url": "https://flask.palletsprojects.com/", "title": "Flask docs", "tags": ["python", "web"]}
    response = client.post("/bookmarks", json=body)
    assert response.status_code == 201
    data = response.get_json()
    assert isinstance(data["id"], int)
    assert data == {"id": data["id"], **body}


def test_create_without_title_or_tags(client):
    response = client.post("/bookmarks", json={"url": "http://example.com/"})
    assert response.status_code == 201
    data = response.get_json()
    assert data["title"] == ""
    assert data["tags"] == []


def test_get_one(client):
    body = {"url": "https://www.sqlalchemy.org/", "title": "SQLAlchemy"}
    created = client.post("/bookmarks", json=body).get_json()
    response = client.get(f"/bookmarks/{created['id']}")
    assert response.status_code == 200
    assert response.get_json() == created


def test_list_in_creation_order(client):
    first = client.post("/bookmarks", json={"url": "https://b.example.com/", "title": "B"}).get_json()
    second = client.post("/bookmarks", json={"url": "https://a.example.com/", "title": "A"}).get_json()
    response = client.get("/bookmarks")
    assert response.status_code == 200
    assert response.get_json() == [first, second]


def test_get_unknown_404(client):
    response = client.get("/bookmarks/12345")
    assert response.status_code == 404
    assert isinstance(response.get_json()["error"], str)


def test_missing_url_400(client):
    response = client.post("/bookmarks", json={"title": "No url"})
    assert response.status_code == 400
    assert isinstance(response.get_json()["error"], str)
    assert client.get("/bookmarks").get_json() == []


@pytest.mark.parametrize("url", ["example.com", "ftp://example.com/file", 42])
def test_bad_url_400(client, url):
    response = client.post("/bookmarks", json={"url": url, "title": "Bad url"})
    assert response.status_code == 400
    assert isinstance(response.get_json()["error"], str)
