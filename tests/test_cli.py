"""The CLI's contract: exit codes 0/1/2/3, `--json` output, and the learner's workflow."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from runner.cli import main

from .conftest import HELLO_SOLUTION, write


@pytest.fixture
def cli():
    return CliRunner()


def test_grade_json_of_the_solution_exits_0(cli, hello):
    """A full-marks grade exits 0 and prints the result document."""
    result = cli.invoke(main, ["grade", "01-hello", "--submission", str(hello.solution_dir), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert (document["status"], document["score"], document["max_score"]) == ("pass", 7, 7)
    assert document["format_version"] == 1 and document["backend"] == "embedded"
    assert [c["status"] for c in document["checks"]] == ["passed"] * 6


def test_grade_of_the_starter_exits_1_with_a_readable_report(cli, hello):
    """A partial grade exits 1; the report shows ✗, the message, the score and what to do next."""
    result = cli.invoke(main, ["grade", "01", "--submission", str(hello.starter_dir)])
    assert result.exit_code == 1
    assert "✗ GET /hello answers 200" in result.output
    assert "returned status 404, expected 200" in result.output
    assert "Score 0/7" in result.output
    assert " Next: make “GET /hello answers 200" in result.output.rsplit("Score 0/7", 1)[1]


def test_unknown_exercise_is_a_usage_error(cli, hello):
    """A name that matches no exercise exits 2 and lists the choices."""
    result = cli.invoke(main, ["grade", "99-nothing"])
    assert result.exit_code == 2
    assert "is not an exercise" in result.output and "01-hello" in result.output


def test_bad_option_is_a_usage_error(cli, hello):
    """click's own usage errors also exit 2."""
    assert cli.invoke(main, ["grade", "--no-such-option"]).exit_code == 2


def test_missing_submission_folder_is_a_usage_error(cli, hello, tmp_path):
    """Grading a folder that does not exist exits 2."""
    result = cli.invoke(main, ["grade", "01-hello", "--submission", str(tmp_path / "nope")])
    assert result.exit_code == 2


def test_broken_checks_are_an_infrastructure_error(cli, hello):
    """If the judge cannot run its checks, exit 3 and say it is not the learner's fault."""
    write(hello.checks_dir / "test_broken.py", "import no_such_module_anywhere\n")
    result = cli.invoke(main, ["grade", "01-hello", "--submission", str(hello.solution_dir), "--json"])
    assert result.exit_code == 3
    document = json.loads(result.output)
    assert document["format_version"] == 1 and document["error"]["kind"] == "infrastructure"
    assert "status" not in document and "checks" not in document
    assert "not your fault" in document["error"]["message"]


def test_an_unexpected_exception_is_a_bug_in_the_kit_exit_3(cli, hello, monkeypatch):
    """An exception nobody expected inside a grade: exit 3, the traceback on stderr, an error document."""
    from runner.grading import Grader

    def explode(self, submission, *options):
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(Grader, "_grade", explode)
    result = cli.invoke(main, ["grade", "01-hello", "--submission", str(hello.solution_dir), "--json"])
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert document == {"format_version": 1, "error": {
        "kind": "bug", "message": "this is a bug in backend-kit: ZeroDivisionError: injected",
        "hint": "Please report it with the traceback printed above."}}
    assert "This is a bug in backend-kit" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr and "ZeroDivisionError: injected" in result.stderr
    plain = cli.invoke(main, ["grade", "01-hello", "--submission", str(hello.solution_dir)])
    assert plain.exit_code == 3 and "Traceback" in plain.stderr and "Error: this is a bug" in plain.stderr


def test_an_exception_outside_a_grade_is_a_bug_too(cli, hello, monkeypatch):
    """Any command: an unexpected exception exits 3, never 1 (the learner's failure)."""
    from runner import workspace

    monkeypatch.setattr(workspace, "progress", lambda: 1 / 0)
    result = cli.invoke(main, ["list"])
    assert result.exit_code == 3 and "ZeroDivisionError" in result.stderr


