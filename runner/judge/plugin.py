"""The judge's pytest plugin: markers, fixtures, and a stream of results the runner can trust.

Loaded with ``-p runner.judge.plugin`` in the judge process. It reads its ``wire.JudgeSpec`` (the
grade's database and Redis, the seed, its channels, the exercise's kind) from the descriptor named
by ``BACKEND_KIT_JUDGE_SPEC_FD``, registers the fixtures of that kind (``runner.kinds``), and
writes one ``wire`` event per line to the descriptor the runner passed it: the manifest of
expected checks, the start of each check, each check's outcome. Results are written as they
happen, so checks that finished before a timeout keep their result.

A check that crashes in a way the learner's code cannot cause (a ``NameError`` in the check, a
fixture that does not exist, a fixture of the kit that breaks) is recorded as ``check_error``:
the kit's fault, never the learner's failure.
"""

from __future__ import annotations

import os
import random
import select
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from .. import kinds, protocol, wire
from ..processes import make_undumpable
from ..results import CheckSpec, CheckStatus, Outcome
from . import applog
from .http import TRANSCRIPT
from .instances import InstanceControlError
from .mismatch import Mismatch

make_undumpable()

SPEC_KEY = pytest.StashKey[wire.JudgeSpec]()
STATE_KEY = pytest.StashKey["JudgeState"]()

MARKERS = {
    "points(n)": "the check is worth n points (default 1)",
    "gate": "if this check does not pass, the checks after it are skipped",
    "task(n)": "the task of the exercise this check belongs to",
    "visible": "the learner sees this check's name before grading (checks are hidden by default)",
    "timeout(seconds)": "wall-clock limit for this check, enforced by the runner with SIGKILL",
    "rules(*ids)": "the statement's rules (ids like R3 in README.md) this check covers",
    "concurrent": "the check sends requests at once: its verdict must not vary, the numbers in its messages may "
                  "(feedback goldens leave them out)",
}

#: Exceptions no learner code can cause in the judge: the check (or the exercise) is broken.
CHECK_BUGS: tuple[type[BaseException], ...] = (NameError, ImportError, SyntaxError, InstanceControlError)


@dataclass
class JudgeState:
    fd: int | None
    failed_gates: list[str] = field(default_factory=list)
    #: Per check: when it started, and the first outcome one of its phases raised.
    started: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    gates: set[str] = field(default_factory=set)
    endpoint: wire.Endpoint | None = None
    #: Per check: where the app log ended when it started (its records come after).
    app_log_start: dict[str, int | None] = field(default_factory=dict)

    def emit(self, message: wire.JudgeEvent) -> None:
        if self.fd is None:
            return
        view = memoryview(wire.dump(message))
        while view:
            view = view[os.write(self.fd, view):]


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


def spec_of(item: pytest.Item) -> CheckSpec:
    default_timeout = item.config.stash[SPEC_KEY].default_timeout
    task = _marker_arg(item, "task", None)
    return CheckSpec(
        id=item.nodeid,
        name=check_name(item),
        points=int(_marker_arg(item, "points", 1)),
        task=None if task is None else int(task),
        gate=item.get_closest_marker("gate") is not None,
        visible=item.get_closest_marker("visible") is not None,
        timeout=float(_marker_arg(item, "timeout", default_timeout)),
        rules=_rules(item),
        concurrent=item.get_closest_marker("concurrent") is not None,
    )


def _rules(item: pytest.Item) -> tuple[str, ...]:
    """Every ``rules`` marker's ids (a module-level ``pytestmark`` and the function's own add up)."""
    found: list[str] = []
    for marker in item.iter_markers("rules"):
        for rule in marker.args:
            if str(rule) not in found:
                found.append(str(rule))
    return tuple(found)


def _read_spec() -> wire.JudgeSpec:
    spec_fd = os.environ.get("BACKEND_KIT_JUDGE_SPEC_FD")
    if not spec_fd:
        return wire.JudgeSpec()
    chunks = []
    while chunk := os.read(int(spec_fd), 65536):
        chunks.append(chunk)
    os.close(int(spec_fd))
    spec = wire.parse_judge_spec(b"".join(chunks))
    if spec is None:
        raise pytest.UsageError("the judge's spec is not a JudgeSpec (a bug in backend-kit)")
    return spec


def pytest_configure(config: pytest.Config) -> None:
    for marker, text in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {text}")
    spec = _read_spec()
    config.stash[SPEC_KEY] = spec
    config.stash[STATE_KEY] = JudgeState(fd=spec.results_fd, failed_gates=list(spec.failed_gates))
    TRANSCRIPT.record_all = spec.exchanges_file is not None
    # The fixtures of this exercise's kind (client, learner, learner_tests, ...), as a plugin of their own.
    fixtures = types.ModuleType(f"runner.kinds.{spec.kind}.fixtures")
    for name, fixture in kinds.get(spec.kind).judge_fixtures().items():
        setattr(fixtures, name, fixture)
    config.pluginmanager.register(fixtures, f"backend-kit-{spec.kind}-fixtures")


