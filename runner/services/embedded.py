"""The embedded provider: a SQLite file per grade and a fakeredis server per grade, over TCP.

Nothing to install: the learner's code uses ordinary ``DATABASE_URL`` / ``REDIS_URL`` settings, and
so does the judge, with its own connections. The fakeredis server runs in a thread of the runner
(never in the learner's process), listening on a loopback port chosen by the kernel.

The server is fakeredis's ``TcpFakeServer`` with three additions the judge relies on
(``runner.judge.redis_probe``, ``runner.judge.faults``), so that one judge-side implementation
works here and on a real Redis:

- ``MONITOR``: a connection that sends it receives every later command of the other connections,
  in Redis's own line format (``+<ts> [<db> <ip>:<port>] "GET" "key"``), fed before the command
  runs, so a command whose reply a client has seen is already on every monitor's socket;
- the judge's connections: the judge's URL carries the user ``backend-kit-judge`` and the
  grade's secret token as its password; ``AUTH`` (or ``HELLO … AUTH``) with them marks the
  connection as the judge's. Only those may ``MONITOR`` (a real grade's Redis user may not either);
- ``BACKENDKIT.FAULT <token> down|up``: while down, every connection that is not the judge's is
  closed, and new ones are closed at their first command, so the learner's app sees its Redis go
  away; ``up`` brings it back. With a wrong token it is an unknown command.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

from ..catalog import Backend
from ..errors import InfrastructureError
from . import GradeServices

#: The user name the judge's embedded Redis URL carries (its password is the grade's fault token).
JUDGE_USER = "backend-kit-judge"
FAULT_COMMAND = b"BACKENDKIT.FAULT"


class EmbeddedProvider:
    name = "embedded"

    def __init__(self) -> None:
        self._servers: dict[str, tuple[Any, threading.Thread]] = {}

    def acquire(self, workdir: Path, *, database: bool, redis: bool, template: str = "default",
                listen_host: str = "127.0.0.1") -> GradeServices:
        database_url = None
        redis_url = judge_redis_url = None
        details = {}
        handle: dict[str, str] = {}
        if database:
            # In a folder of its own: a container sandbox mounts that folder, and nothing else of the grade.
            folder = workdir / "db"
            folder.mkdir(exist_ok=True)
            database_url = f"sqlite:///{(folder / 'grade.sqlite3').resolve()}"
            details["database"] = "sqlite"
        if redis:
            # The token is a secret between this provider and the judge: in ``handle``, which no
            # report shows, not in ``details``, which the report does.
            token = secrets.token_hex(16)
            redis_url = self._start_redis(listen_host, token)
            judge_redis_url = redis_url.replace("redis://", f"redis://{JUDGE_USER}:{token}@", 1)
            details["redis"] = "fakeredis"
            handle["fault_token"] = token
        return GradeServices(Backend.EMBEDDED, database_url, redis_url, details, judge_redis_url=judge_redis_url,
                             handle=handle)

    def _start_redis(self, host: str, token: str) -> str:
        try:
            server = embedded_redis_server((host, 0), token)
        except OSError as exc:
            raise InfrastructureError(f"could not start the embedded Redis: {exc}") from None
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="fakeredis", daemon=True)
        thread.start()
        url = f"redis://{host}:{server.server_address[1]}/0"
        self._servers[url] = (server, thread)
        return url

    def release(self, services: GradeServices) -> None:
        if services.redis_url and services.redis_url in self._servers:
            server, thread = self._servers.pop(services.redis_url)
            server.shutdown()
            server.server_close()
            thread.join(timeout=2)
        if services.database_url:
            path = Path(services.database_url.removeprefix("sqlite:///"))
            for suffix in ("", "-journal", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        for url in list(self._servers):
            self.release(GradeServices(Backend.EMBEDDED, None, url))


# ---------------------------------------------------------------- the embedded Redis server


def monitor_repr(arg: bytes) -> str:
    """One argument as Redis's MONITOR shows it (``sdscatrepr``): quoted, with escapes."""
    out = ['"']
    for byte in arg:
        char = chr(byte)
        if char in '\\"':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char == "\a":
            out.append("\\a")
        elif char == "\b":
            out.append("\\b")
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


