"""The `runner` command: a thin layer over the modules; exit codes are the contract.

0 graded and all checks passed · 1 graded, some checks failed (or the code could not run) ·
2 usage error · 3 environment or infrastructure error, a broken check, or a bug in backend-kit
(never the learner's fault). Under ``--json`` a failure prints an error document
(``{"format_version": 1, "error": {"kind", "message", "hint"}}``) that cannot be mistaken for a report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from rich.console import Console
from rich.text import Text

from . import __version__, kinds, loop, workspace
from .classexports import GRADESCOPE_VISIBILITIES, GradescopeVisibility
from .context import check_supported, grading
from .context import sandbox_name as sandbox_name_of
from .entries import Entry
from .errors import KitBug, RunnerError, UsageError
from .exercises import Exercise, all_exercises, find_exercise, kit_root
from .exports import validation_dict
from .focus import View
from .report import render_doctor, render_grade, render_services, render_validation
from .results import GradeReport, Status
from .settings import Settings
from .settings import load as load_settings
from .validate import validate_exercise

F = TypeVar("F", bound=Callable[..., Any])

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


#: The version of the ``--json`` error document (a report has its own ``format_version``).
ERROR_FORMAT_VERSION = 1


def error_document(kind: str, message: str, hint: str | None) -> dict[str, Any]:
    """What ``--json`` prints instead of a report: no ``status`` or ``checks`` to mistake it by."""
    return {"format_version": ERROR_FORMAT_VERSION, "error": {"kind": kind, "message": message, "hint": hint}}


def _error_kind(error: RunnerError) -> str:
    if isinstance(error, KitBug):
        return "bug"
    return "usage" if error.exit_code == 2 else "infrastructure"


def _fail(error: RunnerError, *, as_json: bool = False) -> None:
    if isinstance(error, KitBug):
        # The traceback goes to stderr whatever the mode: it is what a bug report needs.
        err_console.print(Text("This is a bug in backend-kit, not a problem with your code.", style="bold red"))
        err_console.print(Text(error.details.rstrip()), markup=False)
    if as_json:
        click.echo(json.dumps(error_document(_error_kind(error), error.message, error.hint)))
    else:
        err_console.print(Text(f"Error: {error.message}", style="bold red"))
        if error.hint:
            err_console.print(Text(error.hint, style="yellow"))
    sys.exit(error.exit_code)


def _wants_json() -> bool:
    context = click.get_current_context(silent=True)
    return bool(context is not None and context.params.get("as_json"))


def handles_errors(fn: F) -> F:
    """Runner errors become a message and their exit code, never a traceback; any other exception
    is a bug in the kit: exit 3, the traceback on stderr, and the error document under --json."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RunnerError as error:
            _fail(error, as_json=_wants_json())
        except KeyboardInterrupt:
            err_console.print("Interrupted.")
            sys.exit(130)
        except Exception as exc:
            _fail(KitBug(exc), as_json=_wants_json())

    return wrapper  # type: ignore[return-value]


def provider_options(fn: F) -> F:
    """--provider / --database-url / --redis-url, shared by the commands that grade."""
    fn = click.option("--redis-url", help="url provider: a Redis server (admin), e.g. redis://127.0.0.1:56379/0")(fn)
    fn = click.option(
        "--database-url",
        help="url provider: a PostgreSQL server (admin), e.g. postgresql://postgres:postgres@127.0.0.1:55432/postgres",
    )(fn)
    fn = click.option("--provider", type=click.Choice(["embedded", "url", "docker"]),
                      help="Where services come from (default: embedded, or $BACKEND_KIT_PROVIDER).")(fn)
    fn = click.option("--sandbox", "sandbox_name", type=click.Choice(["process", "docker"]), default=None,
                      help="Where learner code runs: process (default) or a hardened docker container.")(fn)
    return fn


def _settings(provider: str | None, database_url: str | None, redis_url: str | None) -> Settings:
    return load_settings(kit_root(), provider=provider, database_url=database_url, redis_url=redis_url)


def _exercise_or_here(name: str | None) -> Exercise:
    return loop.exercise_or_current(name)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    console.print(loop.list_table())


