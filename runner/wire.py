"""Every message that crosses a process boundary, as frozen dataclasses. Pure, stdlib only.

A grade is four processes: the runner, the learner host (inside the sandbox), the judge (pytest)
and, for the tests kind, forked runs of the learner's tests. They talk in JSON, one object per
line. Writing the messages down once, here, means a field renamed on one side is a mypy error on
the other, not a grade that fails at run time.

Who writes what::

    runner  ──HostSpec (file)──▶  learner host  ──HostBooted, then HostReady | HostFailed
                                                  (ready channel)──▶ runner
    runner  ──JudgeSpec (descriptor)──▶ judge   ──Manifest, CheckStarted, CheckFinished,
                                                  CollectError (results channel)──▶ runner
    runner  ──Endpoint, then InstanceStopped (endpoint channel)──▶ judge
    judge   ──StopInstance (results channel)──▶ runner     (exercises with several instances)
    learner test run ──TestOutcome lines──▶ learner host ──TestRunReply (protocol)──▶ judge

The learner's code can write to the ready channel (it is its own process) and to the test run's
outcome pipe, so every ``parse_*`` function takes hostile input: it never raises, and returns
``None`` for anything that is not a well-formed message. The caller treats ``None`` as noise.

This module is imported inside the learner's sandbox, so it imports nothing but the stdlib and
``results`` (itself stdlib only).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .results import Category, CheckSpec, CheckStatus, Outcome

#: Longest line a reader keeps while waiting for its end; a channel flooded without newlines
#: cannot grow the reader's memory past this.
MAX_LINE = 1 << 20

#: What the learner host may report as the reason it could not start.
HOST_CATEGORIES = frozenset({Category.SYNTAX_ERROR, Category.IMPORT_ERROR, Category.STARTUP_ERROR})


# ---------------------------------------------------------------- helpers (never raise)


def _line(data: bytes | str) -> dict[str, Any] | None:
    try:
        value = json.loads(data)
    except (ValueError, TypeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _str(value: object, default: str | None = None) -> str | None:
    return value if isinstance(value, str) else default


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object, default: float | None = None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    number = float(value)
    return number if math.isfinite(number) else default


def _str_map(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)


def _str_tuple(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(value)


def _optional_text(value: object) -> str | None:
    """Judge-written text fields: anything is shown as text, ``None`` stays absent."""
    return None if value is None else str(value)


def dump(message: Any) -> bytes:
    """One message as a JSON line (every message type below has ``to_wire``)."""
    return json.dumps(message.to_wire()).encode() + b"\n"


class Lines:
    """Splits a byte stream into lines; keeps at most ``MAX_LINE`` bytes of an unfinished one."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        *lines, rest = (self._rest + chunk).split(b"\n")
        self._rest = rest[:MAX_LINE]
        return [line for line in lines if line.strip()]

    def flush(self) -> list[bytes]:
        """What is left once the stream has ended (a last line without its newline)."""
        rest, self._rest = self._rest, b""
        return [rest] if rest.strip() else []


# ---------------------------------------------------------------- runner → learner host


@dataclass(frozen=True)
class HostSpec:
    """What the learner host serves, and how (written by the runner to a file the host reads)."""

    kind: str
    target: str
    functions: tuple[str, ...] = ()
    config: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, int] = field(default_factory=dict)
    test_files: tuple[str, ...] = ()
    #: The address the host listens on: loopback in the process sandbox, all of the container's
    #: addresses in the docker sandbox (its network is private to the grade).
    bind: str = "127.0.0.1"
    #: Where the host appends each SQL statement its ``sqlite3`` connections run, one a line, as the
    #: sandbox sees that file (in the grade's ``db/`` folder); None: nothing is recorded.
    statement_log: str | None = None
    #: Where the host writes a stack sample of itself when it gets SIGUSR1 (``faulthandler``), as
    #: the sandbox sees that file; the runner asks for one just before it kills a program for time.
    stack_file: str | None = None
    #: Where the host appends what the app wrote while serving each of the judge's requests
    #: (``runner.learner.applog``), as the sandbox sees that file; None: nothing is recorded.
    app_log: str | None = None
    #: Which copy of the program this is (0, 1, ...), when the exercise runs several
    #: (``entry.instances``); sandboxes name this copy's files after it.
    instance: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "functions": list(self.functions),
                "config": dict(self.config), "limits": dict(self.limits), "test_files": list(self.test_files),
                "bind": self.bind, "statement_log": self.statement_log, "stack_file": self.stack_file,
                "app_log": self.app_log, "instance": self.instance}


