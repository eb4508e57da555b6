"""What a check sees of the grade's Redis: its keys, their types, TTLs and values, and the commands
the learner's app sent.

``RedisProbe(redis)`` (the ``redis_probe`` fixture) reads the grade's keys with the judge's own
connections; ``expect_key``, ``expect_no_key`` and ``expect_ttl_between`` fail with a ``Mismatch``
the learner can act on.

``probe.watch()`` records the commands the learner's app sends while the block runs, observed
from outside the learner's process with ``MONITOR`` on a connection of the judge's own (an admin on
a real server; on the embedded backend, the fakeredis server of ``runner.services.embedded``
implements MONITOR in the same line format)::

    with redis_probe.watch("GET /posts/7") as log:
        client.get("/posts/7")
    expect_cache_hit(log, "post:7")

Only commands on the grade's own logical database are kept, and none of the judge's own: every
judge connection is named ``JUDGE_CLIENT_NAME`` (random per judge process) and the addresses that
``CLIENT LIST`` shows with that name are left out. MONITOR is asynchronous: the block ends with an
``ECHO`` of a fresh sentinel from a judge connection, and the log is read until the sentinel
arrives, so every command the app sent before the block ended is in it. Commands run by a Lua
script appear as the script's (client ``lua``). Connection set-up (AUTH, HELLO, SELECT, CLIENT, PING)
is in ``log.all_commands`` only.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .mismatch import Mismatch, show

__all__ = [
    "JUDGE_CLIENT_NAME",
    "CommandLog",
    "KeyState",
    "LoggedCommand",
    "RedisProbe",
    "expect_cache_hit",
    "expect_command",
    "expect_key",
    "expect_no_command",
    "expect_no_key",
    "expect_ttl_between",
]

#: The name of every connection the judge makes to Redis (random, so a learner cannot pose as it).
JUDGE_CLIENT_NAME = f"backend-kit-judge-{secrets.token_hex(6)}"

#: How long the end of a watch waits for its sentinel to come back through MONITOR.
SENTINEL_TIMEOUT = 10.0

#: Commands that set up a connection rather than use data: in ``all_commands`` only.
HANDSHAKE = frozenset({"AUTH", "HELLO", "SELECT", "CLIENT", "PING", "QUIT", "RESET", "READONLY", "READWRITE"})

READS = frozenset({
    "GET", "MGET", "GETRANGE", "STRLEN", "EXISTS", "TYPE", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME",
    "KEYS", "SCAN", "RANDOMKEY", "DBSIZE", "DUMP", "OBJECT", "SUBSTR", "LCS",
    "HGET", "HMGET", "HGETALL", "HKEYS", "HVALS", "HLEN", "HEXISTS", "HSTRLEN", "HSCAN", "HRANDFIELD",
    "LRANGE", "LINDEX", "LLEN", "LPOS",
    "SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD", "SRANDMEMBER", "SSCAN", "SINTER", "SUNION", "SDIFF",
    "SINTERCARD",
    "ZRANGE", "ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZSCORE",
    "ZMSCORE", "ZRANK", "ZREVRANK", "ZCARD", "ZCOUNT", "ZLEXCOUNT", "ZSCAN", "ZRANDMEMBER", "ZINTER", "ZUNION",
    "ZDIFF", "ZINTERCARD",
    "XRANGE", "XREVRANGE", "XLEN", "XREAD", "XINFO", "XPENDING",
    "PFCOUNT", "GETBIT", "BITCOUNT", "BITPOS", "GEOPOS", "GEODIST", "GEOHASH", "GEOSEARCH", "GEORADIUS_RO",
    "GEORADIUSBYMEMBER_RO", "SORT_RO",
})

WRITES = frozenset({
    "SET", "SETEX", "PSETEX", "SETNX", "MSET", "MSETNX", "GETSET", "GETDEL", "GETEX", "APPEND", "SETRANGE",
    "INCR", "INCRBY", "INCRBYFLOAT", "DECR", "DECRBY",
    "DEL", "UNLINK", "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "PERSIST", "RENAME", "RENAMENX", "RESTORE",
    "FLUSHDB", "FLUSHALL", "COPY", "MOVE", "TOUCH",
    "HSET", "HSETNX", "HMSET", "HDEL", "HINCRBY", "HINCRBYFLOAT", "HEXPIRE", "HPEXPIRE", "HPERSIST", "HGETDEL",
    "HGETEX", "HSETEX",
    "LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP", "RPOP", "LSET", "LREM", "LTRIM", "LINSERT", "LMOVE", "RPOPLPUSH",
    "BLPOP", "BRPOP", "BLMOVE", "LMPOP", "BLMPOP",
    "SADD", "SREM", "SPOP", "SMOVE", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE",
    "ZADD", "ZREM", "ZINCRBY", "ZPOPMIN", "ZPOPMAX", "BZPOPMIN", "BZPOPMAX", "ZREMRANGEBYSCORE", "ZREMRANGEBYRANK",
    "ZREMRANGEBYLEX", "ZRANGESTORE", "ZINTERSTORE", "ZUNIONSTORE", "ZDIFFSTORE", "ZMPOP", "BZMPOP",
    "XADD", "XDEL", "XTRIM", "XGROUP", "XACK", "XCLAIM", "XAUTOCLAIM", "XREADGROUP", "XSETID",
    "PFADD", "PFMERGE", "SETBIT", "BITOP", "BITFIELD", "GEOADD", "GEORADIUS", "GEORADIUSBYMEMBER", "GEOSEARCHSTORE",
    "SORT",
})

_LINE = re.compile(r"^\+?(?P<time>\d+(?:\.\d+)?) \[(?P<db>\d+) (?P<client>[^\]]*)\] ?(?P<args>.*)$", re.DOTALL)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class KeyState:
    """One key as the judge found it: its type, seconds to live (None: no expiry), and value."""

    type: str
    ttl: float | None
    value: Any


@dataclass(frozen=True)
class LoggedCommand:
    """One line of MONITOR: when, on which database, from which client, and the command."""

    time: float
    db: int
    client: str
    args: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.args[0].upper() if self.args else ""


def parse_monitor_args(text: str) -> tuple[str, ...]:
    """The quoted arguments of a MONITOR line (Redis's ``sdscatrepr``), unescaped; each argument's
    bytes are read as UTF-8 (as Latin-1 when they are not UTF-8)."""
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != '"':
            i += 1
            continue
        i += 1
        data = bytearray()
        while i < n and text[i] != '"':
            char = text[i]
            if char == "\\" and i + 1 < n:
                nxt = text[i + 1]
                if nxt == "x" and i + 3 < n:
                    try:
                        data.append(int(text[i + 2:i + 4], 16))
                        i += 4
                        continue
                    except ValueError:
                        pass
                data += _ESCAPES.get(nxt, nxt).encode("utf-8")
                i += 2
                continue
            data += char.encode("utf-8")
            i += 1
        try:
            args.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            args.append(data.decode("latin-1"))
        i += 1
    return tuple(args)


def parse_monitor_line(line: str | bytes) -> LoggedCommand | None:
    """One MONITOR line (``+1700000000.123456 [3 10.0.0.5:51234] "GET" "k"``), or None for anything else."""
    if isinstance(line, bytes):
        line = line.decode("latin-1")
    match = _LINE.match(line.strip("\r\n"))
    if match is None:
        return None
    return LoggedCommand(float(match["time"]), int(match["db"]), match["client"], parse_monitor_args(match["args"]))


@dataclass
class CommandLog:
    """The Redis commands the learner's app sent during one ``RedisProbe.watch()`` block.

    Filled in when the block ends; ``label`` (what the block did, e.g. ``"GET /posts/7"``) starts
    the failure messages of the ``expect_*`` helpers.
    """

    label: str | None = None
    entries: list[LoggedCommand] = field(default_factory=list)

    @property
    def all_commands(self) -> list[tuple[str, ...]]:
        """Every command, connection set-up included; the command's name is uppercased."""
        return [(entry.name, *entry.args[1:]) for entry in self.entries if entry.args]

    @property
    def commands(self) -> list[tuple[str, ...]]:
        """The commands that use data (no AUTH/HELLO/SELECT/CLIENT/PING); the name uppercased."""
        return [command for command in self.all_commands if command[0] not in HANDSHAKE]

    def count(self, name: str, key: str | None = None) -> int:
        """How many times the app sent command ``name`` (case-insensitive), on ``key`` if given."""
        return len(self.matching(name, key))

    def matching(self, name: str | None = None, key: str | None = None) -> list[tuple[str, ...]]:
        """The commands called ``name`` (any when None) that name ``key`` among their arguments."""
        wanted = name.upper() if name else None
        return [c for c in self.commands if (wanted is None or c[0] == wanted) and (key is None or key in c[1:])]

    def reads(self) -> list[tuple[str, ...]]:
        """The commands that read data (GET, HGETALL, LRANGE, EXISTS, ...)."""
        return [command for command in self.commands if command[0] in READS]

    def writes(self) -> list[tuple[str, ...]]:
        """The commands that change data (SET, DEL, EXPIRE, INCR, HSET, ...)."""
        return [command for command in self.commands if command[0] in WRITES]

    def describe(self, commands: Iterable[tuple[str, ...]] | None = None, limit: int = 8) -> str:
        """The commands as a learner reads them: ``GET post:7; SET post:7 {...} EX 60``."""
        shown = list(self.commands if commands is None else commands)
        if not shown:
            return "(none)"
        parts = [" ".join(_short(arg) for arg in command) for command in shown[:limit]]
        more = len(shown) - limit
        return "; ".join(parts) + (f"; … and {more} more" if more > 0 else "")


def _short(arg: str, limit: int = 40) -> str:
    text = arg if arg and " " not in arg else repr(arg)
    return text if len(text) <= limit else text[:limit] + "…"


class RedisProbe:
    """Reads the grade's Redis with the judge's connections, and watches what the learner's app sends."""

    def __init__(self, client: Any) -> None:
        self.client = client
        pool = client.connection_pool
        if pool.connection_kwargs.get("client_name") != JUDGE_CLIENT_NAME:
            # Every judge connection carries the name, so a watch can leave the judge's commands out;
            # idle connections opened before now reconnect (named) when next used.
            pool.connection_kwargs["client_name"] = JUDGE_CLIENT_NAME
            pool.disconnect(inuse_connections=False)

    @property
    def db(self) -> int:
        """The grade's logical database number."""
        return int(self.client.connection_pool.connection_kwargs.get("db") or 0)

    def keys(self, pattern: str = "*") -> list[str]:
        """The keys matching ``pattern`` (SCAN, so a big database is not blocked), sorted."""
        return sorted({_text(key) for key in self.client.scan_iter(match=pattern, count=1000)})

    def type(self, key: str) -> str:
        """``string``, ``hash``, ``list``, ``set``, ``zset``, ``stream``; ``none`` when there is no such key."""
        return _text(self.client.type(key))

    def ttl(self, key: str) -> float | None:
        """Seconds until the key expires (PTTL / 1000); None when it never expires or does not exist."""
        milliseconds = int(self.client.pttl(key))
        return None if milliseconds < 0 else milliseconds / 1000

    def value(self, key: str) -> Any:
        """The key's value by its type: str, dict (hash), list, sorted list (set), list of
        ``(member, score)`` (zset, by score), list of ``(id, fields)`` (stream); None when absent."""
        kind = self.type(key)
        return self._value(key, kind)

    def _value(self, key: str, kind: str) -> Any:
        client = self.client
        if kind == "string":
            return _text(client.get(key))
        if kind == "hash":
            return {_text(k): _text(v) for k, v in client.hgetall(key).items()}
        if kind == "list":
            return [_text(item) for item in client.lrange(key, 0, -1)]
        if kind == "set":
            return sorted(_text(item) for item in client.smembers(key))
        if kind == "zset":
            return [(_text(member), float(score)) for member, score in client.zrange(key, 0, -1, withscores=True)]
        if kind == "stream":
            return [(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()})
                    for entry_id, fields in client.xrange(key)]
        return None

    def state(self, key: str) -> KeyState | None:
        """The key's type, TTL and value; None when there is no such key."""
        kind = self.type(key)
        if kind == "none":
            return None
        return KeyState(kind, self.ttl(key), self._value(key, kind))

    def snapshot(self, pattern: str = "*") -> dict[str, KeyState]:
        """Every key matching ``pattern`` with its type, TTL and value (keys that vanish meanwhile are left out)."""
        found = {}
        for key in self.keys(pattern):
            state = self.state(key)
            if state is not None:
                found[key] = state
        return found

    @contextlib.contextmanager
    def watch(self, label: str | None = None) -> Iterator[CommandLog]:
        """Record the commands the learner's app sends during the block (see the module's docstring)."""
        log = CommandLog(label)
        monitor = _Monitor(self)
        try:
            yield log
            log.entries = monitor.finish()
        finally:
            monitor.close()

    def judge_addresses(self) -> set[str]:
        """The addresses of the judge's own connections, as the server sees them."""
        return {str(info.get("addr")) for info in self.client.client_list()
                if info.get("name") == JUDGE_CLIENT_NAME}


