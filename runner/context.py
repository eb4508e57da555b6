"""The grading context: the provider, the sandbox and a ``Grader`` per exercise, wired once.

Every command that grades (``grade``, ``validate``, ``parity``, and the batch, the worker and
watch mode after them) opens one::

    with grading(settings, sandbox_name) as context:
        report = context.grader(exercise).grade_folder(folder)

The provider's services stay up for the whole context (warm between grades) and are closed when it
ends, whatever happened inside.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from .errors import UsageError
from .exercises import Exercise
from .grading import Grader
from .sandbox import Sandbox, make_sandbox
from .services import ServiceProvider, backend_of, make_provider
from .settings import Settings


def sandbox_name(name: str | None) -> str:
    """The chosen sandbox: the option, else $BACKEND_KIT_SANDBOX, else process."""
    return name or os.environ.get("BACKEND_KIT_SANDBOX") or "process"


def check_supported(exercise: Exercise, settings: Settings) -> None:
    """A usage error when the settings' backend is not one the exercise declares."""
    backend = backend_of(settings)
    if backend not in exercise.meta.services.backends:
        supported = ", ".join(b.value for b in exercise.meta.services.backends)
        raise UsageError(f"{exercise.slug} does not support the {backend.value} backend (it supports: {supported}).",
                         hint="Grade it with a provider for one of those backends (--provider).")


@dataclass
class Grading:
    """What grading needs besides the exercise: settings, services, sandbox."""

    settings: Settings
    provider: ServiceProvider
    sandbox: Sandbox
    _graders: dict[str, Grader] = field(default_factory=dict)

    def grader(self, exercise: Exercise) -> Grader:
        """The (reusable) grader of ``exercise`` in this context; unsupported backends are refused."""
        if exercise.slug not in self._graders:
            check_supported(exercise, self.settings)
            self._graders[exercise.slug] = Grader(exercise, self.provider, self.sandbox)
        return self._graders[exercise.slug]


@contextlib.contextmanager
def grading(settings: Settings, sandbox: str | None = None) -> Iterator[Grading]:
    """Open the provider and the sandbox for ``settings``; close the provider at the end.

    The docker sandbox never falls back to the process sandbox: without Docker it is an error.
    """
    box = make_sandbox(sandbox_name(sandbox))
    provider = make_provider(settings)
    try:
        yield Grading(settings, provider, box)
    finally:
        provider.close()
