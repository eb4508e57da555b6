"""The kit root is the checkout the learner is in, before the installed package's location."""

from __future__ import annotations

from pathlib import Path

from runner.exercises import kit_root


def _checkout(folder: Path) -> Path:
    (folder / "exercises").mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[project]\nname = "backend-kit"\n')
    return folder


def test_walks_up_from_the_cwd_to_the_learners_checkout(tmp_path, monkeypatch):
    clone = _checkout(tmp_path / "clone")
    (clone / "workspace" / "01-x").mkdir(parents=True)
    monkeypatch.delenv("BACKEND_KIT_ROOT", raising=False)
    monkeypatch.chdir(clone / "workspace" / "01-x")
    assert kit_root() == clone


def test_a_folder_with_exercises_but_another_project_is_not_a_checkout(tmp_path, monkeypatch):
    other = tmp_path / "other"
    (other / "exercises").mkdir(parents=True)
    (other / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    monkeypatch.delenv("BACKEND_KIT_ROOT", raising=False)
    monkeypatch.chdir(other)
    assert kit_root() != other


def test_the_environment_wins(tmp_path, monkeypatch):
    clone = _checkout(tmp_path / "clone")
    env_root = _checkout(tmp_path / "env")
    monkeypatch.setenv("BACKEND_KIT_ROOT", str(env_root))
    monkeypatch.chdir(clone)
    assert kit_root() == env_root