def parse_host_spec(data: bytes | str) -> HostSpec | None:
    raw = _line(data)
    if raw is None:
        return None
    kind, target = _str(raw.get("kind")), _str(raw.get("target"))
    functions, test_files = _str_tuple(raw.get("functions", [])), _str_tuple(raw.get("test_files", []))
    config = _str_map(raw.get("config", {}))
    limits = raw.get("limits", {})
    if (kind is None or target is None or functions is None or test_files is None or config is None
            or not isinstance(limits, dict) or not all(isinstance(k, str) and _int(v) is not None
                                                       for k, v in limits.items())):
        return None
    return HostSpec(kind, target, functions, config, dict(limits), test_files,
                    _str(raw.get("bind"), "127.0.0.1") or "127.0.0.1", _str(raw.get("statement_log")),
                    _str(raw.get("stack_file")), _str(raw.get("app_log")), _int(raw.get("instance", 0)) or 0)


# ---------------------------------------------------------------- learner host → runner


@dataclass(frozen=True)
class HostBooted:
    """The interpreter and the runner's host are up, and no learner code has run yet: the learner's
    start-up time begins now (booting a container or a cold interpreter is the sandbox's cost)."""

    def to_wire(self) -> dict[str, Any]:
        return {"event": "booted"}


@dataclass(frozen=True)
class HostReady:
    """The learner's code imported and started; it listens on ``port``."""

    port: int

    def to_wire(self) -> dict[str, Any]:
        return {"event": "ready", "port": self.port}


@dataclass(frozen=True)
class HostFailed:
    """The learner's code could not be imported or started (its own error, with its traceback)."""

    category: Category
    message: str
    details: str = ""
    #: Advice for this failure in particular (a diagnosis), else the category's.
    advice: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"event": "error", "category": self.category.value, "message": self.message, "details": self.details,
                "advice": self.advice}


HostReport: TypeAlias = HostBooted | HostReady | HostFailed


def parse_host_report(data: bytes | str) -> HostReport | None:
    raw = _line(data)
    if raw is None:
        return None
    if raw.get("event") == "booted":
        return HostBooted()
    if raw.get("event") == "ready":
        port = _int(raw.get("port"))
        return HostReady(port) if port is not None and 0 < port < 65536 else None
    if raw.get("event") == "error":
        try:
            category = Category(str(raw.get("category")))
        except ValueError:
            category = Category.STARTUP_ERROR
        if category not in HOST_CATEGORIES:
            category = Category.STARTUP_ERROR
        return HostFailed(category, str(raw.get("message", "")), str(raw.get("details", "")),
                          str(raw.get("advice", "")))
    return None


# ---------------------------------------------------------------- runner → judge