@main.command("next")
@click.option("--start", "start_it", is_flag=True, help="Also start it.")
@handles_errors
def next_command(start_it: bool) -> None:
    """Show (or --start) the next exercise after the one you are on."""
    following = loop.next_exercise()
    if following is None:
        console.print("You are at the end of the curriculum: every exercise after this one is done.")
        return
    if not start_it:
        console.print(f"Next: {following.slug} ({following.meta.title}). `runner next --start` starts it.")
        return
    path, _ = workspace.start(following)
    console.print(f"Started {following.slug} in {path}")


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
@click.option("--all", "show_all", is_flag=True, help="Show every hint.")
@handles_errors
def hint(exercise: str | None, show_all: bool) -> None:
    """Reveal the next hint for EXERCISE (first the one for your last grade's first failing check)."""
    result = loop.hint(_exercise_or_here(exercise), show_all=show_all)
    for label, text in result.lines:
        line = Text(f"{label}: ", style="bold")
        line.append(text)
        console.print(line)
    if result.message:
        console.print(result.message)


@main.command()
@click.argument("exercise", required=False)
@click.option("--give-up", is_flag=True, help="Show it before full marks (your progress record says so).")
@handles_errors
def solution(exercise: str | None, give_up: bool) -> None:
    """Show the reference solution of EXERCISE, after full marks (or --give-up)."""
    ex = _exercise_or_here(exercise)
    for name, text in loop.solution(ex, give_up=give_up).items():
        console.print(Text(f"── {name} ──", style="bold"))
        console.print(Text(text))


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
    args.extend(kinds.get(ex.meta.entry.kind).visible_test_args(ex.meta.files))
    if tests.is_dir():
        args.append("tests")
    code = subprocess.call(args, cwd=folder)
    sys.exit(0 if code == 0 else 1)


@main.command()
@click.argument("exercise", required=False)
@click.option("--submission", type=click.Path(path_type=Path),
              help="Grade this folder or archive (.zip, .tar[.gz|.bz2|.xz]) instead of your workspace.")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False), help="Also write an HTML report.")
