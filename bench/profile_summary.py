"""Summarise a ``py-spy record --subprocesses --idle --format raw`` profile of one ``runner grade``.

Each sample line is ``process <pid>:"<command>";...;frame;frame <count>``; this sums the samples of
each process (the runner, the judge, the learner host) into what they were doing: importing,
pytest collection, running checks, services, waiting. Used to write bench/PROFILE.md.

Usage: python bench/profile_summary.py PROFILE.txt [--rate 50]
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

RULES = [  # first match wins: (category, pattern in the stack)
    ("output reader threads (idle)", "OutputCapture"),
    ("imports", "_find_and_load"),
    ("compile (no .pyc)", "source_to_code"),
    ("services (acquire/release)", "runner/services/"),
    ("sandbox (open/launch/close)", "runner/sandbox/"),
    ("pytest collection", "pytest_collection"),
    ("running checks", "pytest_runtestloop"),
    ("learner host serving", "serve_forever"),
    ("waiting for the judge (runner main thread)", "Grader._watch"),
    ("waiting (select/wait)", r"(select|_wait|wait \(|poll|read \()"),
]


def role(command: str) -> str:
    if "runner.learner.host" in command or "learner/host" in command:
        return "learner host"
    if "runner.judge" in command or "/checks" in command:
        return "judge"
    if "-m runner" in command:
        return "runner"
    return "other: " + command[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--rate", type=int, default=50)
    options = parser.parse_args()
    totals: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in options.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        commands = re.findall(r'process \d+:"([^"]*)"', stack)
        who = role(commands[-1]) if commands else "?"
        what = next((name for name, pattern in RULES if re.search(pattern, stack)), "other")
        totals[who][what] += int(count)
    for who, counter in sorted(totals.items()):
        seconds = sum(counter.values()) / options.rate
        print(f"{who}: {seconds:.2f} s of samples")
        for what, count in counter.most_common():
            print(f"  {what:<44} {count / options.rate:6.2f} s  {100 * count / sum(counter.values()):5.1f}%")


if __name__ == "__main__":
    main()
