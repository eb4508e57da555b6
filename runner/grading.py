"""The grading orchestrator: the I/O loop of one grade.

One grade::

    Submission ──declared files──▶ fresh workspace ──▶ learner host (runner.learner.host)
                                                         ▲ HTTP / protocol
    services (own DB + Redis) ◀── own connections ── judge (pytest + runner.judge.plugin)
                                                         │ results channel (wire events)
                                       this module ◀─────┘ ──▶ session ──▶ scoring ──▶ GradeReport

The learner's process and the judge start in parallel; the judge learns the learner's address on a
channel once it is ready. This module only launches, selects, reads and feeds: what the bytes mean
is ``wire``'s business, and what happens next (deadlines, timeouts, resuming after a timed-out
check, the report) is the pure ``session.GradeSession``'s. Time limits are enforced from here with
SIGKILL of whole process groups.
"""

from __future__ import annotations

import functools
import os
import select
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import __version__, diagnose, kinds, quota, textsafe, wire
from .errors import ContentError, InfrastructureError, KitBug, RunnerError
from .exercises import Exercise
from .intake import Submission, exercise_digest, grade_seed, read_submission
from .judge.launch import JudgeProcess, start_judge
from .processes import DEFAULT_LIMITS, become_subreaper, clean_environment, make_undumpable
from .results import CheckSpec, GradeReport, Outcome
from .sandbox import GradeSandbox, LearnerProcess, Sandbox
from .sandbox.process import ProcessSandbox
from .scoring import build_report
from .services import GradeServices, ServiceProvider
from .services.embedded import EmbeddedProvider
from .session import BOOT_TIMEOUT, NEEDS_MANIFEST, STARTUP, AttemptEnd, GradeSession

#: How often the disk quota is measured, and the longest a select waits (the quota needs a pulse).
PULSE = 0.25
#: A judge that cannot list its checks within this long is broken (the kit's fault).
MANIFEST_TIMEOUT = 60.0


@dataclass
class _Instance:
    """One copy of the learner's program in an attempt (an exercise may run several: ``entry.instances``)."""

    learner: LearnerProcess
    ready_fd: int | None
    host_lines: wire.Lines = field(default_factory=wire.Lines)
    #: Its port once it reported ready.
    port: int | None = None
    #: Stopped on a check's request (``wire.StopInstance``): its end is not a crash.
    stopped: bool = False


@dataclass
class _Attempt:
    """The learner's program (one copy, or several) and one judge; a grade has several attempts if a
    check times out."""

    instances: list[_Instance]
    judge: JudgeProcess
    learner_config: dict[str, str]
    judge_lines: wire.Lines = field(default_factory=wire.Lines)

    @property
    def learner(self) -> LearnerProcess:
        """The first copy: the one the ``client`` fixture talks to."""
        return self.instances[0].learner