@click.option("--junit", "junit_path", type=click.Path(path_type=Path, dir_okay=False), help="Also write JUnit XML.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False), help="Also write a CSV row.")
@click.option("--json", "as_json", is_flag=True, help="Print the result document as JSON on stdout.")
@click.option("--seed", type=int, help="Seed for the checks' random data (default: derived from the submission).")
@click.option("--all", "show_all", is_flag=True, help="Show every task and every failing check in full.")
@click.option("--task", "task", type=click.IntRange(1, 99), help="Show task N check by check.")
@provider_options
@handles_errors
def grade(exercise: str | None, submission: Path | None, html_path: Path | None, junit_path: Path | None,
          csv_path: Path | None, as_json: bool, seed: int | None, show_all: bool, task: int | None,
          provider: str | None, database_url: str | None, redis_url: str | None, sandbox_name: str | None) -> None:
    """Grade EXERCISE with its hidden checks.

    The report shows the task to work on now and ends with what to do next; --all or --task N
    show more."""
    ex = _exercise_or_here(exercise)
    settings = _settings(provider, database_url, redis_url)
    check_supported(ex, settings)
    own_workspace = submission is None
    folder = submission if submission is not None else workspace.workspace_of(ex)
    if not folder.exists():
        if own_workspace:
            raise UsageError(f"{ex.slug} is not started.", hint=f"Run `runner start {ex.slug}` first.")
        raise UsageError(f"{folder} does not exist.", hint="Pass the folder or archive that holds the submission.")
    if not as_json:
        console.print(Text(f"Grading {ex.slug} …", style="dim"))
    with grading(settings, sandbox_name) as context:
        report = context.grader(ex).grade_folder(folder, seed=seed)
    if own_workspace:
        workspace.record(report)
    _write_exports(report, html_path, junit_path, csv_path)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        if task is not None and task not in {c.task for c in report.checks}:
            numbers = sorted({c.task for c in report.checks if c.task is not None})
            raise UsageError(f"{ex.slug} has no task {task}.",
                             hint=f"Its tasks are {', '.join(map(str, numbers))}." if numbers
                             else "Its checks are not grouped in tasks: use --all.")
        following = workspace.next_exercise(all_exercises()) if report.all_passed and own_workspace else None
        render_grade(report, console, View(all_tasks=show_all, task=task), titles=ex.meta.tasks,
                     next_exercise=following.slug if following is not None else None)
    if report.broken_checks:
        err_console.print(Text(f"{len(report.broken_checks)} check(s) of {ex.slug} crashed: that is a bug in the "
                               "exercise, not in your code (exit 3). Report it.", style="bold red"))
        sys.exit(3)
    sys.exit(0 if report.status is Status.PASS else 1)


@main.command()
@click.argument("check", required=False)
@click.option("--exercise", "-e", "exercise", help="The exercise (default: the workspace you are in, "
              "else the one you are working on).")
@click.option("--seed", type=int, help="Seed for the check's random data (default: your last grade's).")
@provider_options
@handles_errors
def replay(check: str | None, exercise: str | None, seed: int | None, provider: str | None,
           database_url: str | None, redis_url: str | None, sandbox_name: str | None) -> None:
    """Run CHECK again (default: the first failing check of your last grade) on the same data,
    showing every request it sends and what your app answers, and write them to a .http file."""
    import tempfile
    import threading
    import time

    from . import replay as rp
    from .grading import collect_checks

    ex = _exercise_or_here(exercise)
    if not workspace.started(ex):
        raise UsageError(f"{ex.slug} is not started.", hint=f"Run `runner start {ex.slug}` first.")
    last = workspace.progress().get(ex.slug)
    last = last if isinstance(last, dict) else {}
    checks = collect_checks(ex)
    if check is not None:
        chosen = rp.resolve_check(check, checks)
    else:
        failing = last.get("first_failing")
        chosen_id = failing.get("id") if isinstance(failing, dict) else None
        found = [c for c in checks if c.id == chosen_id]
        if not found:
            raise UsageError(f"No failing check to replay for {ex.slug}.",
                             hint=f"Run `runner grade {ex.slug}` first, or name a check: `runner replay CHECK`.")
        chosen = found[0]
    if seed is None:
        seed = last.get("seed") if isinstance(last.get("seed"), int) else None
    settings = _settings(provider, database_url, redis_url)
    check_supported(ex, settings)
    folder = workspace.workspace_of(ex)
    console.print(Text(f"Replaying “{chosen.name}” of {ex.slug}"
                       + (f" (seed {seed})" if seed is not None else "") + " …", style="dim"))
    with grading(settings, sandbox_name) as context, tempfile.TemporaryDirectory(prefix="backend-kit-replay-") as tmp:
        grader = context.grader(ex)
        exchanges_file = Path(tmp) / "exchanges.jsonl"
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["report"] = grader.grade_folder(folder, seed=seed, only=(chosen.id,),
                                                        exchanges_file=exchanges_file)
            except BaseException as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="replay-grade", daemon=True)
        worker.start()
        shown: list[rp.Recorded] = []
        while True:
            alive = worker.is_alive()
            exchanges = rp.read_exchanges(exchanges_file, chosen.id)
            for index, exchange in enumerate(exchanges[len(shown):], start=len(shown) + 1):
                for line in rp.describe(index, max(len(exchanges), index), exchange):
                    console.print(Text(grader.redact(line)), soft_wrap=True)
            shown = exchanges
            if not alive:
                break
            time.sleep(0.1)
        worker.join()
    if "error" in outcome:
        raise outcome["error"]
    report: GradeReport = outcome["report"]
    result = next(c for c in report.checks if c.id == chosen.id)
    if not shown:
        console.print("The check sent no HTTP request (it may have stopped at an earlier step).")
    view = GradeReport(exercise=report.exercise, backend=report.backend, status=report.status, score=result.points,
                       max_score=result.max_points, checks=(result,), problems=report.problems,
                       output=report.output, output_truncated=report.output_truncated, duration=report.duration,
                       seed=report.seed, services=dict(report.services))
    render_grade(view, console, View(all_tasks=True), titles=ex.meta.tasks)
    if shown:
        path = rp.replay_path(folder, chosen)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(grader.redact(rp.http_file(chosen, shown)), encoding="utf-8")
        console.print(Text(f"The requests are in {path}: send them to your own `flask --app app run` "
                           "(VS Code REST Client or a JetBrains IDE runs .http files).", style="bold"))
    sys.exit(0 if result.status.value == "passed" else 1)


