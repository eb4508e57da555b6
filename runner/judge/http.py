"""A small HTTP client for checks: talks to the learner's app over loopback, never imports it.

Every exchange is recorded in the current check's ``TRANSCRIPT`` (the plugin clears it before each
check), so a ``Mismatch`` that does not say what was sent gets the check's exchanges, and the last
request as a curl command the learner can paste, without the check passing ``sent=`` each time.
Bodies are read with a cap (a learner's app cannot exhaust the judge's memory), and connection
failures become ``Mismatch`` with a message about the learner's app, not a traceback from the judge.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import shlex
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .mismatch import Mismatch, show

#: The header that carries each request's id; the learner host records what the app wrote while
#: serving it under that id (``runner.learner.applog``, ``runner.judge.applog``).
REQUEST_ID_HEADER = "X-Backend-Kit-Request"

MAX_BODY = 2 * 1024 * 1024
#: How much of a response body a replay record keeps.
RECORD_BODY = 64 * 1024
#: Where a learner runs their app by hand (``flask --app app run``): the host of curl commands.
CURL_BASE = "http://localhost:5000"


@dataclass(frozen=True)
class Exchange:
    """One request of a check and what came back (``status`` None: no answer)."""

    method: str
    path: str
    sent: str | None
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    status: int | None
    reply: str
    #: The id sent in ``REQUEST_ID_HEADER`` (not part of ``headers``: the learner never sends it).
    request_id: str = ""
    #: What came back in full (capped), for ``runner replay``.
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: bytes = b""
    #: Which copy of the app answered, when a grade runs several ("instance 2"); "" when one.
    via: str = ""

    def to_record(self) -> dict[str, Any]:
        """The exchange as JSON for ``runner replay`` (bodies as text, the response's capped)."""
        return {"method": self.method, "path": self.path, "headers": [list(h) for h in self.headers],
                "body": None if self.body is None else self.body.decode("utf-8", "replace"),
                "status": self.status, "response_headers": [list(h) for h in self.response_headers],
                "response_body": self.response_body[:RECORD_BODY].decode("utf-8", "replace")}

    def line(self) -> str:
        request = (f"{self.method} {self.path}" + (f" on {self.via}" if self.via else "")
                   + (f" {self.sent}" if self.sent else ""))
        answer = "no answer" if self.status is None else f"{self.status} {self.reply}".rstrip()
        return f"{request} → {answer}"

    def curl(self) -> str:
        return curl_command(self.method, self.path, self.headers, self.body)


def curl_command(method: str, path: str, headers: Sequence[tuple[str, str]], body: bytes | None,
                 base: str = CURL_BASE) -> str:
    """The request as a curl command a learner can paste against their own app."""
    parts = ["curl", "-i"]
    if method != "GET" or body:
        parts += ["-X", method]
    parts.append(shlex.quote(base + path))
    for name, value in headers:
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        text = body.decode("utf-8", errors="replace")
        parts += ["-d", shlex.quote(text if len(text) <= 400 else text[:400] + "…")]
    return " ".join(parts)


class Transcript:
    """The exchanges of the current check, in order (thread-safe: checks may send concurrently)."""

    KEEP = 12
    #: Request ids kept for the app's output (more than the exchanges shown: a failure may come
    #: from an early request of a long check).
    KEEP_IDS = 200
    #: Exchanges kept for ``runner replay`` when ``record_all`` is on.
    KEEP_ALL = 500

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._ids: list[str] = []
        self._all: list[Exchange] = []
        self.total = 0
        #: Keep every exchange of the check (up to ``KEEP_ALL``), not only the last ``KEEP``.
        self.record_all = False

    def clear(self) -> None:
        with self._lock:
            self._exchanges.clear()
            self._ids.clear()
            self._all.clear()
            self.total = 0

    @property
    def everything(self) -> list[Exchange]:
        """Every exchange of the check in order (only while ``record_all`` is on)."""
        with self._lock:
            return list(self._all)

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self.total += 1
            self._exchanges.append(exchange)
            del self._exchanges[:-self.KEEP]
            if self.record_all and len(self._all) < self.KEEP_ALL:
                self._all.append(exchange)
            if exchange.request_id:
                self._ids.append(exchange.request_id)
                del self._ids[:-self.KEEP_IDS]

    @property
    def request_ids(self) -> list[str]:
        """The ids of this check's requests, in the order they were sent (the last ``KEEP_IDS``)."""
        with self._lock:
            return list(self._ids)

    @property
    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def render(self, last: int = 6) -> str | None:
        """The last exchanges, one per line, then the last request as curl; None when there was none."""
        exchanges = self.exchanges
        if not exchanges:
            return None
        shown = exchanges[-last:]
        skipped = self.total - len(shown)
        lines = ([f"({skipped} earlier request{'s' if skipped != 1 else ''})"] if skipped else [])
        lines += [exchange.line() for exchange in shown]
        lines.append(f"try it: {shown[-1].curl()}")
        return "\n".join(lines)


#: The running check's exchanges (one judge process runs one check at a time).
TRANSCRIPT = Transcript()


class Response:
    def __init__(self, method: str, path: str, sent_body: str | None, status: int,
                 headers: list[tuple[str, str]], raw: bytes, *, sent_bytes: bytes | None = None,
                 sent_headers: tuple[tuple[str, str], ...] = (), via: str = "") -> None:
        self.via = via
        self.method = method
        self.path = path
        self.sent_body = sent_body
        self.status = status
        self.headers = headers
        self.raw = raw
        self.sent_bytes = sent_bytes
        self.sent_headers = sent_headers
        self.text = raw.decode("utf-8", errors="replace")

    @property
    def request_line(self) -> str:
        """``GET /me``, or ``GET /me on instance 2`` when a grade runs several copies of the app."""
        return f"{self.method} {self.path}" + (f" on {self.via}" if self.via else "")

    def request_summary(self) -> str:
        return self.request_line + (f" {self.sent_body}" if self.sent_body else "")

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self, *, hint: str | None = None) -> Any:
        """The JSON body; a ``Mismatch`` that says what came instead when there is none."""
        content_type = self.header("content-type") or ""
        try:
            return json.loads(self.text)
        except ValueError:
            raise Mismatch(
                f"{self.request_line} did not return JSON",
                expected="a JSON body (use flask.jsonify or return a dict)",
                actual=f"Content-Type {content_type or '(none)'}, body {self.body_excerpt()}",
                hint=hint,
            ) from None

    def curl(self) -> str:
        """This request as a curl command against the learner's own ``flask run``."""
        return curl_command(self.method, self.path, self.sent_headers, self.sent_bytes)

    def body_excerpt(self, limit: int = 300) -> str:
        text = self.text.strip()
        if not text:
            return "(empty body)"
        return text if len(text) <= limit else text[:limit] + "…"