def test_a_crashing_check_is_the_checks_error_not_the_learners(cli, hello):
    """A NameError in a check and a fixture that does not exist: check_error, exit 3; other checks pass."""
    write(hello.checks_dir / "test_zz_broken.py", """
        def test_typo(client):
            \"\"\"A check with a typo\"\"\"
            respnse = client.get("/hello")
            assert response.status == 200


        def test_wrong_fixture(learner):
            \"\"\"A check asking for another kind's fixture\"\"\"
    """)
    result = cli.invoke(main, ["grade", "01-hello", "--submission", str(hello.solution_dir), "--json"])
    assert result.exit_code == 3, result.output
    document = json.loads(result.stdout)
    statuses = {c["id"].rsplit("::", 1)[-1]: c["status"] for c in document["checks"]}
    assert statuses.pop("test_typo") == statuses.pop("test_wrong_fixture") == "check_error"
    assert set(statuses.values()) == {"passed"}
    broken = [c for c in document["checks"] if c["status"] == "check_error"]
    assert all("not your fault" in c["message"] for c in broken)
    assert "NameError" in broken[0]["message"] and "fixture" in broken[1]["message"]
    assert "crashed" in result.stderr
    plain = cli.invoke(main, ["grade", "01-hello", "--submission", str(hello.solution_dir)])
    assert plain.exit_code == 3 and "This check is broken" in plain.stdout and "Traceback" not in plain.output
    validation = cli.invoke(main, ["validate", "01-hello", "--json"])
    assert validation.exit_code == 1
    (found,) = json.loads(validation.stdout)
    failing = {f["subject"] for f in found["findings"] if not f["ok"]}
    assert {"check test_typo", "check test_wrong_fixture"} <= failing


def test_invalid_metadata_is_a_usage_error_with_the_field(cli, hello):
    """A broken exercise.toml exits 2 naming the file and field."""
    meta = hello.root / "exercise.toml"
    meta.write_text(meta.read_text() + "\ncolour = 'blue'\n")
    result = cli.invoke(main, ["list"])
    assert result.exit_code == 2
    assert "colour: unknown key" in result.output


def test_start_test_grade_hint_reset_workflow(cli, hello, kit):
    """The learner's loop: start, test, grade (progress recorded), hint, reset."""
    assert cli.invoke(main, ["start", "01-hello"]).exit_code == 0
    folder = kit / "workspace" / "01-hello"
    assert (folder / "app.py").is_file() and (folder / "README.md").is_file()
    assert "already started" in cli.invoke(main, ["start", "01-hello"]).output

    assert cli.invoke(main, ["grade", "01-hello"]).exit_code == 1
    (folder / "app.py").write_text(HELLO_SOLUTION)
    assert cli.invoke(main, ["grade", "01-hello"]).exit_code == 0
    listing = cli.invoke(main, ["list"])
    assert "7/7" in listing.output and "done" in listing.output

    first = cli.invoke(main, ["hint", "01-hello"])
    assert "Hint 1/2: Return JSON with jsonify." in first.output and "Hint 2/2" not in first.output
    assert "Hint 2/2: Count hits with INCR." in cli.invoke(main, ["hint", "01-hello"]).output

    result = cli.invoke(main, ["reset", "01-hello", "--yes"])
    assert result.exit_code == 0
    assert "TODO" in (folder / "app.py").read_text()
    backups = list((kit / "workspace" / ".previous").iterdir())
    assert len(backups) == 1 and (backups[0] / "app.py").read_text() == HELLO_SOLUTION


def test_visible_tests_run_in_the_workspace(cli, hello, kit):
    """`runner test` runs the visible tests against the learner's code (exit 0 when they pass)."""
    cli.invoke(main, ["start", "01-hello"])
    result = cli.invoke(main, ["test", "01-hello"])
    assert result.exit_code == 0


def test_validate_reports_each_instrument(cli, hello):
    """`runner validate --json` reports the static rules, the subjects, the kill matrix, seeds and
    goldens; the hello exercise names no rules and proves few checks, so it exits 1 saying so."""
    result = cli.invoke(main, ["validate", "01-hello", "--json", "--seeds", "2", "--no-mutants"])
    assert result.exit_code == 1, result.output
    (document,) = json.loads(result.output)
    found = {f["subject"]: f for f in document["findings"]}
    for subject in ("solution", "starter", "bug wrong-message", "time budget", "seeds", "visible tests"):
        assert found[subject]["ok"], found[subject]
    failing = {f["subject"] for f in document["findings"] if not f["ok"]}
    assert {"bugs", "rules", "goldens", "check test_hello", "check test_counts_hits"} <= failing
    assert "check test_body" not in failing  # the catalogued bug proves it
    assert document["kill_matrix"]["test_body"] == ["wrong-message"]
    assert document["seeds"] == [101, 202]


