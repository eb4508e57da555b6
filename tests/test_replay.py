"""`runner replay`: one check again on the last grade's seed, its exchanges shown and written as .http."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.errors import UsageError
from runner.replay import Recorded, http_file, resolve_check
from runner.results import CheckSpec

CHECKS = (
    CheckSpec("checks/test_b.py::test_create_returns_201", "POST /bookmarks answers 201", 2),
    CheckSpec("checks/test_b.py::test_create_defaults", "POST /bookmarks fills in defaults", 1),
    CheckSpec("checks/test_b.py::test_get_unknown_404", "GET /bookmarks/<id> answers 404", 1, visible=True),
)


@pytest.mark.parametrize("typed", ["checks/test_b.py::test_get_unknown_404", "test_get_unknown_404", "get_unk",
                                   "GET /bookmarks/<id>", "get /bookmarks/<id> answers 404"])
def test_a_check_is_named_by_its_id_function_or_displayed_name_or_their_prefix(typed):
    assert resolve_check(typed, CHECKS) is CHECKS[2]


def test_an_ambiguous_or_unknown_check_is_a_usage_error_that_says_what_to_type():
    assert resolve_check("create_returns", CHECKS) is CHECKS[0]
    with pytest.raises(UsageError, match="several checks: test_create_returns_201, test_create_defaults"):
        resolve_check("create", CHECKS)
    with pytest.raises(UsageError, match="not a check") as info:
        resolve_check("nothing", CHECKS)
    assert "test_get_unknown_404" in (info.value.hint or "")


def test_the_http_file_has_one_request_per_exchange_with_the_answer_as_a_comment():
    exchanges = [Recorded("POST", "/bookmarks", (("Content-Type", "application/json"),), '{"url": "x"}', 500,
                          (("Content-Type", "text/html"),), "<html>"),
                 Recorded("GET", "/bookmarks/1", (), None, None, (), "")]
    assert http_file(CHECKS[0], exchanges) == (
        "# runner replay: POST /bookmarks answers 201\n"
        "# Run your app with `flask --app app run`, then send these requests one by one "
        "(VS Code REST Client, JetBrains HTTP client).\n\n"
        "### 1/2 POST /bookmarks answers 201\n"
        "# during the replay your app answered 500 (text/html)\n"
        "POST http://localhost:5000/bookmarks\n"
        "Content-Type: application/json\n"
        "\n"
        '{"url": "x"}\n\n'
        "### 2/2 POST /bookmarks answers 201\n"
        "# during the replay your app answered no answer\n"
        "GET http://localhost:5000/bookmarks/1\n")


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """01-bookmarks-api started with its starter, graded once (so there is a seed and a failing check)."""
    monkeypatch.setenv("BACKEND_KIT_WORKSPACE", str(tmp_path / "ws"))
    cli = CliRunner()
    assert cli.invoke(main, ["start", "01"]).exit_code == 0
    folder = tmp_path / "ws" / "01-bookmarks-api"
    monkeypatch.chdir(folder)
    graded = cli.invoke(main, ["grade", "--json"])
    assert graded.exit_code == 1, graded.output
    (folder.parent / "graded.json").write_text(graded.output)
    return folder


def test_replay_reruns_the_first_failing_check_on_the_same_data_and_writes_a_http_file(started):
    report = json.loads((started.parent / "graded.json").read_text())
    first = next(c for c in report["checks"] if c["status"] != "passed")
    assert first["id"].endswith("::test_create_returns_201")
    sent = json.loads(first["sent"].splitlines()[0].removeprefix("POST /bookmarks ").split(" → ")[0])

    result = CliRunner().invoke(main, ["replay"])
    assert result.exit_code == 1, result.output
    out = result.output
    assert f"(seed {report['seed']})" in out.replace("\n", " ")
    assert "── 1 of 1 ──\nPOST /bookmarks\nContent-Type: application/json\n" in out
    assert json.dumps(sent["url"]) in out  # the same data as the grade
    assert "→ 501\n  Content-Type: application/json\n" in out
    assert '"error": "POST /bookmarks is not implemented yet"' in out
    assert "Score 0/2" in out

    path = started / ".backend-kit" / "replay-test_create_returns_201.http"
    assert str(path) in out.replace("\n", "")
    text = path.read_text()
    lines = text.splitlines()
    assert lines[3:7] == ["### 1/1 POST /bookmarks answers 201 with the created bookmark",
                          "# during the replay your app answered 501 (application/json)",
                          "POST http://localhost:5000/bookmarks",
                          "Content-Type: application/json"]
    assert lines[7] == ""
    assert json.loads(lines[8]) == sent
    assert "X-Backend-Kit-Request" not in text and "X-Backend-Kit-Request" not in out


def test_replay_of_a_named_check_by_prefix(started):
    result = CliRunner().invoke(main, ["replay", "get_unknown"])
    assert "Replaying “GET /bookmarks/<id> answers 404" in result.output.replace("\n", " ")
    assert "GET /bookmarks/" in result.output
    assert (started / ".backend-kit" / "replay-test_get_unknown_404.http").is_file()


def test_replay_without_a_grade_says_to_grade_first(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKEND_KIT_WORKSPACE", str(tmp_path / "ws"))
    cli = CliRunner()
    assert cli.invoke(main, ["start", "01"]).exit_code == 0
    result = cli.invoke(main, ["replay", "-e", "01"])
    assert result.exit_code == 2
    assert "No failing check to replay" in result.output
