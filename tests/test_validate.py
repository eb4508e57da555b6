"""runner validate's instruments end to end, on the throwaway hello exercise: a verdict that depends
on the seed, a golden that changed, surviving mutants and a stale equivalence mark are each found."""

from __future__ import annotations

from pathlib import Path

from runner.exercises import Exercise, find_exercise
from runner.services.embedded import EmbeddedProvider
from runner.validate import GoldenMode, Options, validate_exercise

RANDOM_BOUNDARY = '''

def test_random_boundary(client, rng):
    """A check that draws its boundary at random"""
    from runner.judge import Mismatch
    if rng.random() < 0.5:
        raise Mismatch("the boundary drawn this time was not handled")
'''


def failing(validation) -> dict[str, str]:
    return {f.subject: f.message for f in validation.findings if not f.ok}


def run(exercise: Exercise, **options) -> object:
    return validate_exercise(exercise, provider_factory=EmbeddedProvider, catalog=[exercise],
                             options=Options(**{"mutants": False, "workers": 2, **options}))


def test_a_verdict_that_depends_on_the_seed_is_found(hello: Exercise):
    checks = hello.checks_dir / "test_hello.py"
    checks.write_text(checks.read_text() + RANDOM_BOUNDARY)
    found = failing(run(find_exercise("01-hello", hello.root.parent.parent), seeds=5, goldens=GoldenMode.SKIP))
    assert "verdict depends on the seed" in found["seeds solution"]
    assert "test_random_boundary" in found["seeds solution"]
    assert "seeds" in found


def test_goldens_are_written_then_compared(hello: Exercise):
    first = run(hello, seeds=1, goldens=GoldenMode.UPDATE)
    folder = hello.solution_dir / "goldens" / "embedded"
    assert sorted(p.name for p in folder.iterdir()) == ["bug-wrong-message.txt", "starter.txt"]
    assert "goldens" not in failing(first)
    assert "goldens" not in failing(run(hello, seeds=1))
    golden = folder / "bug-wrong-message.txt"
    assert " Score " in golden.read_text()
    golden.write_text(golden.read_text().replace(" Score ", " Points "))
    found = failing(run(hello, seeds=1))
    assert "- Points " in found["golden bug wrong-message"] and "+ Score " in found["golden bug wrong-message"]


def test_strength_lists_survivors_and_stale_marks(hello: Exercise):
    (hello.solution_dir / "equivalent.toml").write_text(
        'format_version = 1\n\n[[equivalent]]\nmutant = "app.py:constant:00000000"\nreason = "it no longer exists"\n')
    validation = run(hello, seeds=1, goldens=GoldenMode.SKIP, mutants=True)
    assert validation.strength is not None and validation.strength.verdicts
    found = failing(validation)
    assert "app.py:constant:00000000" in found["equivalent mutants"]
    survivors = {v.description for v in validation.strength.survivors}
    # /slow answers {"ok": true}, which no check reads: `True` → `False` there survives.
    assert any(d.endswith("`True` → `False`") for d in survivors), survivors
    assert all(v.diff.startswith("--- a/app.py") for v in validation.strength.survivors)


def test_static_needs_no_services(hello: Exercise, tmp_path: Path):
    validation = validate_exercise(hello, options=Options(static_only=True), catalog=[hello])
    subjects = {f.subject for f in validation.findings}
    assert {"bugs", "starter TODOs", "placeholders", "check names", "visible tests", "rules"} <= subjects
    assert not any(s in subjects for s in ("solution", "seeds", "check strength"))
