"""runner.oracle: a copy of the module under test in a learner's suite is found, however it is pasted;
a suite with expectations of its own (even one that restates the statement's tables) is not flagged."""

from __future__ import annotations

import base64
import importlib
import inspect
import re
import sys
import zlib
from pathlib import Path

import pytest

from runner import kinds
from runner.oracle import find_copies, find_source_reads

REPO = Path(__file__).resolve().parent.parent
MODULE = (REPO / "exercises" / "03-testing-pricing" / "starter" / "pricing.py").read_text()
SOLUTION = (REPO / "solutions" / "03-testing-pricing" / "test_pricing.py").read_text()
FUNCTIONS = ["apply_discount", "bulk_unit_price", "parse_coupon", "cart_total", "shipping_cents"]
EVERY = {*FUNCTIONS, "_require_int", "_require_cents"}

ORACLE_TESTS = '''
import pytest
import pricing

@pytest.mark.parametrize("cents", [0, 1, 5, 999, 1000])
@pytest.mark.parametrize("percent", [-1, 0, 10, 100, 101])
def test_apply_discount(cents, percent):
    assert outcome(pricing.apply_discount, cents, percent) == outcome(apply_discount, cents, percent)

def outcome(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:
        return type(exc)
'''


def copied(test_source: str) -> set[str]:
    return {copy.function for copy in find_copies(test_source, MODULE, FUNCTIONS)}


def test_a_pasted_copy_is_found_function_by_function():
    """The module pasted below the tests: each of its functions (public and helpers) is a copy."""
    copies = find_copies(ORACLE_TESTS + MODULE, MODULE, FUNCTIONS)
    assert {c.function for c in copies} == EVERY
    assert [c.function for c in copies][:5] == FUNCTIONS  # public functions first, in the entry's order
    assert all(c.similarity == 1.0 and c.name == c.function for c in copies)
    first = copies[0]
    line = (ORACLE_TESTS + MODULE).splitlines().index("def apply_discount(cents: int, percent: int) -> int:") + 1
    assert first.where == f"line {line}"
    assert first.describe().startswith("apply_discount at line ")


def test_a_renamed_and_reworded_copy_is_found():
    """Renaming the functions, their arguments, helpers and constants, rewording messages and dropping
    docstrings and annotations does not hide a copy."""
    renamed = MODULE
    for old, new in [("apply_discount", "ref_discount"), ("bulk_unit_price", "ref_bulk"), ("cents", "c"),
                     ("percent", "pct"), ("quantity", "n"), ("_require_int", "need_int"),
                     ("QUANTITY_TIERS", "TIERS"), ("FREE_SHIPPING_THRESHOLD", "FREE"), ("code", "cc")]:
        renamed = re.sub(rf"\b{old}\b", new, renamed)
    renamed = renamed.replace("must be", "has to be").replace(": int", "").replace(" -> int", "")
    renamed = re.sub(r'    """.*?"""\n', "", renamed)
    copies = {c.function: c for c in find_copies(ORACLE_TESTS + renamed, MODULE, FUNCTIONS)}
    assert set(copies) == EVERY
    assert copies["apply_discount"].name == "ref_discount"
    assert copies["bulk_unit_price"].describe().startswith("bulk_unit_price (as ref_bulk) at line")


def test_a_lightly_edited_copy_is_found_by_similarity():
    """A copy with a line changed or added is still a copy (similar, not identical)."""
    edited = MODULE.replace("    total = 0\n", "    total = 0\n    seen = []\n").replace(
        "        total += unit_cents * qty\n", "        seen.append(line)\n        total = total + unit_cents * qty\n")
    (copy,) = [c for c in find_copies(edited, MODULE, FUNCTIONS) if c.function == "cart_total"]
    assert 0.85 <= copy.similarity < 1.0


def test_a_copy_inside_an_exec_string_is_found():
    """Code hidden in a string and run with exec (plain, concatenated, bytes, base64 of zlib) is read."""
    plain = f"ORACLE = {{}}\nexec({MODULE!r}, ORACLE)\n" + ORACLE_TESTS
    assert copied(plain) == EVERY
    assert find_copies(plain, MODULE, FUNCTIONS)[0].where == "line 2, in a string"
    half = len(MODULE) // 2
    assert copied(f"exec(compile({MODULE[:half]!r} + {MODULE[half:]!r}, 'ref', 'exec'))\n") == EVERY
    assert copied(f"exec({MODULE.encode()!r})\n") == EVERY
    packed = base64.b64encode(zlib.compress(MODULE.encode())).decode()
    assert copied(f"import base64, zlib\nexec(zlib.decompress(base64.b64decode({packed!r})))\n") == EVERY
    lines = ", ".join(repr(line) for line in MODULE.splitlines())
    assert copied(f"exec('\\n'.join([{lines}]))\n") == EVERY