class _Monitor:
    """A MONITOR connection of the judge's, read by a thread of its own while the block runs (so a
    busy app never fills the socket and stalls the server), until the sentinel comes back."""

    def __init__(self, probe: RedisProbe) -> None:
        self.probe = probe
        self.sentinel = f"backend-kit-sentinel-{secrets.token_hex(8)}"
        self.lines: list[Any] = []
        self.seen = threading.Event()
        self.error: BaseException | None = None
        pool = probe.client.connection_pool
        kwargs = dict(pool.connection_kwargs)
        kwargs.update(client_name=JUDGE_CLIENT_NAME, socket_timeout=max(SENTINEL_TIMEOUT * 6, 60.0),
                      health_check_interval=0)
        self.connection = pool.connection_class(**kwargs)
        self.connection.connect()
        self.connection.send_command("MONITOR")
        reply = _text(self.connection.read_response())
        if reply != "OK":
            self.connection.disconnect()
            raise RuntimeError(f"MONITOR answered {reply!r}")
        self.judge = probe.judge_addresses()
        self.thread = threading.Thread(target=self._read, name="redis-monitor", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                line = self.connection.read_response()
                self.lines.append(line)
                if self.sentinel in _text(line):
                    self.seen.set()
                    return
        except BaseException as exc:  # the connection closed (the block failed, or the end timed out)
            self.error = exc
            self.seen.set()

    def finish(self) -> list[LoggedCommand]:
        self.probe.client.echo(self.sentinel)
        deadline = time.monotonic() + SENTINEL_TIMEOUT
        while not self.seen.wait(0.05):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis MONITOR stream did not deliver the end-of-block sentinel in "
                                   f"{SENTINEL_TIMEOUT:g} s")
        if self.error is not None:
            raise RuntimeError(f"the Redis MONITOR connection failed: {self.error}") from self.error
        judge = self.judge | self.probe.judge_addresses()
        db = self.probe.db
        entries = []
        for line in self.lines:
            entry = parse_monitor_line(_text(line))
            if entry is None or entry.db != db or entry.client in judge:
                continue
            if entry.name == "ECHO" and self.sentinel in entry.args:
                continue
            entries.append(entry)
        return entries

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.disconnect()
        self.thread.join(timeout=2)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


