"""Benchmark: submissions per minute of `runner grade-batch` against a shell loop of `runner grade`.

The class is tests/synthetic_class.py's (the reference solution, its catalogued bugs, broken and
hostile submissions, every one distinct). Three runs in the same session, on the same class, each
into a fresh gradebook: ``--jobs 1``, ``--jobs 2``, and the baseline an instructor has today, a
``for`` loop over ``runner grade --submission`` (one fresh runner per submission).

Usage: python bench/batch.py [--size 200] [--exercise 01-bookmarks-api] [--sandbox process]
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runner.exercises import find_exercise
from tests.synthetic_class import make_class


def timed(args: list[str] | str, cwd: Path, *, shell: bool = False) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=cwd, shell=shell, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--exercise", default="01-bookmarks-api")
    parser.add_argument("--sandbox", default="process", choices=["process", "docker"])
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bk-bench-", dir="/var/tmp"))
    try:
        folder = root / "class"
        make_class(folder, find_exercise(options.exercise), options.size)
        runner = [sys.executable, "-m", "runner"]
        rows = []
        for jobs in (1, 2):
            seconds = timed([*runner, "grade-batch", str(folder), "--exercise", options.exercise, "--jobs", str(jobs),
                             "--sandbox", options.sandbox, "--gradebook", f"sqlite:///{root}/jobs{jobs}.sqlite",
                             "--json"], root)
            rows.append((f"grade-batch --jobs {jobs}", seconds))
        grade = " ".join(shlex.quote(part) for part in runner)
        loop = (f'for s in {shlex.quote(str(folder))}/*; do {grade} grade {shlex.quote(options.exercise)} '
                f'--submission "$s" --sandbox {options.sandbox} --json >/dev/null; done')
        rows.append(("shell loop of runner grade", timed(loop, root, shell=True)))
        baseline = rows[-1][1]
        print(f"{options.size} submissions of {options.exercise}, {options.sandbox} sandbox")
        print(f"{'run':32} {'seconds':>9} {'per minute':>11} {'vs loop':>8}")
        for name, seconds in rows:
            print(f"{name:32} {seconds:9.1f} {60 * options.size / seconds:11.1f} {baseline / seconds:7.2f}×")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
