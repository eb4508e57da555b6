"""Batch grading: discovery, a 200-submission class graded once, killed and resumed, regrading on
change, and infrastructure faults recorded apart from learners' verdicts (real faults, no mocks)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner import batch
from runner.batch import BatchEvent, Job, choose_sandbox, discover, grade_job, run_batch
from runner.context import Grading, grading
from runner.entries import Entry, EntryState
from runner.errors import UsageError
from runner.exercises import find_exercise, kit_root
from runner.gradebook import Gradebook
from runner.results import Status
from runner.settings import load
from tests.synthetic_class import SECRET, Learner, make_class

EXERCISE = "01-bookmarks-api"
CLASS_SIZE = int(os.environ.get("BACKEND_KIT_CLASS_SIZE", "200"))
KIT = Path(__file__).resolve().parent.parent


def verdicts(entries: list[Entry]) -> dict[str, tuple[object, ...]]:
    """What must not change between runs: state, score, and each check's status (not durations)."""
    out: dict[str, tuple[object, ...]] = {}
    for entry in entries:
        report = entry.report
        out[entry.learner] = (entry.state.value, entry.score,
                              tuple((c.id, c.status.value) for c in report.checks) if report else ())
    return out


def gradebook_rows(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet


def runner_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "runner", "grade-batch", *args]


def kill_once_recorded(process: subprocess.Popen[bytes], book_path: Path, rows: int) -> dict[str, Entry]:
    """SIGKILL the batch's process group once its gradebook holds ``rows`` entries; the entries it held."""
    try:
        deadline = time.monotonic() + 600
        while gradebook_rows(book_path) < rows and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() is None, "the batch ended before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    with Gradebook(f"sqlite:///{book_path}") as book:
        return {e.learner: e for e in book.all_entries()}


def assert_resumed(book_path: Path, before: dict[str, Entry], expected: list[Entry]) -> None:
    """The resumed gradebook holds each of ``expected``'s learners once, with its verdict, and what was
    recorded before the kill was never graded again."""
    with Gradebook(f"sqlite:///{book_path}") as book:
        resumed = book.all_entries()
    assert len(resumed) == len({e.learner for e in resumed}) == len(expected)
    for entry in resumed:
        if entry.learner in before:
            assert entry.graded_at == before[entry.learner].graded_at  # recorded once, never regraded
    assert verdicts(resumed) == verdicts(expected)


# ------------------------------------------------------------------------------------ the class


@pytest.fixture(scope="module")
def klass() -> Iterator[tuple[Path, list[Learner]]]:
    """The synthetic class, outside /tmp (bubblewrap masks /tmp anyway: the snoop must be stopped by
    the batch's own hiding of the submissions folder)."""
    root = Path(tempfile.mkdtemp(prefix="bk-class-", dir="/var/tmp"))
    learners = make_class(root / "class", find_exercise(EXERCISE), CLASS_SIZE)
    yield root / "class", learners
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def uninterrupted(klass: tuple[Path, list[Learner]]) -> tuple[list[Entry], list[BatchEvent]]:
    """The class graded once, in this process, without interruption (reused by several tests)."""
    folder, _ = klass
    events: list[BatchEvent] = []
    with Gradebook(f"sqlite:///{folder.parent / 'uninterrupted.sqlite'}") as book, \
            grading(load(kit_root(), provider="embedded"), "process") as context:
        summary = run_batch(discover(folder, EXERCISE), book, context, jobs_n=2, retries=1, on_event=events.append)
        entries = book.entries()
    assert summary.total == CLASS_SIZE
    assert summary.skipped == 0
    return entries, events


