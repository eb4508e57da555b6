"""Services a grade needs (a database, a Redis), behind one interface.

A provider hands each grade its own isolated ``GradeServices`` (URLs the learner's process and the
judge both use) and takes them back afterwards. ``embedded`` (SQLite file + fakeredis over TCP) needs
nothing installed; real PostgreSQL/Redis providers plug in behind the same Protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from ..catalog import Backend
from ..errors import UsageError
from ..settings import Settings


@dataclass(frozen=True)
class Container:
    """A service running in a Docker container: its name and the port it listens on inside its
    network (a sandbox on that network reaches it there, not at the port published on loopback)."""

    name: str
    inner_port: int


@dataclass(frozen=True)
class GradeServices:
    """What one grade may use: its own database and Redis, nobody else's."""

    backend: Backend
    database_url: str | None = None
    redis_url: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    #: The judge's own connections (an admin role on the same database, so a learner who exhausts
    #: their own role's connections cannot lock the judge out); the learner's URLs when None.
    judge_database_url: str | None = None
    judge_redis_url: str | None = None
    #: Provider bookkeeping (names of the role, database, ACL user, slot) for release().
    handle: dict[str, str] = field(default_factory=dict)
    #: Where each setting's server runs when it is a container ("DATABASE_URL" → its container).
    containers: Mapping[str, Container] = field(default_factory=dict)

    @property
    def judge_database(self) -> str | None:
        return self.judge_database_url or self.database_url

    @property
    def judge_redis(self) -> str | None:
        return self.judge_redis_url or self.redis_url

    def seen_from(self, setting: str, host: str, port: int) -> str:
        """The URL of ``setting`` with its host and port replaced (how a sandbox on the container's
        network reaches the same server); credentials, database and options are kept."""
        url = self.config()[setting]
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def config(self) -> dict[str, str]:
        """The settings handed to the learner's app (as config keys and environment variables)."""
        config = {}
        if self.database_url:
            config["DATABASE_URL"] = self.database_url
        if self.redis_url:
            config["REDIS_URL"] = self.redis_url
        return config


class ServiceProvider(Protocol):
    name: str

    def acquire(self, workdir: Path, *, database: bool, redis: bool, template: str = "default",
                listen_host: str = "127.0.0.1") -> GradeServices:
        """Isolated services for one grade; ``workdir`` is the grade's private folder, ``template``
        names the per-exercise template a database is cloned from."""
        ...

    def release(self, services: GradeServices) -> None:
        """Drop everything ``acquire`` created for that grade."""
        ...

    def close(self) -> None:
        """Stop whatever the provider started (it may have served many grades)."""
        ...


def make_provider(settings: Settings) -> ServiceProvider:
    """The provider the settings name: embedded (the default), url, or docker."""
    if settings.provider == "embedded":
        from .embedded import EmbeddedProvider

        return EmbeddedProvider()
    if settings.provider == "url":
        from .server import ServerProvider

        if not settings.database_url and not settings.redis_url:
            raise UsageError("the url provider needs --database-url and/or --redis-url",
                             hint="e.g. after `docker compose up -d`: --database-url "
                             "postgresql://postgres:postgres@127.0.0.1:55432/postgres --redis-url redis://127.0.0.1:56379/0")
        return ServerProvider(settings.database_url, settings.redis_url, name="url")
    from .docker import DockerProvider

    return DockerProvider(settings)


def backend_of(settings: Settings) -> Backend:
    return Backend.EMBEDDED if settings.provider == "embedded" else Backend.SERVER
