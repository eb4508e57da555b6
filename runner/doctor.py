"""`runner doctor`: what this machine can grade with, and what to fix when it cannot."""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import InfrastructureError
from .settings import LOCAL_IMAGES, Settings


@dataclass(frozen=True)
class Check:
    name: str
    state: str  # ok | warn | fail
    message: str


def run_checks(settings: Settings, sandbox: str = "process") -> Iterator[Check]:
    yield Check("python", "ok", f"{sys.version.split()[0]} at {sys.executable}")
    yield Check("provider", "ok", f"{settings.provider} (change with --provider or BACKEND_KIT_PROVIDER)")
    yield Check("sandbox", "ok", f"{sandbox} (change with --sandbox or BACKEND_KIT_SANDBOX)")
    if sandbox == "process":
        from .sandbox.process import bubblewrap

        if bubblewrap():
            yield Check("bubblewrap", "ok", "the process sandbox is confined (private /tmp, hidden kit, PID namespace)")
        else:
            yield Check("bubblewrap", "warn", "not available: the process sandbox is not confined "
                        "(install bubblewrap, or use --sandbox docker for code you did not write)")
    if sandbox == "docker" and settings.provider == "embedded":
        from .services.docker import docker_client

        try:
            docker_client()
            yield Check("docker sandbox", "ok", "Docker answers; the sandbox image is built on first use")
        except InfrastructureError as exc:
            yield Check("docker sandbox", "fail", exc.message)
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
        yield Check("loopback", "ok", "can listen on 127.0.0.1 (learner apps are served there)")
    except OSError as exc:
        yield Check("loopback", "fail", f"cannot listen on 127.0.0.1: {exc}")
    try:
        import fakeredis  # noqa: F401

        yield Check("embedded", "ok", "SQLite and fakeredis available: the embedded default works")
    except ImportError:
        yield Check("embedded", "fail", "fakeredis is missing: run `pip install -e .`")
    if settings.provider == "url":
        from .services.server import ServerServices

        server = ServerServices(settings.database_url, settings.redis_url)
        try:
            server.prepare()
            yield Check("services", "ok", ", ".join(f"{k} {v}" for k, v in server._versions.items()))
        except InfrastructureError as exc:
            yield Check("services", "fail", exc.message)
        return
    from .services.docker import DockerServices, docker_client

    try:
        client = docker_client()
    except InfrastructureError as exc:
        state = "fail" if settings.provider == "docker" else "warn"
        yield Check("docker", state, f"{exc.message} {exc.hint or ''}".strip())
        return
    yield Check("docker", "ok", f"engine {client.version().get('Version', '?')}")
    provider = DockerServices(settings)
    provider._client = client  # reuse the client we just checked
    for service in ("postgres", "redis", "python"):
        configured = settings.images[service]
        present = _has_image(client, configured)
        local = _has_image(client, LOCAL_IMAGES[service])
        if present:
            yield Check(f"image {service}", "ok", f"{configured} is here")
        elif local and service not in settings.explicit_images:
            yield Check(f"image {service}", "ok",
                        f"{configured} absent; the local build {LOCAL_IMAGES[service]} is used")
        else:
            yield Check(f"image {service}", "warn",
                        f"{configured} is not here; it will be pulled (or run images/build-local.sh)")
    for row in provider.status():
        if row["state"] == "running":
            yield Check(f"container {row['service']}", "ok",
                        f"{row['container']} running on 127.0.0.1:{row['port']}")
        else:
            yield Check(f"container {row['service']}", "warn" if settings.provider != "docker" else "ok",
                        f"{row['container']} {row['state']} (started on demand, or with `runner services up`)")
    if all(row["state"] == "running" for row in provider.status()):
        try:
            provider.up()
            live = provider._server
            assert live is not None
            live.prepare()
            yield Check("service health", "ok", ", ".join(f"{k} {v}" for k, v in live._versions.items()))
            leftovers = live.leftovers()
            if leftovers:
                yield Check("leftovers", "warn", f"{len(leftovers)} grade objects in use or left behind")
        except InfrastructureError as exc:
            yield Check("service health", "fail", exc.message)


def _has_image(client: object, name: str) -> bool:
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(name)  # type: ignore[attr-defined]
        return True
    return False
