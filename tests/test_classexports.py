"""Class exports: a synthetic class (full marks, partial, a learner's code error, an infrastructure
error, hostile text) through the CSV gradebook, JSON lines, Gradescope, Classroom and batch JUnit."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from runner.classexports import (
    GRADESCOPE_VISIBILITIES,
    classroom_documents,
    classroom_output,
    gradescope_documents,
    latest,
    read_jsonl,
    safe_name,
    to_classroom,
    to_gradebook_csv,
    to_gradescope,
    to_jsonl,
    to_junit_batch,
)
from runner.entries import Entry, EntryState
from runner.errors import UsageError
from runner.results import Category, CheckResult, CheckStatus, GradeReport, Problem, Status

EX1, EX2 = "01-bookmarks", "02-cache"
HOSTILE = '<script>alert("x")</script> {{ 7*7 }} \'quote\' =HYPERLINK("http://evil")'
HOSTILE_MESSAGE = '"><img src=x onerror=alert(1)> {{ config }} {% raw %}'
PASSED, FAILED = CheckStatus.PASSED, CheckStatus.FAILED

#: (id, name, points, task, visible) per exercise, in declaration order.
CHECKS = {
    EX1: [("test_list", "GET /bookmarks answers 200", 2, 1, True),
          ("test_create", "POST /bookmarks creates one", 3, 1, False),
          ("test_delete", "DELETE /bookmarks/<id> removes it", 2, 2, False),
          ("test_invalid", "an invalid URL is refused with 400", 1, 2, False)],
    EX2: [("test_hit", "a second GET is served from Redis", 3, None, False),
          ("test_expiry", "cached entries expire", 2, None, True)],
}


def check(exercise: str, index: int, status: CheckStatus, **feedback: str) -> CheckResult:
    id_, name, points, task, visible = CHECKS[exercise][index]
    return CheckResult(id_, name, status, points if status is PASSED else 0, points, task=task, visible=visible,
                       **feedback)  # type: ignore[arg-type]


def graded(learner: str, exercise: str, statuses: list[CheckStatus], *, duration: float = 2.0,
           graded_at: str = "2026-12-03T10:00:00Z", status: Status | None = None, problems: tuple[Problem, ...] = (),
           output: str = "", feedback: dict[int, dict[str, str]] | None = None) -> Entry:
    feedback = feedback or {}
    checks = tuple(check(exercise, i, s, **feedback.get(i, {})) for i, s in enumerate(statuses))
    score = sum(c.points for c in checks)
    maximum = sum(c.max_points for c in checks)
    verdict = status or (Status.PASS if score == maximum else Status.FAIL)
    report = GradeReport(exercise, "embedded", verdict, score, maximum, checks, problems=problems, output=output,
                         duration=duration, submission_hash=f"s-{learner}-{exercise}-{graded_at}",
                         exercise_hash=f"e-{exercise}", runner_version="0.1.0")
    return Entry(learner, exercise, report.submission_hash, report.exercise_hash, "0.1.0", EntryState.GRADED, report,
                 duration=duration, graded_at=graded_at, source=f"class/{learner}")


def infrastructure(learner: str, exercise: str) -> Entry:
    return Entry(learner, exercise, f"s-{learner}", f"e-{exercise}", "0.1.0", EntryState.INFRASTRUCTURE_ERROR,
                 error="PostgreSQL stopped answering <b>after 3 attempts</b>; run the batch again.", attempts=3,
                 duration=40.0, graded_at="2026-12-03T10:05:00Z", source=f"class/{learner}")


BOB_FEEDBACK = {2: {"message": "DELETE /bookmarks/1 returned 500", "expected": "204", "actual": "500",
                    "hint": "Commit the deletion before you answer."}}
HOSTILE_FEEDBACK = {1: {"message": HOSTILE_MESSAGE, "expected": "=1+2", "actual": "<script>x</script>",
                        "hint": "{{ hint }} </pre><script>"}}


def class_entries() -> list[Entry]:
    """Six learners over two exercises, with one resubmission (bob's older, worse 01 grade first)."""
    all_pass = [PASSED] * 4
    return [
        graded("bob", EX1, [FAILED, FAILED, FAILED, FAILED], graded_at="2026-12-02T09:00:00Z"),  # superseded
        graded("ada", EX1, all_pass, duration=2.0),
        graded("ada", EX2, [PASSED, PASSED], duration=1.0),
        graded("bob", EX1, [PASSED, PASSED, FAILED, PASSED], duration=2.5, feedback=BOB_FEEDBACK),
        graded("bob", EX2, [FAILED, PASSED], duration=1.2,
               feedback={0: {"message": "the second GET reached the database", "hint": "Store the body in Redis."}}),
        graded("cy", EX1, [CheckStatus.NOT_RUN] * 4, duration=1.5, status=Status.ERROR,
               problems=(Problem(Category.SYNTAX_ERROR, "app.py line 3: invalid syntax", "    def f(:\n         ^"),)),
        graded("cy", EX2, [PASSED, PASSED], duration=1.1),
        infrastructure("dee", EX1),
        graded("dee", EX2, [FAILED, FAILED], duration=1.3),
        graded(HOSTILE, EX1, [PASSED, FAILED, FAILED, CheckStatus.SKIPPED], duration=60.0, feedback=HOSTILE_FEEDBACK,
               output=f"{HOSTILE}\n\x1b[2Jcleared"),
        graded("eve", EX1, all_pass, duration=2.2),
        graded("fay", EX1, [PASSED, PASSED, PASSED, FAILED], duration=1.8),
    ]


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- choosing entries -----------------------------------------------------------------------------


def test_latest_keeps_the_last_graded_entry_per_learner_and_exercise():
    """Bob's older 01 grade (0 points) is superseded by his later one (6 points)."""
    current = latest(class_entries())
    bob = [e for e in current if e.learner == "bob" and e.exercise == EX1]
    assert ([e.score for e in bob], len(current)) == ([6], 11)


def test_safe_names_are_single_path_components_that_do_not_collide():
    """Hostile names become one component without slashes or leading dots; different names stay different."""
    names = [HOSTILE, "../../etc", "a/b", "a_b", "", ".hidden", "ok-name_1.2"]
    safe = [safe_name(n) for n in names]
    assert all("/" not in s and not s.startswith(".") and s for s in safe)
    assert len(set(safe)) == len(names)
    assert safe_name("ok-name_1.2") == "ok-name_1.2"


# --- CSV gradebook --------------------------------------------------------------------------------


def test_gradebook_has_a_row_per_learner_and_columns_per_exercise_and_check():
    """Columns: learner, then per exercise score, max score, state and each check's points."""
    rows = parse_csv(to_gradebook_csv(class_entries()))
    ex1 = [EX1, f"{EX1} max_score", f"{EX1} state"] + [f"{EX1} {c[0]}" for c in CHECKS[EX1]]
    ex2 = [EX2, f"{EX2} max_score", f"{EX2} state"] + [f"{EX2} {c[0]}" for c in CHECKS[EX2]]
    assert rows[0] == ["learner", *ex1, *ex2]
    by_learner = {row[0]: row[1:] for row in rows[1:]}
    assert len(rows) == 1 + 7
    assert by_learner["ada"] == ["8", "8", "pass", "2", "3", "2", "1", "5", "5", "pass", "3", "2"]
    assert by_learner["bob"] == ["6", "8", "fail", "2", "3", "0", "1", "2", "5", "fail", "0", "2"]
    assert by_learner["cy"][:7] == ["0", "8", "error", "0", "0", "0", "0"]


def test_an_infrastructure_error_is_a_blank_score_never_a_zero():
    """Dee's 01 grade failed on the machine: state says so and every number is blank."""
    by_learner = {row[0]: row[1:] for row in parse_csv(to_gradebook_csv(class_entries()))[1:]}
    assert by_learner["dee"][:7] == ["", "", "infrastructure_error", "", "", "", ""]
    assert by_learner["eve"][7:] == ["", "", "missing", "", ""]


def test_gradebook_cells_never_start_a_formula():
    """The hostile learner's name starts with `<`, but its formula part and any `=` cell are neutralised."""
    entries = [*class_entries(), graded("=cmd|' /C calc'!A0", EX2, [PASSED, PASSED])]
    cells = [cell for row in parse_csv(to_gradebook_csv(entries)) for cell in row]
    assert [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))] == []
    assert "'=cmd|' /C calc'!A0" in cells and HOSTILE in cells


