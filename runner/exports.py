"""Grade reports as CSV (a gradebook), HTML (a page for the learner) and JUnit XML (CI). Pure: strings in, strings out.

Everything a submission controls (check messages, expected/actual values, its output, file and
exercise names, the names an instructor gives submissions) ends up in these documents, and each
format has its own way of turning such text against whoever opens it:

- CSV: a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is run as a
  formula by Excel, LibreOffice and Sheets (``=HYPERLINK(...)`` to leak data, DDE to run commands).
  Such cells get a leading apostrophe, as OWASP recommends; quoting is left to :mod:`csv`.
- HTML: every string goes through ``html.escape(quote=True)``; the page has no script of its own and a
  Content-Security-Policy that forbids scripts and loading anything, in case an escape is ever missed.
- JUnit XML: built with :mod:`xml.etree.ElementTree`, so escaping is by construction; characters
  that XML 1.0 forbids (ElementTree would write them, and the file would no longer parse) are removed.

All three first pass text through :func:`runner.textsafe.clean`, so terminal escape sequences and
control characters never reach a file.
"""

from __future__ import annotations

import csv
import html
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any, Final

from . import textsafe
from .findings import Validation
from .results import CheckResult, CheckStatus, GradeReport, Problem

CSV_FIXED_COLUMNS: Final = ("name", "exercise", "backend", "status", "score", "max_score")
# OWASP's list, plus the full-width forms some spreadsheet locales also read as formula starts.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Everything outside XML 1.0's Char production.
_NOT_XML = re.compile(r"[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .4em .6em; text-align: left; vertical-align: top; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; padding: .5em; margin: .3em 0; }
dt { font-weight: 600; } dd { margin: 0 0 .3em 0; }
.passed { color: #1a7f37; } .failed, .error, .timeout { color: #c62828; } .skipped, .not_run { color: #8a6d00; }
""".strip()

_FIELDS: Final = (("sent", "sent"), ("expected", "expected"), ("actual", "got"), ("app_output", "your app"),
                  ("hint", "hint"))


# ---------------------------------------------------------------------------------------------
# CSV


def to_csv(reports: Sequence[GradeReport], *, names: Sequence[str] | None = None) -> str:
    """One row per submission: name, exercise, backend, status, score, max_score, then the points of
    each check (one column per check id, in first-seen order; empty where a report lacks it).

    ``names`` label the rows (a learner, a folder); without them a row is named by its submission hash.
    """
    if names is not None and len(names) != len(reports):
        raise ValueError(f"{len(names)} names for {len(reports)} reports")
    labels = list(names) if names is not None else [report.submission_hash for report in reports]
    check_ids = _check_ids(reports)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_cell(column) for column in (*CSV_FIXED_COLUMNS, *check_ids)])
    for label, report in zip(labels, reports, strict=True):
        writer.writerow(_csv_row(label, report, check_ids))
    return buffer.getvalue()


def _check_ids(reports: Iterable[GradeReport]) -> list[str]:
    return list(dict.fromkeys(check.id for report in reports for check in report.checks))


def _csv_row(label: str, report: GradeReport, check_ids: Sequence[str]) -> list[str | int]:
    points: dict[str, int] = {}
    for check in report.checks:
        points.setdefault(check.id, int(check.points))
    fixed: list[str | int] = [
        _cell(label),
        _cell(report.exercise),
        _cell(report.backend),
        _cell(report.status.value),
        int(report.score),
        int(report.max_score),
    ]
    return fixed + [points.get(check_id, "") for check_id in check_ids]


def _cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: cleaned, and never the start of a formula."""
    text = _text(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


# ---------------------------------------------------------------------------------------------
# HTML


def to_html(report: GradeReport, *, title: str | None = None) -> str:
    """A standalone page: the summary, the problems, every check with its feedback, and the output."""
    heading = title if title is not None else f"{report.exercise}: grade report"
    body = [
        f"<h1>{_h(heading)}</h1>",
        _html_summary(report),
        _html_problems(report),
        _html_checks(report.checks),
        _html_output(report),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_h(CSP)}">',
            '<meta name="referrer" content="no-referrer">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_h(heading)}</title>",
            f"<style>\n{_STYLE}\n</style>",
            "</head>",
            "<body>",
            *[part for part in body if part],
            "</body>",
            "</html>",
            "",
        ]
    )


def _html_summary(report: GradeReport) -> str:
    hidden = report.hidden
    services = ", ".join(f"{name} {kind}" for name, kind in report.services.items()) or "no services"
    parts = [
        f'status <strong class="{_h(report.status.value)}">{_h(report.status.value)}</strong>',
        f"score <strong>{int(report.score)}/{int(report.max_score)}</strong>",
    ]
    if hidden.total:
        parts.append(f"hidden checks passed {hidden.passed}/{hidden.total}")
    parts.append(f"backend {_h(report.backend)} ({_h(services)})")
    return f"<p>{' · '.join(parts)}</p>"


def _html_problems(report: GradeReport) -> str:
    if not report.problems:
        return ""
    items = []
    for problem in report.problems:
        details = f"<pre>{_h(problem.details)}</pre>" if problem.details else ""
        items.append(
            f"<li><strong>{_h(problem.category.value.replace('_', ' '))}</strong>: {_h(problem.message)}"
            f"{details}<p>{_h(problem.advice)}</p></li>"
        )
    return "<section>\n<h2>Problems</h2>\n<ul>\n" + "\n".join(items) + "\n</ul>\n</section>"


def _html_checks(checks: Sequence[CheckResult]) -> str:
    if not checks:
        return ""
    rows = "\n".join(_html_check(check) for check in checks)
    return (
        "<section>\n<h2>Checks</h2>\n<table>\n"
        "<thead><tr><th>Check</th><th>Status</th><th>Points</th><th>Feedback</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody>\n</table>\n</section>"
    )


def _html_check(check: CheckResult) -> str:
    task = f"[task {int(check.task)}] " if check.task is not None else ""
    kind = "visible" if check.visible else "hidden"
    feedback = f"<p>{_h(check.message)}</p>" if check.message else ""
    fields = [(label, getattr(check, attribute)) for attribute, label in _FIELDS]
    shown = [f"<dt>{label}</dt><dd><pre>{_h(value)}</pre></dd>" for label, value in fields if value]
    if shown:
        feedback += "<dl>" + "".join(shown) + "</dl>"
    status = _h(check.status.value)
    return (
        f"<tr><td>{_h(task)}{_h(check.name)} <small>({kind})</small></td>"
        f'<td class="{status}">{status.replace("_", " ")}</td>'
        f"<td>{int(check.points)}/{int(check.max_points)}</td><td>{feedback}</td></tr>"
    )


def _html_output(report: GradeReport) -> str:
    if not report.output.strip():
        return ""
    return f"<section>\n<h2>Output of your program</h2>\n<pre>{_h(report.output.rstrip())}</pre>\n</section>"


def _h(value: str) -> str:
    return html.escape(_text(value), quote=True)


# ---------------------------------------------------------------------------------------------
# JUnit XML


def to_junit(report: GradeReport) -> str:
    """One test suite for the grade, one test case per check; properties carry score and backend.

    Failed checks are failures; errors, timeouts and checks that never ran are errors (so a
    submission that could not start is red in CI, not "skipped"); checks skipped after a failed gate
    are skipped. Problems go to ``system-err`` and the program's output to ``system-out``. The
    declaration says UTF-8: write the string in UTF-8.
    """
    counts = _junit_counts(report.checks)
    attributes = {
        "name": _x(report.exercise),
        "tests": str(len(report.checks)),
        "failures": str(counts["failures"]),
        "errors": str(counts["errors"]),
        "skipped": str(counts["skipped"]),
        "time": f"{report.duration:.3f}",
    }
    suites = ET.Element("testsuites", attributes)
    suite = ET.SubElement(suites, "testsuite", attributes)
    _junit_properties(suite, _report_properties(report))
    for check in report.checks:
        _junit_case(suite, report.exercise, check)
    if report.output:
        ET.SubElement(suite, "system-out").text = _x(report.output)
    if report.problems:
        ET.SubElement(suite, "system-err").text = _x("\n\n".join(_problem_text(p) for p in report.problems))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _junit_counts(checks: Iterable[CheckResult]) -> dict[str, int]:
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    for check in checks:
        outcome = _JUNIT_OUTCOME.get(check.status)
        if outcome is not None:
            counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[outcome]] += 1
    return counts