class CommandReader:
    """Whole commands out of a RESP byte stream (arrays of bulk strings, or inline commands).

    ``feed`` returns ``(raw, argv)`` for every command completed so far; ``raw`` is the bytes to
    forward unchanged. A stream that is not RESP is handed on as it is (``argv`` empty), for the
    fake server to answer with its own protocol error.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, list[bytes]]]:
        self.buffer += data
        commands = []
        while self.buffer:
            try:
                parsed = self._parse()
            except ValueError:
                parsed = (bytes(self.buffer), [])
                self.buffer.clear()
            if parsed is None:
                break
            commands.append(parsed)
        return commands

    def _parse(self) -> tuple[bytes, list[bytes]] | None:
        buf = self.buffer
        if buf[:1] != b"*":
            end = buf.find(b"\n")
            if end < 0:
                return None
            raw = bytes(buf[:end + 1])
            del buf[:end + 1]
            return raw, raw.split()
        end = buf.find(b"\r\n")
        if end < 0:
            return None
        count = int(buf[1:end])
        pos = end + 2
        argv = []
        for _ in range(max(count, 0)):
            if pos >= len(buf):
                return None
            if buf[pos:pos + 1] != b"$":
                raise ValueError("not a bulk string")
            end = buf.find(b"\r\n", pos)
            if end < 0:
                return None
            size = int(buf[pos + 1:end])
            start = end + 2
            if size < 0 or len(buf) < start + size + 2:
                if size < 0:
                    raise ValueError("negative bulk length")
                return None
            argv.append(bytes(buf[start:start + size]))
            pos = start + size + 2
        raw = bytes(buf[:pos])
        del buf[:pos]
        return raw, argv


def embedded_redis_server(address: tuple[str, int], token: str) -> Any:
    """A fakeredis ``TcpFakeServer`` with MONITOR, judge connections and the fault switch (above)."""
    try:
        from fakeredis import TcpFakeServer
        from fakeredis._clients._tcp_server import TCPFakeRequestHandler, encode_reply
        from fakeredis._helpers import SimpleError
        from fakeredis._typing import RaiseErrorTypes
    except ImportError as exc:  # pragma: no cover - fakeredis is a core dependency
        raise InfrastructureError(f"fakeredis is not installed ({exc})", hint="Run `pip install -e .`.") from None
    poll = 0.01

    class Handler(TCPFakeRequestHandler):
        server: Server

        def setup(self) -> None:
            super().setup()
            self.trusted = False
            self.monitoring = False
            self.closing = False
            self.write_lock = threading.Lock()
            self.reader = CommandReader()
            host, port = self.client_address[:2]
            self.address = f"{host}:{port}"
            info = getattr(self.current_client.get_socket(), "_client_info", None)
            if info is not None:  # CLIENT LIST shows ip:port, as Redis does (fakeredis shows a tuple)
                info["addr"] = self.address
                local = self.connection.getsockname()
                info["laddr"] = f"{local[0]}:{local[1]}"
            self.server.attach(self)

        def send(self, data: bytes) -> None:
            with self.write_lock:
                self.wfile.write(data)
                self.wfile.flush()

        def reply(self, value: Any) -> None:
            self.send(encode_reply(value, self.protocol_version))

        def cut(self) -> None:
            """Close this connection from another thread: its loop sees the end of the stream."""
            self.closing = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        def handle(self) -> None:
            import select

            while not self.server._shutdown_event.is_set() and not self.closing:
                try:
                    if not self.monitoring and self.current_client.can_read():
                        try:
                            response = self.current_client.read_response()
                        except RaiseErrorTypes as exc:
                            response = exc
                        self.reply(response)
                        continue
                    data = self.rfile.readline()
                    if data == b"":
                        readable, _, _ = select.select([self.connection], [], [], poll)
                        if not readable:
                            continue
                        data = self.rfile.readline()
                        if data == b"":
                            break
                    for raw, argv in self.reader.feed(data):
                        if not self.dispatch(raw, argv):
                            self.closing = True
                            break
                except (ConnectionError, OSError, ValueError):
                    break
                except Exception as exc:
                    with contextlib.suppress(OSError):
                        self.reply(exc)
                    break

        def dispatch(self, raw: bytes, argv: list[bytes]) -> bool:
            """Run one command; False closes the connection."""
            name = argv[0].upper() if argv else b""
            if name == FAULT_COMMAND:
                return self.fault(argv[1:])
            if name == b"AUTH" and self.server.is_judge(argv[1:]):
                self.trusted = True
                self.reply(b"OK")
                return True
            if name == b"HELLO":
                upper = [arg.upper() for arg in argv]
                if b"AUTH" in upper:
                    at = upper.index(b"AUTH")
                    if self.server.is_judge(argv[at + 1:at + 3]):
                        self.trusted = True
                        argv = argv[:at] + argv[at + 3:]
                        raw = b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)
            if self.server.down and not self.trusted:
                return False
            if self.monitoring:  # a monitor may only leave (as on Redis, where it has nothing else to say)
                return name not in (b"QUIT", b"RESET")
            if name == b"MONITOR":
                if not self.trusted:
                    self.reply(SimpleError("NOPERM this user has no permissions to run the 'monitor' command"))
                    return True
                self.reply(b"OK")
                self.monitoring = True
                self.server.add_monitor(self)
                return True
            if argv and name not in (b"AUTH", b"HELLO"):  # Redis never shows credentials either
                self.server.feed_monitors(self, argv)
            self.current_client.get_socket().sendall(raw)
            return True

        def fault(self, args: list[bytes]) -> bool:
            if len(args) != 2 or not hmac.compare_digest(args[0], self.server.token) \
                    or args[1].lower() not in (b"down", b"up"):
                self.reply(SimpleError("ERR unknown command 'BACKENDKIT.FAULT'"))
                return not (self.server.down and not self.trusted)
            self.trusted = True
            self.server.set_down(args[1].lower() == b"down")
            self.reply(b"OK")
            return True

        def finish(self) -> None:
            self.server.detach(self)
            with contextlib.suppress(OSError, KeyError):
                super().finish()

    class Server(TcpFakeServer):
        # socketserver's default backlog is 5: a check that opens 30 connections at once (a burst
        # against a rate limiter, through the learner's app) must not see them queue or drop.
        request_queue_size = 128

        def __init__(self, server_address: tuple[str, int], secret: str) -> None:
            super().__init__(server_address, server_type="redis")
            self.RequestHandlerClass = Handler
            self.token = secret.encode()
            self.down = False
            self.handlers: set[Handler] = set()
            self.monitors: set[Handler] = set()
            self.guard = threading.Lock()

        def is_judge(self, credentials: list[bytes]) -> bool:
            return (len(credentials) == 2 and credentials[0] == JUDGE_USER.encode()
                    and hmac.compare_digest(credentials[1], self.token))

        def attach(self, handler: Handler) -> None:
            with self.guard:
                self.handlers.add(handler)

        def detach(self, handler: Handler) -> None:
            with self.guard:
                self.handlers.discard(handler)
                self.monitors.discard(handler)

        def add_monitor(self, handler: Handler) -> None:
            with self.guard:
                self.monitors.add(handler)

        def feed_monitors(self, source: Handler, argv: list[bytes]) -> None:
            with self.guard:
                monitors = [m for m in self.monitors if m is not source]
            if not monitors:
                return
            socket_ = self.current_socket(source)
            db = getattr(socket_, "_db_num", 0)
            if argv[0].upper() == b"SELECT" and len(argv) == 2 and argv[1].isdigit():
                db = int(argv[1])  # Redis shows SELECT with the database it selected
            line = f"+{time.time():.6f} [{db} {source.address}] " + " ".join(monitor_repr(a) for a in argv)
            data = line.encode() + b"\r\n"
            for monitor in monitors:
                try:
                    monitor.send(data)
                except (OSError, ValueError):
                    monitor.cut()

        @staticmethod
        def current_socket(handler: Handler) -> Any:
            try:
                return handler.current_client.get_socket()
            except Exception:
                return None

        def set_down(self, down: bool) -> None:
            with self.guard:
                self.down = down
                victims = [h for h in self.handlers if not h.trusted] if down else []
            for handler in victims:
                handler.cut()

    return Server(address, token)
