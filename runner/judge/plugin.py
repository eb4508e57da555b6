"""The judge's pytest plugin: markers, fixtures, and a stream of results the runner can trust.

Loaded with ``-p runner.judge.plugin`` in the judge process. It reads its spec (the grade's
database and Redis, the seed, its channels) from the descriptor named by
``BACKEND_KIT_JUDGE_SPEC_FD``, and writes one JSON line per event to the descriptor the runner
passed it: the manifest of expected checks, the start of each check, each check's outcome. Results
are written as they happen, so checks that finished before a timeout keep their result.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .. import protocol
from ..sandbox.process import make_undumpable
from .expect import Mismatch
from .http import Client

make_undumpable()

SPEC_KEY = pytest.StashKey[dict[str, Any]]()
STATE_KEY = pytest.StashKey["JudgeState"]()

MARKERS = {
    "points(n)": "the check is worth n points (default 1)",
    "gate": "if this check does not pass, the checks after it are skipped",
    "task(n)": "the task of the exercise this check belongs to",
    "visible": "the learner sees this check's name before grading (checks are hidden by default)",
    "timeout(seconds)": "wall-clock limit for this check, enforced by the runner with SIGKILL",
}


@dataclass
class JudgeState:
    fd: int | None
    failed_gates: list[str] = field(default_factory=list)
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    gates: set[str] = field(default_factory=set)

    def emit(self, message: dict[str, Any]) -> None:
        if self.fd is None:
            return
        data = json.dumps(message).encode() + b"\n"
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]


def check_name(item: pytest.Item) -> str:
    """The docstring's first line, with parameters filled in; else the function name, readable."""
    function = getattr(item, "function", None)
    doc = (getattr(function, "__doc__", None) or "").strip().splitlines()
    name = doc[0].strip() if doc else item.name.removeprefix("test_").replace("_", " ")
    params = getattr(getattr(item, "callspec", None), "params", None)
    if params:
        try:
            name = name.format(**params)
        except (KeyError, IndexError, ValueError):
            name = f"{name} [{item.callspec.id}]"  # type: ignore[attr-defined]
    return name


def _marker_arg(item: pytest.Item, name: str, default: Any) -> Any:
    marker = item.get_closest_marker(name)
    if marker is None:
        return default
    return marker.args[0] if marker.args else default


def spec_of(item: pytest.Item) -> dict[str, Any]:
    default_timeout = item.config.stash[SPEC_KEY].get("default_timeout", 10.0)
    return {
        "id": item.nodeid,
        "name": check_name(item),
        "points": int(_marker_arg(item, "points", 1)),
        "task": _marker_arg(item, "task", None),
        "gate": item.get_closest_marker("gate") is not None,
        "visible": item.get_closest_marker("visible") is not None,
        "timeout": float(_marker_arg(item, "timeout", default_timeout)),
    }


def pytest_configure(config: pytest.Config) -> None:
    for marker, text in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {text}")
    spec: dict[str, Any] = {}
    spec_fd = os.environ.get("BACKEND_KIT_JUDGE_SPEC_FD")
    if spec_fd:
        chunks = []
        while chunk := os.read(int(spec_fd), 65536):
            chunks.append(chunk)
        os.close(int(spec_fd))
        spec = json.loads(b"".join(chunks))
    config.stash[SPEC_KEY] = spec
    state = JudgeState(fd=spec.get("results_fd"), failed_gates=list(spec.get("failed_gates", [])))
    config.stash[STATE_KEY] = state


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        config_state = _STATE.get("state")
        if config_state is not None:
            config_state.emit({"event": "collect_error", "where": report.nodeid, "details": str(report.longrepr)})


_STATE: dict[str, JudgeState] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _STATE["state"] = session.config.stash[STATE_KEY]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE_KEY]
    specs = [spec_of(item) for item in items]
    state.emit({"event": "manifest", "checks": specs})
    for spec in specs:
        state.names[spec["id"]] = spec["name"]
        if spec["gate"]:
            state.gates.add(spec["id"])
    done = set(config.stash[SPEC_KEY].get("done", []))
    if done:
        keep = [item for item in items if item.nodeid not in done]
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid in done])
        items[:] = keep
    if config.stash[SPEC_KEY].get("collect_only"):
        config.hook.pytest_deselected(items=list(items))
        items[:] = []


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    state = _STATE.get("state")
    if state is not None:
        state.emit({"event": "start", "id": nodeid, "at": time.time()})


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash[STATE_KEY]
    if state.failed_gates:
        pytest.skip(f"Not run: it needs “{state.failed_gates[0]}” to pass first.")


