"""Exports of grade reports: whatever a submission wrote, CSV, HTML and JUnit readers get inert text."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from runner.exports import CSP, to_csv, to_html, to_junit
from runner.results import Category, CheckResult, CheckStatus, GradeReport, Problem, Status

HYPERLINK = '=HYPERLINK("http://x")'
AT_SUM = "@SUM(1+1)"
DDE = "+cmd|' /C calc'!A0"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
NON_BMP = "party 🎉 clef 𝄞"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def hostile_report(**changes: object) -> GradeReport:
    checks = (
        CheckResult(
            id=HYPERLINK,
            name=SCRIPT,
            status=CheckStatus.FAILED,
            points=0,
            max_points=2,
            message=IMG,
            expected=AT_SUM,
            actual=DDE,
            sent="\x1b[31mred\x1b[0m nul\x00 cdata ]]>",
            hint=NON_BMP,
        ),
        CheckResult(id="test_ok", name="GET /ok answers 200", status=CheckStatus.PASSED, points=3, max_points=3),
        CheckResult(id="test_slow", name="slow", status=CheckStatus.TIMEOUT, points=0, max_points=1),
        CheckResult(id="test_never", name="never", status=CheckStatus.NOT_RUN, points=0, max_points=1),
        CheckResult(id="test_gated", name="gated", status=CheckStatus.SKIPPED, points=0, max_points=1),
    )
    fields: dict[str, object] = {
        "exercise": "=1+2" + SCRIPT,
        "backend": "embedded",
        "status": Status.FAIL,
        "score": 3,
        "max_score": 8,
        "checks": checks,
        "problems": (Problem(Category.CRASH, SCRIPT, "trace ]]> \x00 \x1b[2J"),),
        "output": f"{SCRIPT}\n\x1b[2Jcleared\x00 ]]> {NON_BMP}\n{IMG}\n",
        "submission_hash": "abc123",
    }
    fields.update(changes)
    return GradeReport(**fields)  # type: ignore[arg-type]


# --- CSV ------------------------------------------------------------------------------------------


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_neutralises_formulas() -> None:
    """Cells that would start a formula get a leading apostrophe; the text after it is unchanged."""
    rows = parse_csv(to_csv([hostile_report()], names=[AT_SUM]))
    fixed = ["name", "exercise", "backend", "status", "score", "max_score"]
    assert rows[0] == [*fixed, "'" + HYPERLINK, "test_ok", "test_slow", "test_never", "test_gated"]
    assert rows[1] == ["'" + AT_SUM, "'=1+2" + SCRIPT, "embedded", "fail", "3", "8", "0", "3", "0", "0", "0"]


@pytest.mark.parametrize("text", [HYPERLINK, AT_SUM, DDE, "-1+2", "\tx", "\r=1", "＝1+1"])
def test_no_csv_cell_starts_a_formula(text: str) -> None:
    """Whatever the name, exercise or check id, no parsed cell begins with a formula character."""
    report = hostile_report(exercise=text, backend=text)
    cells = [cell for row in parse_csv(to_csv([report], names=[text])) for cell in row]
    assert [cell for cell in cells if cell.startswith((*FORMULA_STARTS, "＝"))] == []


def test_csv_strips_control_characters_and_keeps_other_text() -> None:
    """Escape sequences and NUL go; quotes, commas, newlines and non-BMP characters survive the round trip."""
    name = '\x1b[31mAda, "the" \x00Lovelace\nline two 🎉'
    rows = parse_csv(to_csv([hostile_report()], names=[name]))
    assert rows[1][0] == 'Ada, "the" Lovelace\nline two 🎉'


def test_csv_columns_are_the_union_of_check_ids() -> None:
    """Reports with different checks share one header; a missing check is an empty cell."""
    small = GradeReport(
        exercise="ex",
        backend="embedded",
        status=Status.PASS,
        score=1,
        max_score=1,
        checks=(CheckResult(id="test_extra", name="extra", status=CheckStatus.PASSED, points=1, max_points=1),),
    )
    rows = parse_csv(to_csv([hostile_report(), small], names=["a", "b"]))
    assert rows[0][6:] == ["'" + HYPERLINK, "test_ok", "test_slow", "test_never", "test_gated", "test_extra"]
    assert rows[2][6:] == ["", "", "", "", "", "1"]


def test_csv_rows_are_named_by_hash_without_names() -> None:
    """The submission hash identifies a row when no names are given."""
    assert parse_csv(to_csv([hostile_report()]))[1][0] == "abc123"


def test_csv_names_must_match_reports() -> None:
    """A names list of the wrong length is a caller's bug, not a silently shifted gradebook."""
    with pytest.raises(ValueError, match="2 names for 1 reports"):
        to_csv([hostile_report()], names=["a", "b"])


# --- HTML -----------------------------------------------------------------------------------------


