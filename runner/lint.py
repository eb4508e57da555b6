"""The static rules of an exercise: what ``runner validate --static`` proves with no services and
no grading, fast enough for a pre-commit hook.

Each rule returns findings (``subject``, ok, message); none raises on bad content, so one broken
file does not hide the other problems. The rules that need the list of checks get it from the
judge's own collection (``collect_checks``), so a check's markers are read exactly as grading reads
them.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import kinds
from .exercises import Exercise
from .findings import Finding
from .results import CheckSpec
from .rules import RuleCoverage, coverage, parse_rules

#: The fewest catalogued bugs an exercise may have: fewer cannot prove its checks.
MIN_BUGS = 4
VISIBLE_TESTS_TIMEOUT = 300.0
_NUMBER = re.compile(r"^(\d+)-")


def _files(folder: Path) -> Iterable[Path]:
    if folder.is_dir():
        yield from sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def bug_count(exercise: Exercise) -> Finding:
    try:
        count = len(exercise.bugs)
    except Exception as exc:  # a broken catalogue is a finding, not a crash
        return Finding("bugs", False, f"the bug catalogue cannot be read: {exc}")
    ok = count >= MIN_BUGS
    return Finding("bugs", ok, f"{count} catalogued bugs" + ("" if ok else f"; at least {MIN_BUGS} are required"))


def todo_markers(exercise: Exercise) -> Finding:
    marked = [name for name, text in exercise.starter_files().items() if "TODO" in text]
    return Finding("starter TODOs", bool(marked),
                   f"TODO markers in {', '.join(marked)}" if marked
                   else "the starter has no `# TODO` marker to show the learner where to work")


def placeholders(exercise: Exercise) -> Finding:
    """What ``runner new`` wrote for the author to replace: TODOs outside the starter."""
    left: list[str] = []
    folders = [exercise.tests_dir, exercise.checks_dir, exercise.solution_dir]
    paths = [exercise.root / "exercise.toml", exercise.statement]
    for folder in folders:
        paths.extend(path for path in _files(folder) if "goldens" not in path.relative_to(folder).parts)
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "TODO" in text or "def test_placeholder" in text:
            left.append(str(path.relative_to(exercise.root.parent.parent)))
    return Finding("placeholders", not left,
                   "no scaffold placeholder left" if not left
                   else f"scaffold placeholders (TODO) left in {', '.join(left)}")


def check_docstrings(exercise: Exercise) -> Finding:
    """Every check has a docstring: its first line is the name the learner reads."""
    missing: list[str] = []
    for path in sorted(exercise.checks_dir.glob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError) as exc:
            missing.append(f"{path.name} does not parse ({exc})")
            continue
        nodes: list[ast.stmt] = list(tree.body)
        for statement in tree.body:
            if isinstance(statement, ast.ClassDef) and statement.name.startswith("Test"):
                nodes.extend(statement.body)
        for node in nodes:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.name.startswith("test"):
                continue
            if not (ast.get_docstring(node) or "").strip():
                missing.append(f"{path.name}::{node.name}")
    return Finding("check names", not missing,
                   "every check has a docstring" if not missing
                   else f"checks without a docstring (the learner would see the function name): {', '.join(missing)}")


def prerequisites(exercise: Exercise, catalog: Sequence[Exercise]) -> Finding:
    slugs = {e.slug for e in catalog}
    problems = []
    for slug in exercise.meta.prerequisites:
        if slug not in slugs:
            problems.append(f"{slug!r} is not an exercise")
        elif slug >= exercise.slug:
            problems.append(f"{slug!r} does not come before {exercise.slug}")
    return Finding("prerequisites", not problems, "; ".join(problems) or "prerequisites exist and come earlier")


def unique_number(exercise: Exercise, catalog: Sequence[Exercise]) -> Finding:
    match = _NUMBER.match(exercise.slug)
    number = match.group(1) if match else exercise.slug
    twins = [e.slug for e in catalog
             if e.slug != exercise.slug and e.slug.split("-", 1)[0] == exercise.slug.split("-", 1)[0]]
    return Finding("number", not twins,
                   f"number {number} is its own" if not twins
                   else f"number {number} is also used by {', '.join(twins)}: renumber one of them")


def visible_tests(exercise: Exercise) -> Finding:
    """`runner test` on a workspace holding the reference solution passes."""
    with tempfile.TemporaryDirectory(prefix="backend-kit-visible-") as tmp:
        root = Path(tmp)
        shutil.copytree(exercise.starter_dir, root, dirs_exist_ok=True)
        if exercise.tests_dir.is_dir():
            shutil.copytree(exercise.tests_dir, root / "tests")
        for name, text in exercise.solution_files().items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(root), "tests"]
        args.extend(kinds.get(exercise.meta.entry.kind).visible_test_args(exercise.meta.files))
        try:
            result = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=VISIBLE_TESTS_TIMEOUT)
        except subprocess.TimeoutExpired:
            return Finding("visible tests", False, f"did not finish within {VISIBLE_TESTS_TIMEOUT:g} s on the solution")
    if result.returncode == 0:
        summary = (result.stdout.strip().splitlines() or [""])[-1]
        return Finding("visible tests", True, f"pass on the solution ({summary})")
    tail = "\n".join(result.stdout.strip().splitlines()[-15:])
    return Finding("visible tests", False, f"fail on the solution:\n{tail}")


def rule_coverage(exercise: Exercise, checks: Sequence[CheckSpec]) -> tuple[RuleCoverage, list[Finding]]:
    rules = parse_rules(exercise.statement.read_text(encoding="utf-8"))
    result = coverage(rules, checks)
    findings = []
    if not rules:
        findings.append(Finding("rules", False, "the statement names no rule: mark each requirement with an id "
                                                "like [R1] (see CONTRIBUTING, 'Rules')"))
    else:
        covered = len(rules) - len(result.uncovered)
        findings.append(Finding("rules", not result.uncovered,
                                f"{covered}/{len(rules)} rules covered by a check"
                                + (f"; no check covers {', '.join(result.uncovered)}" if result.uncovered else "")))
    if result.untied:
        findings.append(Finding("rules", False, "checks tied to no rule (add @pytest.mark.rules(...)): "
                                + ", ".join(c.rsplit("::", 1)[-1] for c in result.untied)))
    if result.unknown:
        findings.append(Finding("rules", False, "checks name rules the statement does not: "
                                + ", ".join(f"{c.rsplit('::', 1)[-1]} → {r}" for c, r in result.unknown)))
    if result.unannounced_gates:
        findings.append(Finding("gates", False, "gates the statement does not announce (a rule of theirs must say "
                                "'(gate)'): " + ", ".join(c.rsplit("::", 1)[-1] for c in result.unannounced_gates)))
    return result, findings


def static_findings(exercise: Exercise, catalog: Sequence[Exercise], checks: Sequence[CheckSpec] | None,
                    *, run_visible_tests: bool = True) -> tuple[RuleCoverage | None, list[Finding]]:
    """Every static rule; ``checks`` is the judge's collection (None when it could not collect)."""
    findings = [bug_count(exercise), todo_markers(exercise), placeholders(exercise), check_docstrings(exercise),
                prerequisites(exercise, catalog), unique_number(exercise, catalog)]
    if run_visible_tests:
        findings.append(visible_tests(exercise))
    rules = None
    if checks is not None:
        rules, found = rule_coverage(exercise, checks)
        findings.extend(found)
    return rules, findings
