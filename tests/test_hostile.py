"""Hostile submissions, graded in every sandbox: each scores what its real behaviour deserves.

Every case is a submission folder graded through ``grade(exercise, folder, sandbox=sandbox)`` on a
small exercise whose hidden checks and reference solution hold a unique canary string. For each
case the suite checks:

- the verdict its real behaviour deserves: a wrong app that forges a pass scores what the wrong
  app scores (0 for a starter-like app); a correct app that misbehaves harmlessly keeps full marks;
- the problem category that says what happened (timeout, crash, import_error, ...);
- that the honest reference submission scores the same before and after the hostile one (graded
  once per sandbox first, then again after risky cases: see HONEST_EVERY, and at the very end);
- that the canary never appears in the report, and no control character does either;
- that no process of the submission is left behind (hostile code names its processes and
  threads after a per-case mark, found in /proc after the grade);
- that files outside the workspace and the hidden files are unchanged, where the sandbox promises it.

The README's threat table says what each sandbox promises: the plain process sandbox (a subprocess
of your user), the process sandbox confined by bubblewrap where the machine has it, and docker.
PROMISES mirrors it: a protection (hidden files, files outside, escaping processes, the runner's
and judge's processes, the network) is asserted only where it is promised, and elsewhere only the
fairness of what is still promised. Where bubblewrap confines the process sandbox, the cases that
depend on it also run without it (test_hostile_submission_without_bubblewrap). Cases that show a
weakness of the runner are strict xfails, with the precise reason, for the sandboxes concerned.

Hostile programs stay safe for the machine running the suite: bounded loops and forks, sleeps that
end, memory and disk use bounded by the sandbox's limits, and they only ever touch the grade they
belong to (found through the grade's own folder), never other runs on the same machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import runner
from runner.errors import InfrastructureError
from runner.exercises import Exercise, find_exercise
from runner.grading import grade
from runner.results import Category, CheckStatus, GradeReport, Status

from .conftest import HELLO_CHECKS, HELLO_SOLUTION, HELLO_STARTER, HELLO_TOML, write

CANARY = f"bk-canary-{uuid.uuid4().hex}"
FULL = 7
TIME_LIMIT = 18  # the grade's limit; start-up may take a third of it (6 s)
CHECK_TIMEOUT = 3
MIB = 1024 * 1024
FILE_LIMIT = 64 * MIB  # RLIMIT_FSIZE in both sandboxes, and the size of the container's tmpfs
DISK_QUOTA = 256 * MIB  # per grade, on the host-backed folders (README), watched four times a second
CONTAINER_MEMORY = 512 * MIB  # the docker sandbox's memory limit, without swap (runner.sandbox.docker.HARDENING)
CHECK_NAMES = ("test_hello", "test_body", "test_counts_hits", "test_writes_database", "test_slow",
               "test_still_alive")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# --------------------------------------------------------------------------- the exercise


def build_kit(root: Path) -> Exercise:
    """The hello exercise with short limits, and a canary in its hidden checks and solution."""
    folder = root / "exercises" / "01-hello"
    write(folder / "exercise.toml", HELLO_TOML.format(time_limit=TIME_LIMIT, check_timeout=CHECK_TIMEOUT))
    write(folder / "README.md", "# Hello\n")
    write(folder / "starter" / "app.py", HELLO_STARTER)
    write(folder / "checks" / "test_hello.py", f'CANARY = "{CANARY}"\n' + textwrap.dedent(HELLO_CHECKS))
    write(root / "solutions" / "01-hello" / "app.py", f'CANARY = "{CANARY}"\n' + textwrap.dedent(HELLO_SOLUTION))
    return find_exercise("01-hello", root)


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` (names included): to tell whether anything changed."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() or path.is_symlink()
    }


@pytest.fixture(scope="module")
def shared_kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "kit"
    build_kit(root)
    return root


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, shared_kit: Path) -> Path:
    """A copy of the shared kit, to restore it if a process-sandbox case managed to change it."""
    copy = tmp_path_factory.mktemp("pristine") / "kit"
    shutil.copytree(shared_kit, copy)
    return copy


@pytest.fixture(scope="module")
def exercise(shared_kit: Path) -> Exercise:
    return find_exercise("01-hello", shared_kit)


@pytest.fixture(scope="module")
def honest_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("honest")
    write(folder / "app.py", HELLO_SOLUTION)
    return folder


#: The honest submission is graded again after every risky case in the process sandbox (1 s), and
#: after every third one in the docker sandbox (3-4 s a grade), plus once at the very end.
HONEST_EVERY = {"process": 1, "docker": 3}


@pytest.fixture(scope="module")
def baselines() -> dict[str, Any]:
    return {}


@pytest.fixture
def honest(exercise: Exercise, honest_folder: Path, baselines: dict[str, Any], sandbox: Any) -> Callable[..., None]:
    """Grades the honest submission before the first hostile one of each sandbox (full marks);
    the returned function grades it again (see HONEST_EVERY) and requires the very same verdict."""
    if sandbox.name not in baselines:
        report = grade(exercise, honest_folder, sandbox=sandbox)
        assert (report.status, report.score, report.problems) == (Status.PASS, FULL, ()), report.to_dict()
        baselines[sandbox.name] = report.verdict()
        baselines[sandbox.name + ":calls"] = 0

    def again(*, force: bool = False) -> None:
        baselines[sandbox.name + ":calls"] += 1
        if force or baselines[sandbox.name + ":calls"] % HONEST_EVERY.get(sandbox.name, 1) == 0:
            report = grade(exercise, honest_folder, sandbox=sandbox)
            assert report.verdict() == baselines[sandbox.name], report.to_dict()

    return again


#: The runner package every grade runs (its judge, plugin and pinned pytest.ini).
RUNNER_PACKAGE = Path(runner.__file__).resolve().parent


@pytest.fixture(scope="module")
def runner_digest() -> dict[str, str]:
    return tree_digest(RUNNER_PACKAGE)


@pytest.fixture
def guard(shared_kit: Path, pristine: Path, runner_digest: dict[str, str]) -> Iterator[None]:
    """The shared kit must come out of every case unchanged (restored if not, so later cases are sound),
    and so must the runner package: a changed judge would fail every later test for a reason far away."""
    yield
    if tree_digest(shared_kit) != tree_digest(pristine):
        shutil.rmtree(shared_kit)
        shutil.copytree(pristine, shared_kit)
        pytest.fail("a submission changed the exercise's hidden files")
    now = tree_digest(RUNNER_PACKAGE)
    changed = sorted(name for name in {*now, *runner_digest} if now.get(name) != runner_digest.get(name)
                     and "__pycache__" not in name)
    if changed:
        pytest.exit(f"a submission changed the runner package itself ({', '.join(changed)}): "
                    "restore it (git checkout -- runner) before anything else runs on it", returncode=3)


# --------------------------------------------------------------------------- processes, text


def marked_processes(mark: str) -> list[int]:
    """Live processes (not zombies) with ``mark`` in their command line or any thread's name."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X"):
                continue
            names = [(task / "comm").read_text() for task in (entry / "task").iterdir()]
            if mark.encode() in (entry / "cmdline").read_bytes() or any(mark in name for name in names):
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


def leftovers(mark: str, grace: float = 3.0) -> list[int]:
    """Processes of the submission still alive ``grace`` seconds after the grade (SIGKILL is async)."""
    deadline = time.monotonic() + grace
    while True:
        alive = marked_processes(mark)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def kill_marked(mark: str) -> None:
    """Clean up after a case whose processes escaped: only the processes this case started."""
    for pid in marked_processes(mark):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def statuses(report: GradeReport) -> dict[str, CheckStatus]:
    return {c.id.split("::")[-1]: c.status for c in report.checks}


def categories(report: GradeReport) -> set[Category]:
    return {p.category for p in report.problems}


# --------------------------------------------------------------------------- hostile code