# --- JSON lines -----------------------------------------------------------------------------------


def test_jsonl_round_trips_every_entry_one_per_line():
    """Every entry, superseded ones included, comes back equal; one JSON object per physical line."""
    entries = [*class_entries(), graded("line\u2028sep", EX2, [PASSED, FAILED])]
    text = to_jsonl(entries)
    assert len(text.splitlines()) == len(entries)
    assert read_jsonl(text) == entries


BAD_LINES = [("{not json", "line 2"), ("[1, 2]", "line 2"), ('{"format_version": 1}', "line 2"),
             ('{"format_version": 7}', "format_version 7")]


@pytest.mark.parametrize("line,what", BAD_LINES)
def test_a_bad_jsonl_line_is_a_usage_error_naming_it(line, what):
    """The reader says which line is wrong and what to pass instead, never a traceback."""
    good = to_jsonl(class_entries()[:1])
    with pytest.raises(UsageError, match=what) as caught:
        read_jsonl(good + line + "\n", source="class.jsonl")
    assert "class.jsonl" in caught.value.message and caught.value.hint


# --- Gradescope -----------------------------------------------------------------------------------


def test_gradescope_document_uses_their_field_names():
    """Top level score/execution_time/output/tests; each test name/score/max_score/status/output/visibility."""
    bob = next(e for e in latest(class_entries()) if e.learner == "bob" and e.exercise == EX1)
    doc = json.loads(json.dumps(to_gradescope(bob)))
    assert {"score", "execution_time", "output", "tests"} <= set(doc)
    assert (doc["score"], doc["execution_time"], doc["output_format"]) == (6, 2, "text")
    assert [t["score"] for t in doc["tests"]] == [2, 3, 0, 1]
    assert [t["max_score"] for t in doc["tests"]] == [2, 3, 2, 1]
    assert [t["status"] for t in doc["tests"]] == ["passed", "passed", "failed", "passed"]
    failed = doc["tests"][2]
    assert failed["output"] == ("DELETE /bookmarks/1 returned 500\nexpected: 204\ngot: 500\n"
                                "hint: Commit the deletion before you answer.")
    assert set(failed) <= {"score", "max_score", "status", "name", "name_format", "number", "output",
                           "output_format", "tags", "visibility", "extra_data"}
    assert (failed["tags"], failed["output_format"], failed["name_format"]) == (["task 2"], "text", "text")