class Grader:
    """Grades submissions of one exercise on one provider and sandbox; reusable for many grades."""

    def __init__(self, exercise: Exercise, provider: ServiceProvider | None = None,
                 sandbox: Sandbox | None = None) -> None:
        self.exercise = exercise
        self.kind = kinds.get(exercise.meta.entry.kind)
        self.provider: ServiceProvider = provider or EmbeddedProvider()
        self.sandbox: Sandbox = sandbox or ProcessSandbox()
        self.exercise_hash = exercise_digest(exercise)
        make_undumpable()
        become_subreaper()

    # ------------------------------------------------------------------ public

    def grade_folder(self, folder: Path, *, seed: int | None = None, only: tuple[str, ...] = (),
                     exchanges_file: Path | None = None) -> GradeReport:
        """Read a submission folder or archive, then grade it."""
        with tempfile.TemporaryDirectory(prefix="backend-kit-intake-") as scratch:
            submission = read_submission(self.exercise, folder, Path(scratch))
        return self.grade(submission, seed=seed, only=only, exchanges_file=exchanges_file)

    def grade(self, submission: Submission, *, seed: int | None = None, only: tuple[str, ...] = (),
              exchanges_file: Path | None = None, hidden: tuple[Path, ...] = ()) -> GradeReport:
        """The report for ``submission``; any exception nobody expected is a ``KitBug`` (exit 3).

        ``only``: grade just these checks (node ids; the report lists only them). ``exchanges_file``:
        the judge appends every HTTP exchange of the checks it runs there (``runner replay``).
        ``hidden``: more folders the learner must not see (a batch's other submissions)."""
        try:
            return self._grade(submission, seed, only, exchanges_file, hidden)
        except RunnerError:
            raise
        except Exception as exc:
            raise KitBug(exc) from exc

    # ------------------------------------------------------------------ one grade

    def _grade(self, submission: Submission, seed: int | None, only: tuple[str, ...] = (),
               exchanges_file: Path | None = None, hidden: tuple[Path, ...] = ()) -> GradeReport:
        started = time.monotonic()
        seed = grade_seed(self.exercise, submission.digest) if seed is None else seed
        meta = self.exercise.meta
        session = GradeSession(meta.time_limit, meta.check_timeout, problems=list(submission.problems))
        workdir = Path(tempfile.mkdtemp(prefix="backend-kit-grade-"))
        learners: list[LearnerProcess] = []
        services: GradeServices | None = None
        box: GradeSandbox | None = None
        try:
            for sub in ("workspace", "judge", "tmp"):
                (workdir / sub).mkdir()
            box = self.sandbox.open(workdir, hidden=[*self._hidden_folders(), *hidden])
            services = self.provider.acquire(workdir, database=meta.services.database, redis=meta.services.redis,
                                             template=self.exercise.slug, listen_host=box.service_host)
            judge_spec = replace(self._judge_spec(services, seed), only=only,
                                 exchanges_file=None if exchanges_file is None else str(exchanges_file))
            if submission.blocked:
                judge = start_judge(self.exercise.checks_dir, workdir / "judge", replace(judge_spec, collect_only=True))
                try:
                    self._await_manifest(judge, wire.Lines(), session)
                finally:
                    judge.close()
            else:
                self._stage(workdir / "workspace", submission.files)
                judge_spec = replace(judge_spec, submission_dir=str(
                    self._keep_submission(workdir / "judge" / "submission", submission.files)))
                # The time limit is the learner's: it starts once the sandbox (a first image build)
                # and the services (containers starting) are ready, not before.
                session.start_clock(time.monotonic())
                self._attempts(workdir, services, box, judge_spec, session, learners,
                               self._context(submission))
            return self._report(submission, services, session, learners, seed, time.monotonic() - started)
        finally:
            for process in learners:
                process.kill()
            if services is not None:
                self.provider.release(services)
            if box is not None:
                box.close()
            shutil.rmtree(workdir, ignore_errors=True)

    def _report(self, submission: Submission, services: GradeServices, session: GradeSession,
                learners: list[LearnerProcess], seed: int, duration: float) -> GradeReport:
        redact = self._redactor.sparing([textsafe.decode(data) for data in submission.files.values()])
        output, truncated = self._output(learners, redact)
        assert session.manifest is not None
        return build_report(
            exercise=self.exercise.slug,
            backend=services.backend,
            manifest=session.manifest,
            recorded={key: _redacted(outcome, redact) for key, outcome in session.recorded.items()},
            problems=[replace(p, message=redact(p.message), details=redact(p.details)) for p in session.problems],
            not_run_reason=session.not_run_reason(),
            output=output,
            output_truncated=truncated,
            duration=duration,
            submission_hash=submission.digest,
            exercise_hash=self.exercise_hash,
            seed=seed,
            runner_version=__version__,
            services=dict(services.details),
        )

    def _hidden_folders(self) -> list[Path]:
        """What learner code must not see: every exercise's folder (hidden checks) and the solutions."""
        return [self.exercise.root.parent.resolve(), self.exercise.solutions_root.resolve()]

    def redact(self, text: str) -> str:
        """``text`` with what the hidden checks and the solution hold left out (what ``runner
        replay`` shows goes through this, like a report's ``sent``)."""
        return self._redactor(text)

    @functools.cached_property
    def _redactor(self) -> textsafe.Redactor:
        """Hidden check files and the reference solution: never to be echoed back to a learner (read
        once per Grader, like the exercise hash: a Grader grades the exercise as it was when made)."""
        texts = []
        for folder in (self.exercise.checks_dir, self.exercise.solution_dir):
            if folder.is_dir():
                for path in folder.rglob("*"):
                    # Goldens are reports learners were shown: redacting them would redact the feedback.
                    if "goldens" in path.relative_to(folder).parts:
                        continue
                    if path.is_file() and path.suffix in (".py", ".toml", ".json", ".txt"):
                        texts.append(path.read_text(encoding="utf-8", errors="replace"))
        literals = [literal for text in texts for literal in textsafe.string_literals(text)]
        # Lines the learner was given anyway (starter code) are not secrets.
        return textsafe.Redactor(texts, literals=literals, given=list(self.exercise.starter_files().values()))

    # ------------------------------------------------------------------ staging and specs

    def _stage(self, workspace: Path, files: Mapping[str, bytes]) -> None:
        """Only the declared learner files, the exercise's support files, and what the kind adds."""
        meta = self.exercise.meta
        for name in meta.support_files:
            target = workspace / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.exercise.starter_dir / name, target)
        self.kind.stage(workspace, meta.entry.target, meta.entry.functions)
        for name, data in files.items():
            target = workspace / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    @staticmethod
    def _keep_submission(folder: Path, files: Mapping[str, bytes]) -> Path:
        """The judge's own copy of the submitted files (checks that read them, such as the tests kind's
        ``submission_files``, read this one): in the judge's folder, which no sandbox shows the learner,
        so learner code that rewrites the workspace's copy while it runs cannot change what is judged."""
        for name, data in files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _host_spec(self, learner_config: Mapping[str, str], instance: int = 0) -> wire.HostSpec:
        meta = self.exercise.meta
        return wire.HostSpec(
            instance=instance,
            kind=meta.entry.kind, target=meta.entry.target, functions=meta.entry.functions, config=learner_config,
            # CPU seconds: the wall clock already bounds a grade; this stops a spinning process that
            # somehow outlived it, and a tight loop in a fork the wall clock does not watch.
            limits={**DEFAULT_LIMITS, "cpu": int(meta.time_limit) + 10},
            test_files=tuple(name for name in meta.files if Path(name).name.startswith("test_")),
            statement_log=_statement_log(learner_config.get("DATABASE_URL")),
            app_log=_app_log(learner_config.get("DATABASE_URL")),
        )

    def _judge_spec(self, services: GradeServices, seed: int) -> wire.JudgeSpec:
        timeout = self.exercise.meta.check_timeout
        return wire.JudgeSpec(
            kind=self.exercise.meta.entry.kind, database_url=services.judge_database, redis_url=services.judge_redis,
            seed=seed, default_timeout=timeout, request_timeout=min(5.0, timeout), call_timeout=timeout,
            test_run_timeout=timeout, statement_log=_statement_log(services.database_url),
            app_log=_app_log(services.database_url),
            fault_token=services.handle.get("fault_token"))

    def _impl_port(self, box: GradeSandbox) -> int:
        """For a kind whose judge serves code to the learner (tests): a port on the sandbox's service
        host, opened to the learner's sandbox (0: no such server)."""
        if not self.kind.serves_implementation:
            return 0
        with socket.socket() as probe:
            probe.bind((box.service_host, 0))
            port = int(probe.getsockname()[1])
        box.allow_host_port(port)
        return port

    # ------------------------------------------------------------------ attempts

    def _context(self, submission: Submission) -> diagnose.Context:
        return diagnose.Context(graded=tuple(self.exercise.meta.files),
                                ungraded_modules=submission.ungraded_modules, packages=_learner_packages())

    def _attempts(self, workdir: Path, services: GradeServices, box: GradeSandbox, judge_spec: wire.JudgeSpec,
                  session: GradeSession, learners: list[LearnerProcess], context: diagnose.Context) -> None:
        while True:
            spec = replace(judge_spec, impl_host=box.service_host, impl_port=self._impl_port(box),
                           done=session.done, failed_gates=tuple(session.failed_gates))
            learner_config = box.learner_services(services)
            env = clean_environment(learner_config, tmpdir=workdir / "tmp", home=workdir / "workspace")
            instances: list[_Instance] = []
            for index in range(self.exercise.meta.entry.instances):
                try:
                    learner = box.launch(workdir, self._host_spec(learner_config, index), env)
                except OSError as exc:
                    raise InfrastructureError(f"could not start the learner's program: {exc}") from None
                learners.append(learner)
                instances.append(_Instance(learner, learner.ready_fd))
            attempt = _Attempt(instances, start_judge(self.exercise.checks_dir, workdir / "judge", spec),
                               learner_config)
            # Start-up is timed from here: launching a container is the sandbox's cost, not the learner's.
            session.begin_attempt(time.monotonic())
            problems_before = len(session.problems)
            try:
                end = self._watch(workdir, attempt, session)
                self._diagnose(self._culprit(attempt), session, end, problems_before, context)
                if end in NEEDS_MANIFEST:
                    # Stopped first: a program past the disk quota must not go on writing while the
                    # judge is still listing its checks.
                    for instance in instances:
                        instance.learner.kill()
                    self._await_manifest(attempt.judge, attempt.judge_lines, session)
            finally:
                self._close_ready(attempt)
                attempt.judge.close()
            if end is AttemptEnd.FINISHED:
                for instance in instances:
                    if not instance.stopped:
                        session.note_crash(instance.learner.poll())
            for instance in instances:
                instance.learner.kill()
            if end is AttemptEnd.JUDGE_FAILED:
                raise self._judge_failed(attempt.judge, session, "stopped before finishing")
            if end is AttemptEnd.BOOT_FAILED:
                raise InfrastructureError(
                    f"The sandbox could not start the learner's program within {BOOT_TIMEOUT:g} s "
                    "(before any of its code ran; this is not your fault).",
                    hint="The machine may be overloaded: grade again, or with fewer grades at once.")
            if not session.resumes(end):
                return

    @staticmethod
    def _culprit(attempt: _Attempt) -> LearnerProcess:
        """The copy a start-up problem or a timeout is about: the first that ended or has not
        reported ready, else the first."""
        for instance in attempt.instances:
            if not instance.stopped and (instance.port is None or instance.learner.poll() is not None):
                return instance.learner
        return attempt.learner

    @staticmethod
    def _diagnose(learner: LearnerProcess, session: GradeSession, end: AttemptEnd, problems_before: int,
                  context: diagnose.Context) -> None:
        """Before the kill: a stack sample of a program stopped for time, and what the output, the
        sample and the submission's folder say about why it could not start (``runner.diagnose``)."""
        sample = learner.sample_stack() if session.timed_out is not None else ""
        if session.timed_out is not None and session.timed_out != STARTUP:
            recorded = session.recorded.get(session.timed_out)
            if recorded is not None and sample:
                session.recorded[session.timed_out] = replace(
                    recorded, message=textsafe.short(diagnose.timed_out_check(recorded.message, sample), 1000))
        if end is not AttemptEnd.STARTUP_FAILED:
            return
        learner.output.join(0.1)
        output = textsafe.clean(textsafe.decode(bytes(learner.output.kept)))
        for index in range(problems_before, len(session.problems)):
            session.problems[index] = diagnose.explain(session.problems[index], output=output, sample=sample,
                                                       context=context)

    def _watch(self, workdir: Path, attempt: _Attempt, session: GradeSession) -> AttemptEnd:
        """Follow one attempt until the session says it ended."""
        next_quota = 0.0
        while True:
            now = time.monotonic()
            if now >= next_quota:
                next_quota = now + PULSE
                if quota.over_quota(workdir):
                    return session.on_over_quota(quota.DISK_QUOTA >> 20, quota.DISK_QUOTA_FILES)
            deadline = session.next_deadline()
            wait = PULSE if deadline is None else min(max(deadline - now, 0), PULSE)
            starting = [instance for instance in attempt.instances if instance.ready_fd is not None]
            if starting:
                wait = min(wait, 0.2)  # also watch for a program that dies before it reports
            fds = [fd for fd in (*(i.ready_fd for i in starting), attempt.judge.results_fd) if fd is not None]
            readable, _, _ = select.select(fds, [], [], wait) if fds else ([], [], [])
            for instance in starting:
                if instance.ready_fd in readable:
                    end = self._read_host(attempt, instance, session)
                    if end is not None:
                        return end
            results_fd = attempt.judge.results_fd
            if results_fd is not None and results_fd in readable:
                chunk = os.read(results_fd, 65536)
                if not chunk:
                    os.close(results_fd)
                    attempt.judge.results_fd = None
                    attempt.judge.process.popen.wait()
                    return session.on_judge_finished()
                self._feed(attempt.judge_lines.feed(chunk), session, attempt)
                continue
            for instance in starting:
                if (instance.ready_fd is not None and instance.ready_fd not in readable
                        and instance.learner.poll() is not None):
                    end = self._read_host(attempt, instance, session, final=True)
                    if end is not None:
                        return end
            end = session.tick(time.monotonic())
            if end is not None:
                return end

    def _read_host(self, attempt: _Attempt, instance: _Instance, session: GradeSession, *,
                   final: bool = False) -> AttemptEnd | None:
        """Read one copy's start-up report; lines that are not one (learner code can write to this
        channel too) are noise, and only its end without a report means the program died. The
        session hears "ready" once every copy is ready (the judge gets every address at once), and
        the first failure of any copy."""
        assert instance.ready_fd is not None
        try:
            chunk = os.read(instance.ready_fd, 65536)
        except BlockingIOError:  # a FIFO with nothing in it (the program died before writing)
            chunk = b""
        report: wire.HostReport | None = None
        for line in instance.host_lines.feed(chunk):
            report = wire.parse_host_report(line)
            if isinstance(report, wire.HostBooted):
                session.on_host_report(report, time.monotonic())
            elif report is not None:
                break
        if not isinstance(report, wire.HostReady | wire.HostFailed):
            if chunk and not final:
                return None
            self._close_ready(attempt, instance)
            return session.on_host_died(instance.learner.wait(2.0))
        self._close_ready(attempt, instance)
        if isinstance(report, wire.HostFailed):
            return session.on_host_report(report, time.monotonic())
        instance.port = report.port
        if any(other.port is None for other in attempt.instances):
            return None
        addresses = tuple((other.learner.address, other.port) for other in attempt.instances
                          if other.port is not None)
        first = attempt.instances[0]
        assert first.port is not None
        attempt.judge.send_endpoint(wire.Endpoint(first.learner.address, first.port, attempt.learner_config,
                                                  addresses if len(addresses) > 1 else ()))
        return session.on_host_report(report, time.monotonic())

    @staticmethod
    def _close_ready(attempt: _Attempt, only: _Instance | None = None) -> None:
        for instance in attempt.instances if only is None else [only]:
            if instance.ready_fd is not None:
                os.close(instance.ready_fd)
                instance.ready_fd = None

    @staticmethod
    def _feed(lines: list[bytes], session: GradeSession, attempt: _Attempt | None = None) -> None:
        for line in lines:
            event = wire.parse_judge_event(line)
            if isinstance(event, wire.StopInstance):
                if attempt is not None:
                    Grader._stop_instance(attempt, event.index)
            elif event is not None:
                session.on_judge_event(event, time.monotonic())

    @staticmethod
    def _stop_instance(attempt: _Attempt, index: int) -> None:
        """A check stops one copy of the program: killed (process group or container), then the
        judge is told, so its next request to that copy is refused rather than raced."""
        if 0 <= index < len(attempt.instances):
            instance = attempt.instances[index]
            instance.stopped = True
            instance.learner.kill()
        attempt.judge.send(wire.InstanceStopped(index))

    def _await_manifest(self, judge: JudgeProcess, lines: wire.Lines, session: GradeSession) -> None:
        """Read the judge's events until its manifest has come, so the report lists every check
        (a judge that cannot list its checks within a minute is broken)."""
        _read_manifest(judge, lines, session)
        if session.manifest is None:
            raise self._judge_failed(judge, session, "could not list its checks")

    def _judge_failed(self, judge: JudgeProcess, session: GradeSession, what: str) -> InfrastructureError:
        output = textsafe.decode(bytes(judge.process.output.kept))[-3000:]
        details = "\n".join([*session.judge_output, output]).strip()
        return InfrastructureError(
            f"The judge for {self.exercise.slug} {what} (this is not your fault).\n{details}",
            hint="Run `runner validate " + self.exercise.slug + "` to check the exercise, and report the output.",
        )

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


