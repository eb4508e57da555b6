"""The request/response protocol between the judge and learner processes."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from runner import protocol


@pytest.fixture
def server():
    def boom(kind):
        raise {"value": ValueError, "key": KeyError, "custom": type("Custom", (Exception,), {})}[kind]("bad input")

    functions = {"echo": lambda *a, **k: {"args": a, "kwargs": k}, "boom": boom, "obj": lambda: object()}
    srv = protocol.serve(functions, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_values_round_trip_with_their_types(server):
    """Tuples, Decimals, bytes and dunder keys come back as they were sent."""
    client = protocol.Client("127.0.0.1", server)
    value = client.call("echo", (1, 2), Decimal("1.20"), b"\x00\xff", {"__tuple__": 1}, flag=None)
    assert value == {"args": ((1, 2), Decimal("1.20"), b"\x00\xff", {"__tuple__": 1}), "kwargs": {"flag": None}}
    assert isinstance(value["args"], tuple)


def test_remote_exceptions_arrive_with_type_and_message(server):
    """A raised exception becomes RemoteError carrying its class name."""
    client = protocol.Client("127.0.0.1", server)
    with pytest.raises(protocol.RemoteError) as caught:
        client.call("boom", "custom")
    assert (caught.value.type, caught.value.message) == ("Custom", "bad input")


def test_portable_exceptions_are_re_raised_as_themselves(server):
    """Built-in exceptions cross the proxy as the same class."""
    client = protocol.Client("127.0.0.1", server)
    with pytest.raises(protocol.RemoteError) as caught:
        client.call("boom", "value")
    with pytest.raises(ValueError, match="bad input"):
        protocol.raise_portable(caught.value)


def test_unsendable_return_value_is_an_error_not_a_hang(server):
    """Returning a non-JSON value is reported as an error."""
    client = protocol.Client("127.0.0.1", server)
    with pytest.raises(protocol.RemoteError, match="cannot be sent"):
        client.call("obj")


def test_unknown_function_is_a_lookup_error(server):
    """Calling a name the server does not expose is refused."""
    with pytest.raises(protocol.RemoteError, match="no function named 'nope'"):
        protocol.Client("127.0.0.1", server).call("nope")


def test_closed_server_is_a_protocol_error():
    """A server that is gone raises ProtocolError, not a raw socket error."""
    srv = protocol.serve({}, threaded=False)
    port = srv.server_address[1]
    srv.server_close()
    with pytest.raises(protocol.ProtocolError):
        protocol.Client("127.0.0.1", port, timeout=1).call("anything")
