"""The terminal report: each check with ✓/✗, points and message; the total; the hidden tally.

Everything the submission controls (messages, output, values) is rendered as plain ``Text``, never
as rich markup, so a learner's ``[red]`` or escape sequence is shown, not interpreted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from .findings import Validation
from .results import CheckStatus, GradeReport, Status

if TYPE_CHECKING:
    from .doctor import Check
    from .services.docker import ContainerStatus

SYMBOL = {
    CheckStatus.PASSED: ("✓", "green"),
    CheckStatus.FAILED: ("✗", "red"),
    CheckStatus.ERROR: ("✗", "red"),
    CheckStatus.TIMEOUT: ("⏱", "red"),
    CheckStatus.SKIPPED: ("-", "yellow"),
    CheckStatus.NOT_RUN: ("-", "yellow"),
    CheckStatus.CHECK_ERROR: ("⚠", "magenta"),  # the check is broken: not the learner's doing
}


def _field(label: str, value: str | None) -> Text | None:
    if not value:
        return None
    text = Text(f"      {label}: ", style="dim")
    text.append(value.replace("\n", "\n        "))
    return text


def render_grade(report: GradeReport, console: Console) -> None:
    title = Text(f"{report.exercise}", style="bold")
    title.append(f"  ({report.backend}: {', '.join(f'{k} {v}' for k, v in report.services.items()) or 'no services'})",
                 style="dim")
    console.print(title)
    for problem in report.problems:
        line = Text("  ! ", style="bold red")
        line.append(f"{problem.category.value.replace('_', ' ')}: ", style="bold red")
        line.append(problem.message)
        console.print(line)
        if problem.details:
            console.print(Text("    " + problem.details.replace("\n", "\n    "), style="dim"))
        console.print(Text(f"    → {problem.advice}", style="yellow"))
    current_group = None
    for check in report.checks:
        group = "Visible checks" if check.visible else "Hidden checks"
        if group != current_group:
            console.print(Text(f"\n {group}", style="bold underline"))
            current_group = group
        symbol, style = SYMBOL[check.status]
        line = Text(f"  {symbol} ", style=style)
        if check.task is not None:
            line.append(f"[task {check.task}] ", style="dim")
        line.append(check.name)
        line.append(f"  ({check.points}/{check.max_points})", style="dim")
        console.print(line)
        if check.status is not CheckStatus.PASSED:
            if check.message:
                console.print(Text("      " + check.message.replace("\n", "\n      "), style=style))
            for label, value in (("sent", check.sent), ("expected", check.expected), ("got", check.actual),
                                 ("hint", check.hint)):
                rendered = _field(label, value)
                if rendered is not None:
                    console.print(rendered)
    if report.output.strip():
        console.print(Text("\n Output of your program", style="bold underline"))
        console.print(Text(report.output.rstrip()), style="dim")
    hidden = report.hidden
    console.print()
    summary = Text(" Score: ", style="bold")
    summary.append(f"{report.score}/{report.max_score}", style="bold green" if report.all_passed else "bold red")
    if hidden.total:
        summary.append(f"   hidden checks passed: {hidden.passed}/{hidden.total}")
    summary.append(f"   ({report.duration:.1f} s)", style="dim")
    console.print(summary)
    if report.status is Status.PASS:
        console.print(Text(" All checks passed. Well done!", style="bold green"))
    elif report.status is Status.ERROR:
        console.print(Text(" Your code could not be graded; fix the problem above first.", style="bold red"))
    else:
        failed = sum(c.status is not CheckStatus.PASSED for c in report.checks)
        console.print(Text(f" {failed} check(s) did not pass. `runner hint` reveals a hint.", style="yellow"))


def render_validation(result: Validation, console: Console, *, verbose: bool = False) -> None:
    """The findings, then the kill matrix, the rule coverage and the strength's survivors."""
    header = Text(result.exercise, style="bold")
    header.append(f"  ({result.backend or 'static'}, {result.duration:.1f} s)", style="dim")
    console.print(header)
    for finding in result.findings:
        line = Text("  ✓ " if finding.ok else "  ✗ ", style="green" if finding.ok else "red")
        line.append(f"{finding.subject}: ", style="bold")
        line.append(finding.message)
        if finding.score:
            line.append(f"  [{finding.score}]", style="dim")
        console.print(line)
    matrix = result.matrix
    if matrix is not None and matrix.bugs:
        console.print(Text("\n Kill matrix (✗ = the bug fails the check)", style="bold underline"))
        width = max(len(check) for check in matrix.checks)
        console.print(Text("  " + " " * width + "  " + " ".join(f"{i + 1:>2}" for i in range(len(matrix.bugs))),
                           style="dim"))
        for check in matrix.checks:
            cells = " ".join(" ✗" if (bug, check) in matrix.kills else " ·" for bug in matrix.bugs)
            style = "red" if check in matrix.unproven else ""
            console.print(Text(f"  {check:<{width}}  {cells}" + ("   unproven" if check in matrix.unproven else ""),
                               style=style))
        for index, bug in enumerate(matrix.bugs):
            console.print(Text(f"  {index + 1:>2} {bug}", style="dim"))
    rules = result.rules
    if rules is not None and (verbose or not rules.ok):
        console.print(Text("\n Rule coverage", style="bold underline"))
        for rule in rules.rules:
            names = rules.covered_by.get(rule, ())
            line = Text(f"  {rule:<5} ", style="red" if not names else "")
            line.append(", ".join(names) if names else "no check covers it")
            console.print(line)
    power = result.strength
    if power is not None and power.survivors:
        console.print(Text(f"\n Surviving mutants ({len(power.survivors)}): add a check, or mark each one "
                           "equivalent with a reason in equivalent.toml", style="bold underline"))
        for survivor in power.survivors:
            console.print(Text(f"  {survivor.id}  {survivor.description}", style="yellow"))
            if verbose:
                console.print(Text("    " + survivor.diff.rstrip().replace("\n", "\n    "), style="dim"))


def render_services(rows: Iterable[ContainerStatus], console: Console) -> None:
    """`runner services up/status`: one line per service container."""
    for row in rows:
        port = f"127.0.0.1:{row.port}" if row.port else ""
        console.print(f"  {row.service:<9} {row.container:<24} {row.state:<8} {port}  {row.image}")


def render_doctor(checks: Iterable[Check], console: Console) -> bool:
    """`runner doctor`: one line per check; whether none of them failed."""
    ok = True
    for check in checks:
        style = {"ok": "green", "warn": "yellow", "fail": "red"}[check.state.value]
        mark = {"ok": "✓", "warn": "!", "fail": "✗"}[check.state.value]
        line = Text(f"  {mark} ", style=style)
        line.append(f"{check.name}: ", style="bold")
        line.append(check.message)
        console.print(line)
        ok = ok and check.state.value != "fail"
    return ok
