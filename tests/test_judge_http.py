"""The HTTP side of the check toolkit: transcripts, curl lines, JSON diffs, concurrent requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runner.judge import (
    TRANSCRIPT,
    Client,
    Mismatch,
    curl_command,
    expect_error_json,
    expect_json_matches,
    expect_status,
    json_diff,
)
from runner.judge.plugin import describe_exception
from runner.results import CheckStatus


class Handler(BaseHTTPRequestHandler):
    inside = 0
    most = 0
    lock = threading.Lock()

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/slow":
            with Handler.lock:
                Handler.inside += 1
                Handler.most = max(Handler.most, Handler.inside)
            time.sleep(0.3)
            with Handler.lock:
                Handler.inside -= 1
        self._answer(200, {"path": self.path})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer(400, {"message": "no"})


@pytest.fixture
def client() -> Iterator[Client]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    TRANSCRIPT.clear()
    yield Client(f"http://127.0.0.1:{server.server_address[1]}", timeout=5)
    server.shutdown()
    server.server_close()


def test_a_mismatch_without_sent_carries_the_transcript_and_a_curl_line(client):
    client.get("/first")
    response = client.post("/notes", json={"text": "it's"})
    with pytest.raises(Mismatch) as caught:
        expect_status(response, 201)
    outcome = describe_exception(caught.value, "call")
    assert outcome.status is CheckStatus.FAILED and "expected 201" in outcome.message
    assert outcome.sent is not None
    lines = outcome.sent.splitlines()
    assert lines[0] == 'GET /first → 200 {"path": "/first"}'
    assert lines[1].startswith('POST /notes {"text": "it\'s"} → 400')
    assert lines[2] == ("try it: curl -i -X POST http://localhost:5000/notes -H 'Content-Type: application/json' "
                        "-d '{\"text\": \"it'\"'\"'s\"}'")


def test_a_check_that_says_what_it_sent_keeps_its_words(client):
    client.get("/x")
    outcome = describe_exception(Mismatch("no row", sent="INSERT INTO t VALUES (1)"), "call")
    assert outcome.sent == "INSERT INTO t VALUES (1)"


def test_an_error_without_a_message_is_named(client):
    response = client.post("/notes", json={})
    with pytest.raises(Mismatch) as caught:
        expect_error_json(response, 400)
    assert "lacks an error message" in caught.value.message
    assert caught.value.expected == '{"error": "a message"}'
    assert expect_error_json(response, 400, key="message") == {"message": "no"}


def test_json_diff_reports_every_difference_with_its_path():
    have = {"id": "7", "tags": ["a", 2], "extra": True}
    want = {"id": 7, "url": "https://x", "tags": ["a", "b"]}
    assert json_diff(have, want, extra_ok=False) == [
        '$.id: expected number 7, got string "7"',
        '$.url: missing (expected "https://x")',
        '$.tags[1]: expected string "b", got number 2',
        "$.extra: unexpected key (value true)",
    ]
    assert json_diff({"id": 7, "more": 1}, {"id": 7}) == []
    assert json_diff([1], [1, 2]) == ["$: expected 2 items, got 1"]
    with pytest.raises(Mismatch) as caught:
        expect_json_matches(have, want, "the bookmark")
    assert "differs from what was expected in 3 places" in caught.value.message


def test_curl_quotes_for_a_shell():
    assert curl_command("GET", "/a b", [], None) == "curl -i 'http://localhost:5000/a b'"
    assert curl_command("DELETE", "/x/1", [], None) == "curl -i -X DELETE http://localhost:5000/x/1"


def test_concurrent_requests_are_sent_together(client):
    Handler.most = 0
    results = client.concurrently(5, lambda i: client.get("/slow"))
    assert [r.status for r in results] == [200] * 5  # type: ignore[union-attr]
    assert Handler.most >= 4  # released by one barrier, not one after another
    assert TRANSCRIPT.total == 5


def test_a_request_the_app_does_not_answer_is_a_mismatch_in_its_place():
    dead = Client("http://127.0.0.1:9", timeout=1)
    (result,) = dead.concurrently(1, lambda i: dead.get("/"))
    assert isinstance(result, Mismatch) and "could not connect" in result.message
