"""The learner's progress, read from the progress record: status, the next exercise, hints, and
whether the solution may be shown.

Pure: every function takes the record's data (as `workspace.progress()` read it) and returns
values; a record that is missing, corrupt or of the wrong shape reads as "not started", so
`runner list` never fails on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .errors import UsageError


class Status(Enum):
    DONE = "done"
    IN_PROGRESS = "in progress"
    NOT_STARTED = "not started"


@dataclass(frozen=True)
class Progress:
    """One exercise's progress, validated from its record entry."""

    slug: str
    status: Status
    best: int | None = None
    max: int | None = None
    tasks: dict[str, tuple[int, int]] = field(default_factory=dict)
    first_failing: dict[str, Any] | None = None
    graded_at: float = 0.0
    gave_up: bool = False
    hints_shown: int = 0
    check_hint_seen: str | None = None

    @property
    def score(self) -> str:
        return "—" if self.best is None or self.max is None else f"{self.best}/{self.max}"


def _int(value: Any, default: int | None = None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def entry(data: Mapping[str, Any], slug: str, *, started: bool) -> Progress:
    """The progress of `slug`; anything malformed in its entry is ignored, not fatal."""
    raw = data.get(slug)
    raw = raw if isinstance(raw, dict) else {}
    tasks: dict[str, tuple[int, int]] = {}
    raw_tasks = raw.get("tasks")
    if isinstance(raw_tasks, dict):
        for task, pair in raw_tasks.items():
            if isinstance(pair, list) and len(pair) == 2 and all(_int(x) is not None for x in pair):
                tasks[str(task)] = (int(pair[0]), int(pair[1]))
    best, top = _int(raw.get("best")), _int(raw.get("max"))
    if raw.get("passed") is True:
        status = Status.DONE
    elif started or best is not None:
        status = Status.IN_PROGRESS
    else:
        status = Status.NOT_STARTED
    failing = raw.get("first_failing")
    graded = raw.get("graded_at")
    seen = raw.get("check_hint_seen")
    return Progress(
        slug=slug, status=status, best=best, max=top, tasks=tasks,
        first_failing=failing if isinstance(failing, dict) else None,
        graded_at=float(graded) if isinstance(graded, (int, float)) else 0.0,
        gave_up=raw.get("gave_up") is True, hints_shown=_int(raw.get("hints_shown"), 0) or 0,
        check_hint_seen=seen if isinstance(seen, str) else None,
    )


def task_marks(tasks: Mapping[str, tuple[int, int]]) -> str:
    """`1✓ 2◐ 3·`: full, partial or no points per task (checks without a task are left out)."""
    marks = []
    for task, (earned, available) in sorted(tasks.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0):
        if task == "0":
            continue
        mark = "✓" if available and earned >= available else ("◐" if earned else "·")
        marks.append(f"{task}{mark}")
    return " ".join(marks)


def current(order: Sequence[str], progress: Sequence[Progress], here: str | None) -> str | None:
    """The exercise the learner is on: the workspace they are in, else the latest graded or
    started one that is not done, else the latest done one."""
    if here is not None:
        return here
    by_slug = {p.slug: p for p in progress}
    active = [by_slug[s] for s in order if s in by_slug and by_slug[s].status is not Status.NOT_STARTED]
    if not active:
        return None
    return max(active, key=lambda p: (p.status is Status.IN_PROGRESS, p.graded_at, order.index(p.slug))).slug


def next_after(order: Sequence[str], progress: Sequence[Progress], current_slug: str | None) -> str | None:
    """The first not-done exercise after `current_slug` in catalog order (from the start when
    there is no current one); None at the end of the curriculum."""
    done = {p.slug for p in progress if p.status is Status.DONE}
    start = order.index(current_slug) + 1 if current_slug in order else 0
    return next((slug for slug in order[start:] if slug not in done), None)


def only_in_progress(progress: Sequence[Progress]) -> str:
    """The exercise to use when none is named: the one in progress, if exactly one is."""
    active = [p.slug for p in progress if p.status is Status.IN_PROGRESS]
    if len(active) == 1:
        return active[0]
    if not active:
        raise UsageError("Which exercise?", hint="Name one (see `runner list`), or `runner start` one first.")
    raise UsageError(f"Which exercise? You are in progress on {', '.join(active)}.",
                     hint="Name one of them, or run this inside its workspace.")


@dataclass(frozen=True)
class HintStep:
    """What `runner hint` shows, and what to remember of it."""

    shown: list[tuple[str, str]]
    hints_shown: int
    check_hint_seen: str | None
    exhausted: bool


def _check_key(failing: Mapping[str, Any], graded_at: float) -> str:
    return f"{failing.get('id')}@{graded_at}"


def hint_step(p: Progress, hints: Sequence[str], *, show_all: bool = False) -> HintStep:
    """First the hint of the last grade's first failing check, then the exercise's hints one by
    one; `show_all` reveals everything. `exhausted` says nothing new was left to reveal."""
    failing = p.first_failing
    check_hint = failing.get("hint") if failing else None
    key = _check_key(failing, p.graded_at) if failing and isinstance(check_hint, str) and check_hint else None
    check_line = [(f"From your last grade, {failing.get('name')}", str(check_hint))] if key and failing else []
    total = len(hints)
    revealed = min(p.hints_shown, total)
    if show_all:
        numbered = [(f"Hint {i}/{total}", h) for i, h in enumerate(hints, 1)]
        return HintStep(check_line + numbered, total, key or p.check_hint_seen,
                        exhausted=revealed >= total and (key is None or key == p.check_hint_seen))
    if key is not None and key != p.check_hint_seen:
        return HintStep(check_line, revealed, key, exhausted=False)
    if revealed < total:
        return HintStep([(f"Hint {revealed + 1}/{total}", hints[revealed])], revealed + 1, p.check_hint_seen,
                        exhausted=False)
    return HintStep([], revealed, p.check_hint_seen, exhausted=True)


def solution_refusal(p: Progress) -> UsageError | None:
    """Why the solution may not be shown yet (None: it may): only after full marks, or giving up."""
    if p.status is Status.DONE or p.gave_up:
        return None
    how_far = f"your best is {p.score}" if p.best is not None else "you have not graded it yet"
    return UsageError(f"The solution of {p.slug} opens after full marks; {how_far}.",
                      hint=f"Keep going (`runner hint {p.slug}`), or `runner solution {p.slug} --give-up` "
                           "to see it now (your progress record will say you gave up).")