# ---------------------------------------------------------------- expectations


def _what(log: CommandLog, what: str | None) -> str:
    return what or log.label or "The request"


def _commands_sent(log: CommandLog) -> str:
    n = len(log.commands)
    return f"{n} Redis command{'s' if n != 1 else ''}"


def expect_cache_hit(log: CommandLog, key: str, *, command: str | None = None, what: str | None = None,
                     hint: str | None = None) -> None:
    """The app read ``key`` from Redis during the block (with ``command`` when given, e.g. ``"GET"``)."""
    reads = [c for c in log.matching(command, key) if command is not None or c[0] in READS]
    if reads:
        return
    wanted = command.upper() if command else "GET"
    head = _what(log, what)
    if not log.commands:
        message = f"{head} sent 0 Redis commands; a cached read sends {wanted} on the key {key}"
    else:
        message = (f"{head} sent {_commands_sent(log)}, but none {'was ' + wanted if command else 'read'} "
                   f"on the key {key}")
    raise Mismatch(message, expected=f"{wanted} {key}", actual=log.describe(), sent=log.label,
                   hint=hint or f"Look the value up in Redis under {key!r} before going to the database.")


def expect_command(log: CommandLog, name: str, key: str | None = None, *, what: str | None = None,
                   hint: str | None = None) -> None:
    """The app sent ``name`` (on ``key`` when given) at least once during the block."""
    if log.matching(name, key):
        return
    target = f"{name.upper()} {key}" if key else name.upper()
    raise Mismatch(f"{_what(log, what)} sent {_commands_sent(log)}, none of them {target}",
                   expected=target, actual=log.describe(), sent=log.label, hint=hint)


