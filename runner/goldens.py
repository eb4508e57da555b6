"""Feedback goldens: the learner-facing report of the starter and of each catalogued bug, kept as a
text file and compared on every ``runner validate``, so a change of wording, of which check fails,
or of a hint shows in review as a diff. Pure: rendering is ``report.render_grade``'s, storage is
the caller's.

A golden must be the same on every run of the same code, so whatever legitimately varies is
normalised away: durations, the seed, temporary paths, loopback ports, object addresses, the
timestamps of a server's access log, random tokens an app makes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .results import GradeReport

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\(\d+(?:\.\d+)? ?s\)"), "(… s)"),
    (re.compile(r"\b\d+(?:\.\d+)? ?(?:s|ms|seconds)\b(?= limit| \(|$)", re.MULTILINE), "… s"),
    (re.compile(r"(?:/private)?/(?:tmp|var/folders)/[\w./+-]*backend-kit-[\w.-]+"), "<tmp>"),
    (re.compile(r"/tmp/[\w.-]+"), "<tmp>"),
    # A grade's own database role, password and database name (server backend: bk_<pid>_<hex>).
    (re.compile(r"\b(\w+(?:\+\w+)?://)[^\s'\"/@:]*:[^\s'\"/@]+@"), r"\1<user>:<password>@"),
    (re.compile(r"\bbk_\d+_[0-9a-f]{6,}\b"), "<grade>"),
    (re.compile(r"\b(127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1\]|[\w.-]*host\.docker\.internal|\d+\.\d+\.\d+\.\d+)"
                r":\d{2,5}\b"), r"\1:<port>"),
    (re.compile(r"\b0x[0-9a-f]{6,16}\b"), "0x…"),
    (re.compile(r"\[\d{2}/\w{3}/\d{4} \d{2}:\d{2}:\d{2}\]"), "[<time>]"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"), "<time>"),
    (re.compile(r"\bseed \d+\b"), "seed <n>"),
    (re.compile(r"\bpid \d+\b"), "pid <n>"),
    (re.compile(r"[ \t]+$", re.MULTILINE), ""),
)


#: A token an app makes with ``secrets`` (``token_urlsafe(32)``, a uuid4 hex, an API key): 32 or more
#: URL-safe characters with letters and digits mixed. Different on every run by design.
_TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{32,}(?![\w-])")


def _token(match: re.Match[str]) -> str:
    word = match.group(0)
    mixed = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
    return "<token>" if mixed else word


def normalise(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    text = _TOKEN.sub(_token, text)
    return text.strip("\n") + "\n"


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


def normalise_report(report: GradeReport, concurrent: frozenset[str] = frozenset()) -> GradeReport:
    """The report with every text a check or problem carries normalised, before it is rendered:
    rendering wraps long lines, and a varying token cut in two by a wrap (a port, a role name)
    would escape the patterns. In the checks named in ``concurrent`` (``@pytest.mark.concurrent``)
    the numbers become ``<n>`` too: how many of twenty requests sent at once got through varies
    from run to run, whether the check failed does not."""

    def text(value: str | None, racy: bool = False) -> str | None:
        if value is None:
            return None
        value = normalise(value).rstrip("\n")
        return _NUMBER.sub("<n>", value) if racy else value

    checks = tuple(replace(c, message=text(c.message, c.id in concurrent) or "",
                           expected=text(c.expected, c.id in concurrent), actual=text(c.actual, c.id in concurrent),
                           sent=text(c.sent, c.id in concurrent), hint=text(c.hint)) for c in report.checks)
    problems = tuple(replace(p, message=text(p.message) or "", details=text(p.details) or "")
                     for p in report.problems)
    return replace(report, checks=checks, problems=problems, output=text(report.output) or "")


def golden_name(subject: str) -> str:
    """``bug title-off-by-one`` → ``bug-title-off-by-one.txt``."""
    return re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-") + ".txt"


@dataclass(frozen=True)
class GoldenDiff:
    subject: str
    name: str
    diff: str  # unified diff, empty when equal
    missing: bool = False  # no golden on file yet

    @property
    def ok(self) -> bool:
        return not self.diff and not self.missing


def compare(subject: str, want: str | None, have: str) -> GoldenDiff:
    import difflib

    name = golden_name(subject)
    if want is None:
        return GoldenDiff(subject, name, "", missing=True)
    if want == have:
        return GoldenDiff(subject, name, "")
    diff = "".join(difflib.unified_diff(want.splitlines(keepends=True), have.splitlines(keepends=True),
                                        f"golden/{name}", f"now/{name}", n=2))
    return GoldenDiff(subject, name, diff)
