"""Learner workspaces: where `runner start` puts an exercise, and the learner's progress.

Workspaces live in ``<kit>/workspace/<exercise>/`` (or ``$BACKEND_KIT_WORKSPACE/<exercise>/``).
Each holds a ``.backend-kit.json`` marker (which exercise, how many hints were shown); the
learner's best scores are in ``.progress.json`` beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .exercises import Exercise, kit_root
from .results import CheckStatus, GradeReport

MARKER = ".backend-kit.json"


def workspaces_root() -> Path:
    env = os.environ.get("BACKEND_KIT_WORKSPACE")
    return Path(env) if env else kit_root() / "workspace"


def workspace_of(exercise: Exercise) -> Path:
    return workspaces_root() / exercise.slug


def exercise_in(folder: Path) -> str | None:
    """The exercise a folder (or one of its parents) is a workspace of, if any."""
    for candidate in (folder, *folder.parents):
        marker = candidate / MARKER
        if marker.is_file():
            try:
                return str(json.loads(marker.read_text())["exercise"])
            except (ValueError, KeyError, OSError):
                return None
    return None


def start(exercise: Exercise) -> tuple[Path, bool]:
    """Create the workspace; returns (path, created). An existing workspace is never overwritten."""
    target = workspace_of(exercise)
    if (target / MARKER).exists():
        return target, False
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(exercise.starter_dir, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    if exercise.tests_dir.is_dir():
        shutil.copytree(exercise.tests_dir, target / "tests", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(exercise.statement, target / "README.md")
    _write_marker(target, {"exercise": exercise.slug, "hints_shown": 0, "started": time.time()})
    return target, True


def reset(exercise: Exercise) -> Path:
    """Move the current workspace aside (never delete a learner's work) and start afresh."""
    target = workspace_of(exercise)
    backup = workspaces_root() / ".previous" / f"{exercise.slug}-{time.strftime('%Y%m%d-%H%M%S')}"
    if target.exists():
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), str(backup))
    start(exercise)
    return backup


def _read_marker(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MARKER).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_marker(folder: Path, data: dict[str, Any]) -> None:
    (folder / MARKER).write_text(json.dumps(data, indent=2))


def _progress_file() -> Path:
    return workspaces_root() / ".progress.json"


def progress() -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(_progress_file().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def record(report: GradeReport) -> None:
    """Remember the learner's best score and their latest one, and what `runner list` and
    `runner hint` build on: the points per task, the first check that did not pass (with its hint)
    and the grade's seed (so a check can be rerun on the same data)."""
    data = progress()
    entry = data.get(report.exercise)
    entry = entry if isinstance(entry, dict) else {}
    best = max(int(entry.get("best", 0)), report.score)
    failing = next((c for c in report.checks if c.status is not CheckStatus.PASSED), None)
    kept = {key: entry[key] for key in KEPT if key in entry}
    data[report.exercise] = {
        **kept,
        "best": best,
        "max": report.max_score,
        "last": report.score,
        "status": report.status.value,
        "passed": entry.get("passed", False) or report.all_passed,
        "graded_at": time.time(),
        "seed": report.seed,
        "tasks": task_points(report),
        "first_failing": None if failing is None else {"id": failing.id, "name": failing.name,
                                                        "hint": failing.hint},
    }
    _write_progress(data)


#: What the learner did besides grading, kept across grades: the hints they have seen and
#: whether they gave up (an instructor's export reads that).
KEPT = ("hints_shown", "check_hint_seen", "gave_up", "gave_up_at")


def update(slug: str, **fields: Any) -> None:
    """Set fields of one exercise's progress entry (creating it), keeping the rest."""
    data = progress()
    entry = data.get(slug)
    data[slug] = {**(entry if isinstance(entry, dict) else {}), **fields}
    _write_progress(data)


def _write_progress(data: dict[str, Any]) -> None:
    path = _progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def task_points(report: GradeReport) -> dict[str, list[int]]:
    """Points earned and available per task ("0" for checks without a task), in task order."""
    tasks: dict[str, list[int]] = {}
    for check in sorted(report.checks, key=lambda c: c.task or 0):
        earned = tasks.setdefault(str(check.task or 0), [0, 0])
        earned[0] += check.points
        earned[1] += check.max_points
    return tasks


def next_exercise(exercises: list[Exercise]) -> Exercise | None:
    """The first exercise, in catalog order, that has not had full marks yet."""
    passed = {slug for slug, entry in progress().items() if isinstance(entry, dict) and entry.get("passed")}
    return next((ex for ex in exercises if ex.slug not in passed), None)


def learner_files(exercise: Exercise) -> dict[str, bytes | None]:
    """The workspace's copy of each file the learner writes (None: missing), as a grade reads them."""
    folder = workspace_of(exercise)
    files: dict[str, bytes | None] = {}
    for name in exercise.meta.files:
        try:
            files[name] = (folder / name).read_bytes()
        except OSError:
            files[name] = None
    return files


def started(exercise: Exercise) -> bool:
    return (workspace_of(exercise) / MARKER).exists()
