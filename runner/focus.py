"""What the report shows, decided apart from how it is drawn: a view model of a ``GradeReport``.

Pure: no I/O. The renderer (``report.render_grade``) only draws what this module decides, so the
rules of the learner's report are tested here on plain data:

- checks are grouped by task, each with its subtotal; only the task to work on now (the first
  unfinished one, or the one asked for) is shown check by check, the others one line each;
- in that task the first failing check is shown in full (message, request, expected, got, hint) and
  the other failing ones one line each, at most ``MAX_ONE_LINERS`` of them;
- checks that failed only because something earlier failed are not repeated: the checks a failing
  gate skipped, and the checks stuck at the same set-up step (``blocked_by``, "POST /bookmarks"),
  become one line under the check that shows the cause; after a problem that stopped the program
  (syntax, import, start-up, crash), the problem is shown once and the rest is "N checks not run";
- the last line is the one thing to do next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .results import CheckResult, CheckStatus, GradeReport, Problem, Status

#: Failing checks of the focused task shown one line each after the one shown in full; the rest is
#: a count ("+ 4 more failing checks"), so a first report fits one 80×24 screen.
MAX_ONE_LINERS = 4
#: Passing checks of the focused task listed by name; past this, the ones that are not gates are one
#: count ("✓ 5 other checks pass"): what passes needs no room, what fails does.
MAX_PASSED_SHOWN = 3

_GATE_SKIP = re.compile(r"needs “(?P<gate>.+)” to pass first")


@dataclass(frozen=True)
class View:
    """How much to show: ``runner grade`` (focus), ``--all``, ``--task N``, or watch's compact view."""

    all_tasks: bool = False
    task: int | None = None
    #: ``runner watch``: the focused task without its passed checks, no program output.
    compact: bool = False


@dataclass(frozen=True)
class Collapsed:
    """Checks that failed only because of the check this line sits under."""

    count: int
    reason: str  # completes "N more checks …": "need POST /bookmarks to work"
    check_ids: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        if self.count == 1:
            return f"+ 1 more check {_singular(self.reason)}"
        return f"+ {self.count} more checks {self.reason}"


@dataclass(frozen=True)
class Row:
    """One check of a shown task: in full (every field) or one line."""

    check: CheckResult
    full: bool = False
    collapsed: tuple[Collapsed, ...] = ()
    #: Why a one-line failing check failed, when the cause is shown elsewhere ("needs POST /bookmarks").
    note: str | None = None


@dataclass(frozen=True)
class TaskView:
    number: int | None
    title: str | None
    points: int
    max_points: int
    passed: int
    total: int
    rows: tuple[Row, ...] = ()  # empty: the task is shown as one line
    more: int = 0  # failing checks left out of ``rows`` (the cap)
    passing_left_out: int = 0  # passing checks counted instead of listed

    @property
    def done(self) -> bool:
        return self.passed == self.total

    @property
    def shown(self) -> bool:
        return bool(self.rows)

    @property
    def label(self) -> str:
        if self.number is None:
            return "Checks" if not self.title else self.title
        return f"Task {self.number}" + (f": {self.title}" if self.title else "")


@dataclass(frozen=True)
class Focus:
    """The whole report as the learner reads it, top to bottom."""

    report: GradeReport
    problems: tuple[Problem, ...]
    tasks: tuple[TaskView, ...]
    not_run: int  # checks never reached after a problem, shown as one count
    next_step: str
    show_output: bool
    #: A command that shows what the focus left out (``runner grade --all``), or None if nothing was.
    more_command: str | None = None


def _singular(reason: str) -> str:
    """ "need X to work" → "needs X to work": the line reads "+ 1 more check needs …"."""
    return "needs " + reason[len("need "):] if reason.startswith("need ") else reason


def _failing(check: CheckResult) -> bool:
    return check.status is not CheckStatus.PASSED


def _holders(checks: tuple[CheckResult, ...]) -> dict[str, tuple[str, Collapsed]]:
    """For each check that failed because of another one, the id of the check that shows the cause
    and the collapsed line it joins. Gate skips join their gate; checks with the same ``blocked_by``
    join the first failing check that is that step itself (its name or request starts with it),
    else the first of them, which is then shown in full as the one that holds the cause."""
    by_name = {c.name: c for c in checks}
    groups: dict[tuple[str, str], list[CheckResult]] = {}
    for check in checks:
        if not _failing(check):
            continue
        if check.status is CheckStatus.SKIPPED:
            match = _GATE_SKIP.search(check.message)
            gate = by_name.get(match["gate"]) if match else None
            if gate is not None and gate.id != check.id:
                groups.setdefault((gate.id, f"need “{gate.name}” to pass first"), []).append(check)
            continue
        if check.blocked_by:
            step = check.blocked_by
            holder = next((c for c in checks if _failing(c) and not c.blocked_by
                           and c.status is not CheckStatus.SKIPPED
                           and (c.name.startswith(step) or (c.sent or "").startswith(step))), None)
            if holder is None:
                holder = next(c for c in checks if c.blocked_by == step and _failing(c))
            if holder.id != check.id:
                groups.setdefault((holder.id, f"need {step} to work"), []).append(check)
    out: dict[str, tuple[str, Collapsed]] = {}  # member id → (holder id, its line)
    for (holder_id, reason), members in groups.items():
        line = Collapsed(len(members), reason, tuple(c.id for c in members))
        for member in members:
            out[member.id] = (holder_id, line)
    return out