_STATE: dict[str, JudgeState] = {}


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        state = _STATE.get("state")
        if state is not None:
            state.emit(wire.CollectError(report.nodeid, str(report.longrepr)))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _STATE["state"] = session.config.stash[STATE_KEY]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE_KEY]
    spec = config.stash[SPEC_KEY]
    if spec.only:
        # A replay: the grade is of these checks alone (the manifest lists only them).
        only = set(spec.only)
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in only])
        items[:] = [item for item in items if item.nodeid in only]
    checks = [spec_of(item) for item in items]
    state.emit(wire.Manifest(tuple(checks)))
    for check in checks:
        state.names[check.id] = check.name
        if check.gate:
            state.gates.add(check.id)
    done = set(spec.done)
    if done:
        keep = [item for item in items if item.nodeid not in done]
        config.hook.pytest_deselected(items=[item for item in items if item.nodeid in done])
        items[:] = keep
    if spec.collect_only:
        config.hook.pytest_deselected(items=list(items))
        items[:] = []


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    state = _STATE.get("state")
    if state is not None:
        state.emit(wire.CheckStarted(nodeid))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    TRANSCRIPT.clear()
    state = item.config.stash[STATE_KEY]
    state.app_log_start[item.nodeid] = applog.offset(item.config.stash[SPEC_KEY].app_log)
    if state.failed_gates:
        pytest.skip(f"Not run: it needs “{state.failed_gates[0]}” to pass first.")


def _check_error(what: str) -> Outcome:
    return Outcome(
        CheckStatus.CHECK_ERROR,
        f"This check is broken ({what[:400]}); this is not your fault.",
        hint="Report it to whoever maintains the exercise; `runner validate` shows the same error.",
    )


def describe_exception(exc: BaseException, when: str) -> Outcome:
    """The outcome of a check that raised ``exc`` during its ``when`` phase (setup, call, teardown)."""
    if isinstance(exc, Mismatch):
        # What was sent: the check's own words, else the HTTP exchanges of this check (with curl).
        sent = exc.sent if exc.sent is not None else TRANSCRIPT.render()
        return Outcome(CheckStatus.FAILED, exc.message, exc.expected, exc.actual, sent, exc.hint,
                       blocked_by=exc.blocked_by)
    if isinstance(exc, protocol.RemoteError):
        return Outcome(CheckStatus.FAILED, f"your code raised {exc}", actual=exc.details[-1500:] or None,
                       hint="The traceback above shows where in your code it happened.")
    if isinstance(exc, pytest.skip.Exception):
        return Outcome(CheckStatus.SKIPPED, str(exc.msg))
    if isinstance(exc, pytest.fail.Exception):
        return Outcome(CheckStatus.FAILED, str(exc.msg))
    if isinstance(exc, AssertionError):
        return Outcome(CheckStatus.FAILED, str(exc) or "The check's expectation was not met.")
    if isinstance(exc, CHECK_BUGS):
        return _check_error(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, pytest.FixtureLookupError | pytest.UsageError):
        # A fixture that does not exist (one another kind provides, or a typo in the check).
        first = (str(exc).strip().splitlines() or [""])[0]
        return _check_error(f"it asks for a fixture that cannot be set up: {first}")
    return Outcome(CheckStatus.ERROR, f"The check could not complete: {type(exc).__name__}: {exc}"[:500],
                   hint="This usually means a response or return value had an unexpected shape.")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    state = item.config.stash[STATE_KEY]
    started = state.started.setdefault(item.nodeid, time.monotonic())
    if call.excinfo is not None and item.nodeid not in state.outcomes:
        state.outcomes[item.nodeid] = describe_exception(call.excinfo.value, call.when)
    if call.when == "teardown":
        outcome = state.outcomes.get(item.nodeid) or Outcome(CheckStatus.PASSED)
        if outcome.status in (CheckStatus.FAILED, CheckStatus.ERROR):
            # Evidence for the message only: what the app wrote while serving this check's requests.
            outcome = replace(outcome, app_output=applog.app_output(
                item.config.stash[SPEC_KEY].app_log, state.app_log_start.get(item.nodeid), TRANSCRIPT.request_ids))
        spec = item.config.stash[SPEC_KEY]
        if spec.exchanges_file:
            _write_exchanges(spec.exchanges_file, item.nodeid)
        finished = wire.CheckFinished(item.nodeid, replace(outcome, duration=time.monotonic() - started))
        state.emit(finished)
        if item.nodeid in state.gates and finished.status is not CheckStatus.PASSED:
            state.failed_gates.append(state.names.get(item.nodeid, item.name))
    return report


