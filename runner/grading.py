"""The grading orchestrator: workspace, services, learner process, judge process, report.

One grade::

    submission ──copy declared files──▶ fresh workspace ──▶ learner process (runner.host)
                                                               ▲ HTTP / protocol
    services (own DB + Redis) ◀── own connections ── judge process (pytest + runner.judge.plugin)
                                                               │ results pipe (JSON lines)
                                                  this module ◀┘ ──▶ scoring ──▶ GradeReport

The learner's process and the judge start in parallel; the judge learns the learner's address on a
pipe once it is ready. Time limits are enforced from here with SIGKILL of whole process groups: a
check past its limit is recorded as a timeout and grading resumes after it with fresh processes,
keeping every result recorded before; past the grade's limit, what is left is not run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, textsafe
from .archive import ArchiveError, is_archive, unpack
from .catalog import EntryKind
from .errors import InfrastructureError
from .exercises import Exercise
from .proxy import stub_source
from .results import Category, CheckSpec, CheckStatus, GradeReport, Outcome, Problem
from .sandbox import GradeSandbox, LearnerProcess, Sandbox
from .sandbox.process import (
    DEFAULT_LIMITS,
    ProcessSandbox,
    SandboxedProcess,
    channel,
    clean_environment,
    make_undumpable,
    python_command,
)
from .scoring import BLOCKING, build_report
from .services import GradeServices, ServiceProvider
from .services.embedded import EmbeddedProvider

MAX_FILE_BYTES = 1024 * 1024
#: What a grade may write to the host's disk (workspace, temporary and database folders together).
DISK_QUOTA = 256 * 1024 * 1024
DISK_QUOTA_FILES = 20_000
STARTUP_TIMEOUT = 20.0
JUDGE_INI = Path(__file__).with_name("judge") / "pytest.ini"


@dataclass(frozen=True)
class Submission:
    """The files a learner is meant to write, read from a folder; problems instead of exceptions."""

    files: dict[str, bytes]
    problems: tuple[Problem, ...]

    @property
    def digest(self) -> str:
        sha = hashlib.sha256()
        for name in sorted(self.files):
            sha.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        return sha.hexdigest()


def read_submission(exercise: Exercise, path: Path, scratch: Path | None = None) -> Submission:
    """The declared files of a submission folder, or of an archive unpacked safely into ``scratch``.

    A git repository is a folder like any other: its work tree is read, its ``.git`` never is.
    """
    problems: list[Problem] = []
    folder = path
    if path.is_file():
        if scratch is None or not is_archive(path):
            return Submission({}, (Problem(Category.REJECTED_FILE,
                                           f"{textsafe.clean(path.name)} is neither a folder nor an archive "
                                           "(.zip, .tar, .tar.gz, .tar.bz2, .tar.xz)."),))
        try:
            unpacked = unpack(path, scratch)
        except ArchiveError as exc:
            return Submission({}, (Problem(Category.REJECTED_FILE, textsafe.short(str(exc))),))
        folder = unpacked.folder
        declared = set(exercise.meta.files)
        for message in unpacked.rejected:
            blocking = any(f"'{name}'" in message for name in declared)
            category = Category.REJECTED_FILE if blocking else Category.IGNORED_FILE
            problems.append(Problem(category, textsafe.short(message)))
        if any(p.category is Category.REJECTED_FILE for p in problems):
            return Submission({}, tuple(problems))
    submission = _read_folder(exercise, folder, path.name)
    return Submission(submission.files, (*problems, *submission.problems))


def _read_folder(exercise: Exercise, folder: Path, shown_as: str) -> Submission:
    files: dict[str, bytes] = {}
    problems: list[Problem] = []
    for name in exercise.meta.files:
        path = folder / name
        shown = textsafe.clean(name)
        if path.is_symlink():
            problems.append(Problem(Category.REJECTED_FILE, f"{shown} is a symbolic link; submit a regular file."))
        elif not path.exists():
            problems.append(Problem(Category.MISSING_FILE, f"{shown} is missing from {textsafe.clean(shown_as)}."))
        elif not path.is_file():
            problems.append(Problem(Category.REJECTED_FILE, f"{shown} is not a regular file."))
        elif path.stat().st_size > MAX_FILE_BYTES:
            problems.append(
                Problem(Category.REJECTED_FILE, f"{shown} is larger than {MAX_FILE_BYTES // 1024} KiB.")
            )
        else:
            try:
                files[name] = path.read_bytes()
            except OSError as exc:
                problems.append(Problem(Category.REJECTED_FILE, f"{shown} cannot be read ({exc.strerror})."))
    return Submission(files, tuple(problems))


def syntax_problems(files: Mapping[str, bytes]) -> list[Problem]:
    """Compile (never run) each Python file, so a syntax error is reported with its line."""
    problems = []
    for name, data in files.items():
        if not name.endswith(".py"):
            continue
        try:
            compile(data, name, "exec", dont_inherit=True)
        except SyntaxError as exc:
            line = (exc.text or "").rstrip("\n")
            caret = " " * max((exc.offset or 1) - 1, 0) + "^" if line else ""
            details = f"{line}\n{caret}" if line else ""
            problems.append(
                Problem(Category.SYNTAX_ERROR, f"{name}, line {exc.lineno}: {exc.msg}", textsafe.clean(details))
            )
        except ValueError as exc:  # e.g. null bytes in the source
            problems.append(Problem(Category.SYNTAX_ERROR, f"{name}: {exc}"))
        except (RecursionError, MemoryError, OverflowError):
            problems.append(Problem(Category.SYNTAX_ERROR,
                                    f"{name}: too deeply nested or too large for Python to compile"))
    return problems


def grade_seed(exercise: Exercise, digest: str) -> int:
    """Seeded per exercise and submission (plus an optional instructor secret): reruns agree,
    and two learners get different data, so answers cannot be shared or hard-coded."""
    secret = os.environ.get("BACKEND_KIT_SECRET", "")
    return int.from_bytes(hashlib.sha256(f"{exercise.slug}:{digest}:{secret}".encode()).digest()[:6], "big")


@dataclass
class _Attempt:
    """One learner process + one judge process; a grade has several if a check times out."""

    learner: LearnerProcess
    judge: SandboxedProcess
    ready_fd: int | None
    results_fd: int | None
    endpoint_fd: int | None
    learner_config: dict[str, str] = field(default_factory=dict)
    workdir: Path = Path()
    buffer: bytes = b""
    ready_buffer: bytes = b""


@dataclass
class _Progress:
    manifest: list[CheckSpec] | None = None
    recorded: dict[str, Outcome] = field(default_factory=dict)
    failed_gates: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    current: str | None = None
    current_deadline: float | None = None
    #: The judge may start the first check while the learner's program is still starting: that
    #: check's clock starts only once the program is ready (start-up has its own limit).
    learner_ready: bool = False
    judge_output: list[str] = field(default_factory=list)


class Grader:
    """Grades submissions of one exercise on one provider; reusable for many grades."""

    def __init__(self, exercise: Exercise, provider: ServiceProvider | None = None,
                 sandbox: Sandbox | None = None) -> None:
        self.exercise = exercise
        self.provider: ServiceProvider = provider or EmbeddedProvider()
        self.sandbox: Sandbox = sandbox or ProcessSandbox()
        make_undumpable()

    # ------------------------------------------------------------------ public

    def grade(self, folder: Path, *, seed: int | None = None) -> GradeReport:
        started = time.monotonic()
        workdir = Path(tempfile.mkdtemp(prefix="backend-kit-grade-"))
        learner_output: list[LearnerProcess] = []
        services: GradeServices | None = None
        box: GradeSandbox | None = None
        try:
            submission = read_submission(self.exercise, folder, workdir / "unpacked")
            problems = list(submission.problems)
            if not any(p.category in BLOCKING for p in problems):
                problems.extend(syntax_problems(submission.files))
            seed = grade_seed(self.exercise, submission.digest) if seed is None else seed
            for sub in ("workspace", "judge", "tmp"):
                (workdir / sub).mkdir()
            meta = self.exercise.meta
            box = self.sandbox.open(workdir, hidden=self._hidden_folders())
            services = self.provider.acquire(workdir, database=meta.services.database, redis=meta.services.redis,
                                             template=self.exercise.slug, listen_host=box.service_host)
            progress = _Progress(problems=problems)
            if any(p.category in BLOCKING for p in problems):
                self._collect_manifest(workdir, services, seed, progress)
            else:
                self._stage(workdir / "workspace", submission.files)
                # The time limit is the learner's: it starts once the sandbox (a first image build)
                # and the services (containers starting) are ready, not before.
                self._run(workdir, services, box, seed, time.monotonic(), progress, learner_output)
            redact = self._redactor()
            output, truncated = self._output(learner_output, redact)
            progress.problems = [Problem(p.category, redact(p.message), redact(p.details)) for p in progress.problems]
            progress.recorded = {key: _redacted(outcome, redact) for key, outcome in progress.recorded.items()}
            assert progress.manifest is not None
            return build_report(
                exercise=self.exercise.slug,
                backend=services.backend,
                manifest=progress.manifest,
                recorded=progress.recorded,
                problems=progress.problems,
                not_run_reason=self._not_run_reason(progress.problems),
                output=output,
                output_truncated=truncated,
                duration=time.monotonic() - started,
                submission_hash=submission.digest,
                seed=seed,
                runner_version=__version__,
                services=dict(services.details),
            )
        finally:
            for process in learner_output:
                process.kill()
            if services is not None:
                self.provider.release(services)
            if box is not None:
                box.close()
            shutil.rmtree(workdir, ignore_errors=True)

    def _hidden_folders(self) -> list[Path]:
        """What learner code must not see: every exercise's folder (hidden checks) and the solutions."""
        return [self.exercise.root.parent.resolve(), self.exercise.solutions_root.resolve()]

    def _redactor(self) -> textsafe.Redactor:
        """Hidden check files and the reference solution: never to be echoed back to a learner."""
        texts = []
        folders = [self.exercise.checks_dir, self.exercise.solution_dir]
        for folder in folders:
            if folder.is_dir():
                for path in folder.rglob("*"):
                    if path.is_file() and path.suffix in (".py", ".toml", ".json", ".txt"):
                        texts.append(path.read_text(encoding="utf-8", errors="replace"))
        starter = {str(p) for p in self.exercise.starter_files().values()}
        literals = [literal for text in texts for literal in textsafe.string_literals(text)]
        redactor = textsafe.Redactor(texts, literals=literals)
        # Lines the learner was given anyway (starter code) are not secrets.
        given = {line.strip() for text in starter for line in text.splitlines()}
        everything_given = "\n".join(starter)
        redactor.lines = [line for line in redactor.lines if line not in given and line not in everything_given]
        return redactor

    # ------------------------------------------------------------------ staging

    def _stage(self, workspace: Path, files: Mapping[str, bytes]) -> None:
        """Only the declared learner files, plus the exercise's support files, reach the workspace."""
        meta = self.exercise.meta
        for name in meta.support_files:
            source = self.exercise.starter_dir / name
            target = workspace / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        if meta.entry.kind is EntryKind.TESTS:
            # The module under test is replaced by a proxy: its implementations stay in the judge.
            module_file = workspace / (meta.entry.target.replace(".", "/") + ".py")
            module_file.parent.mkdir(parents=True, exist_ok=True)
            module_file.write_text(stub_source(meta.entry.target, list(meta.entry.functions)))
        for name, data in files.items():
            target = workspace / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def _host_spec(self, workspace: Path, services: GradeServices) -> dict[str, Any]:
        meta = self.exercise.meta
        test_files = [name for name in meta.files if Path(name).name.startswith("test_")]
        return {
            "kind": meta.entry.kind.value,
            "target": meta.entry.target,
            "functions": list(meta.entry.functions),
            "config": services.config(),
            # CPU seconds: the wall clock already bounds a grade; this stops a spinning process that
            # somehow outlived it, and a tight loop in a fork the wall clock does not watch.
            "limits": {**DEFAULT_LIMITS, "cpu": int(meta.time_limit) + 10},
            "test_files": test_files,
        }

    # ------------------------------------------------------------------ processes

    def _start_learner(self, workdir: Path, services: GradeServices, box: GradeSandbox,
                       learner_config: dict[str, str]) -> LearnerProcess:
        spec = self._host_spec(workdir / "workspace", services)
        spec["config"] = learner_config
        env = clean_environment(learner_config, tmpdir=workdir / "tmp", home=workdir / "workspace")
        try:
            return box.launch(workdir, spec, env)
        except OSError as exc:
            raise InfrastructureError(f"could not start the learner's program: {exc}") from None

    def _start_judge(self, workdir: Path, services: GradeServices, seed: int, progress: _Progress, *,
                     collect_only: bool = False, impl_host: str = "127.0.0.1",
                     impl_port: int = 0) -> tuple[SandboxedProcess, int, int]:
        # Socket pairs, not pipes: a pipe can be reopened for writing through /proc/<pid>/fd/N by any
        # process of the same user (even root through a confinement), a socket cannot (ENXIO).
        results_read, results_write = channel()
        endpoint_read, endpoint_write = channel()
        spec_read, spec_write = channel()
        spec = {
            "results_fd": results_write,
            "endpoint_fd": endpoint_read,
            "database_url": services.judge_database,
            "redis_url": services.judge_redis,
            "seed": seed,
            "default_timeout": self.exercise.meta.check_timeout,
            "request_timeout": min(5.0, self.exercise.meta.check_timeout),
            "call_timeout": self.exercise.meta.check_timeout,
            "test_run_timeout": self.exercise.meta.check_timeout,
            "impl_host": impl_host,
            "impl_port": impl_port,
            "done": sorted(progress.recorded),
            "failed_gates": list(progress.failed_gates),
            "collect_only": collect_only,
        }
        # The spec goes on a descriptor too: a file could be rewritten before the judge reads it.
        data = json.dumps(spec).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(spec_write, view):]
        os.close(spec_write)
        env = clean_environment(
            {"BACKEND_KIT_JUDGE_SPEC_FD": str(spec_read), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
            tmpdir=workdir / "judge",
            home=workdir / "judge",
        )
        checks = self.exercise.checks_dir.resolve()
        # --confcutdir: no conftest.py above the checks folder (a planted /tmp/conftest.py) is loaded.
        argv = python_command(
            "-m", "pytest", str(checks), "-p", "runner.judge.plugin", "-c", str(JUDGE_INI),
            "--rootdir", str(checks), "--confcutdir", str(checks), "-p", "no:cacheprovider", "-q", "--no-header",
        )
        try:
            process = SandboxedProcess(argv, cwd=workdir / "judge", env=env,
                                       pass_fds=(results_write, endpoint_read, spec_read))
        except OSError as exc:
            raise InfrastructureError(f"could not start the judge: {exc}") from None
        finally:
            os.close(results_write)
            os.close(endpoint_read)
            os.close(spec_read)
        return process, results_read, endpoint_write

    # ------------------------------------------------------------------ the grade loop

    def _collect_manifest(self, workdir: Path, services: GradeServices, seed: int, progress: _Progress) -> None:
        judge, results_fd, endpoint_fd = self._start_judge(workdir, services, seed, progress, collect_only=True)
        os.close(endpoint_fd)
        try:
            self._await_manifest(judge, results_fd, b"", progress)
        finally:
            os.close(results_fd)
            judge.kill()

    def _run(self, workdir: Path, services: GradeServices, box: GradeSandbox, seed: int, started: float,
             progress: _Progress, learners: list[LearnerProcess]) -> None:
        grade_deadline = started + self.exercise.meta.time_limit
        while True:
            impl_port = self._impl_port(box)
            learner_config = box.learner_services(services)
            progress.learner_ready = False
            learner = self._start_learner(workdir, services, box, learner_config)
            learners.append(learner)
            judge, results_fd, endpoint_fd = self._start_judge(workdir, services, seed, progress,
                                                               impl_host=box.service_host, impl_port=impl_port)
            attempt = _Attempt(learner, judge, learner.ready_fd, results_fd, endpoint_fd, learner_config, workdir)
            try:
                outcome = self._watch(attempt, progress, grade_deadline)
            finally:
                for fd in (attempt.ready_fd, attempt.results_fd, attempt.endpoint_fd):
                    if fd is not None:
                        os.close(fd)
                judge.kill()
            if outcome == "finished":
                self._note_crash(learner, progress)
                learner.kill()
                return
            learner.kill()
            if outcome in ("startup_failed", "grade_timeout", "limit_exceeded"):
                return
            if outcome == "check_timeout":
                assert progress.manifest is not None
                if all(spec.id in progress.recorded for spec in progress.manifest):
                    return
                continue
            raise self._judge_failed(judge, progress, "stopped before finishing")

    def _watch(self, attempt: _Attempt, progress: _Progress, grade_deadline: float) -> str:
        """Follow one attempt until the judge finishes, a limit is hit, or the learner cannot start."""
        startup_limit = self._startup_limit()
        startup_deadline = time.monotonic() + startup_limit
        next_disk_check = 0.0
        while True:
            now = time.monotonic()
            if now >= next_disk_check:
                next_disk_check = now + 0.25
                if self._over_quota(attempt.workdir, progress):
                    self._wait_for_manifest(attempt, progress)
                    return "limit_exceeded"
            deadlines = [grade_deadline]
            if attempt.ready_fd is not None:
                deadlines.append(startup_deadline)
            if progress.current_deadline is not None:
                deadlines.append(progress.current_deadline)
            wait = min(max(min(deadlines) - now, 0), 0.25)  # the disk watch needs a pulse
            if attempt.ready_fd is not None:
                wait = min(wait, 0.2)  # also watch for a program that dies before it reports
            fds = [fd for fd in (attempt.ready_fd, attempt.results_fd) if fd is not None]
            readable, _, _ = select.select(fds, [], [], wait) if fds else ([], [], [])
            now = time.monotonic()
            if attempt.ready_fd is not None and attempt.ready_fd in readable:
                verdict = self._on_ready_data(attempt, progress)
                if verdict is not None:
                    return verdict
            if attempt.results_fd is not None and attempt.results_fd in readable:
                chunk = os.read(attempt.results_fd, 65536)
                if not chunk:
                    os.close(attempt.results_fd)
                    attempt.results_fd = None
                    attempt.judge.popen.wait()
                    return "finished" if self._complete(progress) else "judge_failed"
                attempt.buffer = self._feed(attempt.buffer, chunk, progress)
                continue
            if attempt.ready_fd is not None and attempt.ready_fd not in readable and attempt.learner.poll() is not None:
                verdict = self._on_ready_data(attempt, progress, final=True)
                if verdict is not None:
                    return verdict
            if attempt.ready_fd is not None and now >= startup_deadline:
                progress.problems.append(
                    Problem(Category.TIMEOUT, f"Your code did not finish starting within {startup_limit:g} s.",
                            "Look for an infinite loop or a long-running call at the top level of a module.")
                )
                self._wait_for_manifest(attempt, progress)
                return "startup_failed"
            if progress.current_deadline is not None and now >= progress.current_deadline:
                self._record_timeout(progress)
                return "check_timeout"
            if now >= grade_deadline:
                limit = self.exercise.meta.time_limit
                progress.problems.append(
                    Problem(Category.TIMEOUT, f"Grading stopped at the exercise's time limit of {limit:g} s.")
                )
                if progress.current is not None:
                    self._record_timeout(progress, grade_limit=True)
                self._wait_for_manifest(attempt, progress)
                return "grade_timeout"

    def _on_ready_data(self, attempt: _Attempt, progress: _Progress, *, final: bool = False) -> str | None:
        """Read the host's start-up report; lines that are not one (learner code can write to this
        pipe too) are skipped, and only end of file without a report means the program died."""
        assert attempt.ready_fd is not None
        try:
            chunk = os.read(attempt.ready_fd, 65536)
        except BlockingIOError:  # a FIFO with nothing in it (the program died before writing)
            chunk = b""
        attempt.ready_buffer += chunk
        message: dict[str, Any] = {}
        *lines, rest = attempt.ready_buffer.split(b"\n")
        for line in lines:
            try:
                candidate = json.loads(line)
            except ValueError:
                continue
            if isinstance(candidate, dict) and candidate.get("event") in ("ready", "error"):
                message = candidate
                break
        if not message:
            # Keep the head of an unfinished line (a report starts there); bounded all the same.
            attempt.ready_buffer = rest[:1 << 20]
            if chunk and not final:
                return None
        os.close(attempt.ready_fd)
        attempt.ready_fd = None
        if message.get("event") == "ready" and isinstance(message.get("port"), int):
            port = message["port"]
            host = attempt.learner.address
            endpoint = {"port": port, "host": host, "base_url": f"http://{host}:{port}",
                        "config": attempt.learner_config}
            assert attempt.endpoint_fd is not None
            with contextlib.suppress(OSError):
                os.write(attempt.endpoint_fd, json.dumps(endpoint).encode() + b"\n")
            progress.learner_ready = True
            if progress.current is not None and progress.current_deadline is None:
                progress.current_deadline = self._check_deadline(progress)
            return None
        if message.get("event") == "error":
            category = {
                "syntax_error": Category.SYNTAX_ERROR,
                "import_error": Category.IMPORT_ERROR,
                "startup_error": Category.STARTUP_ERROR,
            }.get(str(message.get("category")), Category.STARTUP_ERROR)
            details, _ = textsafe.cap(str(message.get("details", "")), 4000)
            progress.problems.append(Problem(category, textsafe.short(str(message.get("message", ""))), details))
        else:
            code = self._exit_code(attempt.learner)
            progress.problems.append(
                Problem(Category.CRASH, f"Your program exited ({code}) while starting, before it could be graded.")
            )
        self._wait_for_manifest(attempt, progress)
        return "startup_failed"

    def _startup_limit(self) -> float:
        """Importing and starting the learner's code may take at most a third of the grade's time."""
        return min(STARTUP_TIMEOUT, max(2.0, self.exercise.meta.time_limit / 3))

    @staticmethod
    def _exit_code(process: LearnerProcess, wait: float = 2.0) -> str:
        code = process.wait(wait)
        if code is None:
            return "still running"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def _wait_for_manifest(self, attempt: _Attempt, progress: _Progress) -> None:
        """The learner could not start; the judge still lists the checks so the report shows them."""
        self._await_manifest(attempt.judge, attempt.results_fd, attempt.buffer, progress)

    def _await_manifest(self, judge: SandboxedProcess, results_fd: int | None, buffer: bytes,
                        progress: _Progress) -> None:
        """Read the judge's events until its manifest has come (a judge that cannot list its checks
        within a minute is an infrastructure failure)."""
        deadline = time.monotonic() + 60
        while progress.manifest is None and results_fd is not None and time.monotonic() < deadline:
            ready, _, _ = select.select([results_fd], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                break
            chunk = os.read(results_fd, 65536)
            if not chunk:
                break
            buffer = self._feed(buffer, chunk, progress)
        if progress.manifest is None:
            raise self._judge_failed(judge, progress, "could not list its checks")

    def _feed(self, buffer: bytes, chunk: bytes, progress: _Progress) -> bytes:
        """Handle every complete event line; return the start of an unfinished one."""
        *lines, rest = (buffer + chunk).split(b"\n")
        for line in lines:
            self._handle_event(line, progress)
        return rest

    def _handle_event(self, line: bytes, progress: _Progress) -> None:
        if not line.strip():
            return
        try:
            event = json.loads(line)
        except ValueError:
            return
        kind = event.get("event")
        if kind == "manifest" and progress.manifest is None:
            progress.manifest = [
                CheckSpec(
                    id=c["id"], name=c["name"], points=int(c["points"]), task=c.get("task"),
                    gate=bool(c.get("gate")), visible=bool(c.get("visible")), timeout=float(c["timeout"]),
                )
                for c in event["checks"]
            ]
        elif kind == "start":
            progress.current = event["id"]
            progress.current_deadline = self._check_deadline(progress) if progress.learner_ready else None
        elif kind == "result":
            check_id = event["id"]
            progress.recorded[check_id] = Outcome(
                status=CheckStatus(event["status"]),
                message=textsafe.short(str(event.get("message") or ""), 1000),
                expected=_maybe_short(event.get("expected")),
                actual=_maybe_short(event.get("actual")),
                sent=_maybe_short(event.get("sent")),
                hint=_maybe_short(event.get("hint")),
                duration=float(event.get("duration", 0.0)),
            )
            spec = self._spec(progress, check_id)
            if spec is not None and spec.gate and event["status"] != "passed":
                progress.failed_gates.append(spec.name)
            progress.current = progress.current_deadline = None
        elif kind == "collect_error":
            progress.judge_output.append(str(event.get("details", ""))[-3000:])

    @staticmethod
    def _over_quota(workdir: Path, progress: _Progress) -> bool:
        """Folders on the host's disk that the learner can write to: a per-file size limit does not
        stop many files, so their total is watched and the program stopped past the quota."""
        total = files = 0
        stack = [workdir / "workspace", workdir / "tmp", workdir / "db"]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                files += 1
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
                except OSError:
                    continue
            if total > DISK_QUOTA or files > DISK_QUOTA_FILES:
                progress.problems.append(Problem(
                    Category.LIMIT_EXCEEDED,
                    f"Your program wrote more than {DISK_QUOTA >> 20} MiB or {DISK_QUOTA_FILES} files to disk; "
                    "it was stopped.",
                ))
                if progress.current is not None:
                    progress.recorded[progress.current] = Outcome(
                        CheckStatus.ERROR, "Stopped: your program exceeded the disk quota during this check.")
                    progress.current = progress.current_deadline = None
                return True
        return False

    def _impl_port(self, box: GradeSandbox) -> int:
        """For the tests kind: a port on the sandbox's service host where the judge serves the
        implementation under test, opened to the learner's sandbox (0: no such server)."""
        if self.exercise.meta.entry.kind is not EntryKind.TESTS:
            return 0
        import socket

        with socket.socket() as probe:
            probe.bind((box.service_host, 0))
            port = int(probe.getsockname()[1])
        box.allow_host_port(port)
        return port

    def _check_deadline(self, progress: _Progress) -> float:
        spec = self._spec(progress, progress.current) if progress.current else None
        return time.monotonic() + (spec.timeout if spec else self.exercise.meta.check_timeout)

    @staticmethod
    def _spec(progress: _Progress, check_id: str) -> CheckSpec | None:
        for spec in progress.manifest or []:
            if spec.id == check_id:
                return spec
        return None

    def _record_timeout(self, progress: _Progress, *, grade_limit: bool = False) -> None:
        assert progress.current is not None
        spec = self._spec(progress, progress.current)
        limit = spec.timeout if spec else 0
        message = (
            "Stopped when the grade's time limit ran out."
            if grade_limit
            else f"Stopped after {limit:g} s, the time limit of this check."
        )
        progress.recorded[progress.current] = Outcome(
            CheckStatus.TIMEOUT,
            message,
            hint="Look for an infinite loop or a blocking call in the code this check uses.",
        )
        if spec is not None and spec.gate:
            progress.failed_gates.append(spec.name)
        progress.current = progress.current_deadline = None

    @staticmethod
    def _complete(progress: _Progress) -> bool:
        return progress.manifest is not None and all(spec.id in progress.recorded for spec in progress.manifest)

    @staticmethod
    def _note_crash(learner: LearnerProcess, progress: _Progress) -> None:
        code = learner.poll()
        if code is not None:
            how = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
            progress.problems.append(
                Problem(
                    Category.CRASH,
                    f"Your program stopped during grading ({how}); checks after that could not reach it.",
                )
            )

    def _judge_failed(self, judge: SandboxedProcess, progress: _Progress, what: str) -> InfrastructureError:
        output = textsafe.decode(bytes(judge.output.kept))[-3000:]
        details = "\n".join([*progress.judge_output, output]).strip()
        return InfrastructureError(
            f"The judge for {self.exercise.slug} {what} (this is not your fault).\n{details}",
            hint="Run `runner validate " + self.exercise.slug + "` to check the exercise, and report the output.",
        )

    @staticmethod
    def _not_run_reason(problems: list[Problem]) -> str:
        problems = [p for p in problems if p.category is not Category.IGNORED_FILE]
        if problems:
            return f"Not run: {problems[0].message}"
        return "This check was not reached."

    @staticmethod
    def _output(processes: list[LearnerProcess], redact: textsafe.Redactor) -> tuple[str, bool]:
        parts = []
        dropped = 0
        for process in processes:
            process.output.join(0.5)
            parts.append(textsafe.decode(bytes(process.output.kept)))
            dropped += process.output.dropped
        # Redact before capping: a secret cut in half by the cap would no longer match.
        text, truncated = redact.cap(textsafe.clean("".join(parts)), 8000)
        if dropped:
            text += textsafe.truncation_note(dropped)
            truncated = True
        return text, truncated


def _redacted(outcome: Outcome, redact: textsafe.Redactor) -> Outcome:
    """Only what the learner's program produced (``actual``): messages and hints are the judge's own
    words and may legitimately repeat text from the check file."""
    actual = None if outcome.actual is None else redact(outcome.actual)
    return Outcome(outcome.status, outcome.message, outcome.expected, actual, outcome.sent, outcome.hint,
                   outcome.duration)


def _maybe_short(value: Any) -> str | None:
    return None if value is None else textsafe.short(str(value), 1500)


def grade(exercise: Exercise, folder: Path, *, provider: ServiceProvider | None = None,
          sandbox: Sandbox | None = None, seed: int | None = None) -> GradeReport:
    """Grade one submission folder (convenience wrapper around ``Grader``)."""
    return Grader(exercise, provider, sandbox).grade(folder, seed=seed)


def grade_files(exercise: Exercise, files: Mapping[str, str], **kwargs: Any) -> GradeReport:
    """Grade in-memory files (the reference solution, a catalogued bug) as a submission."""
    with tempfile.TemporaryDirectory(prefix="backend-kit-sub-") as tmp:
        for name, text in files.items():
            path = Path(tmp) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return grade(exercise, Path(tmp), **kwargs)
