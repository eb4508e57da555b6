"""The process sandbox: a subprocess with a clean environment, its own process group, and limits.

What it protects against: learner code reading the runner's environment, configuring Python through
environment variables (``-I``), writing bytecode into the workspace (``-B``), flooding the runner's
memory with output (capture is bounded), and leaving processes behind in its group. What it does
not: a process that calls setsid() and double-forks escapes the group kill; files the runner's user
can read are readable. Those need the container sandbox.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..processes import (
    SandboxedProcess,
    channel,
    host_pids,
    python_command,
    run_reaped,
    sample_stack,
)

if TYPE_CHECKING:
    from ..services import GradeServices

from ..wire import HostSpec, dump


class ProcessLearner:
    """The learner host as a subprocess; start-up reports come on a pipe only it inherits."""

    address = "127.0.0.1"

    def __init__(self, process: SandboxedProcess, ready_fd: int, stack_file: Path | None = None) -> None:
        self.process = process
        self.ready_fd = ready_fd
        self.output = process.output
        self.stack_file = stack_file

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        self.process.kill()

    def sample_stack(self) -> str:
        if self.stack_file is None or self.poll() is not None:
            return ""
        import signal

        def send() -> None:
            for pid in host_pids(self.process.pid):
                os.kill(pid, signal.SIGUSR1)

        return sample_stack(self.stack_file, send)


@functools.cache
def bubblewrap() -> str | None:
    """The bwrap binary, if it works here (it needs user namespaces, or root); else None.

    Set BACKEND_KIT_BUBBLEWRAP=0 to do without it.
    """
    if os.environ.get("BACKEND_KIT_BUBBLEWRAP", "1") == "0":
        return None
    path = shutil.which("bwrap")
    if path is None:
        return None
    try:
        # Reaped: bwrap's PID-namespace init outlives bwrap and comes back to the runner (a subreaper).
        probe = run_reaped([path, "--ro-bind", "/", "/", "--unshare-pid", "--", "/bin/true"], timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if probe.returncode == 0 else None


def confine(argv: list[str], *, workdir: Path, writable: Sequence[Path], hidden: Sequence[Path]) -> list[str]:
    """Wrap ``argv`` in bubblewrap: a read-only view of the machine, in which /tmp, the grade's own
    folder and the kit's content (``hidden``) are empty, the learner's folders are writable, and the
    process sees only itself in /proc (a PID namespace of its own).

    This is what keeps a same-user learner process from reaching the judge's pipes through /proc,
    rewriting the judge's spec or the hidden checks, reading the checks or the solution, and
    leaving processes behind (the namespace dies with its first process).
    """
    wrapper = bubblewrap()
    if wrapper is None:
        return argv
    args = [wrapper, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--size", str(64 << 20), "--tmpfs", "/tmp", "--tmpfs", str(workdir)]
    for path in hidden:
        if path.exists():
            args += ["--tmpfs", str(path)]
    # The interpreter, its packages and the runner may live under a masked folder (a virtualenv
    # in /tmp): show them again, read-only, unless that would show hidden content.
    for path in interpreter_folders():
        if not any(path.is_relative_to(h) or h.is_relative_to(path) for h in hidden):
            args += ["--ro-bind", str(path), str(path)]
    for path in writable:
        if path.exists():
            args += ["--bind", str(path), str(path)]
    # No capabilities: bwrap started by root would otherwise keep them all, and the learner could
    # unmount the masks above and remount / read-write.
    args += ["--unshare-pid", "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--chdir", str(writable[0]),
             "--"]
    return args + argv


def interpreter_folders() -> list[Path]:
    """Folders the learner host needs to run: the interpreter's prefixes, site-packages, the runner."""
    import site

    candidates = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).parent,
                  Path(sys.executable).resolve().parent, Path(__file__).resolve().parent.parent]
    candidates += [Path(p) for p in site.getsitepackages()]
    folders: list[Path] = []
    for path in candidates:
        path = path.resolve() if path.exists() else path
        if path.is_dir() and path != Path("/") and path not in folders:
            folders.append(path)
    return folders


_PROBED: dict[tuple[str, ...], None] = {}


def probe_confinement(hidden: Sequence[Path]) -> None:
    """Start Python once under the same confinement; if it cannot, that is the machine's fault
    (an InfrastructureError, exit 3), never a learner's crash."""
    key = tuple(str(h) for h in hidden)
    if bubblewrap() is None or key in _PROBED:
        return
    from ..errors import InfrastructureError

    with tempfile.TemporaryDirectory(prefix="backend-kit-probe-") as tmp:
        workdir = Path(tmp)
        (workdir / "workspace").mkdir()
        argv = confine(python_command("-c", "import runner.learner.host"), workdir=workdir,
                       writable=[workdir / "workspace"], hidden=hidden)
        try:
            result = run_reaped(argv, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InfrastructureError(f"the process sandbox could not start Python under bubblewrap: {exc}") from None
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).decode("utf-8", "replace").strip()[-600:]
            raise InfrastructureError(
                f"the process sandbox could not start Python under bubblewrap: {detail}",
                hint="Set BACKEND_KIT_BUBBLEWRAP=0 to grade without it, and report this.",
            )
    _PROBED[key] = None


class ProcessGrade:
    service_host = "127.0.0.1"

    def __init__(self, hidden: Sequence[Path] = ()) -> None:
        self.hidden = tuple(hidden)

    def learner_services(self, services: GradeServices) -> dict[str, str]:
        return services.config()

    def allow_host_port(self, port: int) -> None:
        """Loopback is open to the process sandbox already."""

    def launch(self, workdir: Path, spec: HostSpec, env: dict[str, str]) -> ProcessLearner:
        workspace = workdir / "workspace"
        # One name per copy of the program (entry.instances): copies start at once.
        suffix = f"-{spec.instance}" if spec.instance else ""
        spec_path = workdir / "tmp" / f"host-spec{suffix}.json"
        stack_file = workdir / "tmp" / f"stack-sample{suffix}.txt"
        spec_path.write_bytes(dump(replace(spec, stack_file=str(stack_file))))
        read_fd, write_fd = channel()
        try:
            argv = python_command("-m", "runner.learner.host", str(spec_path), str(write_fd))
            writable = [workspace, workdir / "tmp", workdir / "db"]
            process = SandboxedProcess(
                confine(argv, workdir=workdir, writable=writable, hidden=self.hidden),
                cwd=workspace,
                env=env,
                pass_fds=(write_fd,),
            )
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return ProcessLearner(process, read_fd, stack_file)

    def close(self) -> None:
        pass


class ProcessSandbox:
    name = "process"

    def open(self, workdir: Path, hidden: Sequence[Path] = ()) -> ProcessGrade:
        probe_confinement(hidden)
        return ProcessGrade(hidden)
