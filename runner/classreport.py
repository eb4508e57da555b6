"""The class report: one self-contained HTML page about a class's grades, rendered with Jinja2.

The figures come from :mod:`runner.classstats`; this module only lays them out with the template
``runner/templates/classreport.html.j2`` (package data, found through the installed package).

Learner-controlled text (names, check messages, expected and actual values, program output) is
escaped by Jinja2's autoescape, after :func:`runner.textsafe.clean` has removed control characters
(the environment's ``finalize``). Values are data, never template source, so ``{{ }}`` in a message
is shown as typed. The page loads nothing: no script, stylesheet, font or image from anywhere (its
plots are inline SVG), and its Content-Security-Policy forbids loading anything in case an escape
is ever missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from .classstats import Bin, ExerciseSummary, LearnerResult, summarise
from .entries import Entry
from .exports import _FIELDS, CSP
from .exports import _text as clean_text
from .results import CheckResult

TEMPLATE = "classreport.html.j2"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    cx: float
    low: int
    count: int
    label: str


@dataclass(frozen=True)
class Histogram:
    width: int
    height: int
    left: int
    base: int
    bars: tuple[Bar, ...]


def histogram(bins: Sequence[Bin], *, width: int = 420, height: int = 150) -> Histogram:
    """Bar geometry for a score distribution: bars scaled to the tallest, labels under each bar."""
    left, top, bottom = 4, 16, 20
    base = height - bottom
    step = (width - left - 28) / max(len(bins), 1)  # room on the right for the "100%" label
    tallest = max((b.count for b in bins), default=0) or 1
    bars = []
    for i, b in enumerate(bins):
        h = round((base - top) * b.count / tallest, 1)
        x = round(left + i * step + 2, 1)
        bars.append(Bar(x, round(base - h, 1), round(step - 4, 1), h, round(x + (step - 4) / 2, 1), b.low, b.count,
                        f"{b.low}–{b.high}%" if b.high < 100 else f"{b.low}–100%"))
    return Histogram(width, height, left, base, tuple(bars))


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("runner", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=lambda value: clean_text(value) if isinstance(value, str) else value,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def percent(rate: float) -> str:
    return f"{100 * rate:.1f}%"


def score(result: LearnerResult) -> str:
    return "not graded" if result.score is None else f"{result.score}/{result.max_score}"


def fields(check: CheckResult) -> list[tuple[str, str]]:
    """The feedback fields a check has (sent, expected, got, your app, hint), in that order."""
    return [(label, value) for attribute, label in _FIELDS if (value := getattr(check, attribute))]


def render(entries: Sequence[Entry], *, title: str = "Class report", generated_at: str = "") -> str:
    """The page for these entries (the last graded per learner and exercise)."""
    summary = summarise(entries)
    exercises: tuple[ExerciseSummary, ...] = summary.exercises
    context: dict[str, Any] = {
        "s": summary, "title": title, "generated_at": generated_at, "csp": CSP,
        "histograms": [histogram(ex.distribution) for ex in exercises],
        "number": number, "percent": percent, "score": score, "fields": fields,
    }
    return _environment().get_template(TEMPLATE).render(context) + "\n"
