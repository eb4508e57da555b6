"""Errors for the runner. Results are for the learner; these are for the runner.

A failing check is *data* in a report, never an exception. Exceptions here mean the runner itself
could not do its job, and each one carries the process exit code and a message that says what to
do next::

    RunnerError (exit 3 unless a subclass says otherwise)
     +-- UsageError          exit 2: the command line or its arguments are wrong
     |    +-- ContentError   exit 2: an exercise's own files are invalid (metadata, catalogue)
     +-- InfrastructureError exit 3: services, the judge or the machine failed; never the learner's fault
          +-- KitBug          exit 3: an unexpected exception, with its traceback: a bug in backend-kit
"""

from __future__ import annotations


class RunnerError(Exception):
    """Root of the runner's errors: a message for the user and the exit code to leave with."""

    exit_code = 3

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(RunnerError):
    """The command was used wrongly (unknown exercise, missing folder, bad option)."""

    exit_code = 2


class ContentError(UsageError):
    """An exercise's files are invalid; the message names the file, the field and the fix."""

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = problems
        super().__init__("\n".join(problems), hint=hint)


class InfrastructureError(RunnerError):
    """Something outside the submission failed: a service, the judge, the machine."""

    exit_code = 3


class KitBug(InfrastructureError):
    """An exception nobody expected escaped a grade: a bug in backend-kit, never the learner's fault.

    It keeps the original traceback (``details``) so that the report of the bug can carry it.
    """

    def __init__(self, exc: BaseException) -> None:
        import traceback

        self.details = "".join(traceback.format_exception(exc))
        super().__init__(f"this is a bug in backend-kit: {type(exc).__name__}: {exc}",
                         hint="Please report it with the traceback printed above.")
