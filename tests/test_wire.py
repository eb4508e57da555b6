"""The wire: every cross-process message round-trips, and hostile input is noise, never an exception."""

from __future__ import annotations

import json
import random

import pytest

from runner import wire
from runner.results import Category, CheckSpec, CheckStatus, Outcome

MESSAGES = [
    (wire.HostSpec("wsgi", "app:create_app", (), {"DATABASE_URL": "sqlite:///x"}, {"as": 1 << 32}, (), "0.0.0.0"),
     wire.parse_host_spec),
    (wire.HostSpec("tests", "pricing", ("price",), test_files=("test_pricing.py",)), wire.parse_host_spec),
    (wire.HostSpec("wsgi", "app:create_app", statement_log="/data/statements.log"), wire.parse_host_spec),
    (wire.HostSpec("wsgi", "app:create_app", app_log="/data/app.log"), wire.parse_host_spec),
    (wire.HostBooted(), wire.parse_host_report),
    (wire.HostReady(41234), wire.parse_host_report),
    (wire.HostFailed(Category.IMPORT_ERROR, "importing app raised KeyError", "Traceback ..."), wire.parse_host_report),
    (wire.Endpoint("10.0.0.2", 8080, {"REDIS_URL": "redis://r/0"}), wire.parse_endpoint),
    (wire.Endpoint("10.0.0.2", 8080, {}, (("10.0.0.2", 8080), ("10.0.0.3", 8081))), wire.parse_endpoint),
    (wire.HostSpec("wsgi", "app:create_app", instance=1), wire.parse_host_spec),
    (wire.StopInstance(1), wire.parse_judge_event),
    (wire.InstanceStopped(1), wire.parse_instance_stopped),
    (wire.JudgeSpec(kind="functions", results_fd=5, endpoint_fd=7, database_url="postgresql://a@b/c", seed=99,
                    default_timeout=3.5, impl_port=4000, done=("a::b",), failed_gates=("gate",), collect_only=True),
     wire.parse_judge_spec),
    (wire.JudgeSpec(database_url="sqlite:////g/db/grade.sqlite3", statement_log="/g/db/statements.log"),
     wire.parse_judge_spec),
    (wire.JudgeSpec(redis_url="redis://backend-kit-judge:t0k@127.0.0.1:6379/0", fault_token="t0k"),
     wire.parse_judge_spec),
    (wire.JudgeSpec(app_log="/g/db/app.log", only=("f.py::test_a",), exchanges_file="/tmp/r/exchanges.jsonl"),
     wire.parse_judge_spec),
    (wire.Manifest((CheckSpec("f.py::test_a", "A", 2, task=1, gate=True, visible=True, timeout=4.0),
                    CheckSpec("f.py::test_b[x]", "B {x}", 1))), wire.parse_judge_event),
    (wire.CheckStarted("f.py::test_a"), wire.parse_judge_event),
    (wire.CheckFinished("f.py::test_a", Outcome(CheckStatus.FAILED, "wrong", "1", "2", "GET /", "try", 0.25)),
     wire.parse_judge_event),
    (wire.CheckFinished("f.py::test_b", Outcome(CheckStatus.CHECK_ERROR)), wire.parse_judge_event),
    (wire.CheckFinished("f.py::test_c", Outcome(CheckStatus.FAILED, "500", app_output="ZeroDivisionError: x")),
     wire.parse_judge_event),
    (wire.CollectError("f.py", "SyntaxError"), wire.parse_judge_event),
    (wire.TestOutcome("test_x.py::test_one", "failed", "call", ""), wire.parse_test_outcome),
]


