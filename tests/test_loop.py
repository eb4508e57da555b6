"""The loop commands through the CLI: names, list at 80 columns, next, hint, solution."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from rich.console import Console

from runner import loop
from runner.cli import main


@pytest.fixture
def cli():
    return CliRunner()


@pytest.fixture
def three(hello, kit):
    """01-hello, 02-hello-again-with-a-rather-long-name (track "data"), 03-hello-third."""
    for slug in ("02-hello-again-with-a-rather-long-name", "03-hello-third"):
        shutil.copytree(hello.root, kit / "exercises" / slug)
        shutil.copytree(hello.solution_dir, kit / "solutions" / slug)
    meta = kit / "exercises" / "02-hello-again-with-a-rather-long-name" / "exercise.toml"
    meta.write_text(meta.read_text().replace('track = "apis"', 'track = "data"'))
    return kit


def _progress(kit, data):
    path = kit / "workspace" / ".progress.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _entry(best, top, passed, tasks=None, failing=None):
    return {"best": best, "max": top, "passed": passed, "tasks": tasks or {}, "first_failing": failing,
            "graded_at": 1.0}


@pytest.mark.parametrize("typed", ["01", "01-hel", "hello"])
def test_names_resolve_through_the_cli(cli, hello, typed):
    result = cli.invoke(main, ["start", typed])
    assert result.exit_code == 0 and "Started 01-hello" in result.output


def test_ambiguous_and_typo_names_exit_2_without_traceback(cli, three):
    ambiguous = cli.invoke(main, ["start", "0"])
    assert ambiguous.exit_code == 2 and "01-hello, 02-hello-again" in " ".join(ambiguous.output.split())
    typo = cli.invoke(main, ["start", "helo-third"])
    assert typo.exit_code == 2 and "Did you mean" in typo.output and "03-hello-third" in typo.output
    assert "Traceback" not in ambiguous.output + typo.output


def test_no_name_uses_the_only_exercise_in_progress(cli, three, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.invoke(main, ["start", "03"]).exit_code == 0
    assert "Hint 1/2" in cli.invoke(main, ["hint"]).output
    assert cli.invoke(main, ["start", "01"]).exit_code == 0
    result = cli.invoke(main, ["hint"])
    assert result.exit_code == 2 and "01-hello, 03-hello-third" in result.output


def test_list_fits_80_columns_with_full_names_status_score_and_tasks(three, monkeypatch):
    _progress(three, {"01-hello": _entry(7, 7, True, {"1": [4, 4], "2": [3, 3]}),
                      "03-hello-third": _entry(3, 7, False, {"1": [3, 4], "2": [0, 3]})})
    console = Console(width=80, record=True, highlight=False)
    console.print(loop.list_table())
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "02-hello-again-with-a-rather-long-name" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "done" in lines["01-hello"] and "7/7" in lines["01-hello"] and "1✓ 2✓" in lines["01-hello"]
    assert "in progress" in lines["03-hello-third"] and "3/7" in lines["03-hello-third"]
    assert "1◐ 2·" in lines["03-hello-third"]
    assert "not started" in lines["02-hello-again-with-a-rather-long-name"]
    assert "apis" in lines and "data" in lines


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"01-hello": 7}'])
def test_list_survives_a_corrupt_progress_file(cli, hello, kit, content):
    path = kit / "workspace" / ".progress.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    result = cli.invoke(main, ["list"])
    assert result.exit_code == 0 and "not started" in result.output and "Traceback" not in result.output


def test_next_after_the_current_and_at_the_end(cli, three, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _progress(three, {"01-hello": _entry(7, 7, True), "02-hello-again-with-a-rather-long-name": _entry(7, 7, True)})
    assert cli.invoke(main, ["start", "01"]).exit_code == 0
    monkeypatch.chdir(three / "workspace" / "01-hello")
    result = cli.invoke(main, ["next"])
    assert "Next: 03-hello-third" in result.output
    started = cli.invoke(main, ["next", "--start"])
    assert "Started 03-hello-third" in started.output and (three / "workspace" / "03-hello-third").is_dir()
    _progress(three, {s: _entry(7, 7, True) for s in ("01-hello", "02-hello-again-with-a-rather-long-name",
                                                     "03-hello-third")})
    monkeypatch.chdir(three / "workspace" / "03-hello-third")
    assert "end of the curriculum" in cli.invoke(main, ["next"]).output


def test_hint_starts_with_the_failing_checks_hint_and_says_when_none_remain(cli, hello, kit):
    assert cli.invoke(main, ["start", "01"]).exit_code == 0
    _progress(kit, {"01-hello": _entry(0, 7, False, failing={"id": "c::t", "name": "GET /hello answers 200",
                                                             "hint": "Add the route."})})
    first = cli.invoke(main, ["hint", "01"]).output
    assert "From your last grade, GET /hello answers 200: Add the route." in first and "Hint 1/2" not in first
    assert "Hint 1/2: Return JSON with jsonify." in cli.invoke(main, ["hint", "01"]).output
    assert "Hint 2/2: Count hits with INCR." in cli.invoke(main, ["hint", "01"]).output
    last = cli.invoke(main, ["hint", "01"]).output
    assert "No more hints" in last
    everything = cli.invoke(main, ["hint", "01", "--all"]).output
    assert "Add the route." in everything and "Hint 1/2" in everything and "Hint 2/2" in everything
    assert json.loads((kit / "workspace" / ".progress.json").read_text())["01-hello"]["hints_shown"] == 2


def test_hints_survive_a_new_grade_record(cli, hello, kit):
    from runner import workspace

    assert cli.invoke(main, ["start", "01"]).exit_code == 0
    cli.invoke(main, ["hint", "01"])
    workspace.update("01-hello", best=1)
    report = type("R", (), {"exercise": "01-hello", "score": 2, "max_score": 7, "checks": [], "seed": 1,
                            "status": type("S", (), {"value": "fail"})(), "all_passed": False})()
    workspace.record(report)  # type: ignore[arg-type]
    assert json.loads((kit / "workspace" / ".progress.json").read_text())["01-hello"]["hints_shown"] == 1


def test_solution_refused_before_full_marks_then_given_up_and_recorded(cli, hello, kit):
    assert cli.invoke(main, ["start", "01"]).exit_code == 0
    _progress(kit, {"01-hello": _entry(3, 7, False)})
    refused = cli.invoke(main, ["solution", "01"])
    assert refused.exit_code == 2 and "3/7" in refused.output and "--give-up" in refused.output
    shown = cli.invoke(main, ["solution", "01", "--give-up"])
    assert shown.exit_code == 0 and "── app.py ──" in shown.output
    assert "bugs.toml" not in shown.output and "wrong-message" not in shown.output
    assert json.loads((kit / "workspace" / ".progress.json").read_text())["01-hello"]["gave_up"] is True
    again = cli.invoke(main, ["solution", "01"])
    assert again.exit_code == 0


def test_solution_after_full_marks(cli, hello, kit):
    _progress(kit, {"01-hello": _entry(7, 7, True)})
    result = cli.invoke(main, ["solution", "01-hello"])
    assert result.exit_code == 0 and "── app.py ──" in result.output