def _write_exchanges(path: str, check_id: str) -> None:
    """Append the check's exchanges (every one, in order) for ``runner replay``."""
    import json

    lines = [json.dumps({"check": check_id, **exchange.to_record()}) + "\n" for exchange in TRANSCRIPT.everything]
    with open(path, "a", encoding="utf-8") as file:
        file.writelines(lines)


# ---------------------------------------------------------------- fixtures every kind has


@pytest.fixture(scope="session")
def judge_spec(pytestconfig: pytest.Config) -> wire.JudgeSpec:
    """The grade's spec as the runner sent it (timeouts, seed, the judge's own service URLs)."""
    return pytestconfig.stash[SPEC_KEY]


@pytest.fixture(scope="session")
def exercise_dir(pytestconfig: pytest.Config) -> Path:
    """The exercise's folder (the parent of checks/), for data the checks read."""
    return Path(str(pytestconfig.rootpath)).resolve().parent


@pytest.fixture
def rng(judge_spec: wire.JudgeSpec, request: pytest.FixtureRequest) -> random.Random:
    """Random data seeded per grade and per check, so answers cannot be hard-coded yet reruns agree."""
    return random.Random(f"{judge_spec.seed}:{request.node.nodeid}")


@pytest.fixture(scope="session")
def endpoint(judge_spec: wire.JudgeSpec, pytestconfig: pytest.Config) -> wire.Endpoint:
    """Where the learner's program listens; the runner sends it once the program is ready.

    The judge starts while the learner's program is still importing (the two start in parallel),
    so the address arrives on a channel rather than in the spec.
    """
    state = pytestconfig.stash[STATE_KEY]
    if state.endpoint is not None:
        return state.endpoint
    fd = judge_spec.endpoint_fd
    if fd is None:
        pytest.fail("the runner gave the judge no endpoint for the learner's program")
    data = b""
    deadline = time.monotonic() + judge_spec.endpoint_timeout
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            pytest.fail("the learner's program did not become ready")
        data += chunk
    state.endpoint = wire.parse_endpoint(data)
    if state.endpoint is None:
        pytest.fail("the runner sent the judge an endpoint it cannot read")
    return state.endpoint


@pytest.fixture(scope="session")
def database_url(judge_spec: wire.JudgeSpec) -> str:
    """The grade's database with the judge's own (admin) credentials; never pass it to learner code."""
    if not judge_spec.database_url:
        pytest.fail("this exercise has no database")
    return judge_spec.database_url


@pytest.fixture(scope="session")
def learner_settings(endpoint: wire.Endpoint) -> dict[str, str]:
    """The settings the learner's program was given, as it sees them (DATABASE_URL, REDIS_URL).

    Pass these, never ``database_url``, to learner functions: the judge's own URL carries admin
    credentials and may not even be reachable from inside the learner's sandbox.
    """
    return dict(endpoint.config)


@pytest.fixture(scope="session")
def learner_database_url(learner_settings: dict[str, str]) -> str:
    """The learner's DATABASE_URL as their program sees it."""
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
def statements(judge_spec: wire.JudgeSpec, request: pytest.FixtureRequest) -> Any:
    """The SQL statements the learner's app sends: ``with statements.watch() as log:`` (``runner.judge.statements``)."""
    from .statements import make_statements

    server = (judge_spec.database_url or "").startswith("postgresql")
    return make_statements(judge_spec, request.getfixturevalue("db") if server else None)


@pytest.fixture(scope="session")
def redis(judge_spec: wire.JudgeSpec) -> Iterator[Any]:
    """A Redis client on the grade's own Redis (strings decoded)."""
    import redis as redis_module

    if not judge_spec.redis_url:
        pytest.fail("this exercise has no Redis")
    connection = redis_module.Redis.from_url(judge_spec.redis_url, decode_responses=True, socket_timeout=5)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def redis_probe(redis: Any) -> Any:
    """A ``runner.judge.RedisProbe`` on the grade's Redis: keys, types, TTLs, values, and ``watch()``."""
    from .redis_probe import RedisProbe

    return RedisProbe(redis)


@pytest.fixture
def faults(judge_spec: wire.JudgeSpec, learner_settings: dict[str, str]) -> Iterator[Any]:
    """A ``runner.judge.Faults``: ``redis_down()`` / ``database_down()`` for this grade only; restored at teardown."""
    from .faults import Faults

    outages = Faults(judge_redis_url=judge_spec.redis_url, learner_redis_url=learner_settings.get("REDIS_URL"),
                     judge_database_url=judge_spec.database_url,
                     learner_database_url=learner_settings.get("DATABASE_URL"), fault_token=judge_spec.fault_token)
    yield outages
    outages.restore_all()