@functools.cache
def _learner_packages() -> tuple[str, ...]:
    """The packages graded code may import, with the versions installed here ("flask 3.1")."""
    import importlib.metadata

    found = []
    for name in diagnose.LEARNER_PACKAGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(f"{name} {'.'.join(version.split('.')[:2])}")
    return tuple(found) or diagnose.LEARNER_PACKAGES


def _statement_log(database_url: str | None) -> str | None:
    """Where the learner host records its SQLite statements (``runner.judge.statements``): next to
    the database file, in the folder a container sandbox mounts too; the same URL as the sandbox
    sees it gives the host's path, as the runner sees it the judge's. None for a database server."""
    if not database_url or not database_url.startswith("sqlite:///"):
        return None
    return str(Path(database_url.removeprefix("sqlite:///").partition("?")[0]).parent / "statements.log")


def _app_log(database_url: str | None) -> str | None:
    """Where the learner host records what the app wrote per request (``runner.learner.applog``):
    beside the statement log, by the same mapping (the database's folder is the one folder both
    sandboxes share with the runner). None without an SQLite database: no app output is shown."""
    statement_log = _statement_log(database_url)
    return None if statement_log is None else str(Path(statement_log).parent / "app.log")


def _redacted(outcome: Outcome, redact: textsafe.Redactor) -> Outcome:
    """What the learner's program produced: ``actual``, and ``sent``, which holds the check's HTTP
    transcript with the app's replies. Messages and hints are the judge's own words and may
    legitimately repeat text from the check file."""
    return replace(outcome, actual=None if outcome.actual is None else redact(outcome.actual),
                   sent=None if outcome.sent is None else redact(outcome.sent),
                   app_output=None if outcome.app_output is None else redact(outcome.app_output))


