"""`runner validate`: prove an exercise. The solution scores full marks, the starter scores less,
every catalogued bug loses the points of the checks it names, two runs agree, and the solution
fits the exercise's time budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .errors import ContentError
from .exercises import Exercise
from .findings import Finding, Validation
from .grading import grade_files
from .results import CheckStatus, GradeReport, Status
from .sandbox import Sandbox
from .services import ServiceProvider


def check_matches(check_id: str, name: str) -> bool:
    """'test_x' matches 'file.py::test_x' and 'file.py::test_x[param]'; 'test_x[p]' matches exactly."""
    tail = check_id.rsplit("::", 1)[-1]
    return tail == name or ("[" not in name and tail.startswith(name + "["))


def _score(report: GradeReport) -> str:
    return f"{report.score}/{report.max_score}"


def validate_exercise(
    exercise: Exercise,
    *,
    provider_factory: Callable[[], ServiceProvider | None] = lambda: None,
    sandbox: Sandbox | None = None,
    workers: int = 2,
) -> Validation:
    started = time.monotonic()
    solution = exercise.solution_files()
    starter_all = exercise.starter_files()
    starter = {name: text for name, text in starter_all.items() if name in exercise.meta.files}
    bugs = list(exercise.bugs)
    bug_files = {bug.id: exercise.bug_files(bug) for bug in bugs}  # raises ContentError on a bad find
    jobs: dict[str, dict[str, str]] = {"solution": solution, "solution (again)": solution, "starter": starter}
    jobs.update({f"bug {bug_id}": files for bug_id, files in bug_files.items()})

    def run(item: tuple[str, dict[str, str]]) -> tuple[str, GradeReport]:
        label, files = item
        return label, grade_files(exercise, files, provider=provider_factory(), sandbox=sandbox)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        reports = dict(pool.map(run, jobs.items()))

    findings: list[Finding] = []
    sol = reports["solution"]
    if sol.score == sol.max_score and sol.status is Status.PASS:
        findings.append(Finding("solution", True, "scores full marks", _score(sol)))
    else:
        failing = [c.name for c in sol.checks if c.status is not CheckStatus.PASSED]
        problems = [p.message for p in sol.problems]
        findings.append(
            Finding("solution", False, f"does not score full marks: {'; '.join(problems + failing)}", _score(sol))
        )
    again = reports["solution (again)"]
    findings.append(
        Finding("determinism", sol.verdict() == again.verdict(),
                "two runs of the solution agree" if sol.verdict() == again.verdict()
                else "two runs of the solution gave different results", f"{_score(sol)} / {_score(again)}")
    )
    budget = exercise.meta.time_limit
    slowest = max(sol.duration, again.duration)
    findings.append(Finding("time budget", slowest <= budget * 0.5,
                            f"solution graded in {slowest:.1f} s (limit {budget:g} s; must fit in half)"))
    st = reports["starter"]
    findings.append(
        Finding("starter", st.score < st.max_score,
                "scores less than full marks"
                if st.score < st.max_score
                else "scores full marks: it gives the answer away",
                _score(st))
    )
    for bug in bugs:
        report = reports[f"bug {bug.id}"]
        problems = []
        for name in bug.fails:
            matching = [c for c in report.checks if check_matches(c.id, name)]
            if not matching:
                problems.append(f"names check {name!r}, which does not exist")
            elif all(c.status is CheckStatus.PASSED for c in matching):
                problems.append(f"is not caught by {name!r}")
        if report.score >= report.max_score:
            problems.append("loses no points")
        findings.append(
            Finding(f"bug {bug.id}", not problems, "; ".join(problems) or f"caught: {bug.summary}", _score(report))
        )
    if not bugs:
        findings.append(Finding("bugs", False, "no bug catalogue (solutions/<exercise>/bugs.toml)"))
    for label, report in reports.items():
        for check in report.broken_checks:
            findings.append(Finding(f"check {check.id.rsplit('::', 1)[-1]}", False,
                                    f"crashed while grading the {label}: {check.message}"))
    verdicts = {
        label: {c.id: c.status.value for c in report.checks}
        for label, report in reports.items()
        if label != "solution (again)"
    }
    return Validation(exercise.slug, tuple(findings), time.monotonic() - started, verdicts, sol.backend)


__all__ = ["ContentError", "Finding", "Validation", "check_matches", "validate_exercise"]