#: Prepended to every hostile app: the learner process (and anything that calls bk_name) carries
#: the case's mark in its name, so the suite can find it in /proc after the grade.
PRELUDE = '''
import ctypes as _bk_ctypes

MARK = "__MARK__"


def bk_name(suffix=""):
    try:
        _bk_ctypes.CDLL(None).prctl(15, (MARK + suffix)[:15].encode(), 0, 0, 0)
    except Exception:
        pass


bk_name()
'''

#: Finds this grade's own judge through /proc (never another run's: its environment names our folder).
FIND_JUDGE = '''
import os
import time


def own_judges(wait=2.5):
    workdir = os.path.dirname(os.getcwd()).encode()
    deadline = time.monotonic() + wait
    while True:
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\\0")
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read()
            except OSError:
                continue
            if b"runner.judge.plugin" in argv and workdir + b"/" in environ:
                found.append((int(entry), [a.decode() for a in argv]))
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def hidden_folders():
    """The judge's checks folder and the solutions beside it; blind guesses where nothing is visible."""
    folders = []
    for _pid, argv in own_judges():
        for arg in argv:
            if arg.endswith("/checks") and os.path.isdir(arg):
                exercise = os.path.dirname(arg)
                kit = os.path.dirname(os.path.dirname(exercise))
                folders += [arg, os.path.join(kit, "solutions", os.path.basename(exercise))]
    import runner  # the kit this runner came from, wherever it is installed

    kit = os.path.dirname(os.path.dirname(os.path.abspath(runner.__file__)))
    for guess in (os.path.join(kit, "exercises"), os.path.join(kit, "solutions"), "/data"):
        if os.path.isdir(guess):
            folders.append(guess)
    return folders


def hidden_texts():
    texts = []
    for folder in hidden_folders():
        for root, _dirs, files in os.walk(folder):
            for name in files:
                if name.endswith((".py", ".toml", ".json")):
                    try:
                        with open(os.path.join(root, name), errors="replace") as f:
                            texts.append(f.read())
                    except OSError:
                        pass
    return texts
'''

FORCE_PASS_CONFTEST = '''
import pytest

import runner


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.outcome = "passed"
    return report


def pytest_collection_modifyitems(items):
    for item in items:
        item.runtest = lambda: None
'''

#: A conftest.py that, once imported by the judge, describes every outcome as a pass.
PATCHING_CONFTEST = FORCE_PASS_CONFTEST + '''

import runner.judge.plugin

runner.judge.plugin.describe_exception = lambda exc, when: runner.judge.plugin.Outcome("passed")
'''

FAKE_FLASK = '''
class Flask:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"message": "hello", "ok": true}']

    def route(self, *args, **kwargs):
        return lambda function: function

    get = post = route


def jsonify(**kwargs):
    return kwargs
'''

FORGED_RESULTS = '''
import json

NAMES = ["test_hello", "test_body", "test_counts_hits", "test_writes_database", "test_slow", "test_still_alive"]
FORGED = b"".join(
    json.dumps({"event": "result", "id": f"test_hello.py::{name}", "status": "passed", "message": ""}).encode()
    + b"\\n"
    for name in NAMES
)
'''

#: Takes the bubblewrap masks off (only ever inside a mount namespace of its own, never the host's):
#: umount the tmpfs over the kit and /tmp, remount / read-write, then read and write what is under.
UNMASK = '''
import ctypes
import hashlib
import os
import re

OUTSIDE = "__OUTSIDE__"
LIBC = ctypes.CDLL(None, use_errno=True)


def masks():
    found = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point, kind = line.split()[4], line.split(" - ", 1)[1].split()[0]
                if kind == "tmpfs" and (point == "/tmp" or point.startswith("/tmp/")):  # the suite's kit is there
                    found.append(point)
    except (OSError, IndexError):
        pass
    return found


FOLDERS = []
WORKSPACE = os.getcwd()
if os.readlink("/proc/self/ns/mnt") != "__HOSTNS__":
    FOLDERS = masks()
    for target in reversed(FOLDERS):
        print("UMOUNT", target, LIBC.umount2(target.encode(), 2), flush=True)
    os.chdir(WORKSPACE)  # the same path, now the host's folder under the masks
    print("REMOUNT", LIBC.mount(None, b"/", None, 32 | 4096, None), flush=True)  # MS_REMOUNT | MS_BIND
    try:
        with open(os.path.join(OUTSIDE, "sentinel.txt"), "w") as f:
            f.write("changed from inside the sandbox")
    except OSError as exc:
        print("WRITE", type(exc).__name__, flush=True)
DIGESTS = set()
for folder in FOLDERS:
    if folder in ("/tmp", "/workspace") or folder == os.path.dirname(os.getcwd()):
        continue
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                with open(os.path.join(root, name), errors="replace") as f:
                    for value in re.findall(r"bk-canary-[0-9a-f]{32}", f.read()):
                        DIGESTS.add(hashlib.sha256(value.encode()).hexdigest())
            except OSError:
                pass
print("DIGESTS", *sorted(DIGESTS), flush=True)
'''

#: Writes forged results into every pipe a process holds, reopened through /proc/<pid>/fd/<n>.
FORGE_THROUGH_PROC = FORGED_RESULTS + '''
import os
import stat
import threading
import time


def pipes_of(pid):
    found = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for fd in fds:
        if fd in ("0", "1", "2"):
            continue  # not the target's own terminal or log: this suite's output stays readable
        path = f"/proc/{pid}/fd/{fd}"
        try:
            if os.readlink(path).startswith("pipe:"):
                found.append(path)
        except OSError:
            pass
    return found


def forge(targets):
    bk_name("w")
    for _ in range(150):
        for pid in targets():
            for path in pipes_of(pid):
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    continue
                try:
                    # Checked again once open: the target may have closed the pipe and reused its
                    # number for a file (the judge's pytest.ini, say) since the readlink.
                    if stat.S_ISFIFO(os.fstat(fd).st_mode):
                        os.write(fd, FORGED)
                except OSError:
                    pass
                os.close(fd)
        time.sleep(0.05)
'''


def starter_with(handler_body: str, imports: str = "") -> str:
    """A starter-like app (no /hello) whose 404 handler runs ``handler_body``."""
    body = textwrap.indent(textwrap.dedent(handler_body).strip("\n"), " " * 8)
    return f"""
{textwrap.dedent(imports).strip()}
from flask import Flask


def create_app(config=None):
    app = Flask(__name__)

    @app.errorhandler(404)
    def not_found(error):
{body}

    return app
"""


def solution_with_slow(body: str) -> str:
    """The reference solution, except for GET /slow, which runs ``body``."""
    indented = textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8)
    assert "        return jsonify(ok=True)" in HELLO_SOLUTION
    return HELLO_SOLUTION.replace("        return jsonify(ok=True)", indented)


def solution_with_create_app(statements: str) -> str:
    """The reference solution, with ``statements`` at the start of create_app."""
    indented = textwrap.indent(textwrap.dedent(statements).strip("\n"), " " * 4)
    anchor = "    app = Flask(__name__)\n"
    assert anchor in HELLO_SOLUTION
    return HELLO_SOLUTION.replace(anchor, indented + "\n" + anchor, 1)


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """One hostile submission and the verdict it deserves."""

    id: str
    app: str | None  # app.py (PRELUDE is prepended unless prelude=False); None: no app.py
    extra: dict[str, str] = field(default_factory=dict)  # more files in the folder (never graded)
    score: int | tuple[int, ...] | None = 0  # expected score, or the scores allowed
    status: Status | None = None
    problems: frozenset[Category] | None = None  # None: not checked; empty: none; else non-empty subset
    checks: dict[str, CheckStatus] = field(default_factory=dict)
    not_passed: tuple[str, ...] = ()  # checks that must not pass
    prelude: bool = True
    private: bool = False  # grade on a private copy of the exercise (the case writes into it)
    needs: frozenset[str] = frozenset()  # protections (see PROMISES) a fair verdict depends on
    xfail: dict[str, str] = field(default_factory=dict)  # sandbox label (see labels()) -> the runner's weakness
    extra_check: Callable[[GradeReport, str, Path], None] | None = None
    honest_after: bool = True
    max_seconds: float = TIME_LIMIT + 6