def test_a_copy_inside_a_class_or_a_function_is_found():
    """At any depth: a method of a test class, or a function defined inside a fixture."""
    body = MODULE[MODULE.index("def parse_coupon"):MODULE.index("def cart_total")]
    nested = "import pytest\n\n@pytest.fixture\ndef oracle():\n" + "".join(
        f"    {line}\n" if line else "\n" for line in body.splitlines()) + "    return parse_coupon\n"
    assert copied(nested) == {"parse_coupon"}
    method = "class Reference:\n    @staticmethod\n" + "".join(
        f"    {line}\n" if line else "\n" for line in body.splitlines())
    assert copied(method) == {"parse_coupon"}


def test_the_reference_solution_is_not_a_copy():
    """The kit's own suite for 03 states its expected values: nothing is flagged."""
    assert find_copies(SOLUTION, MODULE, FUNCTIONS) == []
    assert find_source_reads(SOLUTION, "pricing") == []


def test_restating_the_tables_and_a_model_of_your_own_is_not_a_copy():
    """The statement's tiers, threshold and fees restated, and an expected-value helper written from
    the statement, are the learner's own expectations."""
    own = '''
import pytest
from pricing import bulk_unit_price, shipping_cents

QUANTITY_TIERS = ((50, 10), (10, 5))
FREE_SHIPPING_THRESHOLD = 5000
DOMESTIC_SHIPPING = 499
INTERNATIONAL_SHIPPING = 1999


def expected_unit(unit, qty):
    for minimum, pct in QUANTITY_TIERS:
        if qty >= minimum:
            return (unit * (100 - pct) + 50) // 100
    return unit


@pytest.mark.parametrize("qty", [1, 9, 10, 49, 50, 51])
def test_tiers(qty):
    assert bulk_unit_price(1000, qty) == expected_unit(1000, qty)


def test_threshold():
    assert shipping_cents(FREE_SHIPPING_THRESHOLD, "US") == 0
    assert shipping_cents(FREE_SHIPPING_THRESHOLD - 1, "US") == DOMESTIC_SHIPPING
'''
    assert find_copies(own, MODULE, FUNCTIONS) == []
    assert find_copies(SOLUTION + own, MODULE, FUNCTIONS) == []


def test_unparsable_sources_find_nothing():
    assert find_copies("def broken(:\n", MODULE, FUNCTIONS) == []
    assert find_copies(MODULE, "def broken(:\n", FUNCTIONS) == []
    assert find_copies("x = 'def nothing here ('\n", MODULE, FUNCTIONS) == []


def test_reading_the_module_source_is_reported():
    """inspect, linecache, importlib and file reads of pricing.py are named with their line."""
    source = '''import importlib.util, inspect, linecache, pathlib
import pricing
a = inspect.getsource(pricing)
b = open("pricing.py").read()
c = pathlib.Path("pricing.py").read_text()
d = importlib.util.spec_from_file_location("ref", pricing.__file__)
e = linecache.getlines("pricing.py")
"""Tests for pricing.py"""
'''
    reads = [r.describe() for r in find_source_reads(source, "pricing")]
    assert reads == ["getsource() at line 3", "open('pricing.py') at line 4", "Path('pricing.py') at line 5",
                     "__file__ at line 6", "spec_from_file_location() at line 6", "getlines() at line 7"]


def test_while_grading_the_module_source_is_only_the_proxy(tmp_path, monkeypatch):
    """inspect.getsource of the staged module (and of its functions) gives the proxy, not pricing.py:
    an oracle built from it forwards to the implementation under test and agrees with every mutant."""
    kinds.get("tests").stage(tmp_path, "pricing", FUNCTIONS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "pricing", raising=False)
    staged = importlib.import_module("pricing")
    try:
        assert Path(inspect.getsourcefile(staged) or "").parent == tmp_path
        assert find_copies(inspect.getsource(staged), MODULE, FUNCTIONS) == []
        assert "QUANTITY_TIERS" not in inspect.getsource(staged)
        forwarding = inspect.getsource(staged.apply_discount)
        assert "client = _connection()" in forwarding and "client.call(" in forwarding
        assert find_copies(forwarding, MODULE, FUNCTIONS) == []
    finally:
        sys.modules.pop("pricing", None)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_public_function_alone_is_found(name):
    """Pasting just one function (the one a learner finds hardest to test) is caught too."""
    tree_start = MODULE.index(f"def {name}(")
    following = [MODULE.index(f"def {other}(") for other in FUNCTIONS if MODULE.index(f"def {other}(") > tree_start]
    body = MODULE[tree_start:min(following, default=len(MODULE))]
    assert copied(ORACLE_TESTS + "\n\n" + body) == {name}
