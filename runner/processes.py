"""Child processes the runner starts (the learner host and the judge): the primitives both use.

A clean environment, bounded output capture read on a thread, a process in its own session whose
``kill`` takes down its whole group and every descendant carrying its token, the real interpreter
in isolated mode, one-way channels as socket pairs, and ``make_undumpable``. The sandboxes and the
judge launcher build on these; none of them knows about the other.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

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
        _STARTED.add(self.pid)
        self.killed = False
        self.output = OutputCapture(self.popen.stdout)

    def poll(self) -> int | None:
        return self.popen.poll()

    def kill(self) -> None:
        """SIGKILL the process group and any descendant still known to the kernel as ours."""
        if self.popen.poll() is None:
            self.killed = True
        others = [*_descendants(self.pid), *_carrying(self.token)]
        for pid in [self.pid, *others]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL does not time out in practice
            self.popen.wait(timeout=5)
        if self.popen.returncode is not None:
            _STARTED.discard(self.pid)
        # Descendants re-parented to the runner (``become_subreaper``) are reaped here; the Popen
        # reaped its own process above.
        reap_orphans(wait=2.0)
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


#: How long the runner waits for a stack sample (SIGUSR1 → ``faulthandler``) before a kill.
SAMPLE_WAIT = 0.5


def read_regular(path: str | Path, offset: int, size: int) -> bytes | None:
    """At most ``size`` bytes of ``path`` from ``offset``, or None unless it is a regular file.

    For files in folders the learner's code can write to (a stack sample, the app log): never read
    through a symbolic link, never open a FIFO that would block the reader."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.pread(fd, size, offset)
    except OSError:
        return None
    finally:
        os.close(fd)


def sample_stack(path: Path, send: Callable[[], object], wait: float = SAMPLE_WAIT) -> str:
    """Ask a learner host for a stack sample (``send`` signals it) and read what it appends to
    ``path``: the header line and the new dump; "" if nothing came within ``wait`` seconds.

    The file is in a folder the learner's code can write to: it is read only if it is a regular
    file (never through a symbolic link, never a FIFO that would block the runner), and bounded."""
    import stat
    import time

    def read(offset: int, size: int) -> bytes | None:
        return read_regular(path, offset, size)

    def size() -> int | None:
        try:
            info = os.lstat(path)
        except OSError:
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    head = read(0, 4096)
    before = size()
    if head is None or before is None:
        return ""
    try:
        send()
    except Exception:  # the process is gone, or the sandbox cannot signal it: no sample
        return ""
    deadline = time.monotonic() + wait
    last = before
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = size()
        if now is None:
            return ""
        if now > before and now == last:  # grown, and stable for one poll
            break
        last = now
    data = read(before, 64 * 1024)
    if not data:
        return ""
    header = head.decode("utf-8", "replace").partition("\n")[0]
    return f"{header}\n{data.decode('utf-8', 'replace')}"


def host_pids(root: int) -> list[int]:
    """The learner host among ``root`` and its descendants: ``root`` itself without bubblewrap, the
    first non-bwrap descendant running ``runner.learner.host`` under it."""
    for pid in [root, *_descendants(root)]:
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if comm != "bwrap" and b"runner.learner.host" in cmdline:
            return [pid]
    return []


def become_subreaper() -> None:
    """Make this process the reaper of its orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``):
    a sandbox's inner processes (bubblewrap's PID-namespace init) whose parent was killed come back
    to the runner, which reaps them in ``SandboxedProcess.kill``, instead of lingering as zombies
    of whatever init the machine has, or outliving the grade. Elsewhere a no-op."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER, 1


#: Processes this runner started itself and waits for (their ``Popen`` reaps them, not ``reap_orphans``).
_STARTED: set[int] = set()
#: What orphans of a grade are: bubblewrap's PID-namespace init outlives the bwrap that started it.
ORPHAN_COMMANDS = frozenset({"bwrap"})


def reap_orphans(wait: float = 0.0) -> None:
    """Reap the orphans re-parented to this process (``become_subreaper``): children running one of
    ``ORPHAN_COMMANDS`` that this process did not start itself, waiting up to ``wait`` seconds for
    those still dying. A child someone waits for (a ``Popen``) never has its exit status taken."""
    import time

    if sys.platform != "linux":
        return
    me = os.getpid()
    deadline = time.monotonic() + wait
    while True:
        alive = False
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm = stat.partition("(")[2].rpartition(")")[0]
            fields = stat.rsplit(")", 1)[1].split()
            pid, state, ppid = int(entry.name), fields[0], int(fields[1])
            if ppid != me or comm not in ORPHAN_COMMANDS or pid in _STARTED:
                continue
            if state == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            else:
                alive = True
        if not alive or time.monotonic() >= deadline:
            return
        time.sleep(0.02)


def run_reaped(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """``subprocess.run`` (output captured) of a sandbox wrapper, then its orphans reaped."""
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _STARTED.add(process.pid)
    try:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    finally:
        _STARTED.discard(process.pid)
        reap_orphans(wait=1.0)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def python_command(*args: str) -> list[str]:
    """The real interpreter, isolated (no PYTHON* variables, user site or cwd on sys.path) and unbuffered
    (output printed just before a kill is not lost)."""
    return [sys.executable, "-I", "-B", "-u", *args]


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


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
