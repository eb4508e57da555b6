"""The `runner` command: a thin layer over the modules; exit codes are the contract.

0 graded and all checks passed · 1 graded, some checks failed (or the code could not run) ·
2 usage error · 3 environment or infrastructure error (never the learner's fault).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__, workspace
from .catalog import EntryKind
from .errors import InfrastructureError, RunnerError, UsageError
from .exercises import Exercise, all_exercises, find_exercise, kit_root
from .grading import Grader
from .report import render_grade, render_validation
from .results import Status
from .validate import validate_exercise

F = TypeVar("F", bound=Callable[..., Any])

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _fail(error: RunnerError, *, as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps({"status": "error", "category": "infrastructure" if error.exit_code == 3 else "usage",
                               "message": error.message, "hint": error.hint}))
    else:
        err_console.print(Text(f"Error: {error.message}", style="bold red"))
        if error.hint:
            err_console.print(Text(error.hint, style="yellow"))
    sys.exit(error.exit_code)


def handles_errors(fn: F) -> F:
    """Runner errors become a message and their exit code, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RunnerError as error:
            _fail(error, as_json=bool(kwargs.get("as_json")))
        except KeyboardInterrupt:
            err_console.print("Interrupted.")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _exercise_or_here(name: str | None) -> Exercise:
    if name:
        return find_exercise(name)
    here = workspace.exercise_in(Path.cwd())
    if here is None:
        raise UsageError("Which exercise?", hint="Name one (see `runner list`), or run this inside a workspace.")
    return find_exercise(here)


class _UsageExitGroup(click.Group):
    """click exits 2 on usage errors already; this keeps that and adds the runner's own errors."""


@click.group(cls=_UsageExitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runner")
def main() -> None:
    """backend-kit: graded back-end exercises.

    Start with `runner list`, then `runner start EXERCISE`, edit the files, `runner test`,
    and `runner grade`.
    """


@main.command("list")
@handles_errors
def list_command() -> None:
    """List the exercises with your progress."""
    progress = workspace.progress()
    table = Table(show_edge=False, header_style="bold")
    for column in ("exercise", "title", "track", "difficulty", "kind", "progress"):
        table.add_column(column)
    for exercise in all_exercises():
        meta = exercise.meta
        entry = progress.get(exercise.slug)
        if entry:
            state = f"{'✓ ' if entry.get('passed') else ''}best {entry.get('best')}/{entry.get('max')}"
        elif workspace.started(exercise):
            state = "started"
        else:
            state = "—"
        table.add_row(exercise.slug, meta.title, meta.track, meta.difficulty.value, meta.entry.kind.value, state)
    console.print(table)


@main.command()
@click.argument("exercise")
@handles_errors
def start(exercise: str) -> None:
    """Create your workspace for EXERCISE (starter code, statement, visible tests)."""
    ex = find_exercise(exercise)
    path, created = workspace.start(ex)
    if created:
        console.print(Text(f"Started {ex.slug} in {path}", style="bold green"))
    else:
        console.print(Text(f"{ex.slug} is already started in {path} (`runner reset {ex.slug}` starts over).",
                           style="yellow"))
    console.print(f"Read {path / 'README.md'}, edit {', '.join(ex.meta.files)}, then "
                  f"`runner test {ex.slug}` and `runner grade {ex.slug}`.")


@main.command()
@click.argument("exercise", required=False)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handles_errors
def reset(exercise: str | None, yes: bool) -> None:
    """Start EXERCISE over (your current work is moved aside, not deleted)."""
    ex = _exercise_or_here(exercise)
    if not yes and not click.confirm(f"Move your work on {ex.slug} aside and start over?", default=False):
        raise UsageError("Not reset.")
    backup = workspace.reset(ex)
    console.print(f"Reset {ex.slug}; your previous work is in {backup}.")


@main.command()
@click.argument("exercise", required=False)
@click.option("--all", "show_all", is_flag=True, help="Reveal every hint.")
@handles_errors
def hint(exercise: str | None, show_all: bool) -> None:
    """Reveal the next hint for EXERCISE."""
    ex = _exercise_or_here(exercise)
    hints = workspace.next_hint(ex, show_all=show_all)
    if not hints:
        console.print("This exercise has no hints.")
        return
    for number, text in enumerate(hints, 1):
        line = Text(f"Hint {number}/{len(ex.meta.hints)}: ", style="bold")
        line.append(text)
        console.print(line)


@main.command()
@click.argument("exercise", required=False)
@handles_errors
def test(exercise: str | None) -> None:
    """Run the visible tests in your workspace (your own code, your own process)."""
    ex = _exercise_or_here(exercise)
    folder = workspace.workspace_of(ex)
    if not workspace.started(ex):
        raise UsageError(f"{ex.slug} is not started.", hint=f"Run `runner start {ex.slug}` first.")
    tests = folder / "tests"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder)]
    if ex.meta.entry.kind is EntryKind.TESTS:
        args.extend(name for name in ex.meta.files if Path(name).name.startswith("test_"))
    if tests.is_dir():
        args.append("tests")
    code = subprocess.call(args, cwd=folder)
    sys.exit(0 if code == 0 else 1)


