"""The terminal reports: a grade (drawn from ``focus``'s view model), a validation, services, doctor.

Everything the submission controls (messages, output, values) is rendered as plain ``Text``, never
as rich markup, so a learner's ``[red]`` or escape sequence is shown, not interpreted.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from .findings import Validation
from .focus import Row, View, build
from .results import CheckResult, CheckStatus, GradeReport

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


#: Where a check's fields start: under the check's name, with the label column after it.
_LABEL_WIDTH = 9


def _wrapped(console: Console, prefix: str, value: str, *, indent: int, style: str = "",
             prefix_style: str = "dim") -> None:
    """Prose (a message, a hint): wrapped to the console with a hanging indent, never splitting a word."""
    width = max(console.width - indent - 1, 20)
    lines = [part for paragraph in value.splitlines() or [""]
             for part in (textwrap.wrap(paragraph, width, break_long_words=False, break_on_hyphens=False,
                                        drop_whitespace=True) or [""])]
    for index, line in enumerate(lines):
        text = Text()  # a Text's own style would also colour the value: only the label is styled
        text.append(prefix if index == 0 else " " * len(prefix), style=prefix_style)
        text.append(line, style=style)
        console.print(text, soft_wrap=True)


def _verbatim(console: Console, prefix: str, value: str, *, style: str = "", prefix_style: str = "dim") -> None:
    """Code (a request, a curl line, a JSON body): each line as one line, never split by the report,
    so a copy from the terminal pastes it whole; the terminal wraps it where it must."""
    for index, line in enumerate(value.splitlines() or [""]):
        text = Text()  # a Text's own style would also colour the value: only the label is styled
        text.append(prefix if index == 0 else " " * len(prefix), style=prefix_style)
        text.append(line, style=style)
        console.print(text, soft_wrap=True)


def _label(name: str, indent: int) -> str:
    return " " * indent + f"{name:<{_LABEL_WIDTH}}"


def _render_fields(check: CheckResult, console: Console, indent: int) -> None:
    if check.message:
        _wrapped(console, " " * indent, check.message, indent=indent)
    if check.sent:
        lines = [line.strip() for line in check.sent.splitlines()]
        request = [line for line in lines if not line.startswith("try it:")]
        tries = [line.removeprefix("try it:").strip() for line in lines if line.startswith("try it:")]
        if request and check.actual:
            # "got" shows the answer: a lone request line need not repeat it after its arrow.
            last = request[-1]
            if last.endswith(" → " + check.actual.strip()):
                request[-1] = last[: -len(" → " + check.actual.strip())]
        if request:
            _verbatim(console, _label("sent", indent), "\n".join(request))
        for line in tries:
            _verbatim(console, _label("try it", indent), line)
    for name, value in (("expected", check.expected), ("got", check.actual)):
        if value:
            _verbatim(console, _label(name, indent), value)
    if check.app_output:
        _verbatim(console, _label("your app", indent), check.app_output.rstrip())
    if check.hint:
        _wrapped(console, _label("hint", indent), check.hint, indent=indent + _LABEL_WIDTH)


def _points(points: int, maximum: int, pad: int) -> str:
    return f"{points}/{maximum}".rjust(pad)


def _render_row(row: Row, console: Console, pad: int) -> None:
    check = row.check
    symbol, style = SYMBOL[check.status]
    prefix = f"   {_points(check.points, check.max_points, pad)}  "
    head = Text(prefix)
    head.append(f"{symbol} ", style=style)
    indent = len(prefix) + 2
    width = max(console.width - indent - 1, 20)
    name_lines = textwrap.wrap(check.name, width, break_long_words=False, break_on_hyphens=False) or [""]
    head.append(name_lines[0])
    tags = [tag for tag, on in (("gate", check.gate), ("hidden", not check.visible)) if on]
    if row.note:
        tags.append(row.note)
    tail = Text()
    if tags:
        tail.append("  " + " · ".join(tags), style="dim")
    if len(name_lines) == 1:
        head.append_text(tail)
    console.print(head, soft_wrap=True)
    for index, line in enumerate(name_lines[1:], start=2):
        more = Text(" " * indent + line)
        if index == len(name_lines):
            more.append_text(tail)
        console.print(more, soft_wrap=True)
    if row.full:
        _render_fields(check, console, indent)
    for collapsed in row.collapsed:
        console.print(Text(" " * indent + collapsed.text, style="yellow"), soft_wrap=True)


def render_grade(report: GradeReport, console: Console, view: View | None = None, *,
                 titles: dict[int, str] | None = None, next_exercise: str | None = None) -> None:
    """The report of one grade, focused as ``view`` says (see ``focus``), ending with "Next: …"."""
    focus = build(report, view, titles=titles, next_exercise=next_exercise)
    title = Text(f"{report.exercise}", style="bold")
    title.append(f"  ({report.backend}: {', '.join(f'{k} {v}' for k, v in report.services.items()) or 'no services'})",
                 style="dim")
    console.print(title)
    for problem in focus.problems:
        category = f"{problem.category.value.replace('_', ' ')}: "
        width = max(console.width - 4, 20)
        lines = textwrap.wrap(category + problem.message, width, break_long_words=False,
                              break_on_hyphens=False) or [category]
        for index, part in enumerate(lines):  # hanging indent under the "!"
            line = Text(" ! " if index == 0 else "   ", style="bold red")
            if index == 0 and part.startswith(category.rstrip()):
                line.append(part[:len(category)], style="bold red")
                part = part[len(category):]
            line.append(part)
            console.print(line, soft_wrap=True)
        if problem.details:
            _verbatim(console, "   ", problem.details.rstrip(), prefix_style="")
        _wrapped(console, "   → ", problem.advice, indent=5, style="yellow", prefix_style="yellow")
    if focus.not_run and focus.problems:
        console.print(Text(f"   {focus.not_run} check{'s' if focus.not_run != 1 else ''} not run.", style="yellow"))
    labels = [f"{t.points}/{t.max_points}" for t in focus.tasks]
    labels += [f"{r.check.points}/{r.check.max_points}" for t in focus.tasks for r in t.rows]
    pad = max((len(label) for label in labels), default=3)
    if focus.tasks:
        console.print()
    for task in focus.tasks:
        mark, style = ("✓", "green") if task.done else (("-", "yellow") if task.passed == 0 and all(
            r.check.status is CheckStatus.NOT_RUN for r in task.rows) and focus.not_run else ("✗", "red"))
        head = Text(f" {_points(task.points, task.max_points, pad)}  ", style="bold")
        head.append(f"{mark} ", style=style)
        head.append(task.label, style="bold")
        if not task.shown and not task.done:
            head.append(f"  {task.passed} of {task.total} checks pass", style="dim")
        console.print(head, soft_wrap=True)
        for row in task.rows:
            _render_row(row, console, pad)
        if task.passing_left_out:
            n = task.passing_left_out
            console.print(Text(f"   {' ' * pad}  ✓ {n} {'other checks pass' if n != 1 else 'other check passes'}",
                               style="green"), soft_wrap=True)
        if task.more:
            command = f"runner grade --task {task.number}" if task.number is not None else "runner grade --all"
            console.print(Text(f"   {' ' * pad}  + {task.more} more failing check{'s' if task.more != 1 else ''}: "
                               f"`{command}` shows them", style="yellow"), soft_wrap=True)
    if focus.show_output and report.output.strip():
        console.print(Text("\n Output of your program", style="bold underline"))
        _verbatim(console, " ", report.output.rstrip(), prefix_style="")
    console.print()
    summary = Text(" Score ", style="bold")
    summary.append(f"{report.score}/{report.max_score}", style="bold green" if report.all_passed else "bold red")
    summary.append(f"  ({report.duration:.1f} s)", style="dim")
    if focus.more_command:
        summary.append(f"   `{focus.more_command}` shows every check", style="dim")
    console.print(summary, soft_wrap=True)
    _wrapped(console, " Next: ", focus.next_step, indent=7, prefix_style="bold")


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