class Client:
    """HTTP/1.1 to the learner's app; one fresh connection per request keeps failures independent."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, label: str = "") -> None:
        host_port = base_url.removeprefix("http://").rstrip("/")
        host, _, port = host_port.partition(":")
        self.host = host
        self.port = int(port or 80)
        self.timeout = timeout
        #: Named in every message about this client's requests ("instance 2"); "" for a lone app.
        self.label = label

    def request(self, method: str, path: str, *, json_body: Any = None, data: str | bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float | None = None) -> Response:
        return self.send(method, path, json_body=json_body, data=data, headers=headers, timeout=timeout)

    def _send(self, method: str, path: str, *, json_body: Any = None, data: str | bytes | None = None,
              headers: dict[str, str] | None = None, timeout: float | None = None) -> Response:
        headers = dict(headers or {})
        body: bytes | None = None
        sent: str | None = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
            sent = show(json_body)
        elif data is not None:
            body = data.encode() if isinstance(data, str) else data
            sent = body.decode("utf-8", errors="replace")[:300]
        shown_headers = tuple(headers.items())
        request_id = secrets.token_hex(8)
        headers[REQUEST_ID_HEADER] = request_id
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            reply = connection.getresponse()
            raw = reply.read(MAX_BODY + 1)
            response = Response(method, path, sent, reply.status, reply.getheaders(), raw[:MAX_BODY],
                                sent_bytes=body, sent_headers=shown_headers, via=self.label)
            TRANSCRIPT.add(Exchange(method, path, sent, shown_headers, body, response.status,
                                    response.body_excerpt(120) if response.raw else "", request_id,
                                    tuple(response.headers), response.raw[:RECORD_BODY], self.label))
            return response
        except (TimeoutError, ConnectionRefusedError, http.client.HTTPException, OSError):
            TRANSCRIPT.add(Exchange(method, path, sent, shown_headers, body, None, "", request_id, via=self.label))
            raise
        finally:
            connection.close()

    def send(self, method: str, path: str, *, json_body: Any = None, data: str | bytes | None = None,
             headers: dict[str, str] | None = None, timeout: float | None = None) -> Response:
        """``request`` with the app's failures (no answer, a refused or broken connection) as ``Mismatch``."""
        try:
            return self._send(method, path, json_body=json_body, data=data, headers=headers, timeout=timeout)
        except TimeoutError:
            raise Mismatch(
                f"your app{self._on()} did not answer {method} {path} within {timeout or self.timeout:g} s",
                hint="Look for an infinite loop or a blocking call in the code that handles this route.",
            ) from None
        except ConnectionRefusedError:
            raise Mismatch(
                f"could not connect to your app{self._on()} for {method} {path}: it is no longer running",
                hint="Your app probably crashed or exited; see the output of your program below.",
            ) from None
        except (http.client.HTTPException, OSError) as exc:
            raise Mismatch(
                f"your app{self._on()} broke the connection during {method} {path} ({type(exc).__name__})",
                hint="The app may have crashed while handling this request; see its output below.",
            ) from None

    def _on(self) -> str:
        return f" ({self.label})" if self.label else ""

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Response:
        return self.request("POST", path, json_body=json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Response:
        return self.request("PUT", path, json_body=json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Response:
        return self.request("PATCH", path, json_body=json, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.request("DELETE", path, **kw)

    def concurrently(self, count: int, make: Callable[[int], Response], *, timeout: float | None = None
                     ) -> list[Response | Mismatch]:
        """``make(i)`` for i in range(count), all released at once by a barrier, each on a thread of
        its own: for rate limits, stock reservations and lost updates. Every outcome is returned in
        order (a request the app did not answer is its ``Mismatch``), so a check can count them."""
        return run_together(count, make, timeout=timeout or self.timeout + 5)


def run_together(count: int, make: Callable[[int], Any], *, timeout: float = 10.0) -> list[Any]:
    """Run ``make(0..count-1)`` on ``count`` threads that start together (a barrier); the results in
    order, a ``Mismatch`` raised by one of them in its place."""
    if count < 1:
        return []
    barrier = threading.Barrier(count)

    def one(index: int) -> Any:
        # A thread slow to start breaks the barrier: send anyway, with whoever is still waiting.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout)
        try:
            return make(index)
        except Mismatch as exc:
            return exc

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="together") as pool:
        return list(pool.map(one, range(count)))