@main.command()
@click.argument("exercise", required=False)
@click.option("--submission", type=click.Path(path_type=Path), help="Grade this folder instead of your workspace.")
@click.option("--json", "as_json", is_flag=True, help="Print the result document as JSON on stdout.")
@click.option("--seed", type=int, help="Seed for the checks' random data (default: derived from the submission).")
@handles_errors
def grade(exercise: str | None, submission: Path | None, as_json: bool, seed: int | None) -> None:
    """Grade EXERCISE with its hidden checks."""
    ex = _exercise_or_here(exercise)
    own_workspace = submission is None
    folder = submission if submission is not None else workspace.workspace_of(ex)
    if not folder.is_dir():
        if own_workspace:
            raise UsageError(f"{ex.slug} is not started.", hint=f"Run `runner start {ex.slug}` first.")
        raise UsageError(f"{folder} is not a folder.", hint="Pass the folder that holds the submission's files.")
    if not as_json:
        console.print(Text(f"Grading {ex.slug} …", style="dim"))
    report = Grader(ex).grade(folder, seed=seed)
    if own_workspace:
        workspace.record(report)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        render_grade(report, console)
    sys.exit(0 if report.status is Status.PASS else 1)


@main.command()
@click.argument("exercises", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
@handles_errors
def validate(exercises: tuple[str, ...], as_json: bool) -> None:
    """Prove exercises: solution passes, starter fails, every bug is caught, runs agree."""
    chosen = [find_exercise(name) for name in exercises] if exercises else all_exercises()
    results = [validate_exercise(ex) for ex in chosen]
    if as_json:
        click.echo(json.dumps([
            {"exercise": r.exercise, "ok": r.ok, "duration": round(r.duration, 2),
             "findings": [f.__dict__ for f in r.findings]} for r in results
        ], indent=2))
    else:
        for result in results:
            render_validation(result, console)
    sys.exit(0 if all(r.ok for r in results) else 1)


@main.command()
@click.argument("name")
@click.option("--kind", type=click.Choice([k.value for k in EntryKind]), default="wsgi", show_default=True)
@click.option("--title", default="A new exercise", show_default=True)
@handles_errors
def new(name: str, kind: str, title: str) -> None:
    """Scaffold a new exercise NAME (e.g. 04-rate-limits) and its solution folder."""
    from .scaffold import scaffold

    paths = scaffold(kit_root(), name, EntryKind(kind), title)
    for path in paths:
        console.print(f"  created {path}")
    console.print(f"Fill in the TODOs, then `runner validate {name}`.")


__all__ = ["InfrastructureError", "main"]
