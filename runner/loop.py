"""The learner's loop around grading: `runner list`, `next`, `hint` and `solution`.

The I/O side of `progress`: reads the catalog, the workspaces and the progress record, and builds
what the commands print (rich renderables, so the CLI stays a thin layer over this module).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from . import progress as prog
from . import workspace
from .errors import UsageError
from .exercises import Exercise, all_exercises, find_exercise

_STATUS_STYLE = {prog.Status.DONE: "green", prog.Status.IN_PROGRESS: "yellow", prog.Status.NOT_STARTED: "dim"}


def progress_of(exercise: Exercise) -> prog.Progress:
    return prog.entry(workspace.progress(), exercise.slug, started=workspace.started(exercise))


def all_progress(exercises: list[Exercise]) -> list[prog.Progress]:
    data = workspace.progress()
    return [prog.entry(data, ex.slug, started=workspace.started(ex)) for ex in exercises]


def exercise_or_current(name: str | None) -> Exercise:
    """The named exercise, else the workspace the cwd is in, else the only one in progress."""
    if name:
        return find_exercise(name)
    here = workspace.exercise_in(Path.cwd())
    if here is not None:
        return find_exercise(here)
    exercises = all_exercises()
    return find_exercise(prog.only_in_progress(all_progress(exercises)))


def list_table() -> RenderableType:
    """Every exercise with its full name, status, best score and per-task marks, by track;
    narrow enough for 80 columns (the name never wraps; nothing else is needed to read it)."""
    exercises = all_exercises()
    rows = all_progress(exercises)
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("exercise", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("best", no_wrap=True, justify="right")
    table.add_column("tasks", overflow="fold")
    tracks = list(dict.fromkeys(ex.meta.track for ex in exercises))
    for track in tracks:
        if len(tracks) > 1 or track:
            table.add_row(Text(f"{track}", style="bold cyan"), "", "", "")
        for ex, p in zip(exercises, rows, strict=True):
            if ex.meta.track != track:
                continue
            status = p.status.value + (" (gave up)" if p.gave_up and p.status is not prog.Status.DONE else "")
            table.add_row(f"  {ex.slug}", Text(status, style=_STATUS_STYLE[p.status]), p.score,
                          prog.task_marks(p.tasks))
    following = next_exercise()
    footer = Text(f"Next: runner start {following.slug}" if following else "Every exercise is done.")
    return Group(table, Text(""), footer)


def next_exercise() -> Exercise | None:
    """The first not-done exercise after the current one, in catalog order (None: the end)."""
    exercises = all_exercises()
    rows = all_progress(exercises)
    order = [ex.slug for ex in exercises]
    here = workspace.exercise_in(Path.cwd())
    slug = prog.next_after(order, rows, prog.current(order, rows, here))
    return next((ex for ex in exercises if ex.slug == slug), None)


@dataclass(frozen=True)
class HintLines:
    lines: list[tuple[str, str]]
    message: str | None


def hint(exercise: Exercise, *, show_all: bool) -> HintLines:
    """Reveal the next hint (see `progress.hint_step`) and remember it in the progress record."""
    if not workspace.started(exercise):
        raise UsageError(f"{exercise.slug} is not started.", hint=f"Run `runner start {exercise.slug}` first.")
    p = progress_of(exercise)
    hints = list(exercise.meta.hints)
    step = prog.hint_step(p, hints, show_all=show_all)
    workspace.update(exercise.slug, hints_shown=step.hints_shown, check_hint_seen=step.check_hint_seen)
    if not step.exhausted:
        return HintLines(step.shown, None)
    if not hints and not step.shown:
        return HintLines([], "This exercise has no hints.")
    seen = step.shown or [(f"Hint {i}/{len(hints)}", h) for i, h in enumerate(hints, 1)]
    return HintLines(seen, f"No more hints: you have seen all {len(hints)}. "
                           f"`runner solution {exercise.slug} --give-up` shows the reference solution.")


def solution(exercise: Exercise, *, give_up: bool) -> dict[str, str]:
    """The reference solution's files (only those the learner writes: never bugs or checks),
    after full marks or giving up, which is recorded."""
    p = progress_of(exercise)
    refusal = prog.solution_refusal(p)
    if refusal is not None and not give_up:
        raise refusal
    if give_up and refusal is not None:
        workspace.update(exercise.slug, gave_up=True, gave_up_at=time.time())
    return exercise.solution_files()
