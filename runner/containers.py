"""Docker plumbing shared by the docker provider (service containers) and the docker sandbox
(learner containers): the client, the labels, image resolution, and reaping what dead runners left.

One module, so the two users cannot drift apart on what a label means or which image is used.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .errors import InfrastructureError
from .processes import pid_alive
from .settings import LOCAL_IMAGES, Settings

#: Every container, network and image the kit creates carries this label.
LABEL = "backend-kit.managed"
#: The pid of the runner process that owns a sandbox container or network.
OWNER = "backend-kit.owner"
#: Carried by learner (sandbox) containers.
SANDBOX = "backend-kit.sandbox"


def docker_client() -> Any:
    """A Docker SDK client, or a one-line infrastructure error saying what to do."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
        return client
    except Exception as exc:  # docker raises many types for "not there"
        reason = str(exc).split("\n")[0][:160]
        raise InfrastructureError(
            f"Docker is not available ({reason}).",
            hint="Start Docker (or check DOCKER_HOST), or grade on the embedded default with --provider embedded.",
        ) from None


def resolve_image(client: Any, settings: Settings, service: str) -> str:
    """The configured image for ``service``; the locally built one (images/build-local.sh) when the
    default is absent and cannot be pulled; an error saying how to get one otherwise."""
    import docker.errors

    image = settings.images[service]
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(image)
        return image
    if service not in settings.explicit_images:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.get(LOCAL_IMAGES[service])
            return LOCAL_IMAGES[service]
    try:
        client.images.pull(image)
        return image
    except docker.errors.APIError as exc:
        raise InfrastructureError(
            f"image {image} is not here and cannot be pulled ({str(exc).splitlines()[0][:120]}).",
            hint="Without a registry, build local images with `images/build-local.sh` "
            f"(they are used automatically), or set BACKEND_KIT_{service.upper()}_IMAGE.",
        ) from None


def orphaned(labels: dict[str, str]) -> bool:
    """Owned by a runner process that no longer exists."""
    owner = (labels or {}).get(OWNER, "")
    return owner.isdigit() and not pid_alive(int(owner))


def reap_sandboxes(client: Any) -> list[str]:
    """Remove sandbox containers and networks whose runner process is gone; their names."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": SANDBOX}):
        if orphaned(container.labels):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed.append(container.name)
    for network in client.networks.list(filters={"label": LABEL}):
        if orphaned(network.attrs.get("Labels", {})):
            with contextlib.suppress(Exception):
                network.reload()
                for container in network.containers:
                    network.disconnect(container, force=True)
                network.remove()
                removed.append(network.name)
    return removed


def reap_exited(client: Any) -> list[str]:
    """Remove exited, dead or never-started containers carrying the kit's label; their names."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        if container.status in ("exited", "dead", "created"):
            container.remove(force=True)
            removed.append(container.name)
    return removed