@main.command()
@click.argument("exercise", required=False)
@click.option("--poll", is_flag=True, help="Poll the files instead of waiting for change notifications "
              "(network drives, WSL, bind mounts; chosen by itself where it can tell).")
@click.option("--next", "start_next", is_flag=True, help="At full marks, start the next exercise and watch it.")
@provider_options
@handles_errors
def watch(exercise: str | None, poll: bool, start_next: bool, provider: str | None, database_url: str | None,
          redis_url: str | None, sandbox_name: str | None) -> None:
    """Grade EXERCISE again each time you save one of its files (Ctrl-C stops)."""
    from .watch import Watch, WatchOptions

    ex = _exercise_or_here(exercise)
    settings = _settings(provider, database_url, redis_url)
    check_supported(ex, settings)
    try:
        with grading(settings, sandbox_name) as context:
            Watch(context, ex, console, WatchOptions(poll=poll, start_next=start_next)).run()
    except KeyboardInterrupt:
        console.print("Stopped watching.")


def _write_exports(report: GradeReport, html_path: Path | None, junit_path: Path | None, csv_path: Path | None) -> None:
    from .exports import to_csv, to_html, to_junit

    outputs: list[tuple[Path | None, Callable[[], str]]] = [
        (html_path, lambda: to_html(report)),
        (junit_path, lambda: to_junit(report)),
        (csv_path, lambda: to_csv([report])),
    ]
    for path, render in outputs:
        if path is not None:
            try:
                path.write_text(render(), encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror}") from None


@main.command("grade-batch")
@click.argument("submissions", type=click.Path(path_type=Path))
@click.option("--exercise", "-e", "exercise", help="The exercise every submission is for (SUBMISSIONS/<learner>).")
@click.option("--manifest", type=click.Path(path_type=Path, dir_okay=False),
              help="A CSV (learner,exercise,path) or TOML ([[submission]]) list of the submissions.")
@click.option("--jobs", "-j", "jobs_n", type=click.IntRange(1, 256), default=None,
              help="Grades run at once (default: the cores).")
@click.option("--gradebook", "gradebook_url", default=None,
              help="Where entries are kept: an SQLAlchemy URL (default: sqlite:///gradebook.sqlite here; "
                   "postgresql://… works too).")
@click.option("--retries", type=click.IntRange(0, 10), default=2, show_default=True,
              help="Grades tried again after an infrastructure fault before it is recorded as one.")
@click.option("--unconfined", is_flag=True,
              help="Allow the plain process sandbox without bubblewrap: learner code can then read the other "
                   "submissions, the hidden checks and the solutions.")
@click.option("--engine", type=click.Choice(["local", "celery"]), default="local", show_default=True,
              help="local: grade here, --jobs at a time; celery: send the grades to `runner worker`s through "
                   "--broker and collect them here.")
@click.option("--broker", envvar="BACKEND_KIT_BROKER",
              help="celery: the Redis broker the workers listen on, e.g. redis://127.0.0.1:56380/0.")
@click.option("--wait", "wait_s", type=click.FloatRange(1), default=None,
              help="celery: give up when no answer came for this many seconds (default: longer than any "
                   "grade, and the redelivery of a killed worker's task).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (no progress bar).")
