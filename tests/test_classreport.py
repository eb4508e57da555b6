"""The class report: its figures, escaping of everything learners control, a page that loads nothing,
and a real headless Chromium that renders it with the same numbers as the entries."""

from __future__ import annotations

import statistics
import subprocess
import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import pytest

from runner import classreport
from runner.classexports import latest
from runner.classstats import summarise
from runner.entries import Entry
from runner.exports import CSP
from runner.results import CheckStatus

from .conftest import require_tool
from .test_classexports import EX1, EX2, HOSTILE, HOSTILE_MESSAGE, class_entries
from .test_exports import Page as ExportPage

ROOT = Path(__file__).resolve().parent.parent


class Page(ExportPage):
    """What a browser builds (tags, attributes, text), and the text of every `data-metric` element."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: list[tuple[dict[str, str | None], str]] = []
        self._open: list[tuple[str, dict[str, str | None], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        super().handle_starttag(tag, attrs)
        if dict(attrs).get("data-metric"):
            self._open.append((tag, dict(attrs), []))

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, attrs, text = self._open.pop()
            self.metrics.append((attrs, "".join(text).strip()))

    def handle_data(self, data: str) -> None:
        super().handle_data(data)
        for _, _, text in self._open:
            text.append(data)

    def metric(self, name: str, **where: str) -> str:
        found = [text for attrs, text in self.metrics if attrs.get("data-metric") == name
                 and all(attrs.get(f"data-{key}") == value for key, value in where.items())]
        assert len(found) == 1, (name, where, found)
        return found[0]


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def expected_figures(entries: list[Entry]) -> dict[str, str]:
    """The numbers the page must show, computed here from the entries without runner.classstats."""
    current = {(e.learner, e.exercise): e for e in sorted(entries, key=lambda e: e.graded_at)}
    ex1 = [e.report for (_, ex), e in current.items() if ex == EX1 and e.report is not None]
    delete = [c.status for r in ex1 for c in r.checks if c.id == "test_delete"]
    bob = current[("bob", EX1)].report
    assert bob is not None
    return {
        "class-size": str(len({learner for learner, _ in current})),
        "mean-score": f"{statistics.fmean(r.score for r in ex1):.2f}",
        "check-rate": f"{100 * delete.count(CheckStatus.PASSED) / len(delete):.1f}%",
        "learner-score": f"{bob.score}/{bob.max_score}",
        "infrastructure-errors": str(sum(e.report is None for e in current.values())),
    }


# --- figures --------------------------------------------------------------------------------------


def test_summary_counts_the_current_grades_and_keeps_infrastructure_errors_apart():
    """Seven learners, eleven current grades; dee's ungraded 01 is neither a score nor a failed check."""
    s = summarise(class_entries())
    ex1 = s.exercises[0]
    assert (s.learners, s.entries, s.graded, len(s.infrastructure)) == (7, 11, 10, 1)
    assert (ex1.exercise, ex1.graded, ex1.infrastructure_errors, ex1.max_score) == (EX1, 6, 1, 8)
    assert (ex1.mean_score, ex1.full_marks, ex1.could_not_run) == (pytest.approx(31 / 6), 2, 1)
    assert [b.count for b in ex1.distribution] == [1, 0, 1, 0, 0, 0, 0, 1, 1, 2]


def test_struggles_are_sorted_worst_first_then_in_declaration_order():
    """Ties keep the course's order: 01's delete and invalid-URL checks, then 02's Redis hit."""
    rates = [(r.check_id, r.passed, r.total) for r in summarise(class_entries()).struggles]
    assert rates == [("test_delete", 3, 6), ("test_invalid", 3, 6), ("test_hit", 2, 4), ("test_create", 4, 6),
                     ("test_expiry", 3, 4), ("test_list", 5, 6)]


def test_task_completion_needs_every_check_of_the_task():
    """Task 1 of 01 (list, create) is done by ada, bob, eve, fay; task 2 only by ada and eve."""
    tasks = summarise(class_entries()).exercises[0].tasks
    assert [(t.task, t.completed, t.total) for t in tasks] == [(1, 4, 6), (2, 2, 6)]
    assert summarise(class_entries()).exercises[1].tasks == ()


def test_runtime_outliers_are_far_past_their_exercises_durations():
    """The 60 s grade among 2 s ones is flagged; 02's even durations flag nothing."""
    outliers = summarise(class_entries()).outliers
    assert [(o.learner, o.exercise, o.duration) for o in outliers] == [(HOSTILE, EX1, 60.0)]


# --- the page -------------------------------------------------------------------------------------


SAFE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "small", "dl", "dt", "dd",
             "section", "table", "thead", "tbody", "tr", "th", "td", "pre", "strong", "span", "div", "nav", "ol",
             "li", "a", "figure", "figcaption", "svg", "line", "rect", "text"}


def test_page_shows_the_figures_of_the_entries():
    """Class size, a mean score, a check's pass rate and a learner's score, as computed from the entries."""
    entries = class_entries()
    page = parse(classreport.render(entries))
    expected = expected_figures(entries)
    assert page.metric("class-size") == expected["class-size"]
    assert page.metric("mean-score", exercise=EX1) == expected["mean-score"] == "5.17"
    assert page.metric("check-rate", exercise=EX1, check="test_delete") == expected["check-rate"] == "50.0%"
    assert page.metric("learner-score", learner="bob", exercise=EX1) == expected["learner-score"] == "6/8"
    assert page.metric("learner-score", learner="dee", exercise=EX1) == "not graded"
    assert page.metric("infrastructure-errors") == expected["infrastructure-errors"] == "1"
    assert page.metric("task-rate", exercise=EX1, task="2") == "33.3%"