def test_validate_fails_when_a_bug_is_not_caught(cli, hello):
    """A catalogued bug that no named check catches makes validate exit 1."""
    bugs = hello.solution_dir / "bugs.toml"
    bugs.write_text(bugs.read_text().replace('fails = ["test_body"]', 'fails = ["test_hello"]'))
    result = cli.invoke(main, ["validate", "01-hello"])
    assert result.exit_code == 1
    assert "is not caught by 'test_hello'" in result.output


def test_new_scaffolds_an_exercise_whose_solution_and_bug_validate(cli, kit):
    """`runner new` writes a solution that scores full marks and a bug its check catches; the static
    rules then name the placeholders the author still has to replace."""
    for number, kind in enumerate(("wsgi", "functions", "tests"), start=1):
        name = f"0{number}-sample-{kind}"
        assert cli.invoke(main, ["new", name, "--kind", kind]).exit_code == 0
        result = cli.invoke(main, ["validate", name, "--json", "--seeds", "1", "--no-mutants"])
        assert result.exit_code == 1, result.output
        (document,) = json.loads(result.output)
        found = {f["subject"]: f for f in document["findings"]}
        assert found["solution"]["ok"] and found["starter"]["ok"], result.output
        assert all(f["ok"] for subject, f in found.items() if subject.startswith("bug ")), result.output
        assert not found["placeholders"]["ok"] and "README.md" in found["placeholders"]["message"]
        static = cli.invoke(main, ["validate", name, "--static"])
        assert static.exit_code == 1 and "placeholders" in static.output
    assert cli.invoke(main, ["new", "01-sample-wsgi"]).exit_code == 2


def test_grade_accepts_an_archive_and_writes_exports(cli, hello, tmp_path):
    """A .tar.gz submission is unpacked safely; --html/--junit/--csv write escaped reports."""
    import tarfile

    archive = tmp_path / "alice.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(hello.solution_dir / "app.py", arcname="alice-hw1/app.py")
    out = tmp_path / "out"
    out.mkdir()
    args = ["grade", "01-hello", "--submission", str(archive), "--html", str(out / "r.html"),
            "--junit", str(out / "r.xml"), "--csv", str(out / "r.csv")]
    result = cli.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "<!doctype html>" in (out / "r.html").read_text()[:200].lower()
    assert "<testsuite" in (out / "r.xml").read_text()
    assert (out / "r.csv").read_text().startswith("name,exercise,backend,status,score,max_score")


def test_archive_with_an_escaping_path_cannot_supply_the_graded_file(cli, hello, tmp_path):
    """An archive whose app.py climbs out with '..' is refused: the file is missing, nothing is written outside."""
    import io
    import tarfile

    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("../app.py")
        data = hello.solution_dir.joinpath("app.py").read_bytes()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    result = cli.invoke(main, ["grade", "01-hello", "--submission", str(archive), "--json"])
    document = json.loads(result.output)
    assert result.exit_code == 1
    assert [p["category"] for p in document["problems"]] == ["ignored_file", "missing_file"]
    assert "path leaves the submission folder" in document["problems"][0]["message"]
    assert document["score"] == 0


def test_a_file_that_is_not_an_archive_is_rejected(cli, hello, tmp_path):
    """A plain file as a submission is a rejected file, not a traceback."""
    bogus = tmp_path / "homework.zip"
    bogus.write_text("not really a zip")
    result = cli.invoke(main, ["grade", "01-hello", "--submission", str(bogus), "--json"])
    document = json.loads(result.output)
    assert [p["category"] for p in document["problems"]] == ["rejected_file"]
    assert result.exit_code == 1


def test_doctor_reports_and_exits_0_on_the_embedded_default(cli, kit):
    """`runner doctor` lists what it checked; the embedded default needs nothing else."""
    result = cli.invoke(main, ["doctor", "--provider", "embedded"])
    assert result.exit_code == 0, result.output
    assert "embedded: SQLite and fakeredis available" in result.output


def test_doctor_fails_with_exit_3_when_the_url_provider_is_unreachable(cli, kit):
    """An unreachable server is an environment problem: exit 3, with the reason."""
    result = cli.invoke(main, ["doctor", "--database-url", "postgresql://postgres:x@127.0.0.1:9/postgres"])
    assert result.exit_code == 3
    assert "cannot reach PostgreSQL" in result.output