@provider_options
@handles_errors
def grade_batch(submissions: Path, exercise: str | None, manifest: Path | None, jobs_n: int | None,
                gradebook_url: str | None, retries: int, unconfined: bool, engine: str, broker: str | None,
                wait_s: float | None, as_json: bool, provider: str | None, database_url: str | None,
                redis_url: str | None, sandbox_name: str | None) -> None:
    """Grade every submission in SUBMISSIONS (a folder or an archive) into a gradebook, resumably.

    Layouts: SUBMISSIONS/<learner> (folders or archives) with --exercise; SUBMISSIONS/<exercise>/<learner>
    for a whole assignment; or --manifest. A run again grades only what is not in the gradebook yet.
    Exit 0 when every submission has an entry, 3 when some are infrastructure errors."""
    from .batch import choose_sandbox, default_jobs, discover, run_batch
    from .batchview import batch_progress, render_batch_summary
    from .gradebook import DEFAULT_URL, Gradebook

    jobs = discover(submissions, exercise, manifest)
    if engine == "celery":
        _grade_batch_on_workers(jobs, gradebook_url, broker, wait_s, retries, as_json)
        return
    settings = _settings(provider, database_url, redis_url)
    for slug in sorted({job.exercise for job in jobs}):
        check_supported(find_exercise(slug), settings)
    box = choose_sandbox(sandbox_name, unconfined=unconfined)
    workers = jobs_n or default_jobs()
    with Gradebook(gradebook_url or DEFAULT_URL) as book, grading(settings, box) as context:
        if not as_json:
            console.print(Text(f"Grading {len(jobs)} submission(s), {workers} at a time, in the {box} sandbox, "
                               f"into {book.url} …", style="dim"))
        with batch_progress(console, len(jobs), enabled=not as_json) as on_event:
            summary = run_batch(jobs, book, context, jobs_n=workers, retries=retries, on_event=on_event)
    if as_json:
        click.echo(json.dumps({**summary.to_dict(), "sandbox": box, "jobs": workers}))
    else:
        render_batch_summary(summary, console)
    sys.exit(3 if summary.infrastructure_errors else 0)


def _grade_batch_on_workers(jobs: list[Any], gradebook_url: str | None, broker: str | None, wait_s: float | None,
                            retries: int, as_json: bool) -> None:
    """grade-batch --engine celery: the workers' provider and sandbox are theirs (`runner worker`)."""
    from .batchview import batch_progress, render_batch_summary
    from .cluster import check_broker, make_app, run_celery_batch, visibility_timeout
    from .gradebook import DEFAULT_URL, Gradebook

    if not broker:
        raise UsageError("--engine celery needs --broker (or $BACKEND_KIT_BROKER).",
                         hint="Start a broker and workers (`docker compose --profile cluster up -d`), then pass "
                              "--broker redis://127.0.0.1:56380/0.")
    check_broker(broker)
    exercises = [find_exercise(slug) for slug in sorted({job.exercise for job in jobs})]
    visibility = visibility_timeout(exercises, retries)
    app = make_app(broker, visibility=visibility)
    with Gradebook(gradebook_url or DEFAULT_URL) as book:
        if not as_json:
            console.print(Text(f"Sending {len(jobs)} submission(s) to the workers on {broker}, into {book.url} …",
                               style="dim"))
        with batch_progress(console, len(jobs), enabled=not as_json) as on_event:
            summary = run_celery_batch(jobs, book, app, timeout=wait_s or 2 * visibility, on_event=on_event)
    if as_json:
        click.echo(json.dumps({**summary.to_dict(), "engine": "celery"}))
    else:
        render_batch_summary(summary, console)
    sys.exit(3 if summary.infrastructure_errors else 0)


