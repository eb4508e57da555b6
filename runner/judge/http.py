"""A small HTTP client for checks: talks to the learner's app over loopback, never imports it.

Every exchange keeps a summary ("POST /notes {json}") for failure messages, bodies are read with a
cap (a learner's app cannot exhaust the judge's memory), and connection failures become
``Mismatch`` with a message about the learner's app, not a traceback from the judge.
"""

from __future__ import annotations

import http.client
import json
from typing import Any

from .mismatch import Mismatch, show

MAX_BODY = 2 * 1024 * 1024


class Response:
    def __init__(self, method: str, path: str, sent_body: str | None, status: int,
                 headers: list[tuple[str, str]], raw: bytes) -> None:
        self.method = method
        self.path = path
        self.sent_body = sent_body
        self.status = status
        self.headers = headers
        self.raw = raw
        self.text = raw.decode("utf-8", errors="replace")

    @property
    def request_line(self) -> str:
        return f"{self.method} {self.path}"

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
                sent=self.request_summary(),
                hint=hint,
            ) from None

    def body_excerpt(self, limit: int = 300) -> str:
        text = self.text.strip()
        if not text:
            return "(empty body)"
        return text if len(text) <= limit else text[:limit] + "…"


class Client:
    """HTTP/1.1 to the learner's app; one fresh connection per request keeps failures independent."""

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        host_port = base_url.removeprefix("http://").rstrip("/")
        host, _, port = host_port.partition(":")
        self.host = host
        self.port = int(port or 80)
        self.timeout = timeout

    def request(self, method: str, path: str, *, json_body: Any = None, data: str | bytes | None = None,
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
        summary = f"{method} {path}" + (f" {sent}" if sent else "")
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            reply = connection.getresponse()
            raw = reply.read(MAX_BODY + 1)
            return Response(method, path, sent, reply.status, reply.getheaders(), raw[:MAX_BODY])
        except TimeoutError:
            raise Mismatch(
                f"your app did not answer {method} {path} within {timeout or self.timeout:g} s",
                sent=summary,
                hint="Look for an infinite loop or a blocking call in the code that handles this route.",
            ) from None
        except ConnectionRefusedError:
            raise Mismatch(
                f"could not connect to your app for {method} {path}: it is no longer running",
                sent=summary,
                hint="Your app probably crashed or exited; see the output of your program below.",
            ) from None
        except (http.client.HTTPException, OSError) as exc:
            raise Mismatch(
                f"your app broke the connection during {method} {path} ({type(exc).__name__})",
                sent=summary,
                hint="The app may have crashed while handling this request; see its output below.",
            ) from None
        finally:
            connection.close()

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
