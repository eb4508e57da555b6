"""`runner validate`: an exercise author's whole self-test, in one command.

What it proves, in order (each part a list of findings; one failure never hides the others):

1. static rules (``runner.lint``): enough bugs, TODOs in the starter, no scaffold placeholder,
   a docstring per check, prerequisites, a number of its own, visible tests pass on the solution,
   every rule of the statement covered by a check and every check tied to a rule, gates announced.
   ``--static`` stops here: no services, no grading.
2. the solution scores full marks (and when it does not, each failing check's message says why),
   the starter does not, and every catalogued bug loses the points of the checks it names;
3. the kill matrix: every check is failed by at least one catalogued bug (else it is unproven);
4. seed robustness: the solution, the starter and every bug get the same verdict on every seed;
5. flakiness: ``--repeat N`` grades every subject N times on the same seed: all must agree;
6. feedback goldens: the learner-facing report of the starter and of every bug equals its golden
   file (``--update-goldens`` rewrites them);
7. check strength: machine-made mutants of the solution (``runner.mutate``), each graded; at least
   90% of those not marked equivalent (``solutions/<exercise>/equivalent.toml``) must be killed;
8. the solution fits in half the exercise's time limit.
"""

from __future__ import annotations

import enum
import io
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from . import goldens as golden_files
from .catalog import Backend, parse_equivalents
from .errors import ContentError, RunnerError
from .exercises import Exercise, all_exercises
from .findings import Finding, Validation
from .grading import collect_checks, grade_files
from .kills import KILLING, MutantVerdict, base_id, kill_matrix, killed, strength
from .lint import static_findings
from .results import CheckStatus, GradeReport, Status
from .sandbox import Sandbox
from .services import ServiceProvider

#: The seeds every subject is graded on; the first is the canonical one (goldens, mutants, repeats).
SEEDS = (101, 202, 303, 404, 505)
GOLDEN_WIDTH = 80


class GoldenMode(enum.Enum):
    CHECK = "check"
    UPDATE = "update"
    SKIP = "skip"


@dataclass(frozen=True)
class Options:
    static_only: bool = False
    seeds: int = 5
    repeat: int = 1
    mutants: bool = True
    goldens: GoldenMode = GoldenMode.CHECK
    workers: int = max(2, os.cpu_count() or 2)


def check_matches(check_id: str, name: str) -> bool:
    """'test_x' matches 'file.py::test_x' and 'file.py::test_x[param]'; 'test_x[p]' matches exactly."""
    tail = check_id.rsplit("::", 1)[-1]
    return tail == name or ("[" not in name and tail.startswith(name + "["))


def _score(report: GradeReport) -> str:
    return f"{report.score}/{report.max_score}"


def render_learner_report(report: GradeReport, titles: dict[int, str] | None = None,
                          concurrent: frozenset[str] = frozenset()) -> str:
    """The report as the learner reads it in an 80-column terminal, without colour: what a golden
    keeps (``concurrent``: the checks whose numbers vary between runs)."""
    from .report import render_grade

    console = Console(file=io.StringIO(), record=True, width=GOLDEN_WIDTH, color_system=None, force_terminal=False,
                      legacy_windows=False)
    render_grade(golden_files.normalise_report(report, concurrent), console, titles=titles)
    return golden_files.normalise(console.export_text())


def _golden_folder(exercise: Exercise, backend: str) -> Path:
    return exercise.solution_dir / "goldens" / backend


def _equivalents(exercise: Exercise) -> dict[str, str]:
    path = exercise.solution_dir / "equivalent.toml"
    if not path.is_file():
        return {}
    catalogue = parse_equivalents(path.read_text(encoding="utf-8"), str(path))
    return {item.mutant: item.reason for item in catalogue.equivalent}


def _verdict_difference(left: GradeReport, right: GradeReport) -> str:
    """What differs between two verdicts, in a few words."""
    right_status = {c.id: c.status for c in right.checks}
    changed = [f"{c.id.rsplit('::', 1)[-1]} {c.status.value}→{right_status.get(c.id, CheckStatus.NOT_RUN).value}"
               for c in left.checks if right_status.get(c.id) is not c.status]
    if left.score != right.score:
        changed.append(f"score {_score(left)}→{_score(right)}")
    if left.status is not right.status:
        changed.append(f"status {left.status.value}→{right.status.value}")
    return ", ".join(changed[:6]) + (" …" if len(changed) > 6 else "")


def _why(report: GradeReport) -> str:
    """Why the solution did not get full marks: its problems and each failing check's message."""
    lines = [f"{p.category.value}: {p.message}" for p in report.problems]
    for check in report.checks:
        if check.status is not CheckStatus.PASSED:
            detail = "; ".join(part for part in (check.message, check.actual and f"got {check.actual}") if part)
            lines.append(f"{check.id.rsplit('::', 1)[-1]} ({check.status.value}): {detail}"[:600])
    return "\n    ".join(lines)


