"""A class's gradebook entries in the formats course tools read. Pure: entries in, strings and dicts out.

- CSV gradebook: a row per learner, per exercise a score, max-score and state column, then a column
  per check with its points. An infrastructure error is a blank score with state
  ``infrastructure_error``, never a 0: the kit failed, the learner did not.
- JSON lines: one :meth:`Entry.to_dict` per line, and :func:`read_jsonl` back to entries.
- Gradescope ``results.json`` (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
  ``score``, ``execution_time``, ``output``, ``tests`` with ``name``, ``score``, ``max_score``,
  ``status``, ``output``, ``visibility``. Every text field is declared ``"text"`` so Gradescope never
  renders learner-controlled text as HTML or Markdown. Hidden checks get a visibility Gradescope
  knows (``after_due_date`` by default), visible ones ``visible``.
- GitHub Classroom: the document the ``autograding-*-grader`` actions emit and
  ``autograding-grading-reporter`` reads (``version`` 1, ``status``, ``max_score``, ``tests`` with
  ``name``, ``status``, ``score``, ``message``, ``test_code``, ``filename``, ``line_no``,
  ``duration``), and its base64 form for ``$GITHUB_OUTPUT``. An infrastructure error has
  ``max_score`` 0, which the reporter leaves out of the total: not a zero.
- JUnit XML for a batch: a test suite per entry, a test case per check; an infrastructure error is a
  suite whose one case is an ``<error>``.

Text goes through the same cleaning and cell rules as :mod:`runner.exports` (formula-safe CSV
cells, control characters removed, XML-forbidden characters dropped).

Exports that give one verdict per learner and exercise use :func:`latest` first: a gradebook keeps
every submission it graded, and the last one graded is the learner's current grade.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal

from .entries import Entry, EntryState
from .errors import UsageError
from .exports import _FIELDS, _cell, _junit_case, _junit_counts, _junit_properties, _problem_text, _report_properties
from .exports import _text as clean_text
from .exports import _x as xml_text
from .results import CheckResult, CheckStatus, GradeReport

# ---------------------------------------------------------------------------------------------
# Choosing entries


def latest(entries: Iterable[Entry]) -> list[Entry]:
    """One entry per learner and exercise: the one graded last (ties: the later one given), in the
    order learners and exercises first appear."""
    chosen: dict[tuple[str, str], Entry] = {}
    for entry in entries:
        key = (entry.learner, entry.exercise)
        current = chosen.get(key)
        if current is None or entry.graded_at >= current.graded_at:
            chosen[key] = entry
    return list(chosen.values())


def exercises_of(entries: Iterable[Entry]) -> list[str]:
    """Exercise slugs, sorted (their number prefix orders them as the course does)."""
    return sorted({entry.exercise for entry in entries})


def check_columns(entries: Iterable[Entry]) -> dict[str, list[CheckResult]]:
    """Per exercise, its checks in declaration order (the union over the reports, first seen first)."""
    found: dict[str, dict[str, CheckResult]] = {}
    for entry in entries:
        if entry.report is None:
            continue
        checks = found.setdefault(entry.exercise, {})
        for check in entry.report.checks:
            checks.setdefault(check.id, check)
    return {exercise: list(checks.values()) for exercise, checks in found.items()}


def safe_name(name: str) -> str:
    """A file or folder name for a learner or exercise: letters, digits, ``.``, ``_`` and ``-`` only,
    never ``.``/``..``; a name that had to change gets a hash of the original, so two learners whose
    names clean to the same text still get two folders."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80].lstrip(".")
    if cleaned == name and cleaned:
        return cleaned
    return f"{cleaned or '_'}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


# ---------------------------------------------------------------------------------------------
# CSV gradebook

MISSING: Final = "missing"  # the learner has no entry for this exercise


def to_gradebook_csv(entries: Sequence[Entry]) -> str:
    """A row per learner (sorted), per exercise: score, max score, state, then each check's points.

    ``state`` is the report's status (pass / fail / error: the learner's code could not run),
    ``infrastructure_error`` (score and points blank: no verdict, regrade it) or ``missing``.
    Uses :func:`latest`: one verdict per learner and exercise.
    """
    current = latest(entries)
    exercises = exercises_of(current)
    checks = check_columns(current)
    header: list[str] = ["learner"]
    for exercise in exercises:
        header += [exercise, f"{exercise} max_score", f"{exercise} state"]
        header += [f"{exercise} {check.id}" for check in checks.get(exercise, [])]
    by_key = {(entry.learner, entry.exercise): entry for entry in current}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_cell(column) for column in header])
    for learner in sorted({entry.learner for entry in current}):
        row: list[str | int] = [_cell(learner)]
        for exercise in exercises:
            row += _gradebook_cells(by_key.get((learner, exercise)), checks.get(exercise, []))
        writer.writerow(row)
    return buffer.getvalue()


