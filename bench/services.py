"""Benchmark: the cost of isolating one grade on warm services, against a fresh container per grade.

Prints figures (medians, and the ratio between them), measured in the same run on the same machine:

- isolated: ``acquire`` + ``release`` on running containers: a login role and a database cloned from
  a template (PostgreSQL), a Redis slot and ACL user, then DROP/flush/delete;
- baseline: what a container per grade would cost: start a PostgreSQL and a Redis container, wait
  until they answer a real query, remove them.

Usage: python bench/services.py [--rounds 20] [--baseline-rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from runner.services.docker import DockerProvider
from runner.settings import load


def timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--baseline-rounds", type=int, default=3)
    args = parser.parse_args()

    warm = DockerProvider(load(None, provider="docker"), instance="bench")
    warm.up()
    server = warm._server  # the benchmark measures the isolation layer directly
    assert server is not None
    server.prepare()
    workdir = Path(tempfile.mkdtemp())
    server.release(server.acquire(workdir, database=True, redis=True, template="bench"))  # the template exists

    acquire, release, both = [], [], []
    for _ in range(args.rounds):
        started = time.perf_counter()
        services = server.acquire(workdir, database=True, redis=True, template="bench")
        middle = time.perf_counter()
        server.release(services)
        ended = time.perf_counter()
        acquire.append(middle - started)
        release.append(ended - middle)
        both.append(ended - started)

    baseline = []
    for round_number in range(args.baseline_rounds):
        fresh = DockerProvider(load(None, provider="docker"), instance=f"bench-fresh-{round_number}")
        baseline.append(timed(lambda fresh=fresh: (fresh.up(), fresh.down())))
    warm.down()

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:8.1f} ms"

    print(f"isolated grade services, {args.rounds} rounds (median):")
    print(f"  create role + database from template + Redis slot/user : {ms(acquire)}")
    print(f"  drop database + role, flush slot, delete user          : {ms(release)}")
    print(f"  per grade, total                                       : {ms(both)}")
    print(f"baseline: fresh PostgreSQL + Redis containers per grade, {args.baseline_rounds} rounds (median):")
    print(f"  start, wait until they answer, remove                  : {ms(baseline)}")
    print(f"ratio: a fresh container per grade costs {statistics.median(baseline) / statistics.median(both):.1f}x "
          "the isolated services")


if __name__ == "__main__":
    main()