def validate_exercise(
    exercise: Exercise,
    *,
    provider_factory: Callable[[], ServiceProvider | None] = lambda: None,
    sandbox: Sandbox | None = None,
    options: Options | None = None,
    catalog: Sequence[Exercise] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Validation:
    options = options or Options()
    started = time.monotonic()
    say = progress or (lambda _message: None)
    findings: list[Finding] = []

    # 1. static rules --------------------------------------------------------------------
    try:
        checks = collect_checks(exercise)
    except RunnerError as exc:
        checks = None
        findings.append(Finding("checks", False, f"{exc} ({exc.hint or ''})"))
    rules, static = static_findings(exercise, catalog if catalog is not None else all_exercises(), checks)
    findings.extend(static)
    if options.static_only:
        return Validation(exercise.slug, tuple(findings), time.monotonic() - started, rules=rules)

    # 2. the subjects ----------------------------------------------------------------------
    solution = exercise.solution_files()
    starter = {name: text for name, text in exercise.starter_files().items() if name in exercise.meta.files}
    subjects: dict[str, Mapping[str, str]] = {"solution": solution, "starter": starter}
    try:
        bugs = list(exercise.bugs)
    except ContentError:
        bugs = []  # the static "bugs" finding already says why
    for bug in bugs:
        try:
            subjects[f"bug {bug.id}"] = exercise.bug_files(bug)
        except ContentError as exc:
            findings.append(Finding(f"bug {bug.id}", False, f"cannot be applied: {exc}"))
    seeds = SEEDS[: max(1, options.seeds)]
    canonical = seeds[0]
    jobs: list[tuple[str, int, int]] = [(subject, seed, 0) for subject in subjects for seed in seeds]
    jobs += [(subject, canonical, k) for subject in subjects for k in range(1, max(1, options.repeat))]

    def run(job: tuple[str, int, int]) -> tuple[tuple[str, int, int], GradeReport]:
        subject, seed, _ = job
        return job, grade_files(exercise, subjects[subject], provider=provider_factory(), sandbox=sandbox, seed=seed)

    say(f"{exercise.slug}: {len(jobs)} grades ({len(subjects)} subjects × {len(seeds)} seeds"
        + (f", × {options.repeat} repeats" if options.repeat > 1 else "") + ")")
    with ThreadPoolExecutor(max_workers=options.workers) as pool:
        graded = dict(pool.map(run, jobs))
    first = {subject: graded[(subject, canonical, 0)] for subject in subjects}

    sol = first["solution"]
    if sol.score == sol.max_score and sol.status is Status.PASS:
        findings.append(Finding("solution", True, "scores full marks", _score(sol)))
    else:
        findings.append(Finding("solution", False, f"does not score full marks:\n    {_why(sol)}", _score(sol)))
    budget = exercise.meta.time_limit
    slowest = max(graded[(s, seed, k)].duration for (s, seed, k) in graded if s == "solution")
    findings.append(Finding("time budget", slowest <= budget * 0.5,
                            f"solution graded in {slowest:.1f} s at most (limit {budget:g} s; must fit in half)"))
    st = first["starter"]
    findings.append(Finding("starter", st.score < st.max_score,
                            "scores less than full marks" if st.score < st.max_score
                            else "scores full marks: it gives the answer away", _score(st)))
    for bug in bugs:
        if f"bug {bug.id}" not in first:
            continue
        report = first[f"bug {bug.id}"]
        problems = []
        for name in (*bug.fails, *bug.fails_on.get(Backend(sol.backend), ())):
            matching = [c for c in report.checks if check_matches(c.id, name)]
            if not matching:
                problems.append(f"names check {name!r}, which does not exist")
            elif all(c.status not in KILLING for c in matching):
                problems.append(f"is not caught by {name!r}")
        if report.score >= report.max_score:
            problems.append("loses no points")
        findings.append(Finding(f"bug {bug.id}", not problems, "; ".join(problems) or f"caught: {bug.summary}",
                                _score(report)))
    for (subject, _seed, _), report in graded.items():
        for check in report.broken_checks:
            finding = Finding(f"check {check.id.rsplit('::', 1)[-1]}", False,
                              f"crashed while grading the {subject}: {check.message}")
            if finding not in findings:
                findings.append(finding)

    # 3. kill matrix -----------------------------------------------------------------------------
    matrix = kill_matrix((c.id for c in sol.checks),
                         {s.removeprefix("bug "): r for s, r in first.items() if s.startswith("bug ")})
    for unproven in matrix.unproven:
        findings.append(Finding(f"check {unproven}", False,
                                "unproven: no catalogued bug fails it (add the mistake it is there to catch "
                                "to bugs.toml)"))
    if not matrix.unproven:
        findings.append(Finding("kill matrix", True, f"each of the {len(matrix.checks)} checks catches a bug"))

    # 4. seeds, 5. repeats -------------------------------------------------------------------------
    for subject in subjects:
        base = first[subject]
        seed_diffs = [f"seed {seed}: {_verdict_difference(base, graded[(subject, seed, 0)])}" for seed in seeds[1:]
                      if graded[(subject, seed, 0)].verdict() != base.verdict()]
        if seed_diffs:
            findings.append(Finding(f"seeds {subject}", False,
                                    f"verdict depends on the seed (seed {canonical} against "
                                    + "; ".join(seed_diffs) + "): a check draws a boundary at random"))
        repeat_diffs = [_verdict_difference(base, graded[(subject, canonical, k)]) for k in range(1, options.repeat)
                        if graded[(subject, canonical, k)].verdict() != base.verdict()]
        if repeat_diffs:
            findings.append(Finding(f"flaky {subject}", False,
                                    f"{len(repeat_diffs)} of {options.repeat} runs differ on one seed: "
                                    + "; ".join(repeat_diffs)))
    findings.append(Finding("seeds", not any(f.subject.startswith("seeds ") for f in findings),
                            f"{len(subjects)} subjects × {len(seeds)} seeds"
                            + (f" × {options.repeat} repeats" if options.repeat > 1 else "")))

    # 6. goldens --------------------------------------------------------------------------------
    diffs: list[golden_files.GoldenDiff] = []
    if options.goldens is not GoldenMode.SKIP:
        folder = _golden_folder(exercise, sol.backend)
        concurrent = frozenset(check.id for check in checks or () if check.concurrent)
        wanted = {subject: render_learner_report(report, exercise.meta.tasks, concurrent)
                  for subject, report in first.items() if subject != "solution"}
        if options.goldens is GoldenMode.UPDATE:
            folder.mkdir(parents=True, exist_ok=True)
            names = {golden_files.golden_name(subject) for subject in wanted}
            for stale in folder.glob("*.txt"):
                if stale.name not in names:
                    stale.unlink()
            for subject, text in wanted.items():
                (folder / golden_files.golden_name(subject)).write_text(text, encoding="utf-8")
            findings.append(Finding("goldens", True, f"{len(wanted)} goldens written to {folder}"))
        else:
            for subject, text in wanted.items():
                path = folder / golden_files.golden_name(subject)
                want = path.read_text(encoding="utf-8") if path.is_file() else None
                diffs.append(golden_files.compare(subject, want, text))
            bad = [d for d in diffs if not d.ok]
            missing = [d.subject for d in bad if d.missing]
            if missing:
                findings.append(Finding("goldens", False, f"no golden yet for {', '.join(missing)}: run "
                                        f"`runner validate {exercise.slug} --update-goldens` and review them"))
            for diff in bad:
                if not diff.missing:
                    findings.append(Finding(f"golden {diff.subject}", False,
                                            "the report differs from its golden (review the diff; "
                                            "`--update-goldens` accepts it):\n" + diff.diff[:4000]))
            if not bad:
                findings.append(Finding("goldens", True, f"{len(diffs)} reports equal their goldens"))

    # 7. strength --------------------------------------------------------------------------------
    power = None
    if options.mutants:
        from . import kinds
        from .mutate import generate

        mutants = generate(solution, only=[name for name in exercise.meta.files if name.endswith(".py")],
                           operators=kinds.get(exercise.meta.entry.kind).mutation_operators)
        say(f"{exercise.slug}: {len(mutants)} machine-made mutants")

        def grade_mutant(index: int) -> MutantVerdict:
            mutant = mutants[index]
            report = grade_files(exercise, mutant.files, provider=provider_factory(), sandbox=sandbox, seed=canonical)
            by = tuple(dict.fromkeys(base_id(c.id) for c in report.checks if c.status in KILLING))
            return MutantVerdict(mutant.id, f"{mutant.file}:{mutant.line} {mutant.description}", mutant.diff,
                                 killed(report), by)

        with ThreadPoolExecutor(max_workers=options.workers) as pool:
            verdicts = list(pool.map(grade_mutant, range(len(mutants))))
        try:
            equivalents = _equivalents(exercise)
        except ContentError as exc:
            equivalents = {}
            findings.append(Finding("equivalent mutants", False, str(exc)))
        power = strength(verdicts, equivalents)
        counted = power.counted
        findings.append(Finding(
            "check strength", power.ok,
            f"{len(counted) - len(power.survivors)}/{len(counted)} mutants killed ({power.share:.0%}; "
            f"target 90%), {len(power.equivalent)} marked equivalent"
            + (f"; {len(power.survivors)} survive (listed below)" if power.survivors else "")))
        if power.stale_equivalents:
            findings.append(Finding("equivalent mutants", False,
                                    "equivalent.toml names mutants that no longer exist (remove them): "
                                    + ", ".join(power.stale_equivalents)))
        for item in power.equivalent:
            if item.killed:
                findings.append(Finding("equivalent mutants", False,
                                        f"{item.id} is marked equivalent but a check kills it "
                                        f"({', '.join(item.killed_by) or 'the score drops'}): remove the mark"))

    verdicts_by_subject = {subject: {c.id: c.status.value for c in report.checks} for subject, report in first.items()}
    return Validation(exercise.slug, tuple(findings), time.monotonic() - started, verdicts_by_subject, sol.backend,
                      matrix=matrix, strength=power, rules=rules, goldens=tuple(diffs), seeds=seeds)


__all__ = ["ContentError", "Finding", "GoldenMode", "Options", "Validation", "check_matches",
           "render_learner_report", "validate_exercise"]