@pytest.mark.parametrize(("message", "parse"), MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(message, parse):
    """dump then parse gives back the same message, for every message type."""
    line = wire.dump(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse(line) == message


def test_a_test_run_reply_round_trips_through_the_protocol_value():
    """The reply the learner host returns over the protocol parses back to the same reply."""
    reply = wire.TestRunReply((wire.TestOutcome("t::a", "passed"), wire.TestOutcome("t::b", "error", "collect", "E")),
                              True)
    assert wire.parse_test_run(json.loads(json.dumps(reply.to_wire()))) == reply


HOSTILE = [
    b"", b"\n", b"not json", b"[1, 2]", b"null", b"42", b'"ready"', b"{}", b'{"event": "ready"}',
    b'{"event": "ready", "port": "80"}', b'{"event": "ready", "port": true}', b'{"event": "ready", "port": 70000}',
    b'{"event": "manifest", "checks": [{"id": 1}]}', b'{"event": "manifest", "checks": "all"}',
    b'{"event": "result", "id": "x", "status": "excellent"}', b'{"event": "result", "status": "passed"}',
    b'{"event": "start"}', b'{"event": "start", "id": ["x"]}', b"\xff\xfe\x00", b"[" * 100_000,
    b'{"host": "h", "port": 1.5}', b'{"seed": "1"}', b'{"seed": 1, "results_fd": "3"}',
    b'{"test": 1, "outcome": "passed"}', b'{"test": "t", "outcome": "won"}',
    b'{"host": "h", "port": 1, "instances": [["h"]]}', b'{"host": "h", "port": 1, "instances": "all"}',
    b'{"event": "stop_instance", "index": "0"}', b'{"stopped": true}',
]
PARSERS = [wire.parse_host_spec, wire.parse_host_report, wire.parse_endpoint, wire.parse_judge_spec,
           wire.parse_judge_event, wire.parse_test_outcome, wire.parse_instance_stopped]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__name__)
def test_hostile_lines_are_noise_not_exceptions(parse):
    """Malformed lines, wrong types, deep nesting and invalid bytes parse to None; nothing raises."""
    for line in HOSTILE:
        assert parse(line) is None, line[:60]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__name__)
def test_random_json_never_raises(parse):
    """A seeded fuzz of JSON objects with the messages' own keys and random values never raises."""
    rng = random.Random(7)
    keys = ["event", "port", "category", "message", "checks", "id", "status", "kind", "target", "functions",
            "config", "limits", "host", "seed", "done", "results_fd", "test", "outcome", "when", "timeout", "points",
            "instances", "instance", "stopped", "index"]
    values = [None, True, 0, -1, 2**70, 1.5, float("inf"), "", "x", "passed", "ready", "error", [], [1], {}, {"a": 1}]
    for _ in range(2000):
        raw = {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(0, 6))}
        parse(json.dumps(raw))


def test_an_unknown_failure_category_is_a_startup_error():
    """A host report naming a category the host may not use is read as a start-up error."""
    report = wire.parse_host_report(b'{"event": "error", "category": "limit_exceeded", "message": "m"}')
    assert report == wire.HostFailed(Category.STARTUP_ERROR, "m", "")


def test_lines_keep_a_bounded_unfinished_line():
    """A stream without newlines cannot grow the reader's buffer past MAX_LINE."""
    lines = wire.Lines()
    for _ in range(5):
        assert lines.feed(b"x" * wire.MAX_LINE) == []
    assert len(lines.flush()[0]) == wire.MAX_LINE
    assert lines.feed(b'{"a": 1}\n{"b"') == [b'{"a": 1}'] and lines.flush() == [b'{"b"']


def test_judge_spec_fault_token_is_optional_text():
    """The embedded Redis's fault token: absent by default, and anything but a string is dropped."""
    assert wire.JudgeSpec().fault_token is None
    raw = json.loads(wire.dump(wire.JudgeSpec(fault_token="abc")))
    assert wire.parse_judge_spec(json.dumps(raw)).fault_token == "abc"
    for bad in (7, ["abc"], None):
        assert wire.parse_judge_spec(json.dumps({**raw, "fault_token": bad})).fault_token is None
