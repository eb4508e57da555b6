"""runner.rules: the statement's rule ids, and which checks cover them."""

from __future__ import annotations

from runner.results import CheckSpec
from runner.rules import coverage, parse_rules

STATEMENT = """# Notes

- [R1] (gate) GET /notes answers a JSON list; if it fails, nothing else is graded.
- **[R2]** POST /notes answers 201.
- [R3] A note's text has at most 200 characters. See also [R2].
"""


def spec(name: str, *rules: str, gate: bool = False) -> CheckSpec:
    return CheckSpec(id=f"checks/test_notes.py::{name}", name=name, points=1, gate=gate, rules=rules)


def test_rules_are_read_with_their_line_and_gate_mark():
    rules = parse_rules(STATEMENT)
    assert list(rules) == ["R1", "R2", "R3"]
    assert rules["R1"].gate and not rules["R2"].gate
    assert rules["R2"].text == "POST /notes answers 201."
    assert rules["R3"].text.startswith("A note's text")  # a later mention of R2 does not redefine it


def test_full_coverage_is_ok():
    result = coverage(parse_rules(STATEMENT), [spec("test_list", "R1", gate=True), spec("test_create", "R2"),
                                               spec("test_length[200]", "R3"), spec("test_length[201]", "R3")])
    assert result.ok and result.share == 1.0
    assert result.covered_by["R3"] == ("test_length[200]",)  # cases of one check count once


def test_every_gap_is_reported():
    result = coverage(parse_rules(STATEMENT), [spec("test_list", "R2", gate=True), spec("test_create", "R9"),
                                               spec("test_untied")])
    assert result.uncovered == ("R1", "R3")
    assert result.untied == ("checks/test_notes.py::test_untied",)
    assert result.unknown == (("checks/test_notes.py::test_create", "R9"),)
    assert result.unannounced_gates == ("checks/test_notes.py::test_list",)
    assert not result.ok and round(result.share, 2) == 0.33
