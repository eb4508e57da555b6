"""The learner host: the program that runs *inside* the learner's process.

Started by the sandbox as ``python -I -B -m runner.learner.host SPEC READY``. It reads its
``wire.HostSpec``, imports the learner's code (and nothing of the judge), reports on READY whether
that worked (``wire.HostReady`` or ``wire.HostFailed``), then serves the code the way its exercise
kind says (``runner.kinds``: an HTTP app, functions over the protocol, the learner's own tests).

Nothing this process says is trusted as a verdict: it is the learner's process, and whatever it
prints or exits with is only evidence for messages, never for points. It imports only the stdlib,
``wire``, ``results`` and ``kinds`` at module level (a test holds it to that).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import resource
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from .. import diagnose, kinds, wire
from ..results import Category


class Host:
    """What a kind's ``serve`` uses: the spec, the workspace, and the start-up report."""

    def __init__(self, spec: wire.HostSpec, workspace: Path, ready_fd: int) -> None:
        self.spec = spec
        self.workspace = workspace
        self._ready_fd = ready_fd

    def _report(self, message: wire.HostReport) -> None:
        with contextlib.suppress(OSError):
            os.write(self._ready_fd, wire.dump(message))

    def booted(self) -> None:
        """Up, limits set, nothing of the learner's imported yet: their start-up clock starts here."""
        self._report(wire.HostBooted())

    def ready(self, port: int) -> None:
        """The learner's code is imported and listening: the grade's checks may start."""
        self._report(wire.HostReady(port))

    def fail(self, category: Category, message: str, details: str = "", advice: str = "") -> NoReturn:
        """The learner's code could not start: report why and leave (the runner reads the report)."""
        self._report(wire.HostFailed(category, message, details, advice))
        sys.stdout.flush()
        os._exit(0)

    def traceback(self, exc: BaseException) -> str:
        """The traceback restricted to the learner's own files (the runner's frames are noise to them)."""
        frames = [
            frame
            for frame in traceback.extract_tb(exc.__traceback__)
            if self._is_learners(frame.filename)
        ]
        lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)] if frames else []
        lines.extend(traceback.format_exception_only(exc))
        # Paths relative to the workspace: the learner knows their files, not our temporary folders.
        return "".join(lines).replace(f"{self.workspace}{os.sep}", "")

    def refuse_servers(self, factory: str) -> ServerGuard:
        """Until ``restore``, ``Flask.run`` and werkzeug's ``run_simple`` called from the learner's
        code fail at once with a diagnosis naming the learner's line: the most common beginner's
        mistake, ``app.run()`` at import, would otherwise block start-up until its timeout."""
        guard = ServerGuard()
        try:
            import flask
            import werkzeug.serving
        except ImportError:
            return guard
        for owner, name, call in ((flask.Flask, "run", "app.run()"), (werkzeug.serving, "run_simple", "run_simple()")):
            original = getattr(owner, name)
            guard.patched.append((owner, name, original))
            setattr(owner, name, self._refusing(call, original, guard, factory))
        return guard

    def _refusing(self, call: str, original: Callable[..., Any], guard: ServerGuard,
                  factory: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            frames = [frame for frame in traceback.extract_stack(sys._getframe(1)) if self._is_learners(frame.filename)]
            if not frames or not guard.patched:  # not the learner's own call, or start-up is over
                return original(*args, **kwargs)
            where = frames[-1]
            file = Path(where.filename).resolve().relative_to(self.workspace).as_posix()
            message, advice = diagnose.server_at_import(file, where.lineno or 0, call,
                                                        importing=guard.importing, factory=factory)
            details = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
            category = Category.IMPORT_ERROR if guard.importing else Category.STARTUP_ERROR
            self.fail(category, message, details.replace(f"{self.workspace}{os.sep}", ""), advice)

        return refuse

    def _is_learners(self, filename: str) -> bool:
        """A frame of the learner's own files ("<frozen importlib._bootstrap>" is not one, though it
        would resolve into the workspace, the current directory)."""
        path = Path(filename)
        return path.is_absolute() and path.resolve().is_relative_to(self.workspace)

    def load(self, target: str) -> Any:
        """``module`` or ``module:attribute`` of the learner's code; on any error, report and leave."""
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
            return getattr(module, attribute) if attribute else module
        except SyntaxError as exc:
            self.fail(Category.SYNTAX_ERROR, f"{Path(exc.filename or '?').name}, line {exc.lineno}: {exc.msg}",
                      self.traceback(exc))
        except AttributeError as exc:
            self.fail(Category.IMPORT_ERROR, f"{module_name}.py has no {attribute!r}: {exc}", self.traceback(exc))
        except BaseException as exc:
            self.fail(Category.IMPORT_ERROR, f"importing {module_name} raised {type(exc).__name__}: {exc}",
                      self.traceback(exc))


class ServerGuard:
    """The patched server entry points (``Host.refuse_servers``), and whether the import is still on."""

    def __init__(self) -> None:
        self.importing = True
        self.patched: list[tuple[Any, str, Any]] = []

    def restore(self) -> None:
        for owner, name, original in self.patched:
            setattr(owner, name, original)
        self.patched.clear()


def register_stack_sampler(path: str, workspace: Path) -> None:
    """On SIGUSR1, write every thread's stack to ``path`` (``faulthandler``: from the signal handler
    itself, so it works in a tight loop or a blocking call too). The runner sends it just before it
    kills the program for time, and says where the learner's code was (``runner.diagnose``)."""
    import faulthandler
    import signal

    try:
        sample = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 (open while the process lives)
        sample.write(f"{diagnose.SAMPLE_HEADER}{workspace}\n")
        sample.flush()
        faulthandler.register(signal.SIGUSR1, file=sample, all_threads=True)
    except (OSError, ValueError, RuntimeError, AttributeError):
        return  # no sample: the runner's messages say less, nothing else changes
    _KEEP_OPEN.append(sample)


_KEEP_OPEN: list[Any] = []


def _set_limits(limits: Mapping[str, int]) -> None:
    for name, value in limits.items():
        which = getattr(resource, f"RLIMIT_{name.upper()}", None)
        if which is None:
            continue
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))