_JUNIT_OUTCOME: Final = {
    CheckStatus.FAILED: "failure",
    CheckStatus.ERROR: "error",
    CheckStatus.TIMEOUT: "error",
    CheckStatus.NOT_RUN: "error",
    CheckStatus.CHECK_ERROR: "error",
    CheckStatus.SKIPPED: "skipped",
}


def _report_properties(report: GradeReport) -> list[tuple[str, str]]:
    properties = [
        ("status", report.status.value),
        ("score", str(int(report.score))),
        ("max_score", str(int(report.max_score))),
        ("backend", report.backend),
        ("submission_hash", report.submission_hash),
        ("seed", str(int(report.seed))),
        ("runner_version", report.runner_version),
    ]
    return properties + [(f"service.{name}", kind) for name, kind in report.services.items()]


def _junit_properties(parent: ET.Element, properties: Iterable[tuple[str, str]]) -> None:
    element = ET.SubElement(parent, "properties")
    for name, value in properties:
        ET.SubElement(element, "property", {"name": _x(name), "value": _x(value)})


def _junit_case(suite: ET.Element, exercise: str, check: CheckResult) -> None:
    case = ET.SubElement(
        suite, "testcase", {"classname": _x(exercise), "name": _x(check.name), "time": f"{check.duration:.3f}"}
    )
    _junit_properties(case, [("points", str(int(check.points))), ("max_points", str(int(check.max_points)))])
    outcome = _JUNIT_OUTCOME.get(check.status)
    if outcome is None:
        return
    message = check.message or check.status.value.replace("_", " ")
    element = ET.SubElement(case, outcome, {"message": _x(message), "type": check.status.value})
    details = "\n".join(f"{label}: {value}" for attribute, label in _FIELDS if (value := getattr(check, attribute)))
    if details:
        element.text = _x(details)


