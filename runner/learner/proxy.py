"""The grading proxy: stands in for the module under test while a learner's tests are graded.

In the tests exercise the learner writes tests for a given module. During grading that module is
replaced by a generated stub that binds each public function to this proxy, which forwards the call
to the implementation the judge is serving (the reference or one of the hidden mutants). The
implementation's code never enters the learner's process, so the learner's tests cannot read a
mutant, and cannot tell which implementation they are running against except by testing it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from .. import protocol

_client: protocol.Client | None = None
_token = ""


def _connection() -> protocol.Client:
    """The connection to the judge, from ``BACKEND_KIT_IMPL`` (``host:port/token``: the judge serves
    this run's implementation under the token)."""
    global _client, _token
    if _client is None:
        address, _, token = os.environ.get("BACKEND_KIT_IMPL", "").partition("/")
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise RuntimeError("the implementation under test is not reachable (no BACKEND_KIT_IMPL)")
        _client = protocol.Client(host, int(port), timeout=10.0)
        _token = token
    return _client


def function(name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # the kit's frames are not the learner's to read
        try:
            client = _connection()
            return client.call(f"{_token}/{name}" if _token else name, *args, **kwargs)
        except protocol.RemoteError as error:
            protocol.raise_portable(error)
            raise  # unreachable: raise_portable always raises

    call.__name__ = call.__qualname__ = name
    return call


def bind(namespace: dict[str, Any], names: list[str]) -> None:
    """Define each of ``names`` in ``namespace`` as a forwarding function."""
    for name in names:
        namespace[name] = function(name)


def stub_source(module: str, names: list[str]) -> str:
    """The text of the stub module written into the grading workspace in place of ``module``."""
    return (
        f'"""Grading stand-in for {module}: calls go to the implementation under test."""\n'
        "from runner.learner.proxy import bind as _bind\n\n"
        f"_bind(globals(), {names!r})\n"
    )