def expect_no_command(log: CommandLog, name: str, key: str | None = None, *, what: str | None = None,
                      hint: str | None = None) -> None:
    """The app never sent ``name`` (on ``key`` when given) during the block."""
    found = log.matching(name, key)
    if not found:
        return
    target = f"{name.upper()} on the key {key}" if key else name.upper()
    times = f"{len(found)} time{'s' if len(found) != 1 else ''}"
    raise Mismatch(f"{_what(log, what)} sent {target} {times}; it should not send {target} here",
                   expected=f"no {target}", actual=log.describe(found), sent=log.label, hint=hint)


def _present(probe: RedisProbe) -> str:
    keys = probe.keys()
    if not keys:
        return "Redis has no keys at all"
    return "keys present: " + ", ".join(keys[:10]) + (f", … ({len(keys)} in all)" if len(keys) > 10 else "")


_NO_VALUE: Any = object()


def _normal(kind: str, value: Any) -> Any:
    """An author's expected value in the shape ``RedisProbe.value`` returns for that type."""
    if kind == "set" and isinstance(value, set | frozenset | list | tuple):
        return sorted(str(v) for v in value)
    if kind == "list" and isinstance(value, tuple):
        return [str(v) for v in value]
    if kind == "hash" and isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if kind == "zset" and isinstance(value, dict):
        return sorted(((str(m), float(s)) for m, s in value.items()), key=lambda pair: (pair[1], pair[0]))
    if kind == "zset" and isinstance(value, list | tuple):
        return [(str(m), float(s)) for m, s in value]
    if kind == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def expect_key(probe: RedisProbe, key: str, *, type: str | None = None, ttl: tuple[float, float] | None = None,
               value: Any = _NO_VALUE, hint: str | None = None) -> KeyState:
    """The key exists (of ``type``, expiring in ``ttl`` = (lo, hi) seconds, holding ``value``); returns its state."""
    state = probe.state(key)
    if state is None:
        raise Mismatch(f"Redis has no key {key}", expected=f"a key {key}" + (f" ({type})" if type else ""),
                       actual=_present(probe), hint=hint or "Check the key's name: it must match exactly.")
    if type is not None and state.type != type:
        raise Mismatch(f"The Redis key {key} is a {state.type}, expected a {type}", expected=type,
                       actual=f"{state.type}: {show(state.value)}",
                       hint=hint or f"Store it with the {type} commands (e.g. {_EXAMPLE.get(type, type.upper())}).")
    if ttl is not None:
        expect_ttl_between(probe, key, ttl[0], ttl[1], hint=hint)
    if value is not _NO_VALUE:
        expected = _normal(state.type, value)
        if state.value != expected:
            raise Mismatch(f"The Redis key {key} holds the wrong value", expected=expected, actual=state.value,
                           hint=hint)
    return state