#: What each sandbox promises beyond a fair verdict (README: "Sandboxes: what each protects against").
#: The process sandbox confines learner code with bubblewrap where it can (runner.sandbox.process):
#: then the kit is hidden, /tmp and the grade's folder are empty, /proc shows the learner's own
#: processes only, and they all die with it. Without bubblewrap it promises none of these.
HIDDEN = frozenset({"hidden"})  # the hidden checks and the solution can be neither read nor written
OUTSIDE = frozenset({"outside"})  # files outside the workspace cannot be changed
ESCAPE = frozenset({"escape"})  # no process outlives the grade, whatever it does
PROC = frozenset({"proc"})  # the runner's and the judge's processes are out of reach
NETWORK = frozenset({"network"})  # nothing but the grade's own services is reachable
PROMISES = {
    "process": frozenset(),
    "process-confined": HIDDEN | OUTSIDE | ESCAPE | PROC,
    "docker": HIDDEN | OUTSIDE | ESCAPE | PROC | NETWORK,
}


def sandbox_kind(sandbox: Any) -> str:
    """docker, process (plain) or process-confined (bubblewrap, where runner.sandbox.process has it)."""
    if sandbox.name != "process":
        return str(sandbox.name)
    from runner.sandbox import process

    probe = getattr(process, "bubblewrap", None)
    return "process-confined" if probe is not None and probe() else "process"


def labels(kind: str) -> set[str]:
    """The names a case's xfail may use for the sandbox it runs in (the kind, and for a confined process
    sandbox started by root, process-confined-as-root: bubblewrap behaves differently for root)."""
    found = {kind}
    if kind == "process-confined" and os.geteuid() == 0:
        found.add("process-confined-as-root")
    return found


STARTER_VERDICT = {"test_hello": CheckStatus.FAILED, "test_still_alive": CheckStatus.SKIPPED}
FULL_VERDICT = {name: CheckStatus.PASSED for name in CHECK_NAMES}
NO_PROBLEMS: frozenset[Category] = frozenset()
TIMEOUT_ONLY = frozenset({Category.TIMEOUT})


def config_file_case(case_id: str, files: dict[str, str]) -> Case:
    """Files that would configure the judge or Python, beside a wrong app: never seen."""
    return Case(case_id, HELLO_STARTER, extra=files, status=Status.FAIL, problems=NO_PROBLEMS,
                checks=STARTER_VERDICT, honest_after=False)


def fill_lines(output: str) -> dict[str, tuple[int, int]]:
    return {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"FILL (\S+) total=(\d+) biggest=(\d+)", output)}


def stopped_or_full_marks(report: GradeReport) -> None:
    """A program that fills the disk is stopped by the grade's disk quota (limit_exceeded), or, where
    the sandbox caps the folders themselves, keeps running and keeps its full marks."""
    if categories(report) == {Category.LIMIT_EXCEEDED}:
        assert report.score == 0
    else:
        assert (report.status, report.score, report.problems) == (Status.PASS, FULL, ()), report.problems


def check_disk_fill(report: GradeReport, kind: str, outside: Path) -> None:
    stopped_or_full_marks(report)
    filled = fill_lines(report.output)
    assert "workspace" in filled, report.output[:2000]
    for where, (total, biggest) in filled.items():
        assert biggest <= FILE_LIMIT, f"{where}: a file grew to {biggest} bytes"
        if kind == "docker" or (kind == "process-confined" and where == "tmp"):
            assert total <= FILE_LIMIT, f"{where}: {total} bytes written in all (a 64 MiB tmpfs)"
    if kind != "process":
        assert not list(Path("/tmp").glob(f"bk-fill-{outside.name.removeprefix('outside-')}*")), "host /tmp written"


def check_database_dir_fill(report: GradeReport, kind: str, outside: Path) -> None:
    """12 x 64 MiB into the SQLite folder, a host folder in every sandbox: the quota must stop it, at
    most half a second (two of its four-a-second looks) after the quota was passed."""
    assert categories(report) == {Category.LIMIT_EXCEEDED}, (report.problems, report.output[:2000])
    assert report.score == 0
    progress = [(int(m[1]), float(m[2])) for m in re.finditer(r"FILLING datadir total=(\d+) seconds=([\d.]+)",
                                                               report.output)]
    if progress:  # else stopped before it could even say how much it wrote
        total, seconds = progress[-1]
        rate = total / max(seconds, 0.001)
        allowed = DISK_QUOTA + rate * 0.5 + FILE_LIMIT
        assert total <= allowed, f"{total} bytes written ({rate / MIB:.0f} MiB/s) to the host before it was stopped"


def check_truncated_output(report: GradeReport, sandbox: str, outside: Path) -> None:
    assert report.output_truncated
    assert "[output truncated:" in report.output
    assert len(report.output) < 10_000


def check_found_hidden_files(report: GradeReport, sandbox: str, outside: Path) -> None:
    """The plain process sandbox lets the case read the hidden files (documented): make sure it did,
    so that the canary assertion is about redaction and not about a case that found nothing."""
    if sandbox == "process":
        assert re.search(r"FOUND [1-9]", report.output), report.output[:2000]


def check_replacement_characters(report: GradeReport, sandbox: str, outside: Path) -> None:
    assert "\ufffd" in report.output
    assert "after-garbage" in report.output


def check_memory_bomb_at_import(report: GradeReport, kind: str, outside: Path) -> None:
    """Each sandbox's own memory limit stopped the bomb (see MEMORY_BOMB): the container's kills it
    while it writes BOMB_WRITES; RLIMIT_AS refuses the address space it asks for next."""
    message = report.problems[0].message if report.problems else ""
    if kind == "docker":
        assert categories(report) == {Category.CRASH}, report.problems
        assert "exit code 137" in message, message  # SIGKILL: the kernel's OOM killer
        assert "BOMB wrote" not in report.output, report.output[:2000]
    else:
        assert categories(report) == {Category.IMPORT_ERROR}, report.problems
        assert "MemoryError" in message, message
        assert f"BOMB wrote {BOMB_WRITES >> 20} MiB" in report.output, report.output[:2000]


def check_memory_error_in_a_handler(report: GradeReport, kind: str, outside: Path) -> None:
    """GET /slow failed because RLIMIT_AS refused the bomb's memory (a 500), not for any other reason."""
    assert "MemoryError" in report.output and "BOMB wrote 0 MiB" in report.output, report.output[:2000]


#: Memory the bomb writes (every page touched: real memory): well past the container's limit, as just
#: past it the kernel first evicts the app's own code pages and it crawls (a race with the check's
#: timeout) before the OOM killer acts. Writing pages costs time (1 to 2 GB/s here, far less on a cold
#: virtual machine), so it writes no more than that: filling RLIMIT_AS's 4 GiB that way took 3 to 13 s,
#: a race with the 6 s start-up limit.
BOMB_WRITES = CONTAINER_MEMORY + 256 * MIB

#: A memory bomb that reaches every sandbox's limit in well under a second, whatever the machine's
#: speed: it writes ``written`` MiB (BOMB_WRITES: the docker sandbox's cgroup limit kills it there),
#: then asks for address space that doubles each time (up to 64 GiB), never written: bytes(n) is
#: mapped lazily, so RLIMIT_AS (4 GiB, both sandboxes) refuses it at once, with room left for the
#: traceback.
MEMORY_BOMB = '''
import time


def bomb(written):
    started = time.monotonic()
    hoard = []
    try:
        for _ in range(written // 64):
            hoard.append(b"\\1" * (64 * 1024 * 1024))
        print(f"BOMB wrote {len(hoard) * 64} MiB in {time.monotonic() - started:.2f} s", flush=True)
        size = 256 * 1024 * 1024
        for _ in range(8):
            hoard.append(bytes(size))
            size *= 2
    finally:
        print(f"BOMB stopped after {time.monotonic() - started:.2f} s", flush=True)
    return hoard
'''

