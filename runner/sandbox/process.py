"""The process sandbox: a subprocess with a clean environment, its own process group, and limits.

What it protects against: learner code reading the runner's environment, configuring Python through
environment variables (``-I``), writing bytecode into the workspace (``-B``), flooding the runner's
memory with output (capture is bounded), and leaving processes behind in its group. What it does
not: a process that calls setsid() and double-forks escapes the group kill; files the runner's user
can read are readable. Those need the container sandbox.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..services import GradeServices

#: Limits applied by the learner host before it imports any learner code.
DEFAULT_LIMITS = {
    "core": 0,
    "fsize": 64 * 1024 * 1024,
    "as": 4 * 1024 * 1024 * 1024,
    "nofile": 1024,
}

#: Output kept per grade; the rest is counted and dropped so the runner's memory stays bounded.
OUTPUT_KEEP = 64 * 1024


def clean_environment(extra: Mapping[str, str], *, tmpdir: Path, home: Path) -> dict[str, str]:
    """An environment with nothing of the runner's in it: no secrets, no PYTHON* settings."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": str(tmpdir),
        "PYTHONUTF8": "1",
    }
    env.update(extra)
    return env


class BoundedOutput:
    """Output read on a thread: the first ``keep`` bytes are kept, the rest only counted, so the
    runner's memory stays bounded whatever a learner's program prints. Subclasses say where the
    chunks come from (``_chunks``) and must set their source before calling ``__init__``."""

    def __init__(self, keep: int = OUTPUT_KEEP) -> None:
        self.keep = keep
        self.kept = bytearray()
        self.total = 0
        self._thread = threading.Thread(target=self._pump, name="output", daemon=True)
        self._thread.start()

    def _chunks(self) -> Iterator[bytes]:
        raise NotImplementedError

    def _pump(self) -> None:
        for chunk in self._chunks():
            self.total += len(chunk)
            room = self.keep - len(self.kept)
            if room > 0:
                self.kept.extend(chunk[:room])

    def join(self, timeout: float = 2.0) -> None:
        self._thread.join(timeout)

    @property
    def dropped(self) -> int:
        return self.total - len(self.kept)


class OutputCapture(BoundedOutput):
    """Reads a pipe with a poll, never a blocking read, so that ``stop`` always ends the thread: a
    learner's daemon that escaped the kill may hold the pipe's write end open for ever, and closing
    a file object another thread is blocked reading from deadlocks."""

    def __init__(self, stream: object, keep: int = OUTPUT_KEEP) -> None:
        self._fd = stream.fileno()  # type: ignore[attr-defined]
        self._stop = threading.Event()
        super().__init__(keep)

    def _chunks(self) -> Iterator[bytes]:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._fd], [], [], 0.1)
                if not ready:
                    continue
                chunk = os.read(self._fd, 65536)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            yield chunk

    def stop(self) -> None:
        """Drain what is already there (briefly), then stop reading whatever still holds the pipe."""
        self._thread.join(0.5)
        self._stop.set()
        self._thread.join()


class SandboxedProcess:
    """A learner (or judge) process in its own session; ``kill`` takes its whole group down."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], pass_fds: Sequence[int] = ()) -> None:
        # A token in the environment that every descendant inherits: processes that left the group
        # with setsid() and were re-parented are still found by it when the grade ends.
        self.token = secrets.token_hex(8)
        env = {**env, "BACKEND_KIT_GRADE": self.token}
        self.popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=tuple(pass_fds),
            start_new_session=True,
            close_fds=True,
        )
        self.pid = self.popen.pid
        self.killed = False
        self.output = OutputCapture(self.popen.stdout)

    def poll(self) -> int | None:
        return self.popen.poll()

    def kill(self) -> None:
        """SIGKILL the process group and any descendant still known to the kernel as ours."""
        if self.popen.poll() is None:
            self.killed = True
        for pid in [self.pid, *_descendants(self.pid), *_carrying(self.token)]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL does not time out in practice
            self.popen.wait(timeout=5)
        self.output.stop()
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def _descendants(root: int) -> list[int]:
    """Children, grandchildren, ... of ``root`` (Linux /proc); empty where /proc is absent."""
    parents: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child in parents.get(pid, []):
            found.append(child)
            frontier.append(child)
    return found


def _carrying(token: str) -> list[int]:
    """Processes whose environment holds ``token`` (those we are allowed to read)."""
    needle = f"BACKEND_KIT_GRADE={token}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def python_command(*args: str) -> list[str]:
    """The real interpreter, isolated (no PYTHON* variables, user site or cwd on sys.path) and unbuffered
    (output printed just before a kill is not lost)."""
    return [sys.executable, "-I", "-B", "-u", *args]


class ProcessLearner:
    """The learner host as a subprocess; start-up reports come on a pipe only it inherits."""

    address = "127.0.0.1"

    def __init__(self, process: SandboxedProcess, ready_fd: int) -> None:
        self.process = process
        self.ready_fd = ready_fd
        self.output = process.output

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        self.process.kill()


def channel() -> tuple[int, int]:
    """A one-way channel as two raw descriptors (read end, write end) of a Unix socket pair."""
    import socket

    left, right = socket.socketpair()
    left.shutdown(socket.SHUT_WR)
    right.shutdown(socket.SHUT_RD)
    return left.detach(), right.detach()


def make_undumpable() -> None:
    """Deny other processes of the same (non-root) user access to this one's /proc/<pid>/fd, mem and
    environ, so that an unconfined learner program cannot reopen the runner's or the judge's pipes.
    Linux only; elsewhere a no-op. Root is not stopped by it (see the README's sandbox table)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


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
        probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-pid", "--", "/bin/true"],
                               capture_output=True, timeout=10)
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
        argv = confine(python_command("-c", "import runner.host"), workdir=workdir,
                       writable=[workdir / "workspace"], hidden=hidden)
        try:
            result = subprocess.run(argv, capture_output=True, timeout=30)
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

    def launch(self, workdir: Path, spec: dict[str, object], env: dict[str, str]) -> ProcessLearner:
        import json

        workspace = workdir / "workspace"
        spec_path = workdir / "tmp" / "host-spec.json"
        spec_path.write_text(json.dumps(spec))
        read_fd, write_fd = channel()
        try:
            argv = python_command("-m", "runner.host", str(spec_path), str(write_fd))
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
        return ProcessLearner(process, read_fd)

    def close(self) -> None:
        pass


class ProcessSandbox:
    name = "process"

    def open(self, workdir: Path, hidden: Sequence[Path] = ()) -> ProcessGrade:
        probe_confinement(hidden)
        return ProcessGrade(hidden)
