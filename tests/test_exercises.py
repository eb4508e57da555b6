"""The catalog, tested by the kit itself: every exercise validates, on the real content."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner.catalog import EntryKind
from runner.exercises import Exercise, all_exercises
from runner.validate import validate_exercise

REPO = Path(__file__).resolve().parent.parent
EXERCISES = all_exercises(REPO)


@pytest.fixture(autouse=True)
def _real_kit(monkeypatch):
    monkeypatch.setenv("BACKEND_KIT_ROOT", str(REPO))


def test_the_catalog_has_one_exercise_of_each_kind():
    """The three ways into learner code each have an exercise."""
    assert {e.meta.entry.kind for e in EXERCISES} == set(EntryKind)


@pytest.mark.slow
@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.slug)
def test_exercise_validates(exercise: Exercise):
    """Solution full marks, starter less, every catalogued bug caught, two runs agree, within budget."""
    result = validate_exercise(exercise)
    failures = [f"{f.subject}: {f.message} [{f.score}]" for f in result.findings if not f.ok]
    assert failures == []


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.slug)
def test_exercise_has_a_real_bug_catalogue(exercise: Exercise):
    """At least four realistic mistakes are catalogued per exercise."""
    assert len(exercise.bugs) >= 4


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.slug)
def test_starter_has_todo_markers(exercise: Exercise):
    """Starters show the learner where to work."""
    assert any("TODO" in text for text in exercise.starter_files().values())


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.slug)
def test_visible_tests_pass_on_the_solution(exercise: Exercise, tmp_path: Path):
    """`runner test` on a workspace holding the reference solution passes."""
    shutil.copytree(exercise.starter_dir, tmp_path, dirs_exist_ok=True)
    shutil.copytree(exercise.tests_dir, tmp_path / "tests")
    for name, text in exercise.solution_files().items():
        (tmp_path / name).write_text(text)
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), "tests"]
    result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