@pytest.mark.slow
def test_the_class_is_graded_with_one_entry_each_and_the_right_verdicts(klass, uninterrupted):
    """Every learner has one entry; correct ones get full marks, bugs and broken ones do not, hostile ones
    neither escape nor read another submission, and nothing is an infrastructure error."""
    folder, learners = klass
    entries, _ = uninterrupted
    by_learner = {e.learner: e for e in entries}
    assert sorted(by_learner) == sorted(learner.name for learner in learners)
    infra = {e.learner: e.error for e in entries if not e.graded}
    assert infra == {}
    for learner in learners:
        report = by_learner[learner.name].report
        assert report is not None
        if learner.kind in ("correct", "huge-output", "escape", "snoop"):  # hostile, else correct
            assert report.status is Status.PASS, learner
        else:
            assert report.status is not Status.PASS, learner
    snoop = next(by_learner[x.name] for x in learners if x.kind == "snoop").report
    assert snoop is not None and "SNOOP-DENIED" in snoop.output and SECRET not in snoop.output
    escape = next(by_learner[x.name] for x in learners if x.kind == "escape").report
    # Writes land in the sandbox's own throwaway mounts, never on the machine's disk.
    assert escape is not None and "ESCAPE-DENIED" in escape.output
    assert not Path("/escaped-bk.txt").exists() and not (folder / "escaped.txt").exists()
    huge = next(by_learner[x.name] for x in learners if x.kind == "huge-output").report
    assert huge is not None and huge.output_truncated and len(huge.output) < 100_000


