"""The first report on an untouched starter fits one 80×24 screen above its "Next:" line.

Read from the starter goldens, which are the report as drawn at 80 columns and which ``runner
validate`` (tests/test_exercises.py) holds equal to what the kit prints today."""

from __future__ import annotations

import math

import pytest
from rich.cells import cell_len

from runner.exercises import all_exercises
from runner.validate import GOLDEN_WIDTH

SCREEN = (80, 24)


def rows(line: str, width: int) -> int:
    """Terminal rows a line takes once the terminal wraps it."""
    return max(1, math.ceil(cell_len(line) / width))


@pytest.mark.parametrize("exercise", all_exercises(), ids=lambda e: e.slug)
def test_the_starter_report_fits_one_screen_and_ends_with_next(exercise):
    assert SCREEN[0] == GOLDEN_WIDTH
    golden = exercise.solution_dir / "goldens" / "embedded" / "starter.txt"
    lines = golden.read_text(encoding="utf-8").rstrip("\n").splitlines()
    nexts = [i for i, line in enumerate(lines) if line.startswith(" Next: ")]
    assert nexts, "the report ends with what to do next"
    assert all(line.startswith("       ") for line in lines[nexts[-1] + 1:]), "nothing after Next:"
    above = sum(rows(line, SCREEN[0]) for line in lines[:nexts[-1]])
    assert above <= SCREEN[1], f"{above} rows above Next: on an 80×24 screen"