@pytest.mark.parametrize("hidden", GRADESCOPE_VISIBILITIES)
def test_gradescope_hidden_checks_get_a_visibility_gradescope_knows(hidden):
    """Visible checks are `visible`; hidden ones get the chosen Gradescope visibility."""
    ada = latest(class_entries())[0]
    doc = to_gradescope(ada, hidden_visibility=hidden)
    assert [t["visibility"] for t in doc["tests"]] == ["visible", hidden, hidden, hidden]
    assert set(GRADESCOPE_VISIBILITIES) == {"hidden", "after_due_date", "after_published", "visible"}


def test_gradescope_leaves_out_infrastructure_errors_instead_of_writing_a_zero():
    """Dee's 01 entry gets no results.json (Gradescope would record it as a grade); it is listed apart."""
    documents, skipped = gradescope_documents(latest(class_entries()))
    assert [(e.learner, e.exercise) for e in skipped] == [("dee", EX1)]
    assert len(documents) == 10 and "ada/01-bookmarks/results.json" in documents
    assert all(path.count("/") == 2 and ".." not in path for path in documents)
    with pytest.raises(ValueError, match="infrastructure error"):
        to_gradescope(skipped[0])


def test_gradescope_text_is_cleaned_of_control_characters():
    """The hostile program output loses its escape sequence; its text is kept as text."""
    hostile = next(e for e in latest(class_entries()) if e.learner == HOSTILE)
    output = to_gradescope(hostile)["output"]
    assert "\x1b" not in output and HOSTILE in output and "cleared" in output


