"""The focused report's rules, on plain data (``runner.focus``), and as drawn (``report.render_grade``)."""

from __future__ import annotations

import io

from rich.console import Console

from runner.focus import MAX_ONE_LINERS, MAX_PASSED_SHOWN, View, _first_sentence, build
from runner.report import render_grade
from runner.results import Category, CheckResult, CheckStatus, GradeReport, Problem, Status

P, F, S, N = CheckStatus.PASSED, CheckStatus.FAILED, CheckStatus.SKIPPED, CheckStatus.NOT_RUN


def check(id_: str, status: CheckStatus, task: int | None = 1, *, name: str | None = None, **kw: object) -> CheckResult:
    points = 1 if status is P else 0
    return CheckResult(id=id_, name=name or f"check {id_}", status=status, points=points, max_points=1, task=task,
                       visible=True, **kw)  # type: ignore[arg-type]


def report(*checks: CheckResult, problems: tuple[Problem, ...] = ()) -> GradeReport:
    score = sum(c.points for c in checks)
    status = (Status.ERROR if problems else Status.PASS if all(c.status is P for c in checks) else Status.FAIL)
    return GradeReport(exercise="01-x", backend="embedded", status=status, score=score,
                       max_score=len(checks), checks=checks, problems=problems)


def draw(grade: GradeReport, view: View | None = None, width: int = 80, **kw: object) -> str:
    console = Console(file=io.StringIO(), record=True, width=width, color_system=None)
    render_grade(grade, console, view, **kw)  # type: ignore[arg-type]
    return console.export_text()


def test_the_first_unfinished_task_is_shown_check_by_check_the_others_one_line():
    grade = report(check("a", P, 1), check("b", P, 2), check("c", F, 2, message="no"), check("d", F, 3))
    focus = build(grade, titles={2: "Validation"})
    shown = [t.number for t in focus.tasks if t.shown]
    assert shown == [2]
    task2 = focus.tasks[1]
    assert (task2.points, task2.max_points, task2.label) == (1, 2, "Task 2: Validation")
    assert [(r.check.id, r.full) for r in task2.rows] == [("b", False), ("c", True)]
    assert focus.next_step.startswith("make “check c” pass (task 2)")
    assert focus.more_command == "runner grade --all"


def test_all_and_task_views_expand_what_the_focus_leaves_out():
    grade = report(check("a", F, 1), check("b", F, 1), check("c", F, 2))
    assert all(t.shown for t in build(grade, View(all_tasks=True)).tasks)
    assert all(r.full for t in build(grade, View(all_tasks=True)).tasks for r in t.rows)
    only2 = build(grade, View(task=2))
    assert [t.number for t in only2.tasks if t.shown] == [2] and only2.more_command is None


def test_failing_one_liners_are_capped_and_the_rest_counted():
    grade = report(*(check(str(i), F, 1) for i in range(MAX_ONE_LINERS + 4)))
    task = build(grade).tasks[0]
    assert sum(r.full for r in task.rows) == 1
    assert sum(not r.full for r in task.rows) == MAX_ONE_LINERS
    assert task.more == 3
    assert "+ 3 more failing checks: `runner grade --task 1` shows them" in draw(grade)


def test_many_passing_checks_are_one_count_but_gates_stay_listed():
    passing = [check(f"p{i}", P, 1) for i in range(MAX_PASSED_SHOWN + 2)]
    grade = report(check("g", P, 1, gate=True), *passing, check("f", F, 1))
    task = build(grade).tasks[0]
    assert [r.check.id for r in task.rows] == ["g", "f"]
    assert task.passing_left_out == MAX_PASSED_SHOWN + 2
    assert f"✓ {MAX_PASSED_SHOWN + 2} other checks pass" in draw(grade)
    assert len(build(grade, View(task=1)).tasks[0].rows) == MAX_PASSED_SHOWN + 4  # asked for: all of it
    few = report(*passing[:MAX_PASSED_SHOWN], check("f", F, 1))
    assert build(few).tasks[0].passing_left_out == 0


def test_a_long_first_sentence_is_cut_at_a_clause():
    hint = "Each model class needs a name from the README, a base, " + "and a table " * 20 + "; then more."
    assert _first_sentence(hint, limit=80) == "Each model class needs a name from the README, a base…"
    assert _first_sentence("Short one. Second.") == "Short one."


def test_checks_blocked_by_one_step_collapse_under_the_check_of_that_step():
    create = check("create", F, 1, name="POST /items answers 201", message="returned 501")
    blocked = [check(f"b{i}", F, t, blocked_by="POST /items", message="this check creates an item first")
               for i, t in enumerate((1, 1, 2, 3))]
    grade = report(check("list", P, 1), create, *blocked)
    task1 = build(grade).tasks[0]
    assert [r.check.id for r in task1.rows] == ["list", "create"]
    (line,) = task1.rows[1].collapsed
    assert line.count == 4 and line.text == "+ 4 more checks need POST /items to work"
    text = draw(grade)
    assert "this check creates an item first" not in text