def _gradebook_cells(entry: Entry | None, checks: Sequence[CheckResult]) -> list[str | int]:
    blank: list[str | int] = [""] * len(checks)
    if entry is None:
        return ["", "", MISSING, *blank]
    if entry.report is None:
        return ["", "", EntryState.INFRASTRUCTURE_ERROR.value, *blank]
    points = {check.id: int(check.points) for check in entry.report.checks}
    return [int(entry.report.score), int(entry.report.max_score), entry.report.status.value,
            *[points.get(check.id, "") for check in checks]]


# ---------------------------------------------------------------------------------------------
# JSON lines


def to_jsonl(entries: Iterable[Entry]) -> str:
    """One entry per line. JSON escapes newlines in strings; U+2028/U+2029 are escaped too, so a reader
    that splits on every line break (``str.splitlines``) still sees one record per line."""
    lines = [json.dumps(entry.to_dict(), ensure_ascii=False, sort_keys=True)
             .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") for entry in entries]
    return "".join(line + "\n" for line in lines)


def read_jsonl(text: str, *, source: str = "the entries") -> list[Entry]:
    """Entries from JSON lines (blank lines skipped); a bad line is a usage error naming its number."""
    entries = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("a line must be one JSON object")
            entries.append(Entry.from_dict(data))
        except (ValueError, KeyError, TypeError) as exc:
            what = f"a missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise UsageError(f"line {number} of {source} is not a gradebook entry: {what}",
                             hint="Pass the JSON lines written by `runner grade-batch` or "
                                  "`runner export --format jsonl`, one entry per line.") from None
    return entries


# ---------------------------------------------------------------------------------------------
# Gradescope

GradescopeVisibility = Literal["hidden", "after_due_date", "after_published", "visible"]
GRADESCOPE_VISIBILITIES: Final[tuple[GradescopeVisibility, ...]] = (
    "hidden", "after_due_date", "after_published", "visible")


def to_gradescope(entry: Entry, *, hidden_visibility: GradescopeVisibility = "after_due_date") -> dict[str, Any]:
    """Gradescope's ``results.json`` for one graded entry.

    An infrastructure error has no score to give (Gradescope would record whatever we wrote as the
    grade), so it is refused here; :func:`gradescope_documents` lists such entries apart.
    """
    if entry.report is None:
        raise ValueError(f"{entry.learner}/{entry.exercise} was not graded (an infrastructure error)")
    report = entry.report
    return {
        "score": int(report.score),
        "execution_time": round(entry.duration or report.duration),
        "output": _overall_text(report),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "extra_data": {
            "learner": clean_text(entry.learner), "exercise": clean_text(entry.exercise),
            "status": report.status.value, "max_score": int(report.max_score), "backend": clean_text(report.backend),
            "submission_hash": entry.submission_hash, "exercise_hash": entry.exercise_hash,
            "runner_version": entry.runner_version,
        },
        "tests": [
            {
                "name": clean_text(check.name),
                "name_format": "text",
                "score": int(check.points),
                "max_score": int(check.max_points),
                "status": "passed" if check.status is CheckStatus.PASSED else "failed",
                "output": _check_text(check),
                "output_format": "text",
                "visibility": "visible" if check.visible else hidden_visibility,
                **({"tags": [f"task {int(check.task)}"]} if check.task is not None else {}),
                "extra_data": {"id": clean_text(check.id), "status": check.status.value},
            }
            for check in report.checks
        ],
    }


def gradescope_documents(entries: Iterable[Entry], *, hidden_visibility: GradescopeVisibility = "after_due_date",
                         ) -> tuple[dict[str, dict[str, Any]], list[Entry]]:
    """``{"<learner>/<exercise>/results.json": document}`` for the graded entries, and the entries
    left out because they are infrastructure errors (regrade them; they are not zeros)."""
    documents: dict[str, dict[str, Any]] = {}
    skipped: list[Entry] = []
    for entry in entries:
        if entry.report is None:
            skipped.append(entry)
        else:
            path = f"{safe_name(entry.learner)}/{safe_name(entry.exercise)}/results.json"
            documents[path] = to_gradescope(entry, hidden_visibility=hidden_visibility)
    return documents, skipped


def _overall_text(report: GradeReport) -> str:
    parts = [f"{report.exercise}: {report.status.value}, {int(report.score)}/{int(report.max_score)} points "
             f"on {report.backend}."]
    parts += [_problem_text(problem) for problem in report.problems]
    if report.output.strip():
        parts.append("Output of your program:\n" + report.output.rstrip())
    return clean_text("\n\n".join(parts))