FILL_DISK = '''
import os
import tempfile
import time


def fill(folder, label, files=2, size=72 * 1024 * 1024):
    total = biggest = 0
    started = time.monotonic()
    for n in range(files):
        path = os.path.join(folder, f"bk-fill-{MARK}-{n}")
        try:
            with open(path, "wb") as f:
                chunk = b"\\1" * (8 * 1024 * 1024)
                for _ in range(size // len(chunk)):
                    f.write(chunk)
        except OSError:
            pass
        try:
            written = os.path.getsize(path)
        except OSError:
            written = 0
        total += written
        biggest = max(biggest, written)
        print(f"FILLING {label} total={total} seconds={time.monotonic() - started:.3f}", flush=True)
    print(f"FILL {label} total={total} biggest={biggest}", flush=True)
'''

ESCAPE_SCRUBBED = '''
import os
import sys
import time

child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        if CLOSE_FDS:
            null = os.open(os.devnull, os.O_RDWR)
            for n in range(3):
                os.dup2(null, n)
            os.closerange(3, 4096)
        # a fresh program, with an empty environment: nothing left to link it to the grade
        os.execve(sys.executable, [sys.executable, "-c", f"import time; time.sleep({SLEEP})", MARK + "-e"], {})
    os._exit(0)
os.waitpid(child, 0)
'''

FORK_BOMB = '''
import os
import time

ROOT = os.getpid()
for _ in range(8):  # every process forks in each remaining round: at most 2 ** 8 = 256 processes
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        bk_name("f")
if os.getpid() != ROOT:
    time.sleep(26)
    os._exit(0)
'''

JUDGE_SPEC_TAMPER = '''
import glob
import json
import os
import threading
import time

WORKDIR = os.path.dirname(os.getcwd())


def own_grade_folders():
    """This grade's folder, seen from the process sandbox (../) or the container (/data), and whatever
    /tmp scanning finds: other grades' folders are skipped, only the one holding our app.py is ours."""
    roots = [WORKDIR, "/data"]
    for path in glob.glob("/tmp/backend-kit-grade-*"):
        try:
            with open(os.path.join(path, "workspace", "app.py"), errors="replace") as f:
                if MARK in f.read():
                    roots.append(path)
        except OSError:
            pass
    return roots

def tampered(data):
    return {**data, "collect_only": True, "done": [], "failed_gates": [], "bk": MARK}


def tamper(judge_dir):
    spec = os.path.join(judge_dir, "spec.json")
    try:
        with open(spec) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return
    if not isinstance(data, dict) or data.get("bk") == MARK:
        return
    try:
        with open(spec, "w") as f:
            json.dump(tampered(data), f)
        return
    except OSError:
        pass
    try:  # not writable: replace the whole folder (its parent may be writable)
        os.rename(judge_dir, judge_dir + "-" + MARK)
        os.mkdir(judge_dir, 0o777)
        with open(spec, "w") as f:
            json.dump(tampered(data), f)
    except OSError:
        pass


def keep_tampering():
    bk_name("s")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        for root in own_grade_folders():
            tamper(os.path.join(root, "judge"))
        time.sleep(0.005)


threading.Thread(target=keep_tampering, daemon=True).start()

# The first request hangs (once per grade): the check times out and the runner starts a new judge,
# which reads a spec written while this program was already watching for it.
FLAG = os.path.join("/data" if os.path.isdir("/data") else WORKDIR, f"bk-{MARK}-hung")
'''


PLANTED = {
    "json.py": "raise SystemExit(0)\n",
    "random.py": "def random():\n    return 0.0\n",
    "flask.py": FAKE_FLASK,
    "pytest.py": "raise SystemExit(0)\n",
    "conftest.py": FORCE_PASS_CONFTEST,
    "sitecustomize.py": "import os\nos._exit(0)\n",
    "pytest.ini": "[pytest]\naddopts = --co\n",
}

