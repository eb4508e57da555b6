"""What ``runner validate`` found about an exercise. Pure: the renderers and the CLI read it
without importing the orchestrator that produced it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .goldens import GoldenDiff
from .kills import KillMatrix, Strength
from .rules import RuleCoverage


@dataclass(frozen=True)
class Finding:
    subject: str  # "solution", "starter", "bug <id>", "check <id>", "seeds", "goldens", "check strength", ...
    ok: bool
    message: str
    score: str = ""


@dataclass(frozen=True)
class Validation:
    exercise: str
    findings: tuple[Finding, ...]
    duration: float
    #: Per subject ("solution", "starter", "bug <id>"): each check's status, for parity comparisons.
    verdicts: dict[str, dict[str, str]] = field(default_factory=dict)
    backend: str = ""
    matrix: KillMatrix | None = None
    strength: Strength | None = None
    rules: RuleCoverage | None = None
    goldens: tuple[GoldenDiff, ...] = ()
    seeds: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)
