"""Visible tests, run by `runner test` from your workspace (together with your test_pricing.py,
which `runner test` runs against the real pricing.py).

They check that test_pricing.py has a reasonable number of tests and only uses what pricing.py
provides while grading. They cannot tell you how many hidden bugs your tests catch: grading does.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

FUNCTIONS = {"apply_discount", "bulk_unit_price", "parse_coupon", "cart_total", "shipping_cents"}
ENOUGH = 15
WORKSPACE = Path.cwd()
TEST_FILE = WORKSPACE / "test_pricing.py"


def _source() -> str:
    if not TEST_FILE.is_file():
        pytest.fail(f"{TEST_FILE} is missing: write your tests in test_pricing.py")
    return TEST_FILE.read_text(encoding="utf-8")


def test_you_wrote_enough_tests() -> None:
    _source()
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
               "--rootdir", str(WORKSPACE), TEST_FILE.name]
    completed = subprocess.run(command, cwd=WORKSPACE, capture_output=True, text=True, timeout=60)
    if completed.returncode not in (0, 5):  # 5: no tests collected
        pytest.fail(f"pytest could not collect test_pricing.py:\n{completed.stdout[-3000:]}{completed.stderr[-2000:]}")
    count = sum(1 for line in completed.stdout.splitlines() if "::" in line)
    assert count >= ENOUGH, (
        f"test_pricing.py has {count} tests (each parametrized case counts). Most hidden bugs need a test "
        f"of their own, so aim for at least {ENOUGH}: boundaries, rounding, invalid input."
    )


def test_you_use_only_the_functions_of_pricing() -> None:
    tree = ast.parse(_source(), filename=TEST_FILE.name)
    aliases = set()
    used = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "pricing":
            used.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.Import):
            aliases.update(alias.asname or alias.name for alias in node.names if alias.name == "pricing")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            used.append((node.attr, node.lineno))
    others = sorted({f"{name} (line {line})" for name, line in used if name not in FUNCTIONS})
    assert not others, (
        f"test_pricing.py uses {', '.join(others)} from pricing. While grading, pricing.py has only its "
        f"five functions ({', '.join(sorted(FUNCTIONS))}): write the numbers from the statement instead."
    )