CASES: list[Case] = [
    # ---- files that try to configure the grader, beside a wrong app: never copied, never seen
    config_file_case("conftest.py", {"conftest.py": FORCE_PASS_CONFTEST, "checks/conftest.py": FORCE_PASS_CONFTEST}),
    config_file_case("pytest.ini", {"pytest.ini": "[pytest]\naddopts = -p no:runner.judge.plugin --co\n"}),
    config_file_case("pyproject.toml", {
        "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-p no:runner.judge.plugin"\n'
                          'python_functions = "nothing_*"\n',
    }),
    config_file_case("tox.ini-and-setup.cfg", {"tox.ini": "[pytest]\naddopts = --co\n",
                                               "setup.cfg": "[tool:pytest]\naddopts = --co\n"}),
    config_file_case("sitecustomize.py", {"sitecustomize.py": "import os\nos._exit(0)\n"}),
    config_file_case("usercustomize.py", {"usercustomize.py": "import builtins\nbuiltins.print = None\n"}),
    config_file_case(".pth", {"zz-backend-kit.pth": "import os; os._exit(0)\n"}),
    config_file_case(".env", {".env": "DATABASE_URL=sqlite:////tmp/elsewhere.db\nPYTEST_ADDOPTS=--co\n",
                              ".flaskenv": "FLASK_APP=conftest\n"}),
    config_file_case("stdlib-shadows", {"json.py": "raise SystemExit(0)\n", "os.py": "raise SystemExit(0)\n",
                                        "random.py": "def random():\n    return 0.0\n",
                                        "re.py": "raise SystemExit(0)\n"}),
    config_file_case("dependency-shadows", {"flask.py": FAKE_FLASK, "sqlalchemy.py": "raise SystemExit(0)\n",
                                            "redis.py": "raise SystemExit(0)\n", "pytest.py": "import os\n"}),
    Case(
        "shadows-planted-at-run-time",
        # The app writes the shadows itself, into its folder, the judge's folder and the grade's folder.
        f"PLANTED = {PLANTED!r}\n"
        + '''
import os

for folder in (".", "../judge", ".."):
    for name, text in PLANTED.items():
        try:
            with open(os.path.join(folder, name), "w") as f:
                f.write(text)
        except OSError:
            pass
''' + HELLO_STARTER,
        status=Status.FAIL, problems=NO_PROBLEMS, checks=STARTER_VERDICT,
    ),
    # ---- exiting early "with success"
    Case("sys.exit-at-import", "import sys\nsys.exit(0)\n" + HELLO_STARTER, status=Status.ERROR,
         problems=frozenset({Category.IMPORT_ERROR}), checks={"test_hello": CheckStatus.NOT_RUN}),
    Case("raise-SystemExit-at-import", "raise SystemExit(0)\n" + HELLO_STARTER, status=Status.ERROR,
         problems=frozenset({Category.IMPORT_ERROR}), checks={"test_hello": CheckStatus.NOT_RUN}),
    Case("os._exit-in-create_app", solution_with_create_app("import os\nos._exit(0)"), status=Status.ERROR,
         problems=frozenset({Category.CRASH}), checks={"test_hello": CheckStatus.NOT_RUN}),
    Case("sys.exit-in-create_app", solution_with_create_app("import sys\nsys.exit(0)"), status=Status.ERROR,
         problems=frozenset({Category.STARTUP_ERROR}), checks={"test_hello": CheckStatus.NOT_RUN}),
    Case("os._exit-in-a-handler-of-a-wrong-app", starter_with("os._exit(0)", "import os"),
         problems=frozenset({Category.CRASH}), checks={"test_hello": CheckStatus.FAILED}),
    Case("SystemExit-in-a-handler-of-a-correct-app", solution_with_slow("raise SystemExit(0)"), score=FULL - 1,
         not_passed=("test_slow",),
         checks={n: CheckStatus.PASSED for n in CHECK_NAMES if n != "test_slow"}),
    # ---- forging results
    Case(
        "forged-results-on-every-fd-all-along",
        FORGED_RESULTS + '''
import os
import threading
import time


def spray():
    bk_name("t")
    for _ in range(60):
        for fd in range(0, 1024):
            try:
                os.write(fd, FORGED)
            except OSError:
                pass
        time.sleep(0.1)


threading.Thread(target=spray, daemon=True).start()
''' + starter_with("""
for fd in range(0, 1024):
    try:
        os.write(fd, FORGED)
    except OSError:
        pass
return "not found", 404
""", "import os"),
        checks={"test_hello": CheckStatus.FAILED},
    ),
    Case(
        "forged-results-through-proc-ppid-fd",
        FORGE_THROUGH_PROC + "threading.Thread(target=forge, args=(lambda: [os.getppid()],), daemon=True).start()\n"
        + HELLO_STARTER,
        checks=STARTER_VERDICT, needs=PROC,
    ),
    Case(
        "forged-results-through-proc-judge-fd",
        FIND_JUDGE + FORGE_THROUGH_PROC
        + "threading.Thread(target=forge, args=(lambda: [pid for pid, _ in own_judges(0)],), daemon=True).start()\n"
        + HELLO_STARTER,
        checks=STARTER_VERDICT, needs=PROC,
    ),
    Case(
        "judge-spec-rewritten-via-tmp-scan",
        JUDGE_SPEC_TAMPER + starter_with("""
if not os.path.exists(FLAG):
    open(FLAG, "w").close()
    time.sleep(60)
return "not found", 404
""", "import os\nimport time"),
        checks={"test_hello": CheckStatus.TIMEOUT, "test_still_alive": CheckStatus.SKIPPED}, needs=PROC,
    ),
    # ---- patching the test machinery in the learner's own process
    Case(
        "patches-pytest-builtins-and-the-runner-in-its-own-interpreter",
        HELLO_STARTER + '''
import builtins
import importlib


def patch(module, name, value):
    try:
        setattr(importlib.import_module(module), name, value)
    except ImportError:  # e.g. the docker client, not installed in the container
        pass


patch("_pytest.runner", "call_and_report", lambda *args, **kwargs: None)
patch("pytest", "main", lambda *args, **kwargs: 0)
patch("runner.judge.plugin", "_describe_exception", lambda exc: {"status": "passed"})
patch("runner.judge", "expect_status", lambda *args, **kwargs: None)
patch("runner.scoring", "score_checks", lambda *args, **kwargs: ())
patch("runner.scoring", "overall_status", lambda *args, **kwargs: "pass")
patch("runner.grading", "grade", lambda *args, **kwargs: None)
patch("runner.textsafe", "clean", lambda text: text)
builtins.exit = builtins.quit = lambda *args: None
''',
        status=Status.FAIL, problems=NO_PROBLEMS, checks=STARTER_VERDICT, honest_after=False,
    ),
    # ---- reading the hidden checks and the reference solution
    Case(
        "prints-the-hidden-checks-and-solution-verbatim",
        FIND_JUDGE + '''
TEXTS = hidden_texts()
LEAK = "\\n".join(TEXTS)
print("FOUND", sum("bk-canary-" in text for text in TEXTS), "files with a canary")
print(LEAK)
''' + starter_with('return LEAK, 404'),
        checks={"test_hello": CheckStatus.FAILED}, extra_check=check_found_hidden_files, honest_after=False,
    ),
    Case(
        "prints-just-the-canary-values",
        FIND_JUDGE + '''
import re

VALUES = sorted({v for text in hidden_texts() for v in re.findall(r"bk-canary-[0-9a-f]{32}", text)})
print("FOUND", len(VALUES), "values:", *VALUES)
''' + starter_with('return " ".join(VALUES), 404'),
        checks={"test_hello": CheckStatus.FAILED}, extra_check=check_found_hidden_files, honest_after=False,
    ),
    Case(
        "cuts-a-hidden-line-at-the-output-cap",
        FIND_JUDGE + '''
LINES = [line.strip() for text in hidden_texts() for line in text.splitlines() if "bk-canary-" in line]
FOUND = f"FOUND {len(LINES)} lines\\n"
# 8000 characters are kept: the hidden line is cut one character before its end, just after the value
print(FOUND + ("x" * (8001 - len(FOUND) - len(LINES[0])) + LINES[0] if LINES else ""))
''' + HELLO_STARTER,
        checks=STARTER_VERDICT, extra_check=check_found_hidden_files, honest_after=False,
    ),
    Case(
        "runs-the-reference-solution-it-found",
        HELLO_STARTER + FIND_JUDGE + '''
for folder in hidden_folders():
    path = os.path.join(folder, "app.py")
    if "solutions" in folder and os.path.isfile(path):
        with open(path) as f:
            exec(compile(f.read(), "app.py", "exec"), globals())
        break
''',
        checks=STARTER_VERDICT, needs=HIDDEN, honest_after=False,
    ),
    # ---- resources
    Case("fork-bomb", FORK_BOMB + HELLO_STARTER, status=Status.FAIL, problems=NO_PROBLEMS,
         checks=STARTER_VERDICT),
    Case(
        "memory-bomb-at-import",
        MEMORY_BOMB + f"HOARD = bomb({BOMB_WRITES >> 20})\n" + HELLO_STARTER,
        status=Status.ERROR,
        problems=frozenset({Category.IMPORT_ERROR, Category.CRASH}),  # which one: check_memory_bomb_at_import
        checks={"test_hello": CheckStatus.NOT_RUN}, extra_check=check_memory_bomb_at_import,
    ),
    Case(
        "memory-bomb-in-a-handler-of-a-correct-app",
        # Address space only, refused by RLIMIT_AS in both sandboxes: a container killed by its memory
        # limit mid-grade (proven at import) leaves the next checks to Docker's network teardown (a
        # refused connection, or one that hangs until the check's timeout and a restart), a race.
        MEMORY_BOMB + solution_with_slow("hoard = bomb(0)\nreturn jsonify(ok=len(hoard))"),
        score=FULL - 1, status=Status.FAIL, problems=NO_PROBLEMS,
        checks={**FULL_VERDICT, "test_slow": CheckStatus.FAILED}, extra_check=check_memory_error_in_a_handler,
    ),
    Case("infinite-loop-in-create_app", solution_with_create_app("while True:\n    pass"), status=Status.ERROR,
         problems=TIMEOUT_ONLY, checks={"test_hello": CheckStatus.NOT_RUN}, max_seconds=TIME_LIMIT / 3 + 8),
    Case("infinite-loop-in-a-handler-of-a-wrong-app", starter_with("while True:\n    pass"),
         checks={"test_hello": CheckStatus.TIMEOUT, "test_still_alive": CheckStatus.SKIPPED}),
    Case("sleeps-past-every-limit-at-import", "import time\ntime.sleep(10 ** 6)\n" + HELLO_STARTER,
         status=Status.ERROR, problems=TIMEOUT_ONLY, checks={"test_hello": CheckStatus.NOT_RUN},
         max_seconds=TIME_LIMIT / 3 + 8),
    Case(
        "ignores-every-signal-and-sleeps-in-a-handler",
        """
import signal

for number in range(1, signal.NSIG):
    try:
        signal.signal(number, signal.SIG_IGN)
    except (OSError, ValueError, RuntimeError):
        pass
""" + solution_with_slow("import time\nwhile True:\n    time.sleep(0.5)"),
        score=FULL - 1, checks={**FULL_VERDICT, "test_slow": CheckStatus.TIMEOUT},
    ),
    Case(
        "deadlocked-threads-in-a-handler",
        solution_with_slow("""
import threading

first, second = threading.Lock(), threading.Lock()
both_hold_one = threading.Barrier(2)  # not a sleep: each takes its second lock only once the other holds it


def one():
    with first:
        both_hold_one.wait()
        with second:
            pass


def two():
    with second:
        both_hold_one.wait()
        with first:
            pass


threads = [threading.Thread(target=one), threading.Thread(target=two)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
return jsonify(ok=True)
"""),
        score=FULL - 1, checks={**FULL_VERDICT, "test_slow": CheckStatus.TIMEOUT},
    ),
    Case(
        "a-thread-that-never-stops",
        """
import threading
import time


def forever():
    bk_name("t")
    while True:
        time.sleep(0.05)


threading.Thread(target=forever).start()  # not a daemon: it would keep the process alive
""" + HELLO_SOLUTION,
        score=FULL, status=Status.PASS, problems=NO_PROBLEMS, checks=FULL_VERDICT,
    ),
    Case(
        "hundreds-of-megabytes-on-stdout",
        # On a thread, while the app starts and is graded: 200 MiB through the docker daemon's log and
        # attach stream took up to 3.7 s on a loaded machine, a race with the 6 s start-up limit at import.
        """
import sys
import threading


def flood():
    for _ in range(200):
        sys.stdout.write("y" * (1024 * 1024))
    sys.stdout.flush()


threading.Thread(target=flood, daemon=True).start()
""" + HELLO_SOLUTION,
        score=FULL, status=Status.PASS, checks=FULL_VERDICT, extra_check=check_truncated_output,
        honest_after=False,
    ),
    Case(
        "one-long-line-and-binary-garbage",
        """
import os

os.write(2, b"z" * (16 * 1024 * 1024))  # one 16 MiB line, no newline, on stderr
os.write(1, os.urandom(1024 * 1024))
os.write(1, b"\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\x00\\r\\n")
""" + HELLO_SOLUTION,
        score=FULL, status=Status.PASS, checks=FULL_VERDICT, extra_check=check_truncated_output,
        honest_after=False,
    ),
    Case(
        "non-utf-8-output",
        """
import sys

sys.stdout.buffer.write(b"\\xff\\xfe\\xc3\\x28 \\xed\\xa0\\x80 \\xf8\\x88\\x80\\x80\\x80 after-garbage\\n")
sys.stdout.buffer.flush()
""" + HELLO_SOLUTION.replace('        store.incr("hits")\n',
                             '        store.incr("hits")\n        import sys\n'
                             '        sys.stdout.buffer.write(b"\\xc0\\xaf\\n")\n'),
        score=FULL, status=Status.PASS, problems=NO_PROBLEMS, checks=FULL_VERDICT,
        extra_check=check_replacement_characters, honest_after=False,
    ),
    Case(
        "fills-the-workspace-and-tmp",
        FILL_DISK + 'fill(os.getcwd(), "workspace", files=3)\nfill(tempfile.gettempdir(), "tmpdir", files=3)\n'
        'fill("/tmp", "tmp")\n' + HELLO_SOLUTION,
        score=None, extra_check=check_disk_fill,
    ),
    Case(
        "fills-the-database-folder",
        FILL_DISK + 'DATADIR = os.path.dirname(os.environ["DATABASE_URL"].removeprefix("sqlite:///"))\n'
        'fill(DATADIR, "datadir", files=12)\n' + HELLO_SOLUTION,
        score=None, extra_check=check_database_dir_fill,
    ),
    # ---- processes that try to outlive the grade
    Case(
        "new-session-and-double-fork-keeping-the-environment",
        """
import os
import subprocess
import sys
import time

subprocess.Popen([sys.executable, "-c", "import time; time.sleep(26)", MARK + "-p"], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
child = os.fork()
if child == 0:
    if os.fork() == 0:
        os.setsid()
        bk_name("d")
        time.sleep(26)
        os._exit(0)
    os._exit(0)
os.waitpid(child, 0)
""" + HELLO_STARTER,
        status=Status.FAIL, problems=NO_PROBLEMS, checks=STARTER_VERDICT,
    ),
    Case(
        "double-fork-setsid-and-a-scrubbed-environment",
        "CLOSE_FDS = True\nSLEEP = 60\n" + ESCAPE_SCRUBBED + HELLO_STARTER,
        status=Status.FAIL, problems=NO_PROBLEMS, checks=STARTER_VERDICT,
        needs=ESCAPE,  # documented for the plain process sandbox: "unless they scrub their environment"
    ),
    Case(
        "escapee-keeps-the-output-pipe-open",
        f"CLOSE_FDS = False\nSLEEP = {TIME_LIMIT + 8}\n" + ESCAPE_SCRUBBED + HELLO_STARTER,
        status=Status.FAIL, problems=NO_PROBLEMS, checks=STARTER_VERDICT,
        # documented that it may outlive the grade; not that it may hold the grade up
        needs=ESCAPE, max_seconds=TIME_LIMIT + 4,
    ),
    # ---- hostile text: escape sequences, huge messages, odd file names
    Case(
        "escape-sequences-and-megabytes-in-an-import-error",
        'raise ValueError("\\x1b]0;pwned\\x07\\x1b[2J\\x9b1m" + "A" * 3_000_000 + "\\x1b[0m\\x00")\n',
        status=Status.ERROR, problems=frozenset({Category.IMPORT_ERROR}), honest_after=False,
    ),
    Case(
        "escape-sequences-and-megabytes-in-a-startup-error",
        solution_with_create_app('raise RuntimeError("\\x1b[31m\\x07" + "B" * 3_000_000 + "\\r\\x1bc")'),
        status=Status.ERROR, problems=frozenset({Category.STARTUP_ERROR}), honest_after=False,
    ),
    Case(
        "traceback-through-a-file-named-with-control-characters",
        'exec(compile("1 / 0", "\\x1b]0;evil\\x07\\n\\r.py", "exec"))\n' + HELLO_STARTER,
        status=Status.ERROR, problems=frozenset({Category.IMPORT_ERROR}), honest_after=False,
    ),
    Case(
        "files-named-with-control-characters",
        HELLO_STARTER,
        extra={"app\x1b[31m.py": HELLO_SOLUTION, "bell\x07.py": "x = 1\n", "new\nline.py": "x = 1\n",
               "conftest.py\r": FORCE_PASS_CONFTEST},
        status=Status.FAIL, problems=NO_PROBLEMS, checks=STARTER_VERDICT, honest_after=False,
    ),
    # ---- pathological sources (the runner compiles them before running anything)
    Case("null-bytes-in-the-source", "x = 1\n\0\n" + HELLO_STARTER, prelude=False, status=Status.ERROR,
         problems=frozenset({Category.SYNTAX_ERROR}), honest_after=False),
    Case(
        "source-that-exhausts-the-compiler",
        "x = " + "+".join(["1"] * 5000) + "\n" + HELLO_STARTER,
        prelude=False, status=Status.ERROR,
        problems=frozenset({Category.SYNTAX_ERROR, Category.IMPORT_ERROR}), honest_after=False,
    ),
    # ---- writing outside the workspace
    Case(
        "writes-outside-its-workspace",
        '''
import os

OUTSIDE = "__OUTSIDE__"
for action in (
    lambda: open(os.path.join(OUTSIDE, "sentinel.txt"), "w").write("changed by the submission"),
    lambda: open(os.path.join(OUTSIDE, "planted.txt"), "w").write("planted"),
    lambda: os.remove(os.path.join(OUTSIDE, "keep.txt")),
    lambda: os.chmod(OUTSIDE, 0o777),
):
    try:
        action()
    except OSError:
        pass
''' + HELLO_STARTER,
        status=Status.FAIL, problems=NO_PROBLEMS, checks=STARTER_VERDICT,
    ),
    Case(
        "rewrites-the-hidden-checks",
        FIND_JUDGE + '''
PASSING = "".join(f"def {name}():\\n    pass\\n\\n\\n" for name in (
    "test_hello", "test_body", "test_counts_hits", "test_writes_database", "test_slow", "test_still_alive"))
for folder in hidden_folders():
    if folder.endswith("/checks"):
        try:
            with open(os.path.join(folder, "test_hello.py"), "w") as f:
                f.write(PASSING)
        except OSError:
            pass
''' + HELLO_STARTER,
        checks=STARTER_VERDICT, private=True, needs=HIDDEN,
    ),
    Case(
        "plants-a-conftest-above-the-checks",
        FIND_JUDGE + f"FORCE = {PATCHING_CONFTEST!r}\n" + '''
for folder in hidden_folders():
    if folder.endswith("/checks"):
        try:
            with open(os.path.join(os.path.dirname(folder), "conftest.py"), "w") as f:
                f.write(FORCE)
        except OSError:
            pass
# The first request hangs (once per grade), so that a second judge starts after the conftest is in place.
FLAG = os.path.join("/data" if os.path.isdir("/data") else os.path.dirname(os.getcwd()), f"bk-{MARK}-hung")
''' + starter_with("""
if not os.path.exists(FLAG):
    open(FLAG, "w").close()
    time.sleep(60)
return "not found", 404
""", "import time"),
        checks={"test_hello": CheckStatus.TIMEOUT, "test_still_alive": CheckStatus.SKIPPED}, private=True,
        needs=HIDDEN,  # writing into the kit
    ),
    Case(
        "unmounts-the-sandbox-masks",
        UNMASK + HELLO_STARTER,
        status=Status.FAIL, problems=NO_PROBLEMS, checks=STARTER_VERDICT, needs=HIDDEN | OUTSIDE,
    ),
    Case(
        "kills-the-judge",
        FIND_JUDGE + '''
import signal

for pid, _argv in own_judges():
    os.kill(pid, signal.SIGKILL)
''' + HELLO_STARTER,
        # the same user as the judge in the process sandbox can kill it: no verdict there, but no gain
        checks=STARTER_VERDICT, needs=PROC,
    ),
]


