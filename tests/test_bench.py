"""The grading benchmark (bench/grading.py, `runner bench`) runs end to end and writes every figure
and ratio the README and issue 12 quote: one round, one exercise, a class of two, no Docker."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

EXERCISE = "01-bookmarks-api"
STATS = {"median", "p95", "rounds", "samples"}


def test_runner_bench_writes_every_figure_and_ratio(tmp_path: Path) -> None:
    """`runner bench` with the smallest options prints the table and writes figures and ratios as JSON."""
    out = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, "-m", "runner", "bench", "--rounds", "1", "--exercise", EXERCISE, "--class-size", "2",
         "--jobs", "2", "--json-out", str(out)],
        capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "import floor" in completed.stdout
    assert EXERCISE in completed.stdout

    result = json.loads(out.read_text())
    assert {"machine", "options", "figures", "ratios", "elapsed_seconds"} <= set(result)
    assert {"nproc", "cpu", "python", "load_average_at_start", "load_average_at_end"} <= set(result["machine"])
    figures, ratios = result["figures"], result["ratios"]
    assert set(figures["import_floor"]) >= STATS
    exercise = figures["exercises"][EXERCISE]
    for name in ("naive", "warm_floor", "runner_grade", "grade_in_process"):
        assert set(exercise[name]) >= STATS, name
        assert exercise[name]["median"] > 0, name
    assert set(exercise["isolation"]) == {"sandbox", "services", "total"}
    assert "visible tests" in exercise["naive_covers"]
    assert set(ratios["exercises"][EXERCISE]) == {"grade_vs_naive", "grade_vs_import_floor", "grade_vs_warm_floor",
                                                  "naive_vs_warm_floor", "isolation_share_of_grade"}
    assert all(math.isfinite(value) and value > 0 for value in ratios["exercises"][EXERCISE].values())
    batch = figures["batch"]
    assert batch["submissions"] == 2
    assert set(batch["seconds"]) == set(batch["per_minute"]) == {"loop", "jobs_1", "jobs_2"}
    assert set(ratios["batch"]) == {"jobs_1_vs_loop", "jobs_2_vs_loop"}
    assert "docker" not in figures and "docker" not in ratios