class Page(HTMLParser):
    """Collects what a browser would see: tags, attributes and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


SAFE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "strong", "section", "small"} | {
    *("ul", "li", "pre", "table", "thead", "tbody", "tr", "th", "td", "dl", "dt", "dd")
}


def test_html_has_no_markup_from_the_submission() -> None:
    """Only the page's own tags appear: no script, no img, no event-handler attribute."""
    page = parse_html(to_html(hostile_report(), title=SCRIPT))
    assert set(page.tags) - SAFE_TAGS == set()
    assert [name for name, _ in page.attributes if name.startswith("on") or name in {"src", "href"}] == []


def test_html_raw_text_has_only_escaped_forms() -> None:
    """`<script` and `<img` never appear raw; `onerror=` only inside escaped text."""
    page = to_html(hostile_report(), title=IMG)
    assert ("<script" in page.lower(), "<img" in page.lower()) == (False, False)
    assert page.count("onerror=") == page.count("&lt;img src=x onerror=alert(1)&gt;")
    assert page.count("onerror=") > 0


def test_html_shows_hostile_strings_as_text() -> None:
    """The learner sees exactly what was sent, expected and printed, as text."""
    text = "".join(parse_html(to_html(hostile_report())).text)
    for shown in (SCRIPT, IMG, AT_SUM, DDE, NON_BMP, "red nul cdata ]]>", "trace ]]>  "):
        assert shown in text, shown
    assert ("\x1b" in text, "\x00" in text) == (False, False)


def test_html_has_a_restrictive_csp_and_no_script() -> None:
    """The policy forbids scripts and loading anything; the page itself has no script to allow."""
    page = parse_html(to_html(hostile_report()))
    policies = [value for name, value in page.attributes if name == "content" and value and "default-src" in value]
    assert policies == [CSP]
    assert CSP.startswith("default-src 'none'; style-src 'unsafe-inline'")
    assert "script" not in page.tags


def test_html_title_is_escaped() -> None:
    """A caller's title is as untrusted as the rest."""
    page = to_html(hostile_report(), title='</title><script>alert("t")</script>')
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;</title>" in page


def test_html_of_a_report_with_nothing_in_it() -> None:
    """No checks, problems or output still gives a valid page with the summary."""
    report = GradeReport(exercise="ex", backend="embedded", status=Status.ERROR, score=0, max_score=0, checks=())
    page = parse_html(to_html(report))
    assert (page.tags.count("table"), "ex: grade report" in page.text) == (0, True)


# --- JUnit ----------------------------------------------------------------------------------------


def test_junit_parses_back_with_the_same_text() -> None:
    """Hostile strings survive as text: ]]> and non-BMP characters intact, escape sequences gone."""
    root = ET.fromstring(to_junit(hostile_report()))
    suite = root.find("testsuite")
    assert suite is not None
    failed = suite.find("testcase/failure")
    assert failed is not None
    assert (failed.get("message"), failed.get("type")) == (IMG, "failed")
    assert failed.text == f"sent: red nul cdata ]]>\nexpected: {AT_SUM}\ngot: {DDE}\nhint: {NON_BMP}"
    assert [case.get("name") for case in suite.iter("testcase")][:2] == [SCRIPT, "GET /ok answers 200"]
    assert suite.findtext("system-out") == f"{SCRIPT}\ncleared ]]> {NON_BMP}\n{IMG}\n"
    assert suite.findtext("system-err") == (
        f"crash: {SCRIPT}\ntrace ]]>  \nYour program exited on its own; do not call exit() or os._exit() in your code."
    )


def test_junit_counts_and_outcomes() -> None:
    """Timeouts and checks that never ran are errors; only checks skipped after a gate are skipped."""
    root = ET.fromstring(to_junit(hostile_report()))
    suite = root.find("testsuite")
    assert suite is not None
    counts = {key: suite.get(key) for key in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": "5", "failures": "1", "errors": "2", "skipped": "1"}
    outcomes = [[child.tag for child in case if child.tag != "properties"] for case in suite.iter("testcase")]
    assert outcomes == [["failure"], [], ["error"], ["error"], ["skipped"]]
    properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert (properties["score"], properties["max_score"], properties["backend"]) == ("3", "8", "embedded")


def test_junit_raw_xml_has_no_live_markup() -> None:
    """The raw document never contains the submission's tags, only their escaped form."""
    document = to_junit(hostile_report())
    found = [bad for bad in ("<script", "<img", "\x00", "\x1b") if bad in document]
    assert found == []


def test_junit_strips_characters_xml_forbids() -> None:
    """Lone surrogates, U+FFFE/U+FFFF and C0 controls would make the file unparsable; they are removed."""
    report = hostile_report(output="a\ud800b\ufffec\uffffd\x0be\x08f")
    root = ET.fromstring(to_junit(report))
    assert root.findtext("testsuite/system-out") == "abcdef"
