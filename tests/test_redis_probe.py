"""The Redis toolkit of the judge (runner.judge.redis_probe): keys, TTLs, values, and the commands the
learner's app sent, watched with MONITOR from outside its process, on the embedded fakeredis server
and on a real Redis (docker provider); and each helper's message."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis as redis_module

from runner.judge import (
    CommandLog,
    KeyState,
    Mismatch,
    RedisProbe,
    expect_cache_hit,
    expect_command,
    expect_key,
    expect_no_command,
    expect_no_key,
    expect_ttl_between,
)
from runner.judge.redis_probe import JUDGE_CLIENT_NAME, LoggedCommand, parse_monitor_args, parse_monitor_line
from runner.services import GradeServices
from runner.services.embedded import EmbeddedProvider, monitor_repr

BACKENDS = ["embedded", pytest.param("docker", marks=pytest.mark.docker)]


@dataclass
class Grade:
    services: GradeServices
    judge: Any  # the judge's client (its own URL), as the `redis` fixture makes it
    learner: Any  # a client on the learner's REDIS_URL, standing in for the learner's app
    probe: RedisProbe


def _client(url: str) -> Any:
    return redis_module.Redis.from_url(url, decode_responses=True, socket_timeout=5)


@pytest.fixture(params=BACKENDS)
def provider(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "embedded":
        embedded = EmbeddedProvider()
        yield embedded
        embedded.close()
    else:
        yield request.getfixturevalue("docker_services")


@pytest.fixture
def grades(provider: Any, tmp_path: Path) -> Iterator[Any]:
    """Acquire grades (Redis and a database each) on the provider; all released after."""
    acquired: list[Grade] = []

    def acquire() -> Grade:
        folder = tmp_path / f"grade-{len(acquired)}"
        folder.mkdir()
        services = provider.acquire(folder, database=True, redis=True)
        judge = _client(services.judge_redis)
        grade = Grade(services, judge, _client(services.redis_url), RedisProbe(judge))
        acquired.append(grade)
        return grade

    yield acquire
    for grade in acquired:
        grade.judge.close()
        grade.learner.close()
        provider.release(grade.services)


# ---------------------------------------------------------------- watching commands


def test_watch_logs_the_apps_commands_and_not_the_judges(grades):
    """Commands of another client in the block are logged, in order, name uppercased; the judge's
    own (its `redis` client, the probe's reads) are not; nor anything before or after the block."""
    grade = grades()
    grade.learner.set("before", "1")
    grade.judge.set("fixture-data", "x")
    with grade.probe.watch("GET /posts/7") as log:
        assert grade.learner.get("post:7") is None
        grade.judge.get("fixture-data")
        grade.probe.keys()
        grade.learner.set("post:7", '{"id": 7}', ex=60)
        grade.learner.execute_command("hget", "h", "f")
    grade.learner.get("after")
    assert log.commands == [("GET", "post:7"), ("SET", "post:7", '{"id": 7}', "EX", "60"), ("HGET", "h", "f")]
    assert log.count("get") == 1 and log.count("SET", "post:7") == 1 and log.count("DEL") == 0
    assert log.reads() == [("GET", "post:7"), ("HGET", "h", "f")]
    assert log.writes() == [("SET", "post:7", '{"id": 7}', "EX", "60")]
    assert all(isinstance(entry, LoggedCommand) and entry.db == grade.probe.db for entry in log.entries)


def test_watch_sees_a_new_connection_and_its_handshake_only_in_all_commands(grades):
    """An app that connects inside the block: its set-up (HELLO, SELECT, CLIENT SETINFO, ...) is in
    all_commands, not in commands; credentials never appear."""
    grade = grades()
    with grade.probe.watch() as log:
        fresh = _client(grade.services.redis_url)
        fresh.execute_command("INCR", "hits")
        fresh.close()
    assert log.commands == [("INCR", "hits")]
    assert ("INCR", "hits") in log.all_commands and len(log.all_commands) > 1
    password = grade.services.redis_url.rpartition("@")[0].rpartition(":")[2]
    assert not any(password and password in arg for command in log.all_commands for arg in command)


def test_watch_leaves_out_another_grades_commands(grades):
    """A second grade on the same server (another slot of a real Redis) is not in the first's log."""
    first, second = grades(), grades()
    with first.probe.watch() as log:
        second.learner.set("theirs", "1")
        second.learner.get("theirs")
        first.learner.get("mine")
        second.judge.get("theirs")
    assert log.commands == [("GET", "mine")]


def test_the_end_of_the_block_waits_for_every_command(grades):
    """MONITOR is asynchronous: a burst of pipelined commands just before the block ends is all there."""
    grade = grades()
    with grade.probe.watch() as log:
        pipe = grade.learner.pipeline(transaction=False)
        for n in range(500):
            pipe.set(f"k{n}", "x" * 50 + "\n\"quoted\"\t\x01é")
        pipe.execute()
    assert log.count("SET") == 500
    assert log.commands[-1] == ("SET", "k499", "x" * 50 + "\n\"quoted\"\t\x01é")


def test_the_learner_may_not_monitor(grades):
    """The grade's own Redis user cannot MONITOR (it would see the judge's commands, or other grades')."""
    grade = grades()
    with pytest.raises(redis_module.ResponseError, match="no permissions"):
        grade.learner.execute_command("MONITOR")


def test_the_judges_connections_are_named(grades):
    """Every judge connection, the existing ones included, carries the judge's random name."""
    grade = grades()
    grade.judge.ping()
    names = [c.get("name") for c in grade.judge.client_list()]
    assert JUDGE_CLIENT_NAME in names
    assert JUDGE_CLIENT_NAME.startswith("backend-kit-judge-") and len(JUDGE_CLIENT_NAME) > 20


def test_monitor_lines_round_trip_escapes():
    """The embedded server writes arguments as Redis does (sdscatrepr); the judge reads them back."""
    args = [b"SET", b"k", b'a"b\\c\n\r\t\x07\x08\x00\xff end']
    line = "+1700000000.123456 [3 127.0.0.1:5000] " + " ".join(monitor_repr(a) for a in args)
    entry = parse_monitor_line(line)
    assert entry is not None
    assert (entry.time, entry.db, entry.client) == (1700000000.123456, 3, "127.0.0.1:5000")
    assert entry.args == ("SET", "k", args[2].decode("latin-1"))  # not UTF-8: read as Latin-1
    assert parse_monitor_args(monitor_repr("é ü".encode())) == ("é ü",)
    assert parse_monitor_line('1700000000.1 [0 lua] "get" "k"').client == "lua"
    assert parse_monitor_line("OK") is None


# ---------------------------------------------------------------- reading keys


def test_keys_types_ttls_values_and_snapshot(grades):
    """Each type's value in its documented shape; TTL in seconds or None; snapshot of a pattern."""
    grade = grades()
    learner, probe = grade.learner, grade.probe
    learner.set("s", "v", ex=100)
    learner.hset("h", mapping={"a": "1", "b": "2"})
    learner.rpush("l", "x", "y", "x")
    learner.sadd("set", "b", "a")
    learner.zadd("z", {"m": 2, "n": 1})
    assert probe.keys() == ["h", "l", "s", "set", "z"]
    assert probe.keys("s*") == ["s", "set"]
    assert [probe.type(k) for k in ("s", "h", "l", "set", "z", "nope")] == ["string", "hash", "list", "set",
                                                                             "zset", "none"]
    assert 99 < probe.ttl("s") <= 100 and probe.ttl("h") is None and probe.ttl("nope") is None
    assert probe.value("h") == {"a": "1", "b": "2"}
    assert probe.value("l") == ["x", "y", "x"]
    assert probe.value("set") == ["a", "b"]
    assert probe.value("z") == [("n", 1.0), ("m", 2.0)]
    assert probe.value("nope") is None
    snapshot = probe.snapshot("s*")
    assert set(snapshot) == {"s", "set"}
    assert snapshot["set"] == KeyState("set", None, ["a", "b"])
    assert snapshot["s"].type == "string" and snapshot["s"].value == "v"


# ---------------------------------------------------------------- messages


def _mismatch(call: Any, *args: Any, **kwargs: Any) -> Mismatch:
    with pytest.raises(Mismatch) as info:
        call(*args, **kwargs)
    return info.value


def test_expect_key_messages(grades):
    """Missing key (with the keys present), wrong type (with the command to use), wrong value, TTL."""
    grade = grades()
    grade.learner.set("post:8", "x")
    grade.learner.hset("post:7", mapping={"title": "Hi"})
    assert expect_key(grade.probe, "post:7", type="hash", value={"title": "Hi"}).type == "hash"
    missing = _mismatch(expect_key, grade.probe, "post:9", type="hash")
    assert missing.message == "Redis has no key post:9"
    assert missing.expected == "a key post:9 (hash)" and missing.actual == "keys present: post:7, post:8"
    wrong_type = _mismatch(expect_key, grade.probe, "post:8", type="hash")
    assert wrong_type.message == "The Redis key post:8 is a string, expected a hash"
    assert "HSET" in (wrong_type.hint or "")
    wrong_value = _mismatch(expect_key, grade.probe, "post:7", value={"title": "Bye"})
    assert wrong_value.message == "The Redis key post:7 holds the wrong value"
    assert (wrong_value.expected, wrong_value.actual) == ('{"title": "Bye"}', '{"title": "Hi"}')
    no_ttl = _mismatch(expect_key, grade.probe, "post:7", ttl=(30, 60))
    assert no_ttl.message == "The Redis key post:7 never expires; it should expire in 30–60 s"
    assert "EX" in (no_ttl.hint or "")
    empty = grades()
    assert _mismatch(expect_key, empty.probe, "k").actual == "Redis has no keys at all"


def test_expect_ttl_between_and_expect_no_key_messages(grades):
    grade = grades()
    grade.learner.set("session:1", "x", ex=300)
    grade.learner.set("cache:1", "x")
    grade.learner.set("cache:2", "x")
    assert 299 <= expect_ttl_between(grade.probe, "session:1", 200, 300) <= 300
    out = _mismatch(expect_ttl_between, grade.probe, "session:1", 10, 60)
    assert out.message.startswith("The Redis key session:1 expires in 300.0 s") or \
        out.message.startswith("The Redis key session:1 expires in 299.")
    assert out.message.endswith("; it should expire in 10–60 s") and out.expected == "expires in 10–60 s"
    absent = _mismatch(expect_ttl_between, grade.probe, "session:2", 10, 60)
    assert absent.message == "Redis has no key session:2"
    expect_no_key(grade.probe, "post:*")
    many = _mismatch(expect_no_key, grade.probe, "cache:*")
    assert many.message == "Redis still has 2 keys matching cache:*; it should have none"
    assert many.actual == "cache:1, cache:2" and "DEL" in (many.hint or "")
    one = _mismatch(expect_no_key, grade.probe, "cache:1")
    assert one.message == "Redis still has the key cache:1; it should have none"


def test_command_log_expectations_messages():
    """expect_cache_hit, expect_command and expect_no_command say what was sent and what was expected."""
    def log_of(*commands: tuple[str, ...]) -> CommandLog:
        return CommandLog("GET /posts/7", [LoggedCommand(0.0, 0, "127.0.0.1:1", c) for c in commands])

    expect_cache_hit(log_of(("GET", "post:7")), "post:7")
    expect_cache_hit(log_of(("HGETALL", "post:7")), "post:7")
    nothing = _mismatch(expect_cache_hit, log_of(), "post:7")
    assert nothing.message == "GET /posts/7 sent 0 Redis commands; a cached read sends GET on the key post:7"
    assert (nothing.expected, nothing.actual) == ("GET post:7", "(none)")
    elsewhere = _mismatch(expect_cache_hit, log_of(("GET", "post:8"), ("SET", "post:7", "x")), "post:7")
    assert elsewhere.message == "GET /posts/7 sent 2 Redis commands, but none read on the key post:7"
    assert elsewhere.actual == "GET post:8; SET post:7 x"
    named = _mismatch(expect_cache_hit, log_of(("HGETALL", "post:7")), "post:7", command="get")
    assert named.message == "GET /posts/7 sent 1 Redis command, but none was GET on the key post:7"
    handshake_only = _mismatch(expect_cache_hit, log_of(("SELECT", "3"), ("CLIENT", "SETINFO", "x", "y")), "k")
    assert handshake_only.message.startswith("GET /posts/7 sent 0 Redis commands")
    expect_no_command(log_of(("GET", "post:7")), "SET")
    again = _mismatch(expect_no_command, log_of(("GET", "post:7"), ("GET", "post:7")), "get", what="The second GET")
    assert again.message == "The second GET sent GET 2 times; it should not send GET here"
    assert again.actual == "GET post:7; GET post:7" and again.expected == "no GET"
    on_key = _mismatch(expect_no_command, log_of(("DEL", "post:7")), "DEL", "post:7")
    assert on_key.message == ("GET /posts/7 sent DEL on the key post:7 1 time; "
                              "it should not send DEL on the key post:7 here")
    expect_command(log_of(("DEL", "post:7")), "del", "post:7")
    missing = _mismatch(expect_command, log_of(("GET", "post:7")), "DEL", "post:7")
    assert missing.message == "GET /posts/7 sent 1 Redis command, none of them DEL post:7"
    assert CommandLog().describe() == "(none)"
    long = log_of(*[("GET", f"k{n}") for n in range(10)])
    assert long.describe().endswith("; … and 2 more")
