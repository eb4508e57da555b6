"""The docker provider: the runner starts, reuses and stops PostgreSQL and Redis containers itself.

Containers are labelled (``backend-kit.managed``), publish their ports on loopback at ports the
kernel picks (discovered, never hard-coded), and are reused across grades and runner processes.
Readiness is a real connection (``SELECT 1``, ``PING``) polled with a timeout; a timeout attaches
the container's logs to the error. If starting fails, the container is removed, then the error is
raised (exit code 3: never a learner's zero). A container found stopped or killed is restarted.
Per-grade isolation on top of the running servers is ``ServerProvider``' job.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..containers import LABEL, docker_client, reap_exited, resolve_image
from ..errors import InfrastructureError
from ..settings import Settings
from . import Container, GradeServices
from .server import ServerProvider

READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class ContainerStatus:
    """One service container as `runner services status` and `runner doctor` show it."""

    service: str  # postgres | redis
    container: str
    state: str  # absent | running | exited | ... (Docker's own words)
    image: str = ""
    port: str = ""


@dataclass(frozen=True)
class ServiceSpec:
    service: str  # postgres | redis
    port: str
    command: Callable[[str], list[str]]
    environment: Callable[[str], dict[str, str]]
    tmpfs: dict[str, str]


SPECS = {
    "postgres": ServiceSpec(
        "postgres",
        "5432/tcp",
        lambda secret: ["postgres", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
                        "-c", "max_connections=300"],
        lambda secret: {"POSTGRES_PASSWORD": secret, "POSTGRES_USER": "postgres"},
        {"/var/lib/postgresql/data": "rw,size=2g"},
    ),
    "redis": ServiceSpec(
        "redis",
        "6379/tcp",
        lambda secret: ["redis-server", "--requirepass", secret, "--save", "", "--appendonly", "no",
                        "--databases", "128", "--protected-mode", "no"],
        lambda secret: {},
        {},
    ),
}


class DockerProvider:
    """Starts or finds the service containers; hands out per-grade isolation through ServerProvider."""

    name = "docker"

    def __init__(self, settings: Settings, *, instance: str = "default", client: Any = None) -> None:
        self.settings = settings
        self.instance = instance
        self._client: Any = client
        self._server: ServerProvider | None = None
        self._urls: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self.started: list[str] = []  # containers this object created (for tests and `services status`)

    # ------------------------------------------------------------------ containers

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def container_name(self, service: str) -> str:
        return f"backend-kit-{service}" + ("" if self.instance == "default" else f"-{self.instance}")

    def image_for(self, service: str) -> str:
        """The image this provider runs for ``service`` (see ``containers.resolve_image``)."""
        return resolve_image(self.client, self.settings, service)

    def find(self, service: str) -> Any:
        import docker.errors

        try:
            return self.client.containers.get(self.container_name(service))
        except docker.errors.NotFound:
            return None

    def _create(self, service: str) -> Any:
        spec = SPECS[service]
        secret = secrets.token_hex(16)
        image = self.image_for(service)
        try:
            return self._run(service, spec, secret, image)
        except Exception:
            # run() may have created the container before failing to start it: remove it by name.
            with contextlib.suppress(Exception):
                self.client.containers.get(self.container_name(service)).remove(force=True)
            raise

    def _run(self, service: str, spec: ServiceSpec, secret: str, image: str) -> Any:
        return self.client.containers.run(
            image,
            spec.command(secret),
            name=self.container_name(service),
            detach=True,
            environment=spec.environment(secret),
            ports={spec.port: ("127.0.0.1", None)},
            tmpfs=spec.tmpfs,
            labels={LABEL: "1", "backend-kit.service": service, "backend-kit.secret": secret,
                    "backend-kit.instance": self.instance},
        )

    def _host_port(self, container: Any, service: str) -> int:
        spec = SPECS[service]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            container.reload()
            bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(spec.port)
            if bindings:
                return int(bindings[0]["HostPort"])
            time.sleep(0.1)
        raise InfrastructureError(f"container {container.name} publishes no port for {spec.port}")

    def _urls_for(self, containers: dict[str, Any]) -> tuple[str, str]:
        pg, rd = containers["postgres"], containers["redis"]
        pg_secret = pg.labels.get("backend-kit.secret", "")
        rd_secret = rd.labels.get("backend-kit.secret", "")
        pg_url = f"postgresql://postgres:{pg_secret}@127.0.0.1:{self._host_port(pg, 'postgres')}/postgres"
        rd_url = f"redis://:{rd_secret}@127.0.0.1:{self._host_port(rd, 'redis')}/0"
        return pg_url, rd_url

    def _wait_ready(self, containers: dict[str, Any], urls: tuple[str, str], created: set[str]) -> None:
        import psycopg
        import redis

        deadline = time.monotonic() + READY_TIMEOUT
        pending = {"postgres", "redis"}
        last_error = ""
        while pending and time.monotonic() < deadline:
            for service in sorted(pending):
                container = containers[service]
                container.reload()
                if container.status in ("exited", "dead"):
                    last_error = f"{service} container exited"
                    deadline = 0
                    break
                try:
                    if service == "postgres":
                        with psycopg.connect(urls[0], connect_timeout=2) as conn:
                            conn.execute("SELECT 1")
                    else:
                        client = redis.Redis.from_url(urls[1], socket_timeout=2)
                        client.ping()
                        client.close()
                    pending.discard(service)
                except (psycopg.Error, redis.RedisError, OSError) as exc:
                    last_error = f"{service}: {str(exc).strip()[:200]}"
            if pending:
                time.sleep(0.2)
        if pending:
            logs = "\n".join(
                f"--- {containers[s].name} logs ---\n"
                + containers[s].logs(tail=30).decode("utf-8", "replace").rstrip()
                for s in sorted(pending)
            )
            for service in created:
                with contextlib.suppress(Exception):
                    containers[service].remove(force=True)
            raise InfrastructureError(
                f"{', '.join(sorted(pending))} did not become ready within {READY_TIMEOUT:g} s ({last_error}).\n{logs}",
                hint="Check `docker ps -a` and the logs above; `runner services down` then retry.",
            )

    def up(self) -> tuple[str, str]:
        """Make sure both containers run and answer; returns the admin URLs (postgres, redis)."""
        with self._lock:
            containers: dict[str, Any] = {}
            created: set[str] = set()
            restarted = False
            try:
                for service in ("postgres", "redis"):
                    container = self.find(service)
                    if container is None:
                        container = self._create(service)
                        created.add(service)
                        self.started.append(container.name)
                    elif container.status != "running":
                        container.start()
                        restarted = True
                    containers[service] = container
            except InfrastructureError:
                for service in created:
                    with contextlib.suppress(Exception):
                        containers[service].remove(force=True)
                raise
            except Exception as exc:  # docker API errors of every kind
                for service in created:
                    with contextlib.suppress(Exception):
                        containers[service].remove(force=True)
                raise InfrastructureError(f"could not start the service containers: {exc}",
                                          hint="Check `docker ps -a`; `runner services down` then retry.") from None
            urls = self._urls_for(containers)
            self._wait_ready(containers, urls, created)
            if created or restarted or self._server is None or urls != self._urls:
                # A new or restarted server has lost its tmpfs data: forget templates and slots.
                self._server = ServerProvider(urls[0], urls[1], name="docker")
                self._urls = urls
            return urls

    def down(self) -> list[str]:
        """Remove the service containers (their data is on tmpfs: nothing else to clean)."""
        removed = []
        for service in ("postgres", "redis"):
            container = self.find(service)
            if container is not None:
                container.remove(force=True)
                removed.append(container.name)
        self._server = None
        self._urls = None
        return removed

    def status(self) -> list[ContainerStatus]:
        """Each service container: its name, state, image and the loopback port it publishes."""
        rows = []
        for service in ("postgres", "redis"):
            container = self.find(service)
            if container is None:
                rows.append(ContainerStatus(service, self.container_name(service), "absent"))
                continue
            port = ""
            if container.status == "running":
                with contextlib.suppress(InfrastructureError):
                    port = str(self._host_port(container, service))
            rows.append(ContainerStatus(service, container.name, container.status,
                                        str(container.attrs.get("Config", {}).get("Image", "")), port))
        return rows

    def health(self) -> tuple[dict[str, str], list[str]]:
        """Start (or reuse) the servers and answer their versions and the grade objects left behind."""
        self.up()
        server = self._server
        assert server is not None
        server.prepare()
        return server.versions, server.leftovers()

    def reap(self) -> list[str]:
        """Remove exited containers carrying our label (leftovers of a crash), and dead grades' objects."""
        removed = reap_exited(self.client)
        if self._server is not None:
            removed.extend(self._server.reap())
        return removed

    # ------------------------------------------------------------------ the provider interface

    def _ensure(self) -> ServerProvider:
        """Running and answering? (cheap when they are: two inspect calls)."""
        healthy = self._server is not None and all(
            (c := self.find(s)) is not None and c.status == "running" for s in ("postgres", "redis")
        )
        if not healthy:
            self.up()
        assert self._server is not None
        return self._server

    def acquire(self, workdir: Path, *, database: bool, redis: bool, template: str = "default",
                listen_host: str = "127.0.0.1") -> GradeServices:
        server = self._ensure()
        try:
            services = server.acquire(workdir, database=database, redis=redis, template=template,
                                      listen_host=listen_host)
        except InfrastructureError:
            # The servers may have died between the check and the grade: restart once, then give up.
            self._server = None
            server = self._ensure()
            services = server.acquire(workdir, database=database, redis=redis, template=template,
                                      listen_host=listen_host)
        containers = {}
        if database:
            containers["DATABASE_URL"] = Container(self.container_name("postgres"), 5432)
        if redis:
            containers["REDIS_URL"] = Container(self.container_name("redis"), 6379)
        return replace(services, details={**services.details, "provider": "docker"}, containers=containers)

    def release(self, services: GradeServices) -> None:
        if self._server is not None:
            self._server.release(services)

    def leftovers(self) -> list[str]:
        return self._server.leftovers() if self._server is not None else []

    def close(self) -> None:
        """Containers are reused across grades and runs: `runner services down` stops them."""
