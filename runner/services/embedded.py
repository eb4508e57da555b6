"""The embedded provider: a SQLite file per grade and a fakeredis server per grade, over TCP.

Nothing to install: the learner's code uses ordinary ``DATABASE_URL`` / ``REDIS_URL`` settings, and
so does the judge, with its own connections. The fakeredis server runs in a thread of the runner
(never in the learner's process), listening on a loopback port chosen by the kernel.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..catalog import Backend
from ..errors import InfrastructureError
from . import GradeServices


class EmbeddedProvider:
    name = "embedded"

    def __init__(self) -> None:
        self._servers: dict[str, tuple[Any, threading.Thread]] = {}

    def acquire(self, workdir: Path, *, database: bool, redis: bool, template: str = "default",
                listen_host: str = "127.0.0.1") -> GradeServices:
        database_url = None
        redis_url = None
        details = {}
        if database:
            # In a folder of its own: a container sandbox mounts that folder, and nothing else of the grade.
            folder = workdir / "db"
            folder.mkdir(exist_ok=True)
            database_url = f"sqlite:///{(folder / 'grade.sqlite3').resolve()}"
            details["database"] = "sqlite"
        if redis:
            redis_url = self._start_redis(listen_host)
            details["redis"] = "fakeredis"
        return GradeServices(Backend.EMBEDDED, database_url, redis_url, details)

    def _start_redis(self, host: str) -> str:
        try:
            from fakeredis import TcpFakeServer
        except ImportError as exc:  # pragma: no cover - fakeredis is a core dependency
            raise InfrastructureError(f"fakeredis is not installed ({exc})", hint="Run `pip install -e .`.") from None
        try:
            server = TcpFakeServer((host, 0), server_type="redis")
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