def grade(exercise: Exercise, folder: Path, *, provider: ServiceProvider | None = None,
          sandbox: Sandbox | None = None, seed: int | None = None) -> GradeReport:
    """Grade one submission folder or archive (convenience wrapper around ``Grader``)."""
    return Grader(exercise, provider, sandbox).grade_folder(folder, seed=seed)


def grade_files(exercise: Exercise, files: Mapping[str, str], *, provider: ServiceProvider | None = None,
                sandbox: Sandbox | None = None, seed: int | None = None) -> GradeReport:
    """Grade in-memory files (the reference solution, a catalogued bug) as a submission."""
    return Grader(exercise, provider, sandbox).grade(Submission.from_texts(files), seed=seed)


def _read_manifest(judge: JudgeProcess, lines: wire.Lines, session: GradeSession) -> None:
    """Feed the judge's events to ``session`` until its manifest has come, the judge closed its
    channel, or ``MANIFEST_TIMEOUT`` passed (the caller says what a missing manifest means)."""
    deadline = time.monotonic() + MANIFEST_TIMEOUT
    while session.manifest is None and judge.results_fd is not None and time.monotonic() < deadline:
        ready, _, _ = select.select([judge.results_fd], [], [], max(deadline - time.monotonic(), 0))
        chunk = os.read(judge.results_fd, 65536) if ready else b""
        if not chunk:
            break
        Grader._feed(lines.feed(chunk), session)


def collect_checks(exercise: Exercise) -> tuple[CheckSpec, ...]:
    """The exercise's checks as the judge collects them (markers read exactly as grading reads
    them), without services or a submission: what ``runner validate --static`` inspects."""
    workdir = Path(tempfile.mkdtemp(prefix="backend-kit-collect-"))
    session = GradeSession(exercise.meta.time_limit, exercise.meta.check_timeout)
    spec = wire.JudgeSpec(kind=exercise.meta.entry.kind, collect_only=True,
                          default_timeout=exercise.meta.check_timeout)
    try:
        judge = start_judge(exercise.checks_dir, workdir, spec)
        try:
            _read_manifest(judge, wire.Lines(), session)
            if session.manifest is None:
                output = textsafe.decode(bytes(judge.process.output.kept))[-2000:]
                raise ContentError([f"{exercise.checks_dir}: the checks could not be collected"],
                                   hint=f"Run pytest on the checks folder to see why:\n{output.strip()}")
            return tuple(session.manifest)
        finally:
            judge.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
