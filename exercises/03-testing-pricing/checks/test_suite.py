"""Hidden checks for 03-testing-pricing: the learner's tests are run against the correct module and
against hidden buggy versions of it (mutants, in mutants.toml), and must tell them apart.

How it works
- The tests kind's session fixture ``mutation`` (``runner.kinds.tests.run_mutation``) runs the
  learner's whole test file once per implementation, through ``learner_tests.run``: the
  implementation runs here in the judge, the learner's process only has a proxy, so their tests
  cannot read which one they are facing.
- The order of the runs comes from ``random.SystemRandom`` (not the seeded ``rng``), and the
  reference runs twice at random positions: a test file cannot count runs to guess which one is
  the reference, and a flaky or random test file is very unlikely to be green both times.
- The gate requires both reference runs to be green. A mutant is caught when its run is not green:
  a test failed or errored, the run timed out, or no test passed. A timeout counts as caught
  because the same tests finished in time, and passed, against the reference; only a behaviour of
  the mutant can have made them slower.
- If a reference run is not green, the remaining runs are skipped: the gate fails and every later
  check is skipped anyway.
- Before any run, a gate refuses a test file that carries a copy of pricing.py (``runner.oracle``):
  a suite that only compares the module with a pasted copy of itself has no expectations of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner import oracle
from runner.catalog import HiddenMutant
from runner.judge import JudgeSpec, Mismatch, TestRun
from runner.kinds.tests import MutationRuns, mutation_plan

EXERCISE = Path(__file__).resolve().parent.parent
MODULE = "pricing"
TEST_FILE = "test_pricing.py"

#: The module under test, its functions and the mutants of mutants.toml, validated (any authoring
#: mistake, or a time_limit too short for all the runs, stops the collection with a ContentError).
PLAN = mutation_plan(EXERCISE)
MUTANTS = PLAN.mutants
#: The statement's rules (README, "Rules, one by one") each hidden mutant breaks; every mutant also
#: covers R4 (a hidden bug is caught when a test fails against it).
MUTANT_RULES: dict[str, tuple[str, ...]] = {
    "discount-full-rejected": ("R7",),
    "discount-half-even": ("R8",),
    "tier-boundary-exclusive": ("R10", "R11"),
    "tier-order": ("R11",),
    "coupon-case-sensitive": ("R17",),
    "coupon-over-max-accepted": ("R15",),
    "cart-zero-quantity": ("R22",),
    "shipping-free-abroad": ("R25",),
    "shipping-threshold-exclusive": ("R24",),
    "bool-is-a-number": ("R5",),
    "discount-negative-cents": ("R6",),
    "discount-zero-rejected": ("R7",),
    "discount-over-full-accepted": ("R7",),
    "discount-negative-accepted": ("R7",),
    "tier-ten-late": ("R10",),
    "tier-ten-early": ("R9",),
    "tier-fifty-late": ("R11",),
    "tier-fifty-early": ("R10",),
    "bulk-rounds-down": ("R12",),
    "bulk-negative-price": ("R13",),
    "bulk-zero-quantity": ("R14",),
    "coupon-zero-accepted": ("R15",),
    "coupon-one-rejected": ("R15",),
    "coupon-fifty-rejected": ("R15",),
    "coupon-any-prefix": ("R16",),
    "coupon-number-parsed-loosely": ("R16",),
    "coupon-untrimmed": ("R18",),
    "cart-applies-tiers": ("R19",),
    "cart-tuple-rejected": ("R20",),
    "cart-line-not-checked": ("R20",),
    "cart-empty-sku": ("R21",),
    "cart-negative-price": ("R22",),
    "cart-missing-key": ("R23",),
    "shipping-threshold-low": ("R24",),
    "shipping-abroad-domestic-fee": ("R25",),
    "shipping-negative-subtotal": ("R26",),
    "shipping-country-untrimmed": ("R27",),
    "shipping-country-case-sensitive": ("R27",),
    "shipping-country-any-length": ("R28",),
    "bulk-rounds-up": ("R12",),
    "cart-empty-rejected": ("R19",),
}
_unmapped = sorted({m.id for m in MUTANTS} ^ set(MUTANT_RULES))
if _unmapped:
    raise ValueError(f"checks/test_suite.py: MUTANT_RULES and mutants.toml disagree on {', '.join(_unmapped)}")
#: Every rule a mutant breaks: rule coverage reads a parametrised check's rules from its function.
ALL_MUTANT_RULES = tuple(dict.fromkeys(["R4", *(r for m in MUTANTS for r in MUTANT_RULES[m.id])]))
# Every run may take up to check_timeout seconds (plus forking and the round trip); the gate is
# the check that waits for all of them (mutation_plan checks that time_limit covers it).
GATE_TIMEOUT = PLAN.gate_timeout


def _failures(run: TestRun, limit: int = 8) -> str:
    """Each failing test on a line of its own, with pytest's one-line account of the failure."""
    lines = [f"{test.split('::', 1)[-1]}: {message}" if message else test.split("::", 1)[-1]
             for test, message in run.failures[:limit]]
    if len(run.failures) > limit:
        lines.append(f"(and {len(run.failures) - limit} more)")
    return "failed:\n" + "\n".join(lines)


