"""Local images: when an official image cannot be pulled and no local build exists, the runner builds
backend-kit's PostgreSQL, Redis and Python images from Debian packages itself, with the recipe that
ships inside the package (``runner/images/build-local.sh``), so that set-up never needs a manual step.

A build takes about three minutes the first time (debootstrap, cached afterwards). Two processes that
want the same images at once take turns on a file lock under the user's cache folder; the second one
finds the images built and uses them. A failed build is an infrastructure error (exit 3) that says
what to run by hand, never a learner's zero.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import InfrastructureError
from .settings import Settings

IMAGES_DIR = Path(__file__).resolve().parent / "images"
SCRIPT = IMAGES_DIR / "build-local.sh"
SERVICE_NAMES = {"postgres": "PostgreSQL", "redis": "Redis", "python": "Python"}
BUILD_TIMEOUT = 1800.0


def cache_dir() -> Path:
    """Where the build keeps its lock, logs and root filesystem tarball (as build-local.sh does)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "backend-kit"


def say(text: str, *, end: str = "\n") -> None:
    print(text, end=end, file=sys.stderr, flush=True)


@contextlib.contextmanager
def build_lock(name: str = "images") -> Iterator[None]:
    """An exclusive lock shared by every runner process of this user (build-local.sh takes its own
    ``.lock`` inside: a different file, so the two never wait on each other)."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.build-lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"backend-kit: waiting for another process that is building the {name} images…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def script_environment(settings: Settings) -> dict[str, str]:
    """build-local.sh's environment: its BACKEND_KIT_*_IMAGE variables are the *local* names (the runner's
    variables of the same name mean the configured images, which the script must never tag)."""
    env = {k: v for k, v in os.environ.items() if not (k.startswith("BACKEND_KIT_") and k.endswith("_IMAGE"))}
    env["BACKEND_KIT_IMAGE_PREFIX"] = settings.image_prefix
    for service in ("base", "postgres", "redis", "python"):
        env[f"BACKEND_KIT_{service.upper()}_IMAGE"] = settings.local_image(service)
    return env


def build_local_images(settings: Settings, service: str, present: Callable[[str], bool]) -> None:
    """Build the local images (all three: they share one base) because ``service``'s is needed.

    ``present(image)`` says whether an image exists: checked again once the lock is held, since another
    process may have built it meanwhile.
    """
    image = settings.local_image(service)
    with build_lock(settings.image_prefix.replace("/", "_")):
        if present(image):
            return
        say(f"backend-kit: building the {SERVICE_NAMES.get(service, service)} image from Debian packages "
            "(first time only, ~3 min)…")
        logs = cache_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"runner-build-{settings.image_prefix.replace('/', '_')}.log"
        start = time.monotonic()
        hint = (f"Run `sudo bash {SCRIPT}` to build them by hand and see every step "
                f"(debootstrap needs root the first time), then retry; or set BACKEND_KIT_{service.upper()}_IMAGE "
                "to an image you have.")
        try:
            with open(log, "wb") as out:
                done = subprocess.run(["bash", str(SCRIPT)], stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=script_environment(settings),
                                      timeout=BUILD_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InfrastructureError(f"could not build the local {image} image: {exc}", hint=hint) from None
        if done.returncode != 0 or not present(image):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise InfrastructureError(
                f"building the local {image} image failed (exit code {done.returncode}; log: {log}):\n{tail}",
                hint=hint,
            )
        say(f"backend-kit: built {image} and its siblings in {time.monotonic() - start:.0f} s, done.")