#: The most the statement log may hold (it counts against the grade's disk quota).
STATEMENT_LOG_LIMIT = 16 << 20
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})


def record_statements(path: str) -> None:
    """Append every statement of every ``sqlite3`` connection opened from now on to ``path``, one a
    line (``runner.judge.statements`` reads it: SQLite has no server to ask).

    Installed before any learner code is imported, by wrapping ``sqlite3.connect`` (SQLAlchemy's
    pysqlite dialect calls it too) so each connection gets a trace callback. SQLite reports a
    write once more for each trigger program it runs (foreign-key cascades among them), with the
    same text: such back-to-back repeats of a write on one connection are dropped.
    """
    import sqlite3
    import threading

    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return  # the judge sees no log and says it could not observe
    written = [os.fstat(fd).st_size]
    lock = threading.Lock()
    original = sqlite3.connect

    def tracer() -> Any:
        last = [""]

        def trace(statement: str) -> None:
            line = " ".join(str(statement).split())[:4000]
            word = line.split(" ", 1)[0].upper()
            if word in _WRITES and line == last[0]:
                return
            last[0] = line
            data = (line + "\n").encode("utf-8", "replace")
            with lock:
                if written[0] + len(data) > STATEMENT_LOG_LIMIT:
                    return
                written[0] += len(data)
                with contextlib.suppress(OSError):
                    os.write(fd, data)

        return trace

    def connect(*args: Any, **kwargs: Any) -> Any:
        connection = original(*args, **kwargs)
        with contextlib.suppress(Exception):
            connection.set_trace_callback(tracer())
        return connection

    connect.__doc__ = original.__doc__
    sqlite3.connect = connect
    sqlite3.dbapi2.connect = connect


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    spec = wire.parse_host_spec(Path(argv[0]).read_bytes())
    if spec is None:
        raise SystemExit("the learner host's spec is not a HostSpec (a bug in backend-kit)")
    # A file descriptor inherited from the process sandbox, or a FIFO mounted into a container.
    ready_fd = int(argv[1]) if argv[1].isdigit() else os.open(argv[1], os.O_WRONLY)
    workspace = Path.cwd().resolve()
    _set_limits(spec.limits)
    # Appended, not prepended: a learner file named like a stdlib module cannot shadow it.
    sys.path.append(str(workspace))
    os.environ.update(spec.config)
    if spec.statement_log:
        record_statements(spec.statement_log)
    if spec.stack_file:
        register_stack_sampler(spec.stack_file, workspace)
    host = Host(spec, workspace, ready_fd)
    kind = kinds.get(spec.kind)
    host.booted()
    kind.serve(host)


if __name__ == "__main__":
    main()
