"""What `runner grade-batch` shows: a live progress bar while it grades, and a summary at the end.

The bar counts what ``run_batch`` reports (``BatchEvent``): done (graded or skipped), failed (graded
below full marks), infrastructure errors, remaining, the rate in submissions per minute and an ETA.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .batch import BatchEvent, BatchSummary
from .results import Status


@contextlib.contextmanager
def batch_progress(console: Console, total: int, *, enabled: bool = True) -> Iterator[Callable[[BatchEvent], None]]:
    """A progress bar for ``total`` submissions; yields the ``on_event`` callback that moves it."""
    if not enabled:
        yield lambda _event: None
        return
    columns = (
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} done"),
        TextColumn("[red]{task.fields[failed]} failed[/]"),
        TextColumn("[magenta]{task.fields[infra]} infra[/]"),
        TextColumn("{task.fields[remaining]} remaining"),
        TextColumn("{task.fields[rate]}/min"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    lock = threading.Lock()
    counts = {"done": 0, "failed": 0, "infra": 0}
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("grading", total=total, failed=0, infra=0, remaining=total, rate="—")

        def on_event(event: BatchEvent) -> None:
            if event.kind == "started":
                return
            with lock:
                counts["done"] += 1
                entry = event.entry
                if entry is not None and entry.report is None:
                    counts["infra"] += 1
                elif entry is not None and entry.report is not None and entry.report.status is not Status.PASS:
                    counts["failed"] += 1
                elapsed = progress.tasks[0].elapsed or 0.0
                rate = f"{60 * counts['done'] / elapsed:.1f}" if elapsed > 0 else "—"
                progress.update(task, completed=counts["done"], failed=counts["failed"], infra=counts["infra"],
                                remaining=total - counts["done"], rate=rate)

        yield on_event


def render_batch_summary(summary: BatchSummary, console: Console) -> None:
    table = Table(title="Batch summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("submissions", str(summary.total))
    table.add_row("graded", str(summary.graded))
    table.add_row("  full marks", f"[green]{summary.full_marks}[/]")
    table.add_row("  failed (below full marks)", f"[red]{summary.failed}[/]")
    table.add_row("infrastructure errors", f"[magenta]{summary.infrastructure_errors}[/]")
    table.add_row("skipped (already graded)", str(summary.skipped))
    table.add_row("wall time", f"{summary.wall_time:.1f} s")
    table.add_row("submissions per minute", f"{summary.per_minute:.1f}")
    console.print(table)
    if summary.infrastructure_errors:
        console.print("[magenta]Some submissions hit infrastructure errors (not the learners' fault): fix the cause "
                      "and run the same command again; only those and any missing are graded.[/]")
