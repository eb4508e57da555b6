"""`runner watch`: grade again each time the learner saves, with the services kept warm.

One grading context (``runner.context.grading``: one provider, one sandbox) lives for the whole
watch, so the embedded fakeredis server or the service containers start once, not per save. Only
the exercise's declared learner files (``files`` in exercise.toml) in its workspace are watched: a
``__pycache__`` or an editor's swap file does not regrade, and a save that leaves every file as it
was graded is ignored. Bursts of saves (an editor's write, rename and chmod) are grouped into one
grade by watchfiles' ``step``.

inotify cannot see changes on network drives, WSL's Windows drives or some container bind mounts:
there, and with ``--poll``, the files are polled instead (``polling_reason`` says why, on screen).
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

from . import workspace
from .context import Grading
from .errors import RunnerError, UsageError
from .exercises import Exercise, all_exercises
from .focus import View
from .report import render_grade
from .results import GradeReport

#: A burst of saves ends after this long without another change (milliseconds).
STEP_MS = 250
#: The longest a burst may go on before it is graded anyway (milliseconds).
DEBOUNCE_MS = 2000
#: How often polling looks at the files (milliseconds).
POLL_DELAY_MS = 300

#: Filesystems on which inotify misses changes made elsewhere (another machine, Windows, the host
#: of a container): network drives, WSL's drvfs and 9p, VirtualBox and Docker Desktop shares, FUSE.
POLLED_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "drvfs", "vboxsf", "virtiofs", "fakeowner",
    "fuse.grpcfuse", "fuse.sshfs", "fuse.rclone", "fuse.osxfs", "afs", "ceph", "glusterfs",
})


def polling_reason(fstype: str, kernel_release: str) -> str | None:
    """Why inotify cannot be trusted for a folder on ``fstype`` under this kernel, or None."""
    if fstype in POLLED_FILESYSTEMS or fstype.startswith("fuse."):
        return f"the workspace is on a {fstype} filesystem, where change notifications do not arrive"
    if "Microsoft" in kernel_release:  # WSL 1 (WSL 2's kernel says "microsoft-standard")
        return "WSL 1 does not deliver change notifications reliably"
    return None


def filesystem_of(folder: Path, mounts: str) -> str:
    """The filesystem type of the mount holding ``folder``, from the text of /proc/mounts."""
    best, fstype = "", ""
    target = str(folder.resolve())
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype = point, fields[2]
    return fstype


def detect_polling(folder: Path) -> str | None:
    """``polling_reason`` for the workspace on this machine (None where /proc/mounts is absent)."""
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return polling_reason(filesystem_of(folder, mounts), platform.release())


@dataclass(frozen=True)
class WatchOptions:
    """How ``watch`` behaves: forced polling, and whether full marks start the next exercise."""

    poll: bool = False
    start_next: bool = False


def declared_filter(folder: Path, files: tuple[str, ...] | list[str]) -> Callable[[object, str], bool]:
    """A watchfiles filter passing only the exercise's declared learner files in ``folder``."""
    wanted = {str((folder / name).resolve()) for name in files}

    def accept(_change: object, path: str) -> bool:
        return str(Path(path).resolve()) in wanted

    return accept


class Watch:
    """The loop: grade, redraw, wait for a save of a declared file, grade again."""

    def __init__(self, context: Grading, exercise: Exercise, console: Console, options: WatchOptions,
                 render: Callable[[GradeReport, Console, Exercise, Exercise | None], None] | None = None) -> None:
        self.context = context
        self.exercise = exercise
        self.console = console
        self.options = options
        self.render = render or _render
        self._graded: dict[str, bytes | None] | None = None

    def run(self) -> None:
        """Watch until Ctrl-C (``KeyboardInterrupt`` propagates to the caller, which says goodbye)."""
        import watchfiles

        while True:
            folder = workspace.workspace_of(self.exercise)
            if not workspace.started(self.exercise):
                raise UsageError(f"{self.exercise.slug} is not started.",
                                 hint=f"Run `runner start {self.exercise.slug}` first.")
            reason = "you asked for it (--poll)" if self.options.poll else detect_polling(folder)
            moved_on = self._grade_and_draw(reason)
            if moved_on:
                continue
            for _changes in watchfiles.watch(
                    folder, watch_filter=declared_filter(folder, self.exercise.meta.files),
                    debounce=DEBOUNCE_MS, step=STEP_MS, force_polling=reason is not None,
                    poll_delay_ms=POLL_DELAY_MS, raise_interrupt=True):
                if workspace.learner_files(self.exercise) == self._graded:
                    continue  # saved without a change: the grade on screen still holds
                if self._grade_and_draw(reason):
                    break

    def _grade_and_draw(self, polling: str | None) -> bool:
        """One grade and its screen; True when it started the next exercise (watch that instead)."""
        files = ", ".join(self.exercise.meta.files)
        self.console.print(Text(f"Grading {self.exercise.slug} …", style="dim"))
        self._graded = workspace.learner_files(self.exercise)
        try:
            report = self.context.grader(self.exercise).grade_folder(workspace.workspace_of(self.exercise))
        except RunnerError as error:
            self.console.clear()
            self.console.print(Text(f"Error: {error.message}", style="bold red"))
            if error.hint:
                self.console.print(Text(error.hint, style="yellow"))
            self.console.print(Text(f"Watching {files}: save to grade again · Ctrl-C to stop", style="dim"))
            return False
        workspace.record(report)
        following = workspace.next_exercise(all_exercises()) if report.all_passed else None
        self.console.clear()
        self.render(report, self.console, self.exercise, following)
        how = f" (polling: {polling})" if polling else ""
        self.console.print(Text(f"Watching {files}{how}: save to grade again · Ctrl-C to stop", style="dim"))
        if not report.all_passed:
            return False
        if following is None:
            self.console.print(Text("Every exercise is done.", style="bold green"))
            return False
        if not self.options.start_next:
            self.console.print(Text(f"`runner watch --next` moves on to {following.slug} by itself.", style="dim"))
            return False
        path, _created = workspace.start(following)
        self.console.print(Text(f"Moving on: started {following.slug} in {path}", style="bold green"))
        self.exercise = following
        self._graded = None
        return True


def _render(report: GradeReport, console: Console, exercise: Exercise, following: Exercise | None) -> None:
    """The compact report: the task at hand without its passed checks, so a save's verdict fits the
    terminal the learner keeps beside the editor."""
    render_grade(report, console, View(compact=True), titles=exercise.meta.tasks,
                 next_exercise=following.slug if following is not None else None)