def _check_text(check: CheckResult) -> str:
    lines = [] if check.status is CheckStatus.PASSED else [check.message or check.status.value.replace("_", " ")]
    if check.status is not CheckStatus.PASSED:
        lines += [f"{label}: {value}" for attribute, label in _FIELDS if (value := getattr(check, attribute))]
    return clean_text("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# GitHub Classroom

CLASSROOM_VERSION: Final = 1
_CLASSROOM_STATUS: Final = {
    CheckStatus.PASSED: "pass",
    CheckStatus.FAILED: "fail",
    CheckStatus.SKIPPED: "fail",
    CheckStatus.ERROR: "error",
    CheckStatus.TIMEOUT: "error",
    CheckStatus.NOT_RUN: "error",
    CheckStatus.CHECK_ERROR: "error",
}


def to_classroom(entry: Entry) -> dict[str, Any]:
    """The result a Classroom grader action emits (the reporter sums ``tests[].score`` out of
    ``max_score``). Hidden check source is never shown, so ``test_code`` is empty."""
    if entry.report is None:
        message = clean_text(f"Not graded: {entry.error or 'an infrastructure error'} (the grader failed, "
                             "not your code; it will be graded again).")
        return {"version": CLASSROOM_VERSION, "status": "error", "max_score": 0,
                "tests": [_classroom_test("grading", "error", 0, message, entry.duration)]}
    report = entry.report
    return {
        "version": CLASSROOM_VERSION,
        "status": report.status.value,
        "max_score": int(report.max_score),
        "tests": [
            _classroom_test(check.name, _CLASSROOM_STATUS[check.status], int(check.points), _check_text(check),
                            check.duration)
            for check in report.checks
        ],
    }


def _classroom_test(name: str, status: str, score: int, message: str, duration: float) -> dict[str, Any]:
    return {"name": clean_text(name), "status": status, "score": score, "message": message, "test_code": "",
            "filename": "", "line_no": 0, "duration": round(duration * 1000)}


def classroom_output(document: dict[str, Any]) -> str:
    """The document as a grader step's ``result`` output: base64 of its JSON, which the reporter
    reads from ``<STEP_ID>_RESULTS``."""
    return base64.b64encode(json.dumps(document, ensure_ascii=False).encode("utf-8")).decode("ascii")


def classroom_documents(entries: Iterable[Entry]) -> dict[str, dict[str, Any]]:
    """``{"<learner>/<exercise>/result.json": document}`` for every entry."""
    return {f"{safe_name(e.learner)}/{safe_name(e.exercise)}/result.json": to_classroom(e) for e in entries}


# ---------------------------------------------------------------------------------------------
# JUnit XML for a batch


def to_junit_batch(entries: Sequence[Entry]) -> str:
    """A test suite per entry (named learner/exercise), a test case per check, classname
    ``learner.exercise``; an infrastructure error is a suite with one ``grading`` case that errored.
    Write the string in UTF-8 (the declaration says so)."""
    root = ET.Element("testsuites", {"name": "class"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    time = 0.0
    for entry in entries:
        counts = _junit_suite(root, entry)
        for key in totals:
            totals[key] += counts[key]
        time += entry.duration
    root.attrib.update({key: str(value) for key, value in totals.items()} | {"time": f"{time:.3f}"})
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_suite(root: ET.Element, entry: Entry) -> dict[str, int]:
    name = f"{entry.learner}/{entry.exercise}"
    classname = f"{entry.learner}.{entry.exercise}"
    suite = ET.SubElement(root, "testsuite", {"name": xml_text(name), "time": f"{entry.duration:.3f}"})
    properties = [("learner", entry.learner), ("exercise", entry.exercise), ("state", entry.state.value),
                  ("attempts", str(int(entry.attempts))), ("graded_at", entry.graded_at)]
    if entry.report is None:
        counts = {"tests": 1, "failures": 0, "errors": 1, "skipped": 0}
        suite.attrib.update({key: str(value) for key, value in counts.items()})
        _junit_properties(suite, properties)
        case = ET.SubElement(suite, "testcase", {"classname": xml_text(classname), "name": "grading",
                                                 "time": f"{entry.duration:.3f}"})
        message = entry.error or "an infrastructure error"
        ET.SubElement(case, "error", {"message": xml_text(message), "type": EntryState.INFRASTRUCTURE_ERROR.value})
        return counts
    report = entry.report
    counts = {"tests": len(report.checks), **_junit_counts(report.checks)}
    suite.attrib.update({key: str(value) for key, value in counts.items()})
    _junit_properties(suite, properties + [p for p in _report_properties(report) if p[0] != "submission_hash"]
                      + [("submission_hash", entry.submission_hash)])
    for check in report.checks:
        _junit_case(suite, classname, check)
    if report.output:
        ET.SubElement(suite, "system-out").text = xml_text(report.output)
    if report.problems:
        ET.SubElement(suite, "system-err").text = xml_text("\n\n".join(_problem_text(p) for p in report.problems))
    return counts