@dataclass(frozen=True)
class Endpoint:
    """Where the judge reaches the learner's program once it is ready, and the settings it was
    given as it sees them (pass those, never the judge's own URLs, to learner functions)."""

    host: str
    port: int
    config: Mapping[str, str] = field(default_factory=dict)
    #: Every copy of the program, in order, as (host, port); the first is ``host``, ``port``. Empty
    #: means one copy (an exercise with ``entry.instances = 1``).
    instances: tuple[tuple[str, int], ...] = ()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The base URL of each copy of the program (one when there is one)."""
        return tuple(f"http://{h}:{p}" for h, p in self.instances) or (self.base_url,)

    def to_wire(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "config": dict(self.config),
                "instances": [[h, p] for h, p in self.instances]}


def parse_endpoint(data: bytes | str) -> Endpoint | None:
    raw = _line(data)
    if raw is None:
        return None
    host, port, config = _str(raw.get("host")), _int(raw.get("port")), _str_map(raw.get("config", {}))
    listed = raw.get("instances", [])
    if host is None or port is None or config is None or not isinstance(listed, list):
        return None
    instances = []
    for item in listed:
        if not (isinstance(item, list) and len(item) == 2 and _str(item[0]) is not None and _int(item[1]) is not None):
            return None
        instances.append((str(item[0]), int(item[1])))
    return Endpoint(host, port, config, tuple(instances))


@dataclass(frozen=True)
class InstanceStopped:
    """The runner's answer to ``StopInstance``: that copy of the program is gone (its process group
    killed, or its container), so its port no longer answers."""

    index: int

    def to_wire(self) -> dict[str, Any]:
        return {"stopped": self.index}


def parse_instance_stopped(data: bytes | str) -> InstanceStopped | None:
    raw = _line(data)
    index = None if raw is None else _int(raw.get("stopped"))
    return None if index is None else InstanceStopped(index)


@dataclass(frozen=True)
class JudgeSpec:
    """Everything the judge needs for one attempt of a grade; sent on a descriptor it alone holds."""

    kind: str = "wsgi"
    results_fd: int | None = None
    endpoint_fd: int | None = None
    database_url: str | None = None
    redis_url: str | None = None
    seed: int = 0
    default_timeout: float = 10.0
    request_timeout: float = 5.0
    call_timeout: float = 10.0
    test_run_timeout: float = 20.0
    #: Where the learner's sandbox reaches this judge (the tests kind serves implementations there).
    impl_host: str = "127.0.0.1"
    impl_port: int = 0
    done: tuple[str, ...] = ()
    failed_gates: tuple[str, ...] = ()
    collect_only: bool = False
    endpoint_timeout: float = 60.0
    #: The embedded Redis's per-grade secret for its fault control command (``runner.judge.faults``).
    fault_token: str | None = None
    #: The learner host's statement log (``HostSpec.statement_log``) as the judge sees that file.
    statement_log: str | None = None
    #: The runner's own copy of the submitted files, out of the learner's reach (``submission_files``).
    submission_dir: str | None = None
    #: The learner host's app log (``HostSpec.app_log``) as the judge sees that file.
    app_log: str | None = None
    #: Run only these checks (node ids; the manifest lists only them): ``runner replay``.
    only: tuple[str, ...] = ()
    #: Where the judge appends every HTTP exchange of the checks it runs, one JSON object a line
    #: (``runner.judge.http.Exchange.to_record``): ``runner replay``. None: not written.
    exchanges_file: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "results_fd": self.results_fd, "endpoint_fd": self.endpoint_fd,
            "database_url": self.database_url, "redis_url": self.redis_url, "seed": self.seed,
            "default_timeout": self.default_timeout, "request_timeout": self.request_timeout,
            "call_timeout": self.call_timeout, "test_run_timeout": self.test_run_timeout,
            "impl_host": self.impl_host, "impl_port": self.impl_port, "done": list(self.done),
            "failed_gates": list(self.failed_gates), "collect_only": self.collect_only,
            "endpoint_timeout": self.endpoint_timeout, "fault_token": self.fault_token,
            "statement_log": self.statement_log, "submission_dir": self.submission_dir,
            "app_log": self.app_log, "only": list(self.only), "exchanges_file": self.exchanges_file,
        }


def parse_judge_spec(data: bytes | str) -> JudgeSpec | None:
    """The runner wrote it, but the judge checks it all the same: a wrong spec is reported, not guessed."""
    raw = _line(data)
    if raw is None or _str(raw.get("kind")) is None:
        return None
    default = JudgeSpec()
    seed = _int(raw.get("seed", 0))
    impl_port = _int(raw.get("impl_port", 0))
    done, gates = _str_tuple(raw.get("done", [])), _str_tuple(raw.get("failed_gates", []))
    only = _str_tuple(raw.get("only", []))
    fds = [raw.get("results_fd"), raw.get("endpoint_fd")]
    if seed is None or impl_port is None or done is None or gates is None or only is None:
        return None
    if not all(fd is None or _int(fd) is not None for fd in fds):
        return None
    return JudgeSpec(
        kind=str(raw["kind"]),
        results_fd=_int(fds[0]),
        endpoint_fd=_int(fds[1]),
        database_url=_str(raw.get("database_url")),
        redis_url=_str(raw.get("redis_url")),
        seed=seed,
        default_timeout=_float(raw.get("default_timeout"), default.default_timeout) or default.default_timeout,
        request_timeout=_float(raw.get("request_timeout"), default.request_timeout) or default.request_timeout,
        call_timeout=_float(raw.get("call_timeout"), default.call_timeout) or default.call_timeout,
        test_run_timeout=_float(raw.get("test_run_timeout"), default.test_run_timeout) or default.test_run_timeout,
        impl_host=_str(raw.get("impl_host"), default.impl_host) or default.impl_host,
        impl_port=impl_port,
        done=done,
        failed_gates=gates,
        collect_only=raw.get("collect_only") is True,
        endpoint_timeout=_float(raw.get("endpoint_timeout"), default.endpoint_timeout) or default.endpoint_timeout,
        fault_token=_str(raw.get("fault_token")),
        statement_log=_str(raw.get("statement_log")),
        submission_dir=_str(raw.get("submission_dir")),
        app_log=_str(raw.get("app_log")),
        only=only,
        exchanges_file=_str(raw.get("exchanges_file")),
    )


# ---------------------------------------------------------------- judge → runner


@dataclass(frozen=True)
class Manifest:
    """The checks the judge collected, in the order they run: only these can earn points."""

    checks: tuple[CheckSpec, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"event": "manifest", "checks": [
            {"id": c.id, "name": c.name, "points": c.points, "task": c.task, "gate": c.gate,
             "visible": c.visible, "timeout": c.timeout, "rules": list(c.rules), "concurrent": c.concurrent}
            for c in self.checks]}


@dataclass(frozen=True)
class CheckStarted:
    id: str

    def to_wire(self) -> dict[str, Any]:
        return {"event": "start", "id": self.id}


@dataclass(frozen=True)
class CheckFinished:
    """One check's outcome as the judge saw it (``duration`` in seconds)."""

    id: str
    outcome: Outcome

    @property
    def status(self) -> CheckStatus:
        return self.outcome.status

    def to_wire(self) -> dict[str, Any]:
        o = self.outcome
        return {"event": "result", "id": self.id, "status": o.status.value, "message": o.message,
                "expected": o.expected, "actual": o.actual, "sent": o.sent, "hint": o.hint, "duration": o.duration,
                "blocked_by": o.blocked_by, "app_output": o.app_output}


