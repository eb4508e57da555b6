"""The statement's rules, and which checks cover them. Pure: text in, findings out.

A statement names each requirement it states with a rule id in square brackets, ``[R3]``, at the
start of the sentence or bullet that states it; a check declares the rules it covers with
``@pytest.mark.rules("R3")``. ``runner validate`` then reports every rule no check covers (a
requirement nobody grades) and every check tied to no rule (a check that grades something the
statement never asked for). A rule whose line says ``(gate)`` announces a gate: the learner is
told that if it fails, the checks after it do not run.

Why ids and not headings: a requirement is one sentence, often one of several under a heading, and
a check may cover two of them; an id survives rewording, a heading's text does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .results import CheckSpec

RULE_ID = re.compile(r"\[(R\d+[a-z]?)\]")
GATE = re.compile(r"\(gate\)", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    id: str
    text: str  # the line that states it, without markdown decoration
    gate: bool  # the line announces a gate


def parse_rules(statement: str) -> dict[str, Rule]:
    """The rules a statement names, in order; a rule named twice keeps its first line."""
    rules: dict[str, Rule] = {}
    for line in statement.splitlines():
        for match in RULE_ID.finditer(line):
            rule_id = match.group(1)
            if rule_id in rules:
                continue
            text = RULE_ID.sub("", line).strip(" -*#>\t").replace("**", "").strip()
            rules[rule_id] = Rule(rule_id, text, bool(GATE.search(line)))
    return rules


@dataclass(frozen=True)
class RuleCoverage:
    rules: tuple[str, ...]
    #: rule id → the checks (names) that cover it
    covered_by: Mapping[str, tuple[str, ...]]
    uncovered: tuple[str, ...]  # rules no check covers
    untied: tuple[str, ...]  # checks (ids) tied to no rule
    unknown: tuple[tuple[str, str], ...]  # (check id, rule id) for a rule the statement does not name
    unannounced_gates: tuple[str, ...]  # gate checks none of whose rules says "(gate)"

    @property
    def ok(self) -> bool:
        return not (self.uncovered or self.untied or self.unknown or self.unannounced_gates)

    @property
    def share(self) -> float:
        return 1.0 if not self.rules else (len(self.rules) - len(self.uncovered)) / len(self.rules)


def _base(check_id: str) -> str:
    """A parametrised check's id without its parameters: its cases share their rules."""
    return check_id.split("[", 1)[0]


def coverage(rules: Mapping[str, Rule], checks: Iterable[CheckSpec]) -> RuleCoverage:
    checks = list(checks)
    covered: dict[str, list[str]] = {rule: [] for rule in rules}
    untied: list[str] = []
    unknown: list[tuple[str, str]] = []
    unannounced: list[str] = []
    seen: set[str] = set()
    for check in checks:
        base = _base(check.id)
        if not check.rules and base not in seen:
            untied.append(base)
        for rule in check.rules:
            if rule not in rules:
                if (base, rule) not in unknown:
                    unknown.append((base, rule))
            elif base not in seen:
                covered[rule].append(check.name)
        if check.gate and not any(rule in rules and rules[rule].gate for rule in check.rules):
            unannounced.append(base)
        seen.add(base)
    return RuleCoverage(
        rules=tuple(rules),
        covered_by={rule: tuple(names) for rule, names in covered.items()},
        uncovered=tuple(rule for rule, names in covered.items() if not names),
        untied=tuple(untied),
        unknown=tuple(unknown),
        unannounced_gates=tuple(unannounced),
    )