def _problem_text(problem: Problem) -> str:
    parts = [f"{problem.category.value}: {problem.message}", problem.details, problem.advice]
    return "\n".join(part for part in parts if part)


def _x(value: str) -> str:
    return _NOT_XML.sub("", textsafe.clean(value))


# ---------------------------------------------------------------------------------------------


def _text(value: str) -> str:
    """Cleaned of escapes and control characters; lone surrogates (which cannot be encoded) as U+FFFD."""
    return _SURROGATE.sub("\ufffd", textsafe.clean(value))


def validation_dict(result: Validation) -> dict[str, Any]:
    """`runner validate --json`: the findings and every instrument's figures, for CI dashboards."""
    data: dict[str, Any] = {
        "exercise": result.exercise, "ok": result.ok, "backend": result.backend,
        "duration": round(result.duration, 2), "seeds": list(result.seeds),
        "findings": [{"subject": f.subject, "ok": f.ok, "message": f.message, "score": f.score}
                     for f in result.findings],
    }
    if result.matrix is not None:
        data["kill_matrix"] = {check: list(result.matrix.catches(check)) for check in result.matrix.checks}
    if result.rules is not None:
        data["rules"] = {"covered_by": {k: list(v) for k, v in result.rules.covered_by.items()},
                         "share": round(result.rules.share, 4), "untied": list(result.rules.untied)}
    if result.strength is not None:
        power = result.strength
        data["strength"] = {
            "share": round(power.share, 4), "counted": len(power.counted), "equivalent": len(power.equivalent),
            "survivors": [{"id": v.id, "description": v.description, "diff": v.diff} for v in power.survivors],
        }
    data["goldens"] = [{"subject": d.subject, "ok": d.ok, "missing": d.missing} for d in result.goldens]
    return data
