"""`runner doctor`: what this machine can grade with, and what to fix when it cannot."""

from __future__ import annotations

import contextlib
import enum
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import InfrastructureError
from .settings import Settings


class State(enum.StrEnum):
    OK = "ok"
    WARN = "warn"  # grading works, with less (no confinement, images pulled on demand)
    FAIL = "fail"  # grading with these settings will not work


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    message: str


def run_checks(settings: Settings, sandbox: str = "process") -> Iterator[Check]:
    yield Check("python", State.OK, f"{sys.version.split()[0]} at {sys.executable}")
    yield Check("provider", State.OK, f"{settings.provider} (change with --provider or BACKEND_KIT_PROVIDER)")
    yield Check("sandbox", State.OK, f"{sandbox} (change with --sandbox or BACKEND_KIT_SANDBOX)")
    if sandbox == "process":
        from .sandbox.process import bubblewrap

        if bubblewrap():
            yield Check("bubblewrap", State.OK,
                        "the process sandbox is confined (private /tmp, hidden kit, PID namespace)")
        else:
            yield Check("bubblewrap", State.WARN, "not available: the process sandbox is not confined "
                        "(install bubblewrap, or use --sandbox docker for code you did not write)")
    if sandbox == "docker" and settings.provider == "embedded":
        from .containers import docker_client

        try:
            docker_client()
            yield Check("docker sandbox", State.OK, "Docker answers; the sandbox image is built on first use")
        except InfrastructureError as exc:
            yield Check("docker sandbox", State.FAIL, exc.message)
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
        yield Check("loopback", State.OK, "can listen on 127.0.0.1 (learner apps are served there)")
    except OSError as exc:
        yield Check("loopback", State.FAIL, f"cannot listen on 127.0.0.1: {exc}")
    try:
        import fakeredis  # noqa: F401

        yield Check("embedded", State.OK, "SQLite and fakeredis available: the embedded default works")
    except ImportError:
        yield Check("embedded", State.FAIL, "fakeredis is missing: run `pip install -e .`")
    if settings.provider == "url":
        from .services.server import ServerProvider

        server = ServerProvider(settings.database_url, settings.redis_url)
        try:
            server.prepare()
            yield Check("services", State.OK, ", ".join(f"{k} {v}" for k, v in server.versions.items()))
        except InfrastructureError as exc:
            yield Check("services", State.FAIL, exc.message)
        return
    from .containers import docker_client
    from .services.docker import DockerProvider

    try:
        client = docker_client()
    except InfrastructureError as exc:
        state = State.FAIL if settings.provider == "docker" else State.WARN
        yield Check("docker", state, f"{exc.message} {exc.hint or ''}".strip())
        return
    yield Check("docker", State.OK, f"engine {client.version().get('Version', '?')}")
    provider = DockerProvider(settings, client=client)  # reuse the client we just checked
    for service in ("postgres", "redis", "python"):
        configured = settings.images[service]
        present = _has_image(client, configured)
        local_image = settings.local_image(service)
        local = _has_image(client, local_image)
        if present:
            yield Check(f"image {service}", State.OK, f"{configured} is here")
        elif local and service not in settings.explicit_images:
            yield Check(f"image {service}", State.OK,
                        f"{configured} absent; the local build {local_image} is used")
        elif service in settings.explicit_images and configured != local_image:
            yield Check(f"image {service}", State.WARN, f"{configured} is not here; it will be pulled")
        else:
            yield Check(f"image {service}", State.WARN,
                        f"{configured} is not here; it will be pulled, or {local_image} built from Debian "
                        "packages on first use (~3 min)")
    rows = provider.status()
    for row in rows:
        if row.state == "running":
            yield Check(f"container {row.service}", State.OK, f"{row.container} running on 127.0.0.1:{row.port}")
        else:
            yield Check(f"container {row.service}", State.WARN if settings.provider != "docker" else State.OK,
                        f"{row.container} {row.state} (started on demand, or with `runner services up`)")
    if all(row.state == "running" for row in rows):
        try:
            versions, leftovers = provider.health()
            yield Check("service health", State.OK, ", ".join(f"{k} {v}" for k, v in versions.items()))
            if leftovers:
                yield Check("leftovers", State.WARN, f"{len(leftovers)} grade objects in use or left behind")
        except InfrastructureError as exc:
            yield Check("service health", State.FAIL, exc.message)


def _has_image(client: object, name: str) -> bool:
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(name)  # type: ignore[attr-defined]
        return True
    return False