def test_page_has_no_markup_from_learners():
    """Only the template's own tags; no script, no event handler; links only to the page's own anchors."""
    page = parse(classreport.render(class_entries()))
    assert set(page.tags) - SAFE_TAGS == set()
    assert [name for name, _ in page.attributes if name.startswith("on")] == []
    links = [value or "" for name, value in page.attributes if name in {"src", "href", "xlink:href", "action"}]
    assert links and all(link.startswith("#learner-") for link in links)


def test_page_loads_nothing_from_anywhere():
    """No script at all, no src/href to http(s), no @import or url() in the style; the CSP forbids loading."""
    raw = classreport.render(class_entries()).lower()
    for forbidden in ("<script", 'src="http', "src='http", 'href="http', "href='http", "@import", "url(",
                      "<link", "<img", "<iframe", "<object"):
        assert forbidden not in raw, forbidden
    page = parse(classreport.render(class_entries()))
    assert [value for name, value in page.attributes if name == "content" and value and "default-src" in value] \
        == [CSP]


def test_learner_text_is_shown_as_typed_and_never_run():
    """Hostile names, messages and output (`<script>`, quotes, `{{ }}`) appear as text; templates are not evaluated."""
    raw = classreport.render(class_entries())
    text = "".join(parse(raw).text)
    for shown in (HOSTILE, HOSTILE_MESSAGE, "<script>x</script>", "{{ hint }} </pre><script>", "=1+2"):
        assert shown in text, shown
    assert "{{ 7*7 }}" in raw and "49" not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in raw  # in text and in data-learner attributes
    assert ("\x1b" in raw, "cleared" in text) == (False, False)  # control characters gone; output is not feedback


def test_each_learner_has_a_section_with_their_feedback():
    """Bob's section has his failing check with message, expected, got and hint; cy's has the syntax error."""
    page = parse(classreport.render(class_entries()))
    text = "\n".join(page.text)
    for shown in ("DELETE /bookmarks/1 returned 500", "expected", "204", "got", "500",
                  "Commit the deletion before you answer.", "app.py line 3: invalid syntax",
                  "Fix the syntax error at the line shown, then grade again.", "PostgreSQL stopped answering"):
        assert shown in text, shown
    assert page.attributes.count(("class", "learner")) == 7


def test_page_of_no_entries_is_still_a_page():
    """An empty gradebook renders: zero learners, no tables to fill."""
    page = parse(classreport.render([]))
    assert (page.metric("class-size"), "None." in page.text) == ("0", True)


def test_the_template_ships_with_the_package():
    """The installed package finds the template, and pyproject's package data includes it."""
    template = resources.files("runner") / "templates" / classreport.TEMPLATE
    assert template.is_file()
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["runner"]
    assert any(fnmatch(f"templates/{classreport.TEMPLATE}", pattern) for pattern in patterns)


# --- a real browser -------------------------------------------------------------------------------


def chromium() -> str:
    return require_tool("chromium", "the class report is rendered in a real browser")


def browse(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    browser = chromium()
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def test_chromium_renders_the_report_with_the_entries_numbers(tmp_path):
    """Chromium parses the page into a DOM whose figures equal the entries', and takes a screenshot."""
    entries = class_entries()
    report = tmp_path / "class.html"
    report.write_text(classreport.render(entries), encoding="utf-8")
    dumped = browse(tmp_path, "--dump-dom", report.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = parse(dumped.stdout)
    expected = expected_figures(entries)
    assert dom.metric("class-size") == expected["class-size"]
    assert dom.metric("mean-score", exercise=EX1) == expected["mean-score"]
    assert dom.metric("check-rate", exercise=EX1, check="test_delete") == expected["check-rate"]
    assert dom.metric("learner-score", learner="bob", exercise=EX1) == expected["learner-score"]
    assert dom.metric("learner-score", learner=HOSTILE, exercise=EX1) == "2/8"
    assert "script" not in dom.tags and dom.tags.count("svg") >= len(latest(entries)) // 5

    shot = tmp_path / "class.png"
    taken = browse(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars",
                   report.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert EX2 in "".join(dom.text)


def test_a_class_of_hundreds_renders_with_every_learner():
    """240 grades of 120 learners: every learner gets a section and the figures add up."""
    from .test_classexports import FAILED, PASSED, graded

    entries = [graded(f"learner-{i:03d}", EX1, [PASSED, PASSED, FAILED if i % 3 else PASSED, PASSED])
               for i in range(120)]
    entries += [graded(f"learner-{i:03d}", EX2, [PASSED, FAILED if i % 2 else PASSED]) for i in range(120)]
    page = parse(classreport.render(entries))
    assert (page.metric("class-size"), page.attributes.count(("class", "learner"))) == ("120", 120)
    assert page.metric("check-rate", exercise=EX1, check="test_delete") == f"{100 * 40 / 120:.1f}%"
    assert page.metric("mean-score", exercise=EX2) == f"{(60 * 5 + 60 * 3) / 120:.2f}"
