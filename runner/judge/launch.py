"""Starting the judge: a pytest process over an exercise's checks, with its spec on a descriptor.

Runner side (the judge process itself never imports this). The judge gets three channels, socket
pairs rather than pipes, because a pipe can be reopened for writing through /proc/<pid>/fd/N by any
process of the same user (even root through a confinement) and a socket cannot (ENXIO): its spec
(read once, so it cannot be rewritten as a file could), the results it writes, and the endpoint of
the learner's program, sent when that program is ready.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from .. import wire
from ..errors import InfrastructureError
from ..processes import SandboxedProcess, channel, clean_environment, python_command

JUDGE_INI = Path(__file__).with_name("pytest.ini")


@dataclass
class JudgeProcess:
    """A running judge and the runner's ends of its channels (``None`` once closed)."""

    process: SandboxedProcess
    results_fd: int | None
    endpoint_fd: int | None

    def send_endpoint(self, endpoint: wire.Endpoint) -> None:
        self.send(endpoint)

    def send(self, message: wire.Endpoint | wire.InstanceStopped) -> None:
        """A message on the endpoint channel: the learner's address, later the answer to a stop."""
        if self.endpoint_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self.endpoint_fd, wire.dump(message))

    def close(self) -> None:
        """Close the channels and SIGKILL the judge's process group."""
        for fd in (self.results_fd, self.endpoint_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.results_fd = self.endpoint_fd = None
        self.process.kill()


def start_judge(checks: Path, folder: Path, spec: wire.JudgeSpec) -> JudgeProcess:
    """pytest over ``checks`` with the judge plugin and its pinned ini, working in ``folder``.

    ``spec`` is sent with the descriptors of this judge's channels filled in.
    """
    results_read, results_write = channel()
    endpoint_read, endpoint_write = channel()
    spec_read, spec_write = channel()
    try:
        data = wire.dump(_with_fds(spec, results_write, endpoint_read))
        view = memoryview(data)
        while view:
            view = view[os.write(spec_write, view):]
        os.close(spec_write)
        env = clean_environment(
            {"BACKEND_KIT_JUDGE_SPEC_FD": str(spec_read), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
            tmpdir=folder, home=folder)
        checks = checks.resolve()
        # --confcutdir: no conftest.py above the checks folder (a planted /tmp/conftest.py) is loaded.
        argv = python_command(
            "-m", "pytest", str(checks), "-p", "runner.judge.plugin", "-c", str(JUDGE_INI),
            "--rootdir", str(checks), "--confcutdir", str(checks), "-p", "no:cacheprovider", "-q", "--no-header",
        )
        process = SandboxedProcess(argv, cwd=folder, env=env, pass_fds=(results_write, endpoint_read, spec_read))
    except OSError as exc:
        for fd in (results_read, endpoint_write):
            os.close(fd)
        raise InfrastructureError(f"could not start the judge: {exc}") from None
    finally:
        for fd in (results_write, endpoint_read, spec_read):
            os.close(fd)
    return JudgeProcess(process, results_read, endpoint_write)


def _with_fds(spec: wire.JudgeSpec, results_fd: int, endpoint_fd: int) -> wire.JudgeSpec:
    from dataclasses import replace

    return replace(spec, results_fd=results_fd, endpoint_fd=endpoint_fd)
