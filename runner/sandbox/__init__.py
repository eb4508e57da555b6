"""Where learner code runs: never in the runner's or the judge's process.

One interface, two implementations (the shape of httpx's transports):

- ``process`` (the default for `runner grade` on a learner's own machine): a subprocess with a clean
  environment, ``python -I -B -u``, its own session and process group, resource limits, a private
  temporary directory, bounded output capture, and SIGKILL of everything it started at the end.
- ``docker`` (opt-in with ``--sandbox docker``; meant for grading other people's code): a container
  with no capabilities, no new privileges, a non-root user, a read-only root, a pids limit, memory
  without swap, a CPU quota, and no network but a private one to that grade's own services.

A sandbox is opened per grade (``open``), which decides where the grade's services must listen to
be reachable from inside (``service_host``) and how the learner sees them (``learner_services``);
then it launches the learner host, possibly several times (after a check timeout).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..services import GradeServices
from ..wire import HostSpec


class Output(Protocol):
    """Bounded capture of a learner program's output."""

    kept: bytearray

    @property
    def dropped(self) -> int: ...

    def join(self, timeout: float = 2.0) -> None: ...


class LearnerProcess(Protocol):
    """A running learner program, whichever sandbox holds it."""

    @property
    def output(self) -> Output: ...
    @property
    def ready_fd(self) -> int:
        """Readable: the host's start-up report arrives here."""
        ...

    @property
    def address(self) -> str:
        """Where the judge reaches the ports the learner listens on."""
        ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float) -> int | None: ...

    def kill(self) -> None: ...

    def sample_stack(self) -> str:
        """A stack sample of the learner host (``runner.diagnose.parse_stack``'s format) taken now,
        just before a kill for time; "" where the sandbox cannot take one."""
        ...


class GradeSandbox(Protocol):
    @property
    def service_host(self) -> str:
        """The address services must listen on to be reachable from inside the sandbox."""
        ...

    def learner_services(self, services: GradeServices) -> dict[str, str]:
        """The learner's DATABASE_URL / REDIS_URL as seen from inside the sandbox."""
        ...

    def allow_host_port(self, port: int) -> None:
        """Let the learner reach ``port`` on ``service_host`` (the judge's implementation server)."""
        ...

    def launch(self, workdir: Path, spec: HostSpec, env: dict[str, str]) -> LearnerProcess:
        """Start the learner host serving ``spec`` (an ``OSError`` if it cannot start at all)."""
        ...

    def close(self) -> None: ...


class Sandbox(Protocol):
    name: str

    def open(self, workdir: Path, hidden: Sequence[Path] = ()) -> GradeSandbox:
        """Per grade. ``hidden``: folders the learner must not see (the kit's exercises and solutions)."""
        ...


def make_sandbox(name: str) -> Sandbox:
    if name == "process":
        from .process import ProcessSandbox

        return ProcessSandbox()
    if name == "docker":
        from ..errors import InfrastructureError
        from .docker import DockerSandbox

        try:
            return DockerSandbox()
        except InfrastructureError as exc:
            raise InfrastructureError(
                exc.message,
                hint="Start Docker, or grade in the process sandbox (leave out --sandbox docker); "
                "the docker sandbox never falls back to it on its own.",
            ) from None
    from ..errors import UsageError

    raise UsageError(f"unknown sandbox {name!r}", hint="Use process or docker.")