# --- GitHub Classroom -----------------------------------------------------------------------------


def test_classroom_document_is_what_the_reporter_reads():
    """version 1, status, max_score and tests with name/status/score/message/test_code/filename/line_no/duration."""
    bob = next(e for e in latest(class_entries()) if e.learner == "bob" and e.exercise == EX1)
    doc = to_classroom(bob)
    assert (doc["version"], doc["status"], doc["max_score"]) == (1, "fail", 8)
    assert [set(t) for t in doc["tests"]] == [
        {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}] * 4
    assert [t["status"] for t in doc["tests"]] == ["pass", "pass", "fail", "pass"]
    assert sum(t["score"] for t in doc["tests"]) == bob.score  # the reporter's total
    assert doc["tests"][2]["message"].startswith("DELETE /bookmarks/1 returned 500\nexpected: 204")
    assert {t["test_code"] for t in doc["tests"]} == {""}  # hidden check source is never shown


def test_classroom_infrastructure_error_is_an_error_worth_nothing_not_a_zero():
    """max_score 0: the reporter leaves it out of the total; status error marks the run as errored."""
    documents = classroom_documents(latest(class_entries()))
    dee = documents[f"dee/{EX1}/result.json"]
    assert (dee["status"], dee["max_score"], [t["status"] for t in dee["tests"]]) == ("error", 0, ["error"])
    assert "PostgreSQL stopped answering" in dee["tests"][0]["message"]
    cy = documents[f"cy/{EX1}/result.json"]
    assert (cy["status"], {t["status"] for t in cy["tests"]}) == ("error", {"error"})


def test_classroom_output_is_base64_json_as_grader_steps_set_it():
    """The reporter base64-decodes `<STEP>_RESULTS` and parses JSON: the round trip gives the document."""
    doc = to_classroom(latest(class_entries())[0])
    assert json.loads(base64.b64decode(classroom_output(doc)).decode("utf-8")) == doc


# --- JUnit batch ----------------------------------------------------------------------------------


def test_junit_batch_parses_with_junitparser_a_suite_per_entry():
    """Eleven suites (one per current entry); counts, outcomes and names read back by a JUnit parser."""
    entries = latest(class_entries())
    xml = JUnitXml.fromstring(to_junit_batch(entries))
    suites = list(xml)
    assert [s.name for s in suites] == [f"{e.learner}/{e.exercise}" for e in entries]
    bob = suites[[s.name for s in suites].index(f"bob/{EX1}")]
    cases = list(bob)
    assert (bob.tests, bob.failures, bob.errors) == (4, 1, 0)
    assert [c.name for c in cases] == [c[1] for c in CHECKS[EX1]]
    assert [type(r) for r in cases[2].result] == [Failure]
    assert cases[2].result[0].message == "DELETE /bookmarks/1 returned 500"
    assert {c.classname for c in cases} == {f"bob.{EX1}"}
    hostile = suites[[s.name for s in suites].index(f"{HOSTILE}/{EX1}")]
    assert [type(r) for c in hostile for r in c.result] == [Failure, Failure, Skipped]
    assert list(hostile)[1].result[0].message == HOSTILE_MESSAGE


def test_junit_batch_infrastructure_error_is_a_suite_with_an_error():
    """Dee's ungraded 01 is one `grading` case whose result is an error with the infrastructure message."""
    xml = JUnitXml.fromstring(to_junit_batch(latest(class_entries())))
    dee = next(s for s in xml if s.name == f"dee/{EX1}")
    cases = list(dee)
    assert (dee.tests, dee.errors, [c.name for c in cases]) == (1, 1, ["grading"])
    error = cases[0].result[0]
    assert isinstance(error, Error) and error.type == "infrastructure_error"
    assert error.message.startswith("PostgreSQL stopped answering <b>")
    assert xml.tests == sum(s.tests for s in xml)