@dataclass(frozen=True)
class CollectError:
    """A check file could not be collected: a bug in the exercise, never the learner's."""

    where: str
    details: str

    def to_wire(self) -> dict[str, Any]:
        return {"event": "collect_error", "where": self.where, "details": self.details}


@dataclass(frozen=True)
class StopInstance:
    """A check asks the runner to stop one copy of the learner's program (an instance going down
    while the other serves on: state must live in the shared services, not in its memory)."""

    index: int

    def to_wire(self) -> dict[str, Any]:
        return {"event": "stop_instance", "index": self.index}


JudgeEvent: TypeAlias = Manifest | CheckStarted | CheckFinished | CollectError | StopInstance


def _check_spec(raw: object) -> CheckSpec | None:
    if not isinstance(raw, dict):
        return None
    check_id, name, points = _str(raw.get("id")), _str(raw.get("name")), _int(raw.get("points"))
    task, timeout = raw.get("task"), _float(raw.get("timeout"))
    if check_id is None or name is None or points is None or timeout is None:
        return None
    if task is not None and _int(task) is None:
        return None
    rules = raw.get("rules", [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        return None
    return CheckSpec(id=check_id, name=name, points=points, task=_int(task), gate=raw.get("gate") is True,
                     visible=raw.get("visible") is True, timeout=timeout, rules=tuple(rules),
                     concurrent=raw.get("concurrent") is True)


def parse_judge_event(data: bytes | str) -> JudgeEvent | None:
    raw = _line(data)
    if raw is None:
        return None
    event = raw.get("event")
    if event == "manifest":
        checks = raw.get("checks")
        if not isinstance(checks, list):
            return None
        specs = [_check_spec(c) for c in checks]
        return None if any(s is None for s in specs) else Manifest(tuple(s for s in specs if s is not None))
    check_id = _str(raw.get("id"))
    if event == "start":
        return None if check_id is None else CheckStarted(check_id)
    if event == "result":
        try:
            status = CheckStatus(str(raw.get("status")))
        except ValueError:
            return None
        if check_id is None:
            return None
        return CheckFinished(check_id, Outcome(
            status, str(raw.get("message") or ""), _optional_text(raw.get("expected")),
            _optional_text(raw.get("actual")), _optional_text(raw.get("sent")), _optional_text(raw.get("hint")),
            _float(raw.get("duration"), 0.0) or 0.0, _optional_text(raw.get("blocked_by")),
            _optional_text(raw.get("app_output"))))
    if event == "collect_error":
        return CollectError(str(raw.get("where", "")), str(raw.get("details", "")))
    if event == "stop_instance":
        index = _int(raw.get("index"))
        return None if index is None else StopInstance(index)
    return None


# ---------------------------------------------------------------- learner test runs → judge


@dataclass(frozen=True)
class TestOutcome:
    """One test of the learner's suite, as their own (untrusted) test run reported it."""

    __test__ = False  # not a pytest test class

    test: str
    outcome: str  # passed | failed | error | skipped
    when: str = "call"  # collect | setup | call | teardown
    message: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"test": self.test, "outcome": self.outcome, "when": self.when, "message": self.message}


OUTCOMES = frozenset({"passed", "failed", "error", "skipped"})


def parse_test_outcome(data: bytes | str | Mapping[str, Any]) -> TestOutcome | None:
    raw = dict(data) if isinstance(data, Mapping) else _line(data)
    if raw is None:
        return None
    test, outcome = _str(raw.get("test")), _str(raw.get("outcome"))
    if test is None or outcome not in OUTCOMES:
        return None
    return TestOutcome(test, str(outcome), _str(raw.get("when"), "call") or "call", str(raw.get("message", "")))


@dataclass(frozen=True)
class TestRunReply:
    """What one run of the learner's tests reported, relayed by the host to the judge."""

    __test__ = False

    outcomes: tuple[TestOutcome, ...]
    timed_out: bool

    def to_wire(self) -> dict[str, Any]:
        return {"timed_out": self.timed_out, "outcomes": [o.to_wire() for o in self.outcomes]}


def parse_test_run(value: object) -> TestRunReply | None:
    """From the protocol's decoded value (a dict), not a line."""
    if not isinstance(value, dict) or not isinstance(value.get("outcomes"), list):
        return None
    outcomes = [parse_test_outcome(o) for o in value["outcomes"] if isinstance(o, dict)]
    return TestRunReply(tuple(o for o in outcomes if o is not None), value.get("timed_out") is True)


def reply_from_lines(lines: Sequence[bytes], timed_out: bool) -> TestRunReply:
    outcomes = [parse_test_outcome(line) for line in lines]
    return TestRunReply(tuple(o for o in outcomes if o is not None), timed_out)