def test_without_a_check_of_the_step_the_first_blocked_one_holds_the_cause():
    grade = report(check("x", F, 1, blocked_by="POST /items"), check("y", F, 1, blocked_by="POST /items"))
    (row,) = build(grade).tasks[0].rows
    assert row.check.id == "x" and row.full and row.collapsed[0].text == "+ 1 more check needs POST /items to work"


def test_a_blocked_check_whose_cause_is_not_shown_says_what_it_needs():
    grade = report(check("create", F, 1, name="POST /items answers 201"), check("b", F, 2, blocked_by="POST /items"))
    (row,) = build(grade, View(task=2)).tasks[1].rows
    assert row.note == "needs POST /items to work" and not row.full


def test_gate_skips_collapse_under_the_gate():
    gate = check("gate", F, 1, name="The app answers", gate=True)
    skipped = [check(f"s{i}", S, 2, message="Not run: it needs “The app answers” to pass first.") for i in range(5)]
    grade = report(gate, *skipped)
    (row,) = build(grade).tasks[0].rows
    assert row.collapsed[0].text == "+ 5 more checks need “The app answers” to pass first"
    assert "gate" in draw(grade).splitlines()[3]


def test_after_a_problem_the_problem_once_then_a_count_of_checks_not_run():
    problems = (Problem(Category.SYNTAX_ERROR, "app.py, line 3: invalid syntax"),)
    grade = report(*(check(str(i), N, 1 + i % 3) for i in range(24)), problems=problems)
    focus = build(grade)
    assert focus.not_run == 24 and not any(t.shown for t in focus.tasks)
    assert focus.next_step == problems[0].advice
    text = draw(grade)
    assert text.count("invalid syntax") == 1 and "24 checks not run." in text
    assert focus.more_command is None and "--all" not in text  # nothing to see there but "not run"
    long = (Problem(Category.IMPORT_ERROR, "app.py line 81 calls app.run() when the module is imported: " * 2),)
    lines = draw(report(check("a", N, 1), problems=long)).splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(" ! import error: app.py line 81"))
    assert lines[first + 1].startswith("   ") and lines[first + 1].strip()  # a hanging indent


def test_full_marks_propose_the_next_exercise():
    grade = report(check("a", P))
    assert build(grade, next_exercise="02-y").next_step == "full marks! `runner next` starts 02-y."
    assert not any(t.shown for t in build(grade).tasks)


def test_code_is_never_split_and_the_report_ends_with_next():
    body = '{"url": "https://example.com/' + "x" * 120 + '"}'
    grade = report(check("a", F, 1, message="POST /items returned 500", sent=f"POST /items {body} → 500\n"
                         f"  try it: curl -i -X POST http://localhost:5000/items -d '{body}'",
                         expected="201", actual="500", hint="Read the traceback " * 12))
    text = draw(grade)
    lines = text.rstrip().splitlines()
    assert any(body in line and line.lstrip().startswith("sent") for line in lines)
    assert any(line.lstrip().startswith("try it   curl -i") and body in line for line in lines)
    hint = [line for line in lines if "Read the traceback" in line]
    assert len(hint) > 1 and all(len(line) <= 80 for line in hint)  # prose wraps with a hanging indent
    assert hint[1].startswith(" " * 19) and hint[1][19] != " "  # under the hint's first word
    assert any(line.startswith(" Next: ") for line in lines[-3:])


def test_check_fields_are_not_dimmed_and_no_color_is_honoured(monkeypatch):
    grade = report(check("a", F, 1, message="m", sent="GET /x → 500", expected="200", actual="500"))
    console = Console(file=io.StringIO(), record=True, width=80, force_terminal=True, color_system="standard")
    render_grade(grade, console)
    styled = console.export_text(styles=True)
    for value in ("GET /x", "200"):  # the answer after the arrow is left to "got"
        line = next(li for li in styled.splitlines() if li.removesuffix("\x1b[0m").endswith(value))
        before = line[:line.rindex(value)]
        assert before.rfind("\x1b[0m") > before.rfind("\x1b[2m"), line  # the label is dim, the value is not
    monkeypatch.setenv("NO_COLOR", "1")
    plain = Console(file=io.StringIO(), force_terminal=True, width=80)
    render_grade(grade, plain)
    assert "\x1b[3" not in plain.file.getvalue()  # type: ignore[attr-defined]