# --------------------------------------------------------------------------- running a case


def make_folder(tmp_path: Path, case: Case, mark: str, outside: Path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    if case.app is not None:
        source = (textwrap.dedent(PRELUDE) if case.prelude else "") + case.app
        source = source.replace("__MARK__", mark).replace("__OUTSIDE__", str(outside))
        source = source.replace("__HOSTNS__", os.readlink("/proc/self/ns/mnt"))
        (folder / "app.py").write_bytes(source.encode())
    for name, text in case.extra.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def assert_report_is_safe(report: GradeReport) -> None:
    """The report is JSON, leaks no canary and holds no control character anywhere."""
    document = report.to_dict()
    assert CANARY not in json.dumps(document)
    for text in strings(document):
        assert not _CONTROL.search(text), repr(text[:200])
    assert len(json.dumps(document)) < 200_000


def assert_verdict(report: GradeReport, case: Case) -> None:
    if isinstance(case.score, int):
        assert report.score == case.score
    elif case.score is not None:
        assert report.score in case.score
    if case.status is not None:
        assert report.status is case.status
    found = categories(report)
    if case.problems is not None:
        if case.problems:
            assert found and found <= case.problems, report.problems
        else:
            assert not found, report.problems
    result = statuses(report)
    for name, status in case.checks.items():
        assert result[name] is status, (name, report.checks)
    for name in case.not_passed:
        assert result[name] is not CheckStatus.PASSED, name


def run_case(case: Case, sandbox: Any, kind: str, exercise: Exercise, tmp_path: Path,
             request: pytest.FixtureRequest, honest: Callable[..., None]) -> None:
    """Grade one hostile submission and check everything the sandbox of this ``kind`` promises."""
    weakness = next((case.xfail[label] for label in sorted(labels(kind)) if label in case.xfail), None)
    if weakness is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=weakness))
    promised = PROMISES[kind]
    mark = "bk" + uuid.uuid4().hex[:8]
    outside = tmp_path / f"outside-{mark}"
    outside.mkdir()
    (outside / "sentinel.txt").write_text("original")
    (outside / "keep.txt").write_text("keep me")
    outside_before = tree_digest(outside), outside.stat().st_mode
    target = build_kit(tmp_path / "kit") if case.private else exercise
    hidden_before = tree_digest(target.root.parent.parent)
    folder = make_folder(tmp_path, case, mark, outside)
    started = time.monotonic()
    try:
        try:
            report = grade(target, folder, sandbox=sandbox)
        except InfrastructureError:
            if not case.needs <= promised and "proc" in case.needs:
                return  # a same-user learner stopped the judge it can reach: no verdict, and nothing gained
            raise
        elapsed = time.monotonic() - started
        left = leftovers(mark)
        # what every sandbox promises
        assert elapsed < case.max_seconds, f"the grade took {elapsed:.1f} s"
        if case.needs <= promised:
            assert_verdict(report, case)
        assert_report_is_safe(report)
        if case.extra_check is not None:
            case.extra_check(report, kind, outside)
        if "escape" in promised or "escape" not in case.needs:
            assert not left, f"processes left behind: {left}"
        # what only some sandboxes promise
        if "outside" in promised:
            assert (tree_digest(outside), outside.stat().st_mode) == outside_before, "files outside changed"
        if "hidden" in promised:
            assert tree_digest(target.root.parent.parent) == hidden_before, "the hidden files changed"
            assert hashlib.sha256(CANARY.encode()).hexdigest() not in report.output, "the hidden checks were read"
        if case.honest_after:
            honest()
    finally:
        kill_marked(mark)
        for path in Path("/tmp").glob(f"bk-fill-{mark}-*"):
            path.unlink(missing_ok=True)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_submission(case: Case, sandbox: Any, exercise: Exercise, honest: Callable[..., None],
                            guard: None, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    run_case(case, sandbox, sandbox_kind(sandbox), exercise, tmp_path, request, honest)


#: Where the machine has bubblewrap, the process sandbox is confined; these cases also run without
#: it (as on a machine that has none), where the plain process sandbox must still give fair verdicts.
PLAIN_PROCESS_CASES = [
    case for case in CASES
    if case.needs or case.extra_check is check_found_hidden_files
    or ("process" in case.xfail and "process-confined" not in case.xfail)
]


@pytest.mark.slow
@pytest.mark.parametrize("case", PLAIN_PROCESS_CASES, ids=[case.id for case in PLAIN_PROCESS_CASES])
def test_hostile_submission_without_bubblewrap(case: Case, exercise: Exercise, honest_folder: Path,
                                               baselines: dict[str, Any], guard: None,
                                               tmp_path: Path, request: pytest.FixtureRequest,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.sandbox import process

    if getattr(process, "bubblewrap", None) is None or not process.bubblewrap():
        pytest.skip("the process sandbox is not confined here: test_hostile_submission covers it")
    monkeypatch.setattr(process, "bubblewrap", lambda: None)
    sandbox = process.ProcessSandbox()
    if "plain" not in baselines:
        baselines["plain"] = grade(exercise, honest_folder, sandbox=sandbox).verdict()

    def honest(*, force: bool = False) -> None:
        assert grade(exercise, honest_folder, sandbox=sandbox).verdict() == baselines["plain"]

    run_case(case, sandbox, "process", exercise, tmp_path, request, honest)


# --------------------------------------------------------------------------- special cases


@pytest.mark.parametrize("kind", ["oversized", "fifo", "directory", "symlink-to-dev-zero", "symlink-to-checks"])
def test_unreadable_or_oversized_app_is_rejected(kind: str, sandbox: Any, exercise: Exercise, tmp_path: Path,
                                                 honest: Callable[..., None]) -> None:
    """app.py that is too big, a FIFO (reading it would block), a folder or a symlink: rejected unread."""
    folder = tmp_path / "submission"
    folder.mkdir()
    app = folder / "app.py"
    if kind == "oversized":
        app.write_text(HELLO_SOLUTION + "#" * (1024 * 1024))
    elif kind == "fifo":
        os.mkfifo(app)
    elif kind == "directory":
        (app / "__init__.py").parent.mkdir()
        (app / "__init__.py").write_text(HELLO_SOLUTION)
    elif kind == "symlink-to-dev-zero":
        app.symlink_to("/dev/zero")
    else:
        app.symlink_to(exercise.checks_dir / "test_hello.py")
    started = time.monotonic()
    report = grade(exercise, folder, sandbox=sandbox)
    assert time.monotonic() - started < 15
    assert (report.status, report.score) == (Status.ERROR, 0)
    assert [p.category for p in report.problems] == [Category.REJECTED_FILE]
    assert all(c.status is CheckStatus.NOT_RUN for c in report.checks)
    assert_report_is_safe(report)


def test_missing_file_in_a_folder_named_with_escape_sequences(sandbox: Any, exercise: Exercise, tmp_path: Path,
                                                              honest: Callable[..., None]) -> None:
    """The folder's name is shown in the report: its escape sequences are not."""
    folder = tmp_path / "sub\x1b]0;pwned\x07\x1b[2Jmission"
    folder.mkdir()
    (folder / "App.py").write_text(HELLO_SOLUTION)
    report = grade(exercise, folder, sandbox=sandbox)
    assert [p.category for p in report.problems] == [Category.MISSING_FILE]
    assert report.score == 0
    assert "mission" in report.problems[0].message
    assert_report_is_safe(report)


@pytest.fixture
def host_service() -> Iterator[tuple[int, list[str]]]:
    """A service on the host listening on every address (like a database someone runs), and who called."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(16)
    server.settimeout(0.2)
    callers: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, address = server.accept()
            except OSError:
                continue
            callers.append(address[0])
            with contextlib.suppress(OSError):
                connection.sendall(b"HOST-SECRET\n")
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], callers
    stop.set()
    thread.join(2)
    server.close()


NETWORK_PROBE = '''
import socket
import threading


def gateway():
    try:
        with open("/proc/net/route") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1] == "00000000":
                    return socket.inet_ntoa(bytes.fromhex(fields[2])[::-1])
    except (OSError, IndexError, ValueError):
        pass
    return None


def probe(host, port):
    try:
        with socket.create_connection((host, port), timeout=1.5) as connection:
            print("NET-OK", host, port, connection.recv(64), flush=True)
    except OSError as exc:
        print("NET-NO", host, port, type(exc).__name__, flush=True)


def resolve():
    try:
        print("DNS-OK", socket.gethostbyname("example.com"), flush=True)
    except OSError as exc:
        print("DNS-NO", type(exc).__name__, flush=True)


TARGETS = [("1.1.1.1", 80), ("8.8.8.8", 53), ("127.0.0.1", PORT)] + ([(gateway(), PORT)] if gateway() else [])
for host, port in TARGETS:  # in the background: the app starts at once
    threading.Thread(target=probe, args=(host, port), daemon=True).start()
threading.Thread(target=resolve, daemon=True).start()
'''


def test_network_access(sandbox: Any, exercise: Exercise, honest: Callable[..., None], tmp_path: Path,
                        host_service: tuple[int, list[str]], request: pytest.FixtureRequest) -> None:
    """The container reaches its grade's services only: not the Internet, not the host's other services.
    The process sandbox does not promise it (documented); there the verdict alone must be fair."""
    port, callers = host_service
    from runner.sandbox.docker import firewall_available

    if sandbox.name == "docker" and not firewall_available():
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "The grade's network is --internal, but the host is its gateway (fakeredis listens there), so a "
            "host service listening on all addresses (0.0.0.0) is reachable from the container through the "
            "gateway's address; closing it takes iptables rules, which need root.")))
    mark = "bk" + uuid.uuid4().hex[:8]
    folder = tmp_path / "submission"
    folder.mkdir()
    source = textwrap.dedent(PRELUDE).replace("__MARK__", mark) + f"PORT = {port}\n" + NETWORK_PROBE + HELLO_STARTER
    (folder / "app.py").write_text(source)
    try:
        report = grade(exercise, folder, sandbox=sandbox)
        assert (report.status, report.score) == (Status.FAIL, 0)
        assert statuses(report)["test_hello"] is CheckStatus.FAILED
        assert "NET-" in report.output  # the probe ran
        assert_report_is_safe(report)
        assert not leftovers(mark)
        if "network" in PROMISES[sandbox_kind(sandbox)]:
            assert "NET-OK" not in report.output and "DNS-OK" not in report.output, report.output
            assert not callers, f"the container reached a host service from {callers}"
        honest()
    finally:
        kill_marked(mark)


LURK = '''
import os, stat, sys, time
FORGED, KIT = eval(sys.argv[1]), sys.argv[2]
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read()
            if b"runner.judge.plugin" not in argv or KIT.encode() not in argv:
                continue  # only the judges of this suite's exercise, never another run's
            fds = os.listdir(f"/proc/{pid}/fd")
        except (OSError, ValueError):
            continue
        for fd in fds:
            if fd in ("0", "1", "2"):
                continue
            try:
                target = os.open(f"/proc/{pid}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                # Only the judge's pipes: root in the plain sandbox could also rewrite the files it
                # has open (its pytest.ini, the modules it imports), which is not what this tests.
                if stat.S_ISFIFO(os.fstat(target).st_mode):
                    os.write(target, FORGED)
            except OSError:
                pass
            os.close(target)
    time.sleep(0.02)
'''

#: Leaves a process behind that scrubs its environment and closes its descriptors (documented as
#: escaping the process sandbox), and then forges results into the judges of later grades.
LURKER = FORGED_RESULTS + '''
import os
import sys

child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for n in range(3):
            os.dup2(null, n)
        os.closerange(3, 4096)
        os.execve(sys.executable, [sys.executable, "-c", LURK, repr(FORGED), KIT, MARK + "-l"], {})
    os._exit(0)
os.waitpid(child, 0)
'''


@pytest.mark.parametrize("plain", [False, True], ids=["as-configured", "without-bubblewrap"])
def test_escapee_cannot_touch_later_grades(plain: bool, sandbox: Any, exercise: Exercise, shared_kit: Path,
                                           tmp_path: Path, honest: Callable[..., None], guard: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that survives its grade (documented for the plain process sandbox when it scrubs its
    environment) and keeps forging results into the judges of later grades: an honest grade and a
    wrong one after it must still score what they deserve."""
    if plain:
        if sandbox_kind(sandbox) != "process-confined":
            pytest.skip("only where the process sandbox is confined: the plain one is covered as configured")
        from runner.sandbox import process

        monkeypatch.setattr(process, "bubblewrap", lambda: None)
    # Documented for the plain process sandbox (README): a process that scrubs its environment outlives
    # the grade, and a same-user (root) process can reach later judges' pipes through /proc.
    promised = PROMISES[sandbox_kind(sandbox)]
    mark = "bk" + uuid.uuid4().hex[:8]
    folder = tmp_path / "submission"
    folder.mkdir()
    source = textwrap.dedent(PRELUDE) + f"KIT = {str(shared_kit)!r}\nLURK = {LURK!r}\n" + LURKER + HELLO_STARTER
    (folder / "app.py").write_text(source.replace("__MARK__", mark))
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "app.py").write_text(HELLO_STARTER)
    try:
        first = grade(exercise, folder, sandbox=sandbox)
        assert_report_is_safe(first)
        if "proc" in promised:  # else the lurker forges into this grade's judge too (documented)
            assert (first.status, first.score) == (Status.FAIL, 0)
        if "escape" in promised:
            assert not leftovers(mark)
        if promised & (ESCAPE | PROC):
            honest(force=True)  # graded while the lurker (if any) is still around
            later = grade(exercise, wrong, sandbox=sandbox)
            assert (later.status, later.score) == (Status.FAIL, 0)
    finally:
        kill_marked(mark)


def test_honest_submission_keeps_its_verdict_at_the_end(sandbox: Any, honest: Callable[..., None]) -> None:
    """After every hostile submission of this module, the honest one still scores exactly the same."""
    honest(force=True)