# --- `runner export` ------------------------------------------------------------------------------


@pytest.fixture
def entries_file(tmp_path):
    path = tmp_path / "class.jsonl"
    path.write_text(to_jsonl(class_entries()), encoding="utf-8")
    return path


def export(*args: str):
    from click.testing import CliRunner

    from runner.cli import main

    return CliRunner().invoke(main, ["export", *args])


@pytest.mark.parametrize("fmt,check", [
    ("csv", lambda text: text.startswith("learner,01-bookmarks,01-bookmarks max_score")),
    ("jsonl", lambda text: len(read_jsonl(text)) == 12),
    ("junit", lambda text: len(list(JUnitXml.fromstring(text))) == 11),
    ("html", lambda text: text.startswith("<!DOCTYPE html>") and "Class report" in text),
])
def test_export_writes_each_single_file_format(entries_file, tmp_path, fmt, check):
    """csv, jsonl (every entry again), junit and html are one file each, read back here."""
    out = tmp_path / f"out.{fmt}"
    result = export(str(entries_file), "--format", fmt, "--output", str(out))
    assert result.exit_code == 0, result.output
    assert check(out.read_text(encoding="utf-8"))


def test_export_gradescope_writes_a_folder_and_names_what_it_left_out(entries_file, tmp_path):
    """A results.json per graded learner×exercise; the infrastructure error is named on stderr, not written."""
    out = tmp_path / "gradescope"
    result = export(str(entries_file), "--format", "gradescope", "--output", str(out), "--hidden-visibility", "hidden")
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("results.json"))
    assert len(written) == 10 and "bob/01-bookmarks/results.json" in written
    assert not (out / "dee" / EX1).exists() and (out / "dee" / EX2 / "results.json").is_file()
    doc = json.loads((out / "bob" / EX1 / "results.json").read_text(encoding="utf-8"))
    assert [t["visibility"] for t in doc["tests"]] == ["visible", "hidden", "hidden", "hidden"]
    assert "1 entry was not exported" in result.output and "dee/01-bookmarks" in result.output


def test_export_classroom_writes_every_entry(entries_file, tmp_path):
    """Classroom gets all eleven current entries, the infrastructure error as an error worth 0 points."""
    out = tmp_path / "classroom"
    assert export(str(entries_file), "--format", "classroom", "--output", str(out)).exit_code == 0
    assert len(list(out.rglob("result.json"))) == 11
    assert json.loads((out / "dee" / EX1 / "result.json").read_text())["max_score"] == 0


@pytest.mark.parametrize("content,message", [(None, "does not exist"), ("", "holds no entries"),
                                             ("{oops\n", "line 1 of"), (b"\xff\xfe", "not UTF-8")])
def test_export_of_a_bad_entries_file_is_a_usage_error(tmp_path, content, message):
    """Exit 2 with what is wrong and what to pass instead, never a traceback."""
    path = tmp_path / "class.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = export(str(path), "--format", "csv", "--output", str(tmp_path / "out.csv"))
    assert (result.exit_code, message in result.output, "Traceback" in result.output) == (2, True, False)


def test_export_to_an_unwritable_place_is_a_usage_error(entries_file, tmp_path):
    """A missing folder for a file, or a file where the folder should go, is exit 2 with a hint."""
    missing = export(str(entries_file), "--format", "csv", "--output", str(tmp_path / "no" / "such" / "g.csv"))
    (tmp_path / "taken").write_text("a file")
    clash = export(str(entries_file), "--format", "gradescope", "--output", str(tmp_path / "taken"))
    assert (missing.exit_code, clash.exit_code) == (2, 2)
    assert "cannot write" in missing.output and "--output must be a folder" in clash.output