def _describe_exception(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, Mismatch):
        return {"status": "failed", "message": exc.message, "expected": exc.expected, "actual": exc.actual,
                "sent": exc.sent, "hint": exc.hint}
    if isinstance(exc, protocol.RemoteError):
        return {"status": "failed", "message": f"your code raised {exc}", "actual": exc.details[-1500:] or None,
                "hint": "The traceback above shows where in your code it happened."}
    if isinstance(exc, AssertionError):
        return {"status": "failed", "message": str(exc) or "The check's expectation was not met."}
    if isinstance(exc, pytest.skip.Exception):
        return {"status": "skipped", "message": str(exc.msg)}
    if isinstance(exc, pytest.fail.Exception):
        return {"status": "failed", "message": str(exc.msg)}
    return {
        "status": "error",
        "message": f"The check could not complete: {type(exc).__name__}: {exc}"[:500],
        "hint": "This usually means a response or return value had an unexpected shape.",
    }


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    state = item.config.stash[STATE_KEY]
    phases = state.phases.setdefault(item.nodeid, {"start": time.monotonic()})
    if call.excinfo is not None and "outcome" not in phases:
        phases["outcome"] = _describe_exception(call.excinfo.value)
    if call.when == "teardown":
        outcome = phases.get("outcome") or {"status": "passed", "message": ""}
        outcome["duration"] = time.monotonic() - phases["start"]
        state.emit({"event": "result", "id": item.nodeid, **outcome})
        if item.nodeid in state.gates and outcome["status"] != "passed":
            state.failed_gates.append(state.names.get(item.nodeid, item.name))
    return report


# ---------------------------------------------------------------- fixtures the checks use


@pytest.fixture(scope="session")
def judge_spec(pytestconfig: pytest.Config) -> dict[str, Any]:
    return pytestconfig.stash[SPEC_KEY]


@pytest.fixture(scope="session")
def exercise_dir(pytestconfig: pytest.Config) -> Path:
    """The exercise's folder (the parent of checks/), for data the checks read."""
    return Path(str(pytestconfig.rootpath)).resolve().parent


@pytest.fixture
def rng(judge_spec: dict[str, Any], request: pytest.FixtureRequest) -> random.Random:
    """Random data seeded per grade and per check, so answers cannot be hard-coded yet reruns agree."""
    return random.Random(f"{judge_spec.get('seed', 0)}:{request.node.nodeid}")


@pytest.fixture(scope="session")
def endpoint(judge_spec: dict[str, Any]) -> dict[str, Any]:
    """Where the learner's program listens; the runner sends it once the program is ready.

    The judge starts while the learner's program is still importing (the two start in parallel),
    so the address arrives on a pipe rather than in the spec.
    """
    if "endpoint" in judge_spec:
        return dict(judge_spec["endpoint"])
    fd = judge_spec.get("endpoint_fd")
    if fd is None:
        pytest.fail("the runner gave the judge no endpoint for the learner's program")
    data = b""
    deadline = time.monotonic() + float(judge_spec.get("endpoint_timeout", 60.0))
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(remaining, 0))
        if not ready:
            pytest.fail("the learner's program did not become ready")
        chunk = os.read(fd, 65536)
        if not chunk:
            pytest.fail("the learner's program did not become ready")
        data += chunk
    judge_spec["endpoint"] = json.loads(data)
    return dict(judge_spec["endpoint"])


@pytest.fixture(scope="session")
def client(endpoint: dict[str, Any], judge_spec: dict[str, Any]) -> Client:
    base_url = endpoint.get("base_url")
    if not base_url:
        pytest.fail("this exercise does not serve an HTTP app (no 'client' for its checks)")
    return Client(base_url, timeout=float(judge_spec.get("request_timeout", 5.0)))