@main.command()
@click.argument("exercises", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
@click.option("--static", "static_only", is_flag=True,
              help="Only the static rules: no services, no grading (for a pre-commit hook).")
@click.option("--seeds", type=click.IntRange(1, 5), default=5, show_default=True,
              help="Grade every subject on this many seeds; verdicts must agree.")
@click.option("--repeat", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Grade every subject N times on one seed; any difference is a flaky check.")
@click.option("--mutants/--no-mutants", default=True, show_default=True,
              help="Measure check strength with machine-made mutants of the solution (takes minutes).")
@click.option("--update-goldens", is_flag=True, help="Rewrite the feedback goldens instead of comparing them.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Grades run at once (default: CPUs).")
@click.option("-v", "--verbose", is_flag=True, help="Also print the rule coverage and each survivor's diff.")
@provider_options
@handles_errors
def validate(exercises: tuple[str, ...], as_json: bool, static_only: bool, seeds: int, repeat: int, mutants: bool,
             update_goldens: bool, workers: int | None, verbose: bool, provider: str | None,
             database_url: str | None, redis_url: str | None, sandbox_name: str | None) -> None:
    """Prove exercises: static rules, solution, starter, bugs, kill matrix, seeds, goldens, strength."""
    from .validate import GoldenMode, Options

    catalog = all_exercises()
    chosen = [find_exercise(name) for name in exercises] if exercises else catalog
    options = Options(static_only=static_only, seeds=seeds, repeat=repeat, mutants=mutants,
                      goldens=GoldenMode.UPDATE if update_goldens else GoldenMode.CHECK,
                      **({"workers": workers} if workers else {}))
    progress = None if as_json else (lambda message: err_console.print(Text(message, style="dim")))
    if static_only:
        results = [validate_exercise(ex, options=options, catalog=catalog, progress=progress) for ex in chosen]
    else:
        settings = _settings(provider, database_url, redis_url)
        for ex in chosen:
            check_supported(ex, settings)
        with grading(settings, sandbox_name) as context:
            results = [validate_exercise(ex, provider_factory=lambda: context.provider, sandbox=context.sandbox,
                                         options=options, catalog=catalog, progress=progress)
                       for ex in chosen]
    if as_json:
        click.echo(json.dumps([validation_dict(r) for r in results], indent=2))
    else:
        for result in results:
            render_validation(result, console, verbose=verbose)
    sys.exit(0 if all(r.ok for r in results) else 1)


EXPORT_FORMATS = ("csv", "jsonl", "gradescope", "classroom", "junit", "html")


@main.command()
@click.argument("entries_path", metavar="[ENTRIES.jsonl]", type=click.Path(path_type=Path), required=False)
@click.option("--gradebook", "gradebook_url", default=None,
              help="Read the entries from this gradebook (an SQLAlchemy URL) instead of a JSON-lines file; "
                   "the default, with neither: grade-batch's sqlite:///gradebook.sqlite here.")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True,
              help="csv: a gradebook row per learner; jsonl: the entries again; gradescope: a results.json per "
                   "learner and exercise; classroom: GitHub Classroom's autograding result per learner and "
                   "exercise; junit: one XML file; html: the class report.")
@click.option("--output", "-o", "output", type=click.Path(path_type=Path), required=True,
              help="The file to write; for gradescope and classroom, a folder (<learner>/<exercise>/...).")
@click.option("--hidden-visibility", type=click.Choice(GRADESCOPE_VISIBILITIES), default="after_due_date",
              show_default=True,
              help="gradescope: when learners see the results of hidden checks.")
@click.option("--title", default="Class report", show_default=True, help="html: the page's title.")
@handles_errors
def export(entries_path: Path | None, gradebook_url: str | None, fmt: str, output: Path, hidden_visibility: str,
           title: str) -> None:
    """Export a class's grades (the gradebook, or the JSON lines of ENTRIES.jsonl) for a course tool,
    or as a class report.

    Every format but jsonl uses each learner's last graded submission of each exercise. An
    infrastructure error is never written as a zero."""
    from . import classexports

    entries = _entries_from(entries_path, gradebook_url)
    current = classexports.latest(entries)
    if fmt in ("gradescope", "classroom"):
        if fmt == "gradescope":
            visibility = cast(GradescopeVisibility, hidden_visibility)  # click.Choice checked it
            documents, skipped = classexports.gradescope_documents(current, hidden_visibility=visibility)
        else:
            documents, skipped = classexports.classroom_documents(current), []
        _write_documents(output, documents)
        console.print(f"Wrote {len(documents)} {fmt} document(s) under {output}.")
        if skipped:
            names = ", ".join(f"{e.learner}/{e.exercise}" for e in skipped[:5]) + (" …" if len(skipped) > 5 else "")
            err_console.print(Text(f"{len(skipped)} entr{'y was' if len(skipped) == 1 else 'ies were'} not "
                                   f"exported, as they were never graded (infrastructure errors): {names}",
                                   style="yellow"), markup=False)
            err_console.print(Text("Run the batch again to grade them; Gradescope would record a document as a "
                                   "grade.", style="yellow"))
        return
    if fmt == "html":
        from .classreport import render

        text = render(current, title=title, generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    else:
        writers = {"csv": classexports.to_gradebook_csv, "jsonl": lambda _: classexports.to_jsonl(entries),
                   "junit": classexports.to_junit_batch}
        text = writers[fmt](current)
    _write_text(output, text)
    console.print(f"Wrote {fmt} for {len({e.learner for e in current})} learner(s) to {output}.")


def _entries_from(path: Path | None, gradebook_url: str | None = None) -> list[Entry]:
    """The entries an export reads: a JSON-lines file, or a gradebook (every entry it holds)."""
    from .classexports import read_jsonl
    from .gradebook import DEFAULT_URL, Gradebook

    if path is not None and gradebook_url is not None:
        raise UsageError("pass ENTRIES.jsonl or --gradebook, not both.")
    if path is None:
        url = gradebook_url or DEFAULT_URL
        if gradebook_url is None and not Path("gradebook.sqlite").is_file():
            raise UsageError("there is no gradebook.sqlite here.", hint="Run `runner grade-batch` first, or pass "
                             "--gradebook URL or a JSON-lines file of entries.")
        with Gradebook(url) as book:
            entries = book.all_entries()
        if not entries:
            raise UsageError(f"the gradebook at {url} holds no entries.", hint="Grade the class first "
                             "(`runner grade-batch`), then export it.")
        return entries
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist.", hint="Pass the JSON lines of a batch's entries "
                         "(`runner export --format jsonl` writes them).") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise UsageError(f"cannot read {path}: {reason}.", hint="Pass a JSON-lines file of entries.") from None
    entries = read_jsonl(text, source=str(path))
    if not entries:
        raise UsageError(f"{path} holds no entries.", hint="Grade the class first, then export its entries.")
    return entries


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}.",
                         hint="Choose a file in a folder that exists and that you can write to.") from None


