"""Real Celery workers for the tests (tests/test_cluster.py, tests/test_batch.py): `runner worker`
processes on a real Redis broker (the ``redis_broker`` fixture of conftest.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Longer than a grade of 01 here (1–3 s, 8 s under load), short enough for a test to wait for a
#: killed worker's task to come back.
VISIBILITY = 20.0


def start_worker(broker_url: str, name: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "worker", "--broker", broker_url, "--name", name, "--sandbox", "process",
         "--visibility-timeout", str(VISIBILITY), "--retries", "1"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "BACKEND_KIT_PROVIDER": "embedded"})


def wait_ready(log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while b" ready." not in log.read_bytes():
        assert process.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "the worker never became ready:\n" + log.read_text(errors="replace")
        time.sleep(0.2)


@contextmanager
def workers(broker_url: str, folder: Path, count: int = 2) -> Iterator[list[tuple[subprocess.Popen[bytes], Path]]]:
    """``count`` ready workers named w1@test, w2@test, …, stopped (or killed) at the end."""
    started = []
    try:
        for index in range(count):
            log = folder / f"w{index + 1}.log"
            started.append((start_worker(broker_url, f"w{index + 1}@test", log), log))
        for process, log in started:
            wait_ready(log, process)
        yield started
    finally:
        for process, _ in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


_RECEIVED = re.compile(rb"Task backend_kit\.grade\[([\w-]+)\] received")


def task_in_progress(log: Path) -> str | None:
    """The task a solo worker is grading now, from its log: received and not yet finished."""
    text = log.read_bytes()
    for task_id in reversed(_RECEIVED.findall(text)):
        if b"[" + task_id + b"] succeeded" not in text and b"[" + task_id + b"] raised" not in text:
            return task_id.decode()
    return None


def kill_mid_task(process: subprocess.Popen[bytes], log: Path, *, within: float = 180.0) -> str:
    """SIGKILL the worker while it grades a task; that task's id."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        task_id = task_in_progress(log)
        if task_id is not None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            return task_id
        time.sleep(0.05)
    raise AssertionError("the worker never started a task:\n" + log.read_text(errors="replace"))
