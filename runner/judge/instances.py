"""Several copies of the learner's app in one grade, for checks of scaling out.

An exercise with ``[entry] instances = 2`` gets two learner processes (each in the grade's sandbox,
each its own interpreter), started from the same submission and sharing that grade's database and
Redis, as two instances behind a load balancer would. The ``instances`` fixture is an
``Instances``: one ``Client`` per copy, and the means to stop one::

    def test_session_survives_an_instance(instances):
        first, second = instances
        token = login(first)
        expect_status(second.get("/me", headers=auth(token)), 200)   # state is shared, not in memory
        instances.stop(0)                                            # instance 0 goes down
        expect_status(instances[1].get("/me", headers=auth(token)), 200)

``stop(i)`` asks the runner, on the judge's results channel, to kill that copy (its whole process
group, or its container), and waits for the runner's answer on the endpoint channel, so once it
returns the copy's port refuses connections. A stopped copy stays stopped for the rest of the
attempt: put the check that stops one last (or after the others that need both). ``alternate()``
hands out the running copies in turn, for "every other request goes to the other instance".

The learner cannot stop, start or impersonate a copy: the channels belong to the judge and the
runner, and each copy is only ever a ``Client`` on its own port.
"""

from __future__ import annotations

import itertools
import os
import select
import time
from collections.abc import Callable, Iterator, Sequence
from typing import overload

from .. import wire
from .http import Client

__all__ = ["InstanceControlError", "Instances"]

#: How long ``stop`` waits for the runner to say the copy is gone (a container removal is the slow case).
STOP_TIMEOUT = 30.0


class InstanceControlError(RuntimeError):
    """The runner could not stop a copy: the kit's fault (the check is recorded as ``check_error``)."""


class Instances(Sequence[Client]):
    """The copies of the learner's app, in order (instance 0 is the ``client`` fixture's)."""

    def __init__(self, clients: Sequence[Client], stop: Callable[[int], None]) -> None:
        self._clients = list(clients)
        self._stop = stop
        self._stopped: set[int] = set()

    @overload
    def __getitem__(self, index: int) -> Client: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Client]: ...

    def __getitem__(self, index: int | slice) -> Client | Sequence[Client]:
        return self._clients[index]

    def __len__(self) -> int:
        return len(self._clients)

    @property
    def running(self) -> list[int]:
        """The indexes of the copies not stopped by a check."""
        return [i for i in range(len(self._clients)) if i not in self._stopped]

    def alternate(self) -> Iterator[Client]:
        """The running copies in turn, endlessly: 0, 1, 0, 1, ... (taken when called)."""
        running = [self._clients[i] for i in self.running]
        if not running:
            raise RuntimeError("every instance has been stopped")
        return itertools.cycle(running)

    def stop(self, index: int) -> None:
        """Stop copy ``index`` for the rest of the attempt; returns once it no longer answers."""
        if not 0 <= index < len(self._clients):
            raise IndexError(f"instances.stop({index}): there are {len(self._clients)} instances")
        if index in self._stopped:
            return
        self._stop(index)
        self._stopped.add(index)


def channel_stopper(emit: Callable[[wire.StopInstance], None], answers_fd: int | None,
                    timeout: float = STOP_TIMEOUT) -> Callable[[int], None]:
    """``stop(index)`` over the judge's channels: ``emit`` the request, then read the runner's
    ``InstanceStopped`` from ``answers_fd`` (the endpoint channel, whose first line, the endpoint,
    has already been read)."""

    def stop(index: int) -> None:
        if answers_fd is None:
            raise InstanceControlError("this judge has no channel to the runner: instances cannot be stopped")
        emit(wire.StopInstance(index))
        lines = wire.Lines()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([answers_fd], [], [], max(left, 0))
            chunk = os.read(answers_fd, 65536) if ready else b""
            if not chunk:
                raise InstanceControlError(f"the runner did not confirm that instance {index} stopped "
                                   f"within {timeout:g} s (this is not the learner's fault)")
            for line in lines.feed(chunk):
                answer = wire.parse_instance_stopped(line)
                if answer is not None and answer.index == index:
                    return

    return stop
