"""Backend parity: the same hidden checks must give the same verdicts on every backend an exercise
claims. Grades the reference solution and every catalogued bug on embedded and on real services."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .catalog import Backend
from .exercises import Exercise
from .grading import grade_files
from .services import ServiceProvider
from .services.embedded import EmbeddedProvider


@dataclass(frozen=True)
class ParityRow:
    subject: str
    embedded: str
    server: str
    differences: tuple[str, ...]

    @property
    def same(self) -> bool:
        return not self.differences


def compare(exercise: Exercise, server: ServiceProvider) -> Iterator[ParityRow]:
    if not {Backend.EMBEDDED, Backend.SERVER} <= set(exercise.meta.services.backends):
        return
    subjects = [("solution", exercise.solution_files())]
    subjects += [(f"bug {bug.id}", exercise.bug_files(bug)) for bug in exercise.bugs]
    embedded = EmbeddedProvider()
    for label, files in subjects:
        left = grade_files(exercise, files, provider=embedded)
        right = grade_files(exercise, files, provider=server)
        right_status = {c.id: c.status for c in right.checks}
        differences = tuple(
            c.id.rsplit("::", 1)[-1] for c in left.checks if right_status.get(c.id) is not c.status
        )
        if left.score != right.score and not differences:
            differences = ("score",)
        yield ParityRow(label, f"{left.score}/{left.max_score}", f"{right.score}/{right.max_score}", differences)
