"""The judge's handles on learner code that is not an HTTP app: functions, and the learner's tests.

``Learner`` calls the learner's functions through the protocol (their exceptions arrive as
``Learner.Raised``); ``LearnerTests`` runs the learner's own tests against an implementation the
judge serves from its own process, and returns a ``TestRun``.
"""

from __future__ import annotations

import contextlib
import secrets
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import protocol, wire
from .mismatch import Mismatch


class Learner:
    """Calls the learner's functions through the protocol; their exceptions arrive as RemoteError."""

    Raised = protocol.RemoteError

    def __init__(self, client: protocol.Client) -> None:
        self._client = client

    def call(self, fn: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` in the learner's process; a hang or a dead program is a ``Mismatch``."""
        try:
            return self._client.call(fn, *args, timeout=timeout, **kwargs)
        except TimeoutError:
            raise Mismatch(f"your {fn}() did not return within {timeout or self._client.timeout:g} s",
                           hint="Look for an infinite loop or a blocking call.") from None
        except protocol.ProtocolError as exc:
            raise Mismatch(f"could not call your {fn}(): your program is no longer answering ({exc})",
                           hint="Your program probably crashed or exited; see its output below.") from None


@contextlib.contextmanager
def connect(endpoint: wire.Endpoint, timeout: float) -> Iterator[Learner]:
    """A ``Learner`` on the program at ``endpoint``, closed afterwards."""
    connection = protocol.Client(endpoint.host, endpoint.port, timeout=timeout)
    try:
        yield Learner(connection)
    finally:
        connection.close()


@dataclass(frozen=True)
class TestRun:
    """What one run of the learner's tests reported (not trusted alone; see runner.learner.proxy)."""

    __test__ = False  # not a pytest test class

    outcomes: tuple[wire.TestOutcome, ...]
    timed_out: bool

    @property
    def failed(self) -> list[str]:
        return [o.test for o in self.outcomes if o.outcome in ("failed", "error")]

    @property
    def failures(self) -> list[tuple[str, str]]:
        """Each failed or errored test with pytest's one-line account of it (may be empty)."""
        return [(o.test, o.message) for o in self.outcomes if o.outcome in ("failed", "error")]

    @property
    def passed(self) -> list[str]:
        return [o.test for o in self.outcomes if o.outcome == "passed"]

    @property
    def collect_errors(self) -> list[str]:
        """Messages of test files that could not even be collected (a syntax error, say)."""
        return [o.message for o in self.outcomes if o.when == "collect"]

    @property
    def green(self) -> bool:
        """At least one test ran, and nothing failed, errored or timed out."""
        return bool(self.passed) and not self.failed and not self.timed_out

    @property
    def red(self) -> bool:
        """Some test failed (the implementation was caught), or the run timed out."""
        return bool(self.failed) or self.timed_out


class LearnerTests:
    """Runs the learner's tests against module source served from the judge's own process.

    One server on the runner's port serves every implementation of the session, each under a fresh
    token for the duration of its run: starting and stopping a server per run cost a poll interval
    each time (half a second, more than the run itself)."""

    def __init__(self, learner: Learner, run_timeout: float, host: str = "127.0.0.1", port: int = 0) -> None:
        self._learner = learner
        self._run_timeout = run_timeout
        self._host = host  # where the learner's sandbox can reach this process
        self._port = port  # the port the runner opened for it (0: any)
        self._served: dict[str, Any] = {}  # "<token>/<function>" → the function, while its run lasts
        self._server: socketserver.TCPServer | None = None

    def _address(self) -> str:
        if self._server is None:
            self._server = protocol.serve(self._served, host=self._host, port=self._port, threaded=True,
                                          include_tracebacks=False)
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True).start()
        return f"{self._host}:{self._server.server_address[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @contextlib.contextmanager
    def serving(self, source: str, functions: list[str]) -> Iterator[str]:
        """Serve ``functions`` of ``source`` (the reference or a mutant) while the block runs; yields
        the address the learner's proxy calls (``host:port/token``)."""
        namespace: dict[str, Any] = {"__name__": "implementation_under_test"}
        exec(compile(source, "implementation_under_test.py", "exec"), namespace)
        token = secrets.token_hex(16)
        names = [f"{token}/{name}" for name in functions]
        self._served.update(zip(names, (namespace[name] for name in functions), strict=True))
        try:
            yield f"{self._address()}/{token}"
        finally:
            for name in names:
                self._served.pop(name, None)

    def run(self, source: str, functions: list[str]) -> TestRun:
        """One run of the learner's whole suite against ``source``."""
        with self.serving(source, functions) as address:
            reply = self._learner.call("run_tests", address, self._run_timeout, timeout=self._run_timeout + 5)
        parsed = wire.parse_test_run(reply)
        if parsed is None:
            raise Mismatch("your test run reported something that is not a test run",
                           hint="Do not write to the file descriptors of the grading run.")
        return TestRun(parsed.outcomes, parsed.timed_out)
