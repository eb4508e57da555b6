"""Benchmark: seconds per grade of each exercise's reference solution, per sandbox and backend.

The baseline, measured in the same run, is the floor any design pays: one fresh interpreter that
imports flask, sqlalchemy, redis and pytest (the learner's side and the judge's side each need at
least that). Figures are medians over --rounds grades; ratios are against that floor.

Usage: python bench/grading.py [--rounds 3] [--docker]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from runner.exercises import all_exercises
from runner.grading import grade_files
from runner.sandbox import Sandbox, make_sandbox
from runner.services import ServiceProvider


def median_seconds(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docker", action="store_true", help="also the docker sandbox and real services")
    args = parser.parse_args()

    floor = median_seconds(lambda: subprocess.run(
        [sys.executable, "-I", "-c", "import flask, sqlalchemy, redis, pytest"], check=True), args.rounds)
    print(f"floor: one interpreter importing flask, sqlalchemy, redis, pytest: {floor:.2f} s\n")

    setups: list[tuple[str, Callable[[], Sandbox | None], Callable[[], ServiceProvider | None]]] = [
        ("process (bubblewrap if present), embedded", lambda: None, lambda: None),
    ]
    if args.docker:
        from runner.services.docker import DockerProvider
        from runner.settings import load

        provider = DockerProvider(load(None, provider="docker"), instance=f"bench-{os.getpid()}")
        box = make_sandbox("docker")
        setups += [
            ("process, real PostgreSQL + Redis", lambda: None, lambda: provider),
            ("docker sandbox, embedded", lambda: box, lambda: None),
            ("docker sandbox, real PostgreSQL + Redis", lambda: box, lambda: provider),
        ]
    print(f"{'exercise':<22} {'setup':<42} {'s/grade':>8} {'x floor':>8}")
    for exercise in all_exercises():
        files = exercise.solution_files()
        for label, sandbox, services in setups:
            def one(exercise=exercise, files=files, sandbox=sandbox, services=services) -> object:  # type: ignore[no-untyped-def]
                return grade_files(exercise, files, sandbox=sandbox(), provider=services())

            seconds = median_seconds(one, args.rounds)
            print(f"{exercise.slug:<22} {label:<42} {seconds:8.2f} {seconds / floor:8.1f}")
    if args.docker:
        provider.down()


if __name__ == "__main__":
    main()