@pytest.mark.slow
def test_a_batch_sigkilled_midway_resumes_to_the_uninterrupted_gradebook(klass, uninterrupted, tmp_path):
    """SIGKILL of the runner's process group mid-batch, then the same command again: the gradebook equals
    the uninterrupted run's, each learner once, and what was recorded before the kill is not regraded."""
    folder, _ = klass
    book_path = tmp_path / "resumed.sqlite"
    args = runner_command(str(folder), "--exercise", EXERCISE, "--jobs", "2", "--retries", "1",
                          "--gradebook", f"sqlite:///{book_path}", "--sandbox", "process", "--json")
    first = subprocess.Popen(args, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    target = max(5, CLASS_SIZE // 4)
    before = kill_once_recorded(first, book_path, target)
    assert target <= len(before) < CLASS_SIZE
    rerun = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["skipped"] == len(before)
    assert summary["graded"] + summary["infrastructure_errors"] == CLASS_SIZE - len(before)
    expected, _ = uninterrupted
    assert len(expected) == CLASS_SIZE
    assert_resumed(book_path, before, expected)


#: Learners of the class sent to Celery workers: the first ones hold every special case (broken,
#: hostile, each bug); the whole class on workers would double the slow tests' time.
CELERY_SIZE = int(os.environ.get("BACKEND_KIT_CELERY_CLASS_SIZE", "36"))


@pytest.mark.slow
def test_a_celery_batch_killed_with_a_worker_resumes_to_the_uninterrupted_gradebook(
        klass, uninterrupted, redis_broker, tmp_path):
    """`grade-batch --engine celery` on two real workers: one worker SIGKILLed mid-grade and the collector
    SIGKILLed mid-batch, then the same command again: the gradebook equals the local uninterrupted run's
    for the same learners, each once; the killed worker's task was graded by the other worker."""
    from .celery_workers import kill_mid_task, workers

    folder, learners = klass
    chosen = learners[:CELERY_SIZE]
    manifest = tmp_path / "subset.csv"
    rows = ["learner,exercise,path"]
    for learner in chosen:
        (path,) = [p for p in folder.iterdir() if batch.learner_name(p) == learner.name]
        rows.append(f"{learner.name},{EXERCISE},{path.name}")
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    book_path = tmp_path / "celery.sqlite"
    args = runner_command(str(folder), "--manifest", str(manifest), "--engine", "celery", "--broker", redis_broker,
                          "--gradebook", f"sqlite:///{book_path}", "--json")
    with workers(redis_broker, tmp_path) as started:
        (w1, w1_log), (_, w2_log) = started
        first = subprocess.Popen(args, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            victim = kill_mid_task(w1, w1_log)
        finally:
            before = kill_once_recorded(first, book_path, 5)
        assert 5 <= len(before) < CELERY_SIZE
        rerun = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert victim in w2_log.read_text(errors="replace"), "the killed worker's task went to the other worker"
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["skipped"] == len(before)
    everyone, _ = uninterrupted
    names = {learner.name for learner in chosen}
    expected = [entry for entry in everyone if entry.learner in names]
    assert len(expected) == CELERY_SIZE
    assert_resumed(book_path, before, expected)


# ------------------------------------------------------------------------------------ discovery


def test_discover_reads_folders_archives_assignments_and_manifests(tmp_path):
    """<learner> folders and archives with --exercise, <exercise>/<learner> folders, a CSV and a TOML
    manifest, and all of it inside an archive."""
    subs = tmp_path / "subs"
    (subs / "ada").mkdir(parents=True)
    (subs / "ada" / "app.py").write_text("x = 1\n")
    with zipfile.ZipFile(subs / "bob.zip", "w") as archive:
        archive.writestr("bob/app.py", "x = 2\n")
    (subs / "README.txt").write_text("ignored\n")
    jobs = discover(subs, EXERCISE)
    assert [(j.learner, j.exercise, j.source.name) for j in jobs] == [
        ("ada", EXERCISE, "ada"), ("bob", EXERCISE, "bob.zip")]

    assignment = tmp_path / "assignment"
    shutil.copytree(subs, assignment / EXERCISE)
    (assignment / "02-library-schema" / "cy").mkdir(parents=True)
    assert [(j.learner, j.exercise) for j in discover(assignment)] == [
        ("ada", EXERCISE), ("bob", EXERCISE), ("cy", "02-library-schema")]

    csv_manifest = tmp_path / "m.csv"
    csv_manifest.write_text(f"learner,exercise,path\nzed,{EXERCISE},ada\nyan,02,bob.zip\n")
    assert [(j.learner, j.exercise, j.source) for j in discover(subs, manifest=csv_manifest)] == [
        ("zed", EXERCISE, subs / "ada"), ("yan", "02-library-schema", subs / "bob.zip")]
    toml_manifest = tmp_path / "m.toml"
    toml_manifest.write_text(f'[[submission]]\nlearner = "zed"\nexercise = "{EXERCISE}"\npath = "ada"\n')
    assert [j.learner for j in discover(subs, manifest=toml_manifest)] == ["zed"]

    packed = tmp_path / "assignment.tar.gz"
    shutil.make_archive(str(packed).removesuffix(".tar.gz"), "gztar", assignment)
    assert [(j.learner, j.exercise) for j in discover(packed)] == [
        ("ada", EXERCISE), ("bob", EXERCISE), ("cy", "02-library-schema")]


def test_discover_refuses_empty_unknown_and_duplicate(tmp_path):
    """Clear usage errors: an empty folder, an unknown exercise (folder or option), a learner twice."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no submissions"):
        discover(empty, EXERCISE)
    (tmp_path / "a" / "ada").mkdir(parents=True)
    with pytest.raises(UsageError, match="unknown exercise"):
        discover(tmp_path / "a", "99-nope")
    (tmp_path / "b" / "99-nope" / "ada").mkdir(parents=True)
    with pytest.raises(UsageError, match="is not an exercise"):
        discover(tmp_path / "b")
    with zipfile.ZipFile(tmp_path / "a" / "ada.zip", "w") as archive:
        archive.writestr("app.py", "x = 1\n")
    with pytest.raises(UsageError, match="two submissions for learner 'ada'"):
        discover(tmp_path / "a", EXERCISE)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"learner,exercise,path\nada,{EXERCISE},ada\nada,{EXERCISE},ada.zip\n")
    with pytest.raises(UsageError, match="two submissions"):
        discover(tmp_path / "a", manifest=manifest)


# ------------------------------------------------------------------------------------ sandbox choice


def test_the_unconfined_process_sandbox_is_refused_without_the_flag(tmp_path, monkeypatch):
    """Without bubblewrap the process sandbox is refused for a batch (exit 2, saying what it would give
    up) unless --unconfined; its help says what that gives up."""
    monkeypatch.setenv("BACKEND_KIT_BUBBLEWRAP", "0")
    from runner.sandbox import process

    process.bubblewrap.cache_clear()
    try:
        with pytest.raises(UsageError, match="read the other submissions"):
            choose_sandbox("process", unconfined=False)
        assert choose_sandbox("process", unconfined=True) == "process"
    finally:
        process.bubblewrap.cache_clear()
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    env = {**os.environ, "BACKEND_KIT_BUBBLEWRAP": "0"}
    refused = subprocess.run(runner_command(str(tmp_path / "subs"), "--exercise", EXERCISE, "--sandbox", "process",
                                            "--gradebook", f"sqlite:///{tmp_path / 'g.sqlite'}"),
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "--unconfined" in refused.stderr and "other submissions" in refused.stderr
    assert not (tmp_path / "g.sqlite").exists()
    helptext = subprocess.run(runner_command("--help"), capture_output=True, text=True).stdout
    assert "--unconfined" in helptext and "hidden checks" in helptext


# ------------------------------------------------------------------------------------ changes


def _copy_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "kit"
    shutil.copytree(KIT / "exercises" / EXERCISE, root / "exercises" / EXERCISE)
    shutil.copytree(KIT / "solutions" / EXERCISE, root / "solutions" / EXERCISE)
    monkeypatch.setenv("BACKEND_KIT_ROOT", str(root))
    return root


def test_changed_submissions_and_changed_checks_are_regraded_the_same_skipped(tmp_path, monkeypatch):
    """A rerun skips unchanged submissions, grades a changed one, and grades all again when a check changes."""
    root = _copy_kit(tmp_path, monkeypatch)
    subs = tmp_path / "subs"
    solution = (root / "solutions" / EXERCISE / "app.py").read_text()
    for name in ("ada", "bob"):
        (subs / name).mkdir(parents=True)
        (subs / name / "app.py").write_text(f"# {name}\n{solution}")
    book = Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}")

    def run() -> tuple[int, int]:
        with grading(load(root, provider="embedded"), "process") as context:
            summary = run_batch(discover(subs, EXERCISE), book, context, jobs_n=2)
        return summary.graded, summary.skipped

    assert run() == (2, 0)
    assert run() == (0, 2)
    (subs / "bob" / "app.py").write_text(f"# bob, second try\n{solution}")
    assert run() == (1, 1)
    check = next((root / "exercises" / EXERCISE / "checks").glob("test_*.py"))
    check.write_text(check.read_text() + "\n# a check changed\n")
    assert run() == (2, 0)
    latest = book.entries()
    assert [e.learner for e in latest] == ["ada", "bob"]
    assert len(book.all_entries()) == 5
    assert len({e.exercise_hash for e in latest}) == 1
    book.close()


# ------------------------------------------------------------------------------------ faults


def _small_class(tmp_path: Path, names: list[str]) -> Path:
    subs = tmp_path / "subs"
    solution = (KIT / "solutions" / EXERCISE / "app.py").read_text()
    for name in names:
        (subs / name).mkdir(parents=True)
        (subs / name / "app.py").write_text(f"# {name}\n{solution}")
    return subs


def _states(entries: list[Entry]) -> dict[str, str]:
    return {e.learner: e.state.value if not e.graded else f"{e.score}/{e.max_score}" for e in entries}


def test_a_full_disk_is_an_infrastructure_error_for_the_submission_hit(tmp_path, monkeypatch):
    """TMPDIR on a small tmpfs, filled while one submission is graded: that one is an infrastructure
    error after its retries, the others are graded normally."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(small)], check=True)
    try:
        monkeypatch.setenv("TMPDIR", str(small))
        tempfile.tempdir = None
        subs = _small_class(tmp_path, ["ada", "bob", "cy"])
        filler = small / "filler"

        def on_event(event: BatchEvent) -> None:
            if event.kind == "started" and event.job.learner == "bob":
                with open(filler, "wb") as out:  # a real ENOSPC: write until the disk is full
                    try:
                        while True:
                            out.write(b"\0" * (1 << 20))
                    except OSError:
                        pass
            elif event.kind == "finished" and event.job.learner == "bob":
                filler.unlink()

        with Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}") as book, \
                grading(load(kit_root(), provider="embedded"), "process") as context:
            summary = run_batch(discover(subs, EXERCISE), book, context, jobs_n=1, retries=1, on_event=on_event)
            entries = book.entries()
        states = _states(entries)
        assert states["bob"] == "infrastructure_error"
        assert states["ada"] == states["cy"] == "34/34"
        bob = next(e for e in entries if e.learner == "bob")
        assert "disk" in bob.error and bob.attempts == 2 and bob.report is None
        assert summary.infrastructure_errors == 1 and summary.graded == 2
    finally:
        tempfile.tempdir = None
        subprocess.run(["umount", "-l", str(small)], check=False)


def _kill_judges_while(active: dict[str, bool]) -> None:
    """SIGKILL every judge process of this test's grades while ``active['on']`` (from outside, as an
    OOM killer or an operator would)."""
    me = os.getpid()
    while active.get("run", True):
        if active.get("on"):
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    stat = Path(f"/proc/{pid}/stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == me and b"runner.judge.plugin" in cmdline:
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.05)


def test_a_killed_judge_is_retried_then_an_infrastructure_error(tmp_path):
    """The judge SIGKILLed from outside on every attempt of one submission: that entry is an
    infrastructure error with the judge's failure; the rest are graded."""
    subs = _small_class(tmp_path, ["ada", "bob", "cy"])
    active: dict[str, bool] = {"on": False, "run": True}
    attempts_killed = {"cy": 0}

    def on_event(event: BatchEvent) -> None:
        if event.kind == "started":
            active["on"] = event.job.learner == "bob"
        if event.kind == "finished":
            active["on"] = False

    killer = threading.Thread(target=_kill_judges_while, args=(active,), daemon=True)
    killer.start()
    try:
        with Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}") as book, \
                grading(load(kit_root(), provider="embedded"), "process") as context:
            run_batch(discover(subs, EXERCISE), book, context, jobs_n=1, retries=1, on_event=on_event)
            entries = book.entries()
    finally:
        active["run"] = False
        killer.join()
    states = _states(entries)
    assert states == {"ada": "34/34", "bob": "infrastructure_error", "cy": "34/34"}, attempts_killed
    bob = next(e for e in entries if e.learner == "bob")
    assert "judge" in bob.error and bob.attempts == 2


def test_an_unreachable_service_is_an_infrastructure_error_not_a_zero(tmp_path):
    """The url provider pointed at a PostgreSQL that is not there: every submission is an infrastructure
    error (retried), none is a learner's zero, and the CLI exits 3."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the probe is: nothing listens there
    subs = _small_class(tmp_path, ["ada", "bob"])
    result = subprocess.run(
        runner_command(str(subs), "--exercise", EXERCISE, "--provider", "url", "--database-url",
                       f"postgresql://postgres:x@127.0.0.1:{port}/postgres", "--sandbox", "process", "--retries", "1",
                       "--gradebook", f"sqlite:///{tmp_path / 'g.sqlite'}", "--json"),
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    with Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}") as book:
        entries = book.entries()
    if result.returncode != 3 or not entries:
        pytest.fail(f"exit {result.returncode}: {result.stdout[-1500:]} {result.stderr[-1500:]}")
    assert {e.learner: e.state for e in entries} == {"ada": EntryState.INFRASTRUCTURE_ERROR,
                                                      "bob": EntryState.INFRASTRUCTURE_ERROR}
    assert all(e.score is None and e.attempts == 2 for e in entries)


def test_grade_job_grades_once_and_a_learners_missing_file_is_their_verdict(tmp_path):
    """grade_job: a correct submission is graded in one attempt; an empty folder is the learner's
    verdict (a missing file, 0 points), not an infrastructure error, and is not retried."""
    subs = _small_class(tmp_path, ["ada"])
    (subs / "bob").mkdir()
    with grading(load(kit_root(), provider="embedded"), "process") as context:
        assert isinstance(context, Grading)
        ada = grade_job(Job("ada", EXERCISE, subs / "ada"), context)
        bob = grade_job(Job("bob", EXERCISE, subs / "bob"), context)
    assert ada.graded and ada.attempts == 1 and ada.score == ada.max_score
    assert bob.graded and bob.attempts == 1 and bob.score == 0 and bob.report is not None
    assert [p.category.value for p in bob.report.problems] == ["missing_file"]


class SocketProxy:
    """A proxy to a Unix socket or a TCP port that can be cut and restored: a service or the Docker
    engine becoming unreachable mid-batch, without stopping what other test runs share."""

    def __init__(self, listen: Path | int, target: str | tuple[str, int]) -> None:
        self.listen, self.target = listen, target
        self._connections: list[socket.socket] = []
        self._server: socket.socket | None = None
        self.up()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.getsockname()[1])

    def up(self) -> None:
        if isinstance(self.listen, Path):
            server = socket.socket(socket.AF_UNIX)
            self.listen.unlink(missing_ok=True)
            server.bind(str(self.listen))
        else:
            server = socket.socket()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", self.listen))
            self.listen = int(server.getsockname()[1])  # the same port when restored
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX) if isinstance(self.target, str) else socket.socket()
            engine.connect(self.target)
            self._connections += [client, engine]
            for a, b in ((client, engine), (engine, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def down(self) -> None:
        """Cut: the listener and every open connection closed (a Unix socket's file removed)."""
        if self._server is not None:
            with contextlib.suppress(OSError):  # wakes the accept() blocked in its thread (close alone does not)
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self._connections.clear()
        if isinstance(self.listen, Path):
            self.listen.unlink(missing_ok=True)


def _cut_during(proxy: SocketProxy, learner: str) -> Callable[[BatchEvent], None]:
    def on_event(event: BatchEvent) -> None:
        if event.job.learner == learner:
            if event.kind == "started":
                proxy.down()
            elif event.kind == "finished":
                proxy.up()

    return on_event


@pytest.mark.docker
def test_docker_unreachable_mid_batch_is_an_infrastructure_error_for_the_one_hit(tmp_path, monkeypatch):
    """The docker sandbox through a socket that is cut while one submission is graded: that one is an
    infrastructure error after its retries; before and after it, submissions are graded in containers."""
    from tests.conftest import require_docker

    require_docker()
    proxy = SocketProxy(tmp_path / "docker.sock", "/var/run/docker.sock")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    subs = _small_class(tmp_path, ["ada", "bob", "cy"])
    on_event = _cut_during(proxy, "bob")
    try:
        with Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}") as book, \
                grading(load(kit_root(), provider="embedded"), "docker") as context:
            run_batch(discover(subs, EXERCISE), book, context, jobs_n=1, retries=1, on_event=on_event)
            entries = book.entries()
    finally:
        proxy.down()
    assert _states(entries) == {"ada": "34/34", "bob": "infrastructure_error", "cy": "34/34"}
    bob = next(e for e in entries if e.learner == "bob")
    assert bob.attempts == 2 and any(word in bob.error for word in ("network", "container", "Docker")), bob.error


@pytest.mark.docker
def test_a_database_server_lost_mid_batch_is_an_infrastructure_error_for_the_one_hit(tmp_path):
    """The url provider's PostgreSQL (the docker provider's own containers) cut off while one submission
    is graded: that one is an infrastructure error, those before and after are graded on PostgreSQL."""
    from runner.services.docker import DockerProvider
    from tests.conftest import require_docker

    require_docker()
    provider = DockerProvider(load(None, provider="docker"), instance=f"batch-{os.getpid()}")
    admin_url, _ = provider.up()
    try:
        credentials, _, rest = admin_url.removeprefix("postgresql://").partition("@")
        port = int(rest.split("/")[0].rsplit(":", 1)[1])
        proxy = SocketProxy(0, ("127.0.0.1", port))
        url = f"postgresql://{credentials}@127.0.0.1:{proxy.port}/postgres"
        subs = _small_class(tmp_path, ["ada", "bob", "cy"])
        try:
            with Gradebook(f"sqlite:///{tmp_path / 'g.sqlite'}") as book, \
                    grading(load(kit_root(), provider="url", database_url=url), "process") as context:
                run_batch(discover(subs, EXERCISE), book, context, jobs_n=1, retries=1,
                          on_event=_cut_during(proxy, "bob"))
                entries = book.entries()
        finally:
            proxy.down()
    finally:
        provider.down()
    assert _states(entries) == {"ada": "34/34", "bob": "infrastructure_error", "cy": "34/34"}, \
        [e.error for e in entries]
    assert {e.report.backend for e in entries if e.report is not None} == {"server"}
