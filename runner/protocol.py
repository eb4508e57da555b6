"""A small request/response protocol: one JSON object per line over a loopback TCP socket.

The judge uses it to call learner functions without importing them (the learner's process serves,
the judge asks); the tests exercise uses it the other way round (a grading proxy in the learner's
process calls the implementation under test, which lives in the judge). Values are JSON plus a few
tagged types (tuple, Decimal, bytes), so a learner's ``(1, 2)`` does not come back as ``[1, 2]``.

Request:  {"fn": "name", "args": [...], "kwargs": {...}}
Response: {"ok": true, "value": ...}  or  {"ok": false, "error": {"type": "ValueError", "message": "..."}}
"""

from __future__ import annotations

import base64
import builtins
import json
import socket
import socketserver
import threading
import traceback
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

MAX_LINE = 4 * 1024 * 1024

#: Exceptions that cross the protocol as themselves; anything else arrives as ``RemoteError``.
PORTABLE_EXCEPTIONS: dict[str, type[Exception]] = {
    name: getattr(builtins, name)
    for name in (
        "ValueError",
        "TypeError",
        "KeyError",
        "IndexError",
        "LookupError",
        "ZeroDivisionError",
        "ArithmeticError",
        "OverflowError",
        "AttributeError",
        "RuntimeError",
        "NotImplementedError",
        "PermissionError",
        "FileNotFoundError",
        "AssertionError",
    )
}


class ProtocolError(Exception):
    """The other side sent something that is not a protocol message, or went away."""


class RemoteError(Exception):
    """The called function raised; ``type`` is the name of its exception class."""

    def __init__(self, type_name: str, message: str, details: str = "") -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type = type_name
        self.message = message
        self.details = details


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value``; raises TypeError for values that cannot cross."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"__float__": repr(value)}
        return value
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, Decimal):
        return {"__decimal__": str(value)}
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("dictionary keys must be strings")
        if any(k.startswith("__") and k.endswith("__") for k in value):
            return {"__dict__": {k: encode(v) for k, v in value.items()}}
        return {k: encode(v) for k, v in value.items()}
    raise TypeError(f"a value of type {type(value).__name__} cannot be sent (use JSON types)")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == "__tuple__":
                return tuple(decode(v) for v in inner)
            if key == "__decimal__":
                return Decimal(inner)
            if key == "__bytes__":
                return base64.b64decode(inner)
            if key == "__float__":
                return float(inner)
            if key == "__dict__":
                return {k: decode(v) for k, v in inner.items()}
        return {k: decode(v) for k, v in value.items()}
    return value


def _send(sock_file: Any, message: Mapping[str, Any]) -> None:
    sock_file.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
    sock_file.flush()


def _receive(sock_file: Any) -> dict[str, Any]:
    line = sock_file.readline(MAX_LINE + 1)
    if not line:
        raise ProtocolError("the connection was closed")
    if len(line) > MAX_LINE:
        raise ProtocolError(f"a message was larger than {MAX_LINE} bytes")
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not a protocol message: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("not a protocol message: expected an object")
    return message


class Client:
    """Calls functions on a protocol server; one connection, one call at a time."""

    def __init__(self, host: str, port: int, *, timeout: float = 10.0) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> None:
        self._sock = socket.create_connection(self.address, timeout=self.timeout)
        self._file = self._sock.makefile("rwb")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = None

    def call(self, fn: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Call ``fn`` remotely; raises RemoteError if it raised, ProtocolError if the link broke."""
        with self._lock:
            try:
                if self._sock is None:
                    self._connect()
                assert self._sock is not None
                self._sock.settimeout(timeout or self.timeout)
                _send(self._file, {"fn": fn, "args": encode(list(args)), "kwargs": encode(kwargs)})
                reply = _receive(self._file)
            except (OSError, ProtocolError) as exc:
                self.close()
                if isinstance(exc, TimeoutError | socket.timeout):
                    raise TimeoutError(f"no answer to {fn}() within {timeout or self.timeout:g} s") from None
                raise ProtocolError(str(exc) or type(exc).__name__) from None
        if reply.get("ok"):
            return decode(reply.get("value"))
        error = reply.get("error") or {}
        raise RemoteError(str(error.get("type", "Error")), str(error.get("message", "")), str(error.get("details", "")))


def _error_payload(exc: BaseException, details: bool | Callable[[BaseException], str]) -> dict[str, str]:
    payload = {"type": type(exc).__name__, "message": str(exc)}
    if callable(details):
        payload["details"] = details(exc)
    elif details:
        payload["details"] = "".join(traceback.format_exception(exc))
    return payload


def serve(
    functions: Mapping[str, Callable[..., Any]],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    threaded: bool = False,
    include_tracebacks: bool | Callable[[BaseException], str] = True,
) -> socketserver.TCPServer:
    """A protocol server (not yet serving): call ``serve_forever`` on it, or run it in a thread."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while True:
                try:
                    request = _receive(self.rfile)
                except ProtocolError:
                    return
                fn = functions.get(str(request.get("fn")))
                if fn is None:
                    reply: dict[str, Any] = {
                        "ok": False,
                        "error": {"type": "LookupError", "message": f"no function named {request.get('fn')!r}"},
                    }
                else:
                    try:
                        value = fn(*decode(request.get("args") or []), **decode(request.get("kwargs") or {}))
                        reply = {"ok": True, "value": encode(value)}
                    except Exception as exc:
                        reply = {"ok": False, "error": _error_payload(exc, include_tracebacks)}
                try:
                    _send(self.wfile, reply)
                except OSError:
                    return

    server_class = socketserver.ThreadingTCPServer if threaded else socketserver.TCPServer
    server_class.allow_reuse_address = True
    server: socketserver.TCPServer = server_class((host, port), Handler)
    if isinstance(server, socketserver.ThreadingTCPServer):
        server.daemon_threads = True
    return server


def raise_portable(error: RemoteError) -> None:
    """Re-raise a remote builtin exception as itself (for the grading proxy), else as RemoteError."""
    __tracebackhide__ = True  # pytest leaves this frame out of the learner's tracebacks
    cls = PORTABLE_EXCEPTIONS.get(error.type)
    if cls is None:
        raise error
    if cls is KeyError:
        raise KeyError(error.message.strip("'\"")) from None
    raise cls(error.message) from None