_EXAMPLE = {"string": "SET", "hash": "HSET", "list": "RPUSH", "set": "SADD", "zset": "ZADD", "stream": "XADD"}


def expect_no_key(probe: RedisProbe, pattern: str, *, hint: str | None = None) -> None:
    """No key matches ``pattern`` (a glob, or one key's name)."""
    found = probe.keys(pattern)
    if not found:
        return
    which = f"the key {found[0]}" if len(found) == 1 else f"{len(found)} keys matching {pattern}"
    raise Mismatch(f"Redis still has {which}; it should have none", expected=f"no key matching {pattern}",
                   actual=", ".join(found[:10]) + (" …" if len(found) > 10 else ""),
                   hint=hint or "Delete the key (DEL) when the data it caches changes, or give it a TTL.")


def expect_ttl_between(probe: RedisProbe, key: str, lo: float, hi: float, *, hint: str | None = None) -> float:
    """The key exists and expires in ``lo``..``hi`` seconds; returns its TTL."""
    wanted = f"expires in {lo:g}–{hi:g} s"
    ttl = probe.ttl(key)
    if ttl is None:
        if probe.type(key) == "none":
            raise Mismatch(f"Redis has no key {key}", expected=f"a key {key} that {wanted}", actual=_present(probe),
                           hint=hint)
        raise Mismatch(f"The Redis key {key} never expires; it should expire in {lo:g}–{hi:g} s",
                       expected=wanted, actual="no expiry (TTL -1)",
                       hint=hint or "Give it a time to live when you write it: SET key value EX seconds, or EXPIRE.")
    if not lo <= ttl <= hi:
        raise Mismatch(f"The Redis key {key} expires in {ttl:.1f} s; it should expire in {lo:g}–{hi:g} s",
                       expected=wanted, actual=f"TTL {ttl:.1f} s", hint=hint)
    return ttl
