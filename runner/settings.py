"""Settings: where services come from, and which images to use.

Resolution order for each setting: command-line option, then environment variable, then the
``[services]`` table of ``backend-kit.toml`` in the kit root (or ``$BACKEND_KIT_CONFIG``), then the
default. Image names are settings so that users with a registry get the official images, and
machines without one use images the runner builds locally (``runner/images/build-local.sh``), named
under ``image_prefix`` (``BACKEND_KIT_IMAGE_PREFIX``, default ``backend-kit``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError

DEFAULT_IMAGES = {"postgres": "postgres:15", "redis": "redis:7", "python": "python:3.11-slim"}
DEFAULT_PREFIX = "backend-kit"
#: The local images' names under a prefix (the tags images/build-local.sh gives them).
LOCAL_TAGS = {"postgres": "postgres:15", "redis": "redis:7", "python": "python:3.11", "base": "base:bookworm"}
LOCAL_IMAGES = {service: f"{DEFAULT_PREFIX}/{tag}" for service, tag in LOCAL_TAGS.items() if service != "base"}
_KEYS = {"provider", "database_url", "redis_url", "postgres_image", "redis_image", "python_image", "image_prefix"}


@dataclass(frozen=True)
class Settings:
    provider: str = "embedded"  # embedded | url | docker
    database_url: str | None = None  # url provider: an admin URL of a PostgreSQL server
    redis_url: str | None = None  # url provider: a Redis server (an admin connection)
    images: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_IMAGES))
    explicit_images: frozenset[str] = frozenset()
    image_prefix: str = DEFAULT_PREFIX  # the locally built images are <prefix>/postgres:15, ...

    def local_image(self, service: str) -> str:
        """The locally built image for ``service`` (postgres, redis, python, base)."""
        return f"{self.image_prefix}/{LOCAL_TAGS[service]}"


def _config_file(root: Path | None) -> dict[str, Any]:
    path_text = os.environ.get("BACKEND_KIT_CONFIG")
    path = Path(path_text) if path_text else (root / "backend-kit.toml" if root else None)
    if path is None or not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    services = data.get("services", {})
    unknown = set(services) - _KEYS
    if unknown or set(data) - {"services"}:
        raise UsageError(f"{path}: unknown keys {sorted(unknown | (set(data) - {'services'}))}",
                         hint=f"The [services] table takes: {', '.join(sorted(_KEYS))}.")
    return dict(services)


def load(root: Path | None = None, **options: str | None) -> Settings:
    config = _config_file(root)

    def pick(key: str) -> str | None:
        value = options.get(key)
        if value:
            return value
        env = os.environ.get(f"BACKEND_KIT_{key.upper()}")
        if env:
            return env
        value = config.get(key)
        return str(value) if value else None

    images = {}
    explicit = set()
    for name, default in DEFAULT_IMAGES.items():
        chosen = pick(f"{name}_image")
        if chosen:
            explicit.add(name)
        images[name] = chosen or default
    database_url = pick("database_url")
    redis_url = pick("redis_url")
    provider = pick("provider") or ("url" if database_url or redis_url else "embedded")
    if provider not in ("embedded", "url", "docker"):
        raise UsageError(f"unknown provider {provider!r}", hint="Use embedded, url or docker.")
    prefix = (pick("image_prefix") or DEFAULT_PREFIX).rstrip("/")
    return Settings(provider, database_url, redis_url, images, frozenset(explicit), prefix)
