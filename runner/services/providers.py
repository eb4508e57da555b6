"""Choosing a provider from settings, and refusing backends an exercise does not claim."""

from __future__ import annotations

from ..catalog import Backend
from ..errors import UsageError
from ..exercises import Exercise
from ..settings import Settings
from . import ServiceProvider
from .embedded import EmbeddedProvider


def make_provider(settings: Settings) -> ServiceProvider:
    if settings.provider == "embedded":
        return EmbeddedProvider()
    if settings.provider == "url":
        from .server import ServerServices

        if not settings.database_url and not settings.redis_url:
            raise UsageError("the url provider needs --database-url and/or --redis-url",
                             hint="e.g. after `docker compose up -d`: --database-url "
                             "postgresql://postgres:postgres@127.0.0.1:55432/postgres --redis-url redis://127.0.0.1:56379/0")
        return ServerServices(settings.database_url, settings.redis_url, name="url")
    from .docker import DockerServices

    return DockerServices(settings)


def backend_of(settings: Settings) -> Backend:
    return Backend.EMBEDDED if settings.provider == "embedded" else Backend.SERVER


def check_supported(exercise: Exercise, settings: Settings) -> None:
    backend = backend_of(settings)
    if backend not in exercise.meta.services.backends:
        supported = ", ".join(b.value for b in exercise.meta.services.backends)
        raise UsageError(f"{exercise.slug} does not support the {backend.value} backend (it supports: {supported}).",
                         hint="Grade it with a provider for one of those backends.")