def _task_title(titles: dict[int, str], number: int | None) -> str | None:
    return titles.get(number) if number is not None else None


def build(report: GradeReport, view: View | None = None, *, titles: dict[int, str] | None = None,
          next_exercise: str | None = None) -> Focus:
    """Decide what ``report`` shows under ``view``. ``titles`` names the tasks (from the statement);
    ``next_exercise`` is what "Next:" proposes after full marks."""
    view = view or View()
    titles = titles or {}
    checks = report.checks
    not_run = tuple(c for c in checks if c.status is CheckStatus.NOT_RUN)
    stopped = bool(report.problems) and report.status is Status.ERROR
    holders = _holders(checks)
    lines_under: dict[str, list[Collapsed]] = {}
    for holder_id, line in holders.values():
        if line not in lines_under.setdefault(holder_id, []):
            lines_under[holder_id].append(line)
    numbers: list[int | None] = []
    for check in checks:
        if check.task not in numbers:
            numbers.append(check.task)
    numbers.sort(key=lambda n: (n is None, n or 0))
    by_task = {n: tuple(c for c in checks if c.task == n) for n in numbers}

    def unfinished(n: int | None) -> bool:
        return any(_failing(c) for c in by_task[n])

    expanded: set[int | None]
    if view.task is not None:
        expanded = {view.task} if view.task in by_task else set()
    elif view.all_tasks:
        expanded = set(numbers)
    elif stopped:
        expanded = set()
    else:
        first = next((n for n in numbers if unfinished(n)), -1)
        expanded = {first} if first != -1 else set()
    shown_ids = {c.id for n in expanded if n in by_task for c in by_task[n]}

    first_full: CheckResult | None = None
    tasks: list[TaskView] = []
    for number in numbers:
        members = by_task[number]
        points = sum(c.points for c in members)
        maximum = sum(c.max_points for c in members)
        passed = sum(not _failing(c) for c in members)
        if number not in expanded:
            tasks.append(TaskView(number, _task_title(titles, number), points, maximum, passed, len(members)))
            continue
        rows: list[Row] = []
        more = 0
        one_liners = 0
        passing = [c for c in members if not _failing(c)]
        summarise = (not view.all_tasks and view.task is None and len(passing) > MAX_PASSED_SHOWN)
        passing_left_out = 0
        for check in members:
            if not _failing(check):
                if view.compact:
                    continue
                if summarise and not check.gate:
                    passing_left_out += 1
                else:
                    rows.append(Row(check))
                continue
            if stopped and check.status is CheckStatus.NOT_RUN:
                continue
            holder = holders.get(check.id)
            if holder is not None and holder[0] in shown_ids:
                continue  # a line under the check that shows its cause
            collapsed = tuple(lines_under.get(check.id, ()))
            note = _singular(holder[1].reason) if holder is not None else None
            full = view.all_tasks or (first_full is None and note is None)
            if not full and not view.all_tasks and one_liners >= MAX_ONE_LINERS:
                more += 1
                continue
            if full and first_full is None:
                first_full = check
            if not full:
                one_liners += 1
            rows.append(Row(check, full=full, collapsed=collapsed, note=note))
        if not rows and members:
            # Compact view of a task whose failures all sit under another task's check.
            rows.append(Row(members[0]))
        tasks.append(TaskView(number, _task_title(titles, number), points, maximum, passed, len(members),
                              tuple(rows), more, passing_left_out))

    if first_full is None:
        first_full = next((c for c in checks if _failing(c) and c.status is not CheckStatus.NOT_RUN
                           and c.id not in holders), None)
    left_out = (not view.all_tasks and view.task is None and not stopped
                and (any(not t.shown and not t.done for t in tasks) or any(t.more for t in tasks)))
    return Focus(
        report=report,
        problems=report.problems,
        tasks=tuple(tasks),
        not_run=len(not_run),
        next_step=_next_step(report, first_full, next_exercise),
        show_output=not view.compact and (view.all_tasks or stopped or view.task is not None),
        more_command="runner grade --all" if left_out else None,
    )


def _first_sentence(text: str, limit: int = 160) -> str:
    """The hint's first sentence; a long one is cut at its last clause that fits ("; ", ", ")."""
    text = " ".join(text.split())
    match = re.search(r"(?<=[.!?])\s", text)
    sentence = text[:match.start()] if match else text
    if len(sentence) <= limit:
        return sentence
    head = sentence[:limit - 1]
    cut = max(head.rfind("; "), head.rfind(", "))
    return (head[:cut] if cut > limit // 2 else head.rstrip()) + "…"


def _next_step(report: GradeReport, first: CheckResult | None, next_exercise: str | None) -> str:
    if report.problems and report.status is Status.ERROR:
        return report.problems[0].advice
    if report.broken_checks and all(c.status in {CheckStatus.PASSED, CheckStatus.CHECK_ERROR}
                                    for c in report.checks):
        return "a check of this exercise crashed: that is the kit's fault, not yours. Report it."
    if report.status is Status.PASS:
        if next_exercise:
            return f"full marks! `runner next` starts {next_exercise}."
        return "full marks! `runner list` shows what is left."
    if first is None:
        return "grade again after your next change."
    where = f" (task {first.task})" if first.task is not None else ""
    fix = _first_sentence(first.hint or first.message)
    return f"make “{first.name}” pass{where}" + (f": {fix}" if fix else ".")
