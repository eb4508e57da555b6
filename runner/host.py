"""The learner host: the program that runs *inside* the learner's process.

Started by the sandbox as ``python -I -B -m runner.host SPEC READY_FD``. It imports the learner's
code (and nothing of the judge), reports on READY_FD whether that worked, then serves one of:

- ``wsgi``: the learner's Flask app on a real WSGI server on loopback;
- ``functions``: the learner's functions through the request/response protocol;
- ``tests``: runs the learner's own pytest tests on request, each run in a fresh fork (warm: pytest
  is imported once), against an implementation that lives outside this process (see runner.proxy).

Nothing this process says is trusted as a verdict: it is the learner's process, and whatever it
prints or exits with is only evidence for messages, never for points.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _report(fd: int, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, json.dumps(message).encode() + b"\n")


def _learner_traceback(exc: BaseException, workspace: Path) -> str:
    """The traceback restricted to the learner's own files (the runner's frames are noise to them)."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if Path(frame.filename).resolve().is_relative_to(workspace)
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)] if frames else []
    lines.extend(traceback.format_exception_only(exc))
    # Paths relative to the workspace: the learner knows their files, not our temporary folders.
    return "".join(lines).replace(f"{workspace}{os.sep}", "")


def _set_limits(limits: dict[str, int]) -> None:
    for name, value in limits.items():
        which = getattr(resource, f"RLIMIT_{name.upper()}", None)
        if which is None:
            continue
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))


def _import(target: str, workspace: Path, ready_fd: int) -> Any:
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute) if attribute else module
    except SyntaxError as exc:
        category = "syntax_error"
        message = f"{Path(exc.filename or '?').name}, line {exc.lineno}: {exc.msg}"
        details = _learner_traceback(exc, workspace)
    except AttributeError as exc:
        category = "import_error"
        message = f"{module_name}.py has no {attribute!r}: {exc}"
        details = _learner_traceback(exc, workspace)
    except BaseException as exc:
        category = "import_error"
        message = f"importing {module_name} raised {type(exc).__name__}: {exc}"
        details = _learner_traceback(exc, workspace)
    _report(ready_fd, {"event": "error", "category": category, "message": message, "details": details})
    sys.stdout.flush()
    os._exit(0)


def _serve_wsgi(spec: dict[str, Any], workspace: Path, ready_fd: int) -> None:
    factory = _import(spec["target"], workspace, ready_fd)
    try:
        app = factory(dict(spec["config"]))
        if not callable(app):
            raise TypeError(f"{spec['target']} returned {type(app).__name__}, not a WSGI app (a Flask object)")
    except BaseException as exc:
        _report(
            ready_fd,
            {
                "event": "error",
                "category": "startup_error",
                "message": f"{spec['target']}(config) raised {type(exc).__name__}: {exc}",
                "details": _learner_traceback(exc, workspace),
            },
        )
        os._exit(0)
    import logging

    from werkzeug.serving import make_server

    # Request logs would drown the learner's own prints in the report.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(spec.get("bind", "127.0.0.1"), 0, app, threaded=True)
    _report(ready_fd, {"event": "ready", "port": server.server_port})
    server.serve_forever()


def _serve_functions(spec: dict[str, Any], workspace: Path, ready_fd: int) -> None:
    from . import protocol

    module = _import(spec["target"], workspace, ready_fd)
    functions = {}
    for name in spec["functions"]:
        fn = getattr(module, name, None)
        if not callable(fn):
            _report(
                ready_fd,
                {
                    "event": "error",
                    "category": "import_error",
                    "message": f"{spec['target']}.py must define a function {name}()",
                    "details": "",
                },
            )
            os._exit(0)
        functions[name] = fn
    server = protocol.serve(functions, host=spec.get("bind", "127.0.0.1"), threaded=True,
                            include_tracebacks=lambda exc: _learner_traceback(exc, workspace))
    _report(ready_fd, {"event": "ready", "port": server.server_address[1]})
    server.serve_forever()


def _run_tests_once(spec: dict[str, Any], workspace: Path, impl: str, timeout: float) -> dict[str, Any]:
    """Run the learner's tests in a fresh fork; the parent only relays what the child reported."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run pytest, report through the pipe, never return
        os.close(read_fd)
        os.setpgid(0, 0)
        os.environ["BACKEND_KIT_IMPL"] = impl
        os.environ["BACKEND_KIT_OUTCOMES_FD"] = str(write_fd)
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        import pytest

        args = [
            *spec["test_files"],
            "-p",
            "runner.testrun",
            "-c",
            str(Path(__file__).with_name("learner_pytest.ini")),
            "--rootdir",
            str(workspace),
            "-p",
            "no:cacheprovider",
            "-q",
            "-s",
        ]
        try:
            code = pytest.main(args)
        except BaseException:
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code) if isinstance(code, int) else 0)
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    timed_out = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        if sum(len(c) for c in chunks) < 1_000_000:
            chunks.append(chunk)
    os.close(read_fd)
    if timed_out:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    outcomes: list[dict[str, Any]] = []
    for line in b"".join(chunks).splitlines():
        try:
            outcomes.append(json.loads(line))
        except ValueError:
            continue
    return {"timed_out": timed_out, "outcomes": outcomes}


def _serve_tests(spec: dict[str, Any], workspace: Path, ready_fd: int) -> None:
    import _pytest.config
    import pytest  # noqa: F401 - imported once here so that every forked run starts warm

    # pytest imports its built-in plugins at each session start; importing them once here, before
    # any fork, saves that time in every run of the learner's tests.
    for plugin in _pytest.config.default_plugins:
        with contextlib.suppress(ImportError):
            importlib.import_module(f"_pytest.{plugin}")

    from . import protocol

    def run_tests(impl: str, timeout: float = 30.0) -> dict[str, Any]:
        return _run_tests_once(spec, workspace, impl, timeout)

    server = protocol.serve({"run_tests": run_tests}, host=spec.get("bind", "127.0.0.1"), threaded=False)
    _report(ready_fd, {"event": "ready", "port": server.server_address[1]})
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    # A file descriptor inherited from the process sandbox, or a FIFO mounted into a container.
    ready_fd = int(argv[1]) if argv[1].isdigit() else os.open(argv[1], os.O_WRONLY)
    workspace = Path.cwd().resolve()
    _set_limits(spec.get("limits", {}))
    # Appended, not prepended: a learner file named like a stdlib module cannot shadow it.
    sys.path.append(str(workspace))
    os.environ.update(spec.get("config", {}))
    kind = spec["kind"]
    if kind == "wsgi":
        _serve_wsgi(spec, workspace, ready_fd)
    elif kind == "functions":
        _serve_functions(spec, workspace, ready_fd)
    elif kind == "tests":
        _serve_tests(spec, workspace, ready_fd)
    else:
        raise SystemExit(f"unknown entry kind {kind!r}")


if __name__ == "__main__":
    main()