def _collect_errors(run: TestRun) -> str | None:
    """What pytest said when test_pricing.py could not be collected: its error lines if it has some."""
    messages = run.collect_errors
    if not messages:
        return None
    text = "\n".join(messages)
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    return ("\n".join(errors) or text)[-1500:]


ONLY_FUNCTIONS = (
    "While grading, pricing.py contains only its five functions (apply_discount, bulk_unit_price, "
    "parse_coupon, cart_total, shipping_cents): import and use nothing else from it, such as its "
    "constants or helpers."
)


@pytest.mark.gate
@pytest.mark.rules("R2")
@pytest.mark.points(0)
def test_no_copy_of_the_module(submission_files: dict[str, str]) -> None:
    """Your tests state their own expected values (no copy of pricing.py)"""
    test_source = submission_files.get(TEST_FILE, "")
    copies = oracle.find_copies(test_source, PLAN.reference, PLAN.functions)
    reads = oracle.find_source_reads(test_source, MODULE)
    if not copies and not reads:
        return
    found = [f"a copy of {c.describe()}" for c in copies] + [f"a read of pricing.py's source: {r.describe()}"
                                                             for r in reads]
    copied = list(dict.fromkeys(c.function for c in copies))  # public functions first
    raise Mismatch(
        (f"{TEST_FILE} contains a copy of pricing.py's {', '.join(copied)}. " if copied else
         f"{TEST_FILE} reads the source of pricing.py. ")
        + "A test that compares pricing.py with a copy of itself states no expected value of its own, "
          "so it proves nothing: this is not allowed.",
        expected="tests whose expected values come from the statement (such as apply_discount(1000, 10) == 900)",
        actual="; ".join(found),
        hint="Delete the copied code and write each expected value yourself, from the statement's contract. "
             "Restating the statement's numbers (the quantity tiers, the threshold) is fine.",
    )


@pytest.mark.gate
@pytest.mark.rules("R1", "R3")
@pytest.mark.points(0)
@pytest.mark.timeout(GATE_TIMEOUT)
def test_tests_pass_on_reference(mutation: MutationRuns, judge_spec: JudgeSpec) -> None:
    """Your tests pass against the correct pricing module"""
    limit = judge_spec.test_run_timeout
    for index, run in enumerate(mutation.reference):
        flaky = (" They passed in another run against the same module, so some test is flaky: make every "
                 "test deterministic (fixed values, no randomness, no state shared between tests)."
                 if index else "")
        collect = _collect_errors(run)
        if collect is not None:
            raise Mismatch(
                "test_pricing.py could not be collected by pytest while grading, so none of your tests ran.",
                expected="test_pricing.py imports and collects without errors",
                actual=collect,
                hint=f"Run `runner test` to see the error. {ONLY_FUNCTIONS}",
            )
        if run.timed_out:
            raise Mismatch(
                f"Your tests did not finish within {limit:g} s against the correct pricing module.",
                actual=f"{len(run.passed)} passed and {len(run.failed)} failed before the time ran out",
                hint="Look for an infinite loop or a sleep in your tests; the whole file should take about a second."
                     + flaky,
            )
        if run.failed:
            raise Mismatch(
                "Some of your tests fail against the correct pricing module. Every test must pass on the "
                "correct module, otherwise a failure says nothing about a buggy one.",
                expected="every test passes",
                actual=_failures(run),
                hint="Check each failing test's expected value against the statement's contract. "
                     + ONLY_FUNCTIONS + flaky,
            )
        if not run.passed:
            raise Mismatch(
                "No test ran: pytest found no passing test in test_pricing.py.",
                expected="at least one test function named test_… in test_pricing.py",
                actual=f"{len(run.outcomes)} results reported",
                hint="Test functions must be named test_… and live at the top level of test_pricing.py "
                     "(or in classes named Test…).",
            )


@pytest.mark.rules(*ALL_MUTANT_RULES)
@pytest.mark.parametrize("mutant", [pytest.param(m, marks=pytest.mark.rules(*MUTANT_RULES[m.id]), id=m.id)
                                    for m in MUTANTS])
def test_catches_mutant(mutation: MutationRuns, mutant: HiddenMutant) -> None:
    """Your tests catch: {mutant.misconception}"""
    run = mutation.mutants.get(mutant.id)
    if run is None:
        pytest.skip("Not run: your tests did not pass against the correct module.")
    if not run.green:
        return  # caught: a test failed or errored, the run timed out, or no test passed
    raise Mismatch(
        f"All your tests passed against a buggy version of pricing.py: {mutant.misconception}.",
        expected="at least one test fails against this buggy version",
        actual=f"all {len(run.passed)} tests passed",
        hint=mutant.hint,
    )
