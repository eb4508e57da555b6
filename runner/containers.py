"""Docker plumbing shared by the docker provider (service containers) and the docker sandbox
(learner containers): the client, the labels, image resolution, and reaping what dead runners left.

One module, so the two users cannot drift apart on what a label means or which image is used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import Any

from .errors import InfrastructureError
from .processes import pid_alive
from .settings import Settings

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


def choose_image(configured: str, local: str, *, explicit: bool, present: Collection[str],
                 pull_failed: bool) -> tuple[str, str]:
    """What to do to get an image: ``(action, image)`` with action ``use``, ``pull``, ``build`` or ``fail``.

    The configured image if it is here; else the local build if it is here and the configured image is
    the default; else pull the configured one; and when that fails (no registry), build the local images,
    unless the user named an image of their own (then it is theirs to provide). A local name is never
    pulled: it means an image of ours, not whatever a registry holds under that name.
    """
    if configured in present:
        return "use", configured
    ours = not explicit or configured == local
    if ours and local in present:
        return "use", local
    if not pull_failed and configured != local:
        return "pull", configured
    return ("build", local) if ours else ("fail", configured)


def _has_image(client: Any, image: str) -> bool:
    import docker.errors

    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def resolve_image(client: Any, settings: Settings, service: str) -> str:
    """The image to run for ``service`` (see ``choose_image``), pulled or built locally if need be;
    an infrastructure error saying what to do when neither works."""
    import docker.errors

    from .localbuild import SCRIPT, build_local_images

    configured, local = settings.images[service], settings.local_image(service)
    pull_error = ""
    while True:
        present = {image for image in (configured, local) if _has_image(client, image)}
        action, image = choose_image(configured, local, explicit=service in settings.explicit_images,
                                     present=present, pull_failed=bool(pull_error))
        if action == "use":
            return image
        if action == "pull":
            try:
                client.images.pull(image)
                return image
            except docker.errors.APIError as exc:
                pull_error = str(exc).splitlines()[0][:120] or "pull failed"
                continue
        if action == "build":
            build_local_images(settings, service, lambda name: _has_image(client, name))
            return image
        raise InfrastructureError(
            f"image {image} is not here and cannot be pulled ({pull_error}).",
            hint=f"Pull or build it, or unset BACKEND_KIT_{service.upper()}_IMAGE: without a registry the runner "
            f"then builds its own images from Debian packages ({SCRIPT}).",
        )


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