def _write_documents(folder: Path, documents: dict[str, dict[str, Any]]) -> None:
    """One JSON file per document, at its relative path under ``folder`` (made if missing)."""
    try:
        for relative, document in documents.items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write under {folder}: {exc.strerror}.",
                         hint="--output must be a folder (or not exist yet) that you can write to.") from None


@main.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(list(kinds.names())), default="wsgi", show_default=True)
@click.option("--title", default="A new exercise", show_default=True)
@handles_errors
def new(name: str, kind: str, title: str) -> None:
    """Scaffold a new exercise NAME (e.g. 04-rate-limits) and its solution folder."""
    from .scaffold import scaffold

    paths = scaffold(kit_root(), name, kind, title)
    for path in paths:
        console.print(f"  created {path}")
    console.print(f"Fill in the TODOs, then `runner validate {name}`.")


@main.group()
def services() -> None:
    """Start, stop and inspect the PostgreSQL and Redis containers (the docker provider)."""


def _docker() -> Any:
    from .services.docker import DockerProvider

    return DockerProvider(load_settings(kit_root(), provider="docker"))


@services.command("up")
@handles_errors
def services_up() -> None:
    """Start (or reuse) the service containers and wait until they answer."""
    provider = _docker()
    provider.up()
    render_services(provider.status(), console)
    console.print("Ready. Grade with `--provider docker` (or set BACKEND_KIT_PROVIDER=docker).")


@services.command("down")
@handles_errors
def services_down() -> None:
    """Remove the service containers and any leftovers carrying the kit's label."""
    provider = _docker()
    removed = provider.down() + provider.reap()
    console.print("Removed: " + (", ".join(removed) if removed else "nothing (no containers)"))


@services.command("status")
@handles_errors
def services_status() -> None:
    """Show the service containers and their state."""
    render_services(_docker().status(), console)