class Learner:
    """Calls the learner's functions through the protocol; their exceptions arrive as RemoteError."""

    Raised = protocol.RemoteError

    def __init__(self, client: protocol.Client) -> None:
        self._client = client

    def call(self, fn: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        try:
            return self._client.call(fn, *args, timeout=timeout, **kwargs)
        except TimeoutError:
            raise Mismatch(f"your {fn}() did not return within {timeout or self._client.timeout:g} s",
                           hint="Look for an infinite loop or a blocking call.") from None
        except protocol.ProtocolError as exc:
            raise Mismatch(f"could not call your {fn}(): your program is no longer answering ({exc})",
                           hint="Your program probably crashed or exited; see its output below.") from None


@pytest.fixture(scope="session")
def learner(endpoint: dict[str, Any], judge_spec: dict[str, Any]) -> Iterator[Learner]:
    port = endpoint.get("port")
    if not port:
        pytest.fail("this exercise does not expose learner functions (no 'learner' for its checks)")
    host = str(endpoint.get("host") or "127.0.0.1")
    connection = protocol.Client(host, int(port), timeout=float(judge_spec.get("call_timeout", 10.0)))
    yield Learner(connection)
    connection.close()


@pytest.fixture(scope="session")
def database_url(judge_spec: dict[str, Any]) -> str:
    url = judge_spec.get("database_url")
    if not url:
        pytest.fail("this exercise has no database")
    return str(url)


@pytest.fixture(scope="session")
def learner_settings(endpoint: dict[str, Any]) -> dict[str, str]:
    """The settings the learner's program was given, as it sees them (DATABASE_URL, REDIS_URL).

    Pass these, never ``database_url``, to learner functions: the judge's own URL carries admin
    credentials and may not even be reachable from inside the learner's sandbox.
    """
    return dict(endpoint.get("config") or {})


@pytest.fixture(scope="session")
def learner_database_url(learner_settings: dict[str, str]) -> str:
    url = learner_settings.get("DATABASE_URL")
    if not url:
        pytest.fail("this exercise gives the learner no database")
    return url


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Any]:
    """A SQLAlchemy engine on the grade's database, with the judge's own connections."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, poolclass=NullPool, connect_args={"timeout": 10})

        @event.listens_for(engine, "connect")
        def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")
    else:
        engine = create_engine(database_url, poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def redis(judge_spec: dict[str, Any]) -> Iterator[Any]:
    import redis as redis_module

    url = judge_spec.get("redis_url")
    if not url:
        pytest.fail("this exercise has no Redis")
    connection = redis_module.Redis.from_url(url, decode_responses=True, socket_timeout=5)
    yield connection
    connection.close()


@dataclass(frozen=True)
class TestRun:
    """What one run of the learner's tests reported (not trusted alone; see runner.proxy)."""

    outcomes: tuple[dict[str, Any], ...]
    timed_out: bool

    @property
    def failed(self) -> list[str]:
        return [o["test"] for o in self.outcomes if o.get("outcome") in ("failed", "error")]

    @property
    def passed(self) -> list[str]:
        return [o["test"] for o in self.outcomes if o.get("outcome") == "passed"]

    @property
    def green(self) -> bool:
        """At least one test ran, and nothing failed, errored or timed out."""
        return bool(self.passed) and not self.failed and not self.timed_out

    @property
    def red(self) -> bool:
        """Some test failed (the implementation was caught), or the run timed out."""
        return bool(self.failed) or self.timed_out


class LearnerTests:
    """Runs the learner's tests against module source served from the judge's own process."""

    def __init__(self, learner: Learner, run_timeout: float, host: str = "127.0.0.1", port: int = 0) -> None:
        self._learner = learner
        self._run_timeout = run_timeout
        self._host = host  # where the learner's sandbox can reach this process
        self._port = port  # the port the runner opened for it (0: any)

    @contextlib.contextmanager
    def serving(self, source: str, functions: list[str]) -> Iterator[str]:
        namespace: dict[str, Any] = {"__name__": "implementation_under_test"}
        exec(compile(source, "implementation_under_test.py", "exec"), namespace)
        server = protocol.serve({name: namespace[name] for name in functions}, host=self._host, port=self._port,
                                threaded=True, include_tracebacks=False)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"{self._host}:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    def run(self, source: str, functions: list[str]) -> TestRun:
        with self.serving(source, functions) as address:
            reply = self._learner.call("run_tests", address, self._run_timeout,
                                       timeout=self._run_timeout + 5)
        return TestRun(tuple(reply.get("outcomes", [])), bool(reply.get("timed_out")))


@pytest.fixture(scope="session")
def learner_tests(learner: Learner, judge_spec: dict[str, Any]) -> LearnerTests:
    return LearnerTests(learner, float(judge_spec.get("test_run_timeout", 20.0)),
                        str(judge_spec.get("impl_host") or "127.0.0.1"), int(judge_spec.get("impl_port") or 0))
