"""The app log: what the learner's app wrote while serving each of the judge's requests.

Runs inside the learner's process (stdlib only). The judge's HTTP client sends a random id in the
``X-Backend-Kit-Request`` header of each request; ``AppLog.wrap`` captures what the thread serving
that request writes to ``sys.stdout``/``sys.stderr`` (``print``, and Flask's default logging of an
exception, which writes to ``wsgi.errors``, that is ``sys.stderr``) and, once the app has answered,
appends one JSON line ``{"id", "root", "text"}`` to the log file. The same text also goes on to the
program's normal output. The judge (``runner.judge.applog``) reads the records of a failing check's
requests and shows them, trimmed, as "your app" in the report: evidence for a message, never for a
verdict (this is the learner's process; it can write anything to that file).

Bounded: at most ``REQUEST_LIMIT`` characters per request (its start and its end, where the
exception line is) and ``LOG_LIMIT`` bytes in all, this module's own budget.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import IO, Any

HEADER = "X-Backend-Kit-Request"
_ENVIRON_KEY = "HTTP_" + HEADER.upper().replace("-", "_")
_ID = re.compile(r"[0-9a-f]{8,64}")
#: Characters kept of one request's output: its first quarter and its last three quarters.
REQUEST_LIMIT = 16_000
#: Bytes the log may hold (it is on the grade's disk, within its quota and the file-size limit).
LOG_LIMIT = 4 << 20

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Capture:
    """One request's output: the head and a rolling tail, with how much was dropped between."""

    def __init__(self) -> None:
        self.head = ""
        self.tail = ""
        self.dropped = 0

    def add(self, text: str) -> None:
        room = REQUEST_LIMIT // 4 - len(self.head)
        if room > 0:
            self.head += text[:room]
            text = text[room:]
        if not text:
            return
        self.tail += text
        keep = REQUEST_LIMIT - REQUEST_LIMIT // 4
        if len(self.tail) > keep:
            self.dropped += len(self.tail) - keep
            self.tail = self.tail[-keep:]

    def text(self) -> str:
        middle = f"\n[… {self.dropped} characters of your app's output not kept …]\n" if self.dropped else ""
        return self.head + middle + self.tail


class _Tee:
    """``sys.stdout``/``sys.stderr``: writes go on to the real stream, and to the capture of the
    current thread's request when there is one."""

    def __init__(self, stream: IO[str], captures: threading.local) -> None:
        self._stream = stream
        self._captures = captures

    def write(self, text: str) -> int:
        capture: _Capture | None = getattr(self._captures, "current", None)
        if capture is not None and isinstance(text, str):
            capture.add(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class AppLog:
    def __init__(self, path: str, root: str) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._captures = threading.local()
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._written = os.fstat(self._fd).st_size
        except OSError:
            self._fd = None  # the judge finds no records and shows no app output
            self._written = 0

    def install(self) -> None:
        """Replace ``sys.stdout`` and ``sys.stderr`` by thread-aware proxies (before the learner's
        code is imported, so a logging handler it makes holds the proxy, not the real stream)."""
        if self._fd is None:
            return
        if not isinstance(sys.stdout, _Tee):
            sys.stdout = _Tee(sys.stdout, self._captures)
        if not isinstance(sys.stderr, _Tee):
            sys.stderr = _Tee(sys.stderr, self._captures)

    def wrap(self, app: WsgiApp) -> WsgiApp:
        """``app`` with each request's output recorded under the judge's id for it."""
        if self._fd is None:
            return app

        def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            request_id = str(environ.get(_ENVIRON_KEY, ""))
            if not _ID.fullmatch(request_id):
                return app(environ, start_response)
            capture = _Capture()
            previous = getattr(self._captures, "current", None)
            self._captures.current = capture
            try:
                return app(environ, start_response)
            finally:
                self._captures.current = previous
                self._record(request_id, capture)

        return logged

    def _record(self, request_id: str, capture: _Capture) -> None:
        text = capture.text()
        if not text or self._fd is None:
            return
        data = (json.dumps({"id": request_id, "root": self.root, "text": text}) + "\n").encode("utf-8", "replace")
        with self._lock:
            if self._written + len(data) > LOG_LIMIT:
                return
            self._written += len(data)
            with contextlib.suppress(OSError):
                os.write(self._fd, data)