@main.command()
@provider_options
@handles_errors
def doctor(provider: str | None, database_url: str | None, redis_url: str | None, sandbox_name: str | None) -> None:
    """Check Docker, images, ports, service health, and which provider and sandbox will be used."""
    from .doctor import run_checks

    settings = _settings(provider, database_url, redis_url)
    ok = render_doctor(run_checks(settings, sandbox_name_of(sandbox_name)), console)
    sys.exit(0 if ok else 3)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                "help_option_names": []})
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
@handles_errors
def bench(options: tuple[str, ...]) -> None:
    """Measure grading speed against naive baselines (bench/grading.py; --help lists its options).

    Runs the kit's benchmark script with the same options, in this interpreter, and exits with its
    exit code: the figures and ratios are printed and written as JSON (bench/results.json)."""
    script = kit_root() / "bench" / "grading.py"
    if not script.is_file():
        raise UsageError(f"the benchmark script {script} is not here.",
                         hint="Run `runner bench` from a checkout of backend-kit (it is not part of the package).")
    sys.exit(subprocess.call([sys.executable, str(script), *options]))


@main.command()
@click.argument("exercises", nargs=-1)
@click.option("--provider", type=click.Choice(["url", "docker"]), default="docker", show_default=True,
              help="Where the real PostgreSQL and Redis come from.")
@click.option("--database-url")
@click.option("--redis-url")
@handles_errors
def parity(exercises: tuple[str, ...], provider: str, database_url: str | None, redis_url: str | None) -> None:
    """Grade every solution and bug on embedded and on real services; fail if verdicts differ."""
    from .parity import compare

    settings = _settings(provider, database_url, redis_url)
    chosen = [find_exercise(name) for name in exercises] if exercises else all_exercises()
    all_same = True
    with grading(settings) as context:
        for ex in chosen:
            for row in compare(ex, context.provider):
                style = "green" if row.same else "red"
                line = Text(f"  {'✓' if row.same else '✗'} {ex.slug} {row.subject}: ", style=style)
                line.append(f"embedded {row.embedded}  server {row.server}")
                if not row.same:
                    line.append(f"  differs on: {', '.join(row.differences)}")
                console.print(line)
                all_same = all_same and row.same
    sys.exit(0 if all_same else 1)


@main.command()
@click.option("--broker", required=True, envvar="BACKEND_KIT_BROKER",
              help="The Redis broker, e.g. redis://127.0.0.1:56380/0 (or $BACKEND_KIT_BROKER).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Grades at once on this worker (each pool process keeps its own warm grading context).")
@click.option("--name", help="The worker's name in Celery (default: Celery's, host and process).")
@click.option("--retries", type=click.IntRange(0, 5), default=2, show_default=True,
              help="Times an infrastructure fault is retried before it is recorded as one.")
@click.option("--visibility-timeout", type=click.FloatRange(10), default=None,
              help="Seconds before an unacknowledged task goes to another worker (default: longer than any "
                   "exercise's grade).")
@click.option("--unconfined", is_flag=True,
              help="Allow the plain process sandbox without bubblewrap: learner code can then read the other "
                   "submissions, the hidden checks and the solutions.")
@provider_options
@handles_errors
def worker(broker: str, concurrency: int, name: str | None, retries: int, visibility_timeout: float | None,
           unconfined: bool, provider: str | None, database_url: str | None, redis_url: str | None,
           sandbox_name: str | None) -> None:
    """Grade the tasks `runner grade-batch --engine celery` sends, on this machine.

    Start as many as you like, on any machine that reaches the broker and the services; a worker
    killed mid-grade loses nothing (its task goes to another worker)."""
    from .batch import choose_sandbox
    from .cluster import WorkerConfig, check_broker, run_worker
    from .cluster import visibility_timeout as longest_grade

    settings = _settings(provider, database_url, redis_url)
    box = choose_sandbox(sandbox_name, unconfined=unconfined)
    check_broker(broker)
    visibility = visibility_timeout or longest_grade(all_exercises(), retries)
    run_worker(broker, WorkerConfig(lambda: grading(settings, box), retries=retries), concurrency=concurrency,
               name=name, visibility=visibility)
