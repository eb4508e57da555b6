"""Metadata validation: precise messages (file, field, what is wrong), never a traceback."""

from __future__ import annotations

import pytest

from runner.catalog import (
    apply_bug,
    apply_mutant,
    parse_bugs,
    parse_equivalents,
    parse_meta,
    parse_mutants,
)
from runner.errors import ContentError

VALID = """
format_version = 1
title = "Bookmarks API"
track = "apis"
difficulty = "beginner"
concepts = ["REST"]
files = ["app.py"]

[entry]
kind = "wsgi"
target = "app:create_app"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ContentError) as caught:
        parse_meta(text, "ex/exercise.toml")
    return caught.value.problems


def test_valid_metadata_parses_with_defaults():
    """A minimal file parses; services default to none on the embedded backend."""
    meta = parse_meta(VALID, "ex/exercise.toml")
    assert (meta.title, meta.entry.target, meta.time_limit) == ("Bookmarks API", "app:create_app", 60.0)
    assert [b.value for b in meta.services.backends] == ["embedded"]


def test_unknown_key_is_an_error_naming_it():
    """A typo in a key is reported, with its path, instead of being ignored."""
    assert problems(VALID + "\n[services]\ndatabse = true\n") == [
        "ex/exercise.toml: services.databse: unknown key (check its spelling; unknown keys are not allowed)"
    ]


def test_missing_field_is_named():
    """A required field that is absent is named."""
    assert problems(VALID.replace('title = "Bookmarks API"\n', "")) == ["ex/exercise.toml: title: required but missing"]


def test_bad_enum_value_lists_the_choices():
    """A wrong difficulty says which values are allowed."""
    (line,) = problems(VALID.replace('"beginner"', '"expert"'))
    assert line.startswith("ex/exercise.toml: difficulty: Input should be 'beginner', 'intermediate' or 'advanced'")


def test_unsupported_format_version():
    """A newer format version is refused with the version this runner reads."""
    (line,) = problems(VALID.replace("format_version = 1", "format_version = 2"))
    assert "format_version 2 is not supported; this runner reads version 1" in line


def test_paths_must_stay_inside_the_workspace():
    """Learner files cannot be absolute or climb out with '..'."""
    (line,) = problems(VALID.replace('files = ["app.py"]', 'files = ["../app.py"]'))
    assert line.startswith("ex/exercise.toml: files:") and "without '..'" in line


def test_wsgi_entry_needs_a_factory():
    """A wsgi entry must name module:factory."""
    (line,) = problems(VALID.replace('target = "app:create_app"', 'target = "app"'))
    assert "a wsgi entry needs 'module:factory'" in line


def test_functions_entry_needs_function_names():
    """A functions entry without its functions is refused."""
    (line,) = problems(VALID.replace('kind = "wsgi"', 'kind = "functions"').replace("app:create_app", "models"))
    assert "must list its 'functions'" in line


def test_several_problems_are_reported_together():
    """All problems come at once, so an author fixes them in one pass."""
    lines = problems(VALID.replace('"beginner"', '"hard"').replace('track = "apis"', 'track = "APIs!"'))
    assert [line.split(":")[1].strip() for line in lines] == ["track", "difficulty"]


def test_toml_syntax_error_is_reported():
    """Broken TOML is a content error with the parser's position."""
    (line,) = problems("title = ")
    assert line.startswith("ex/exercise.toml: not valid TOML:")


BUGS = """
format_version = 1

[[bug]]
id = "off-by-one"
summary = "Counts from one"
file = "app.py"
find = "range(10)"
replace = "range(1, 10)"
fails = ["test_count"]
"""


def test_bug_is_applied_as_a_single_replacement():
    """A catalogued bug edits exactly one place of the reference solution."""
    catalogue = parse_bugs(BUGS, "bugs.toml")
    assert apply_bug({"app.py": "x = range(10)\n"}, catalogue.bug[0], "bugs.toml") == {"app.py": "x = range(1, 10)\n"}


def test_bug_whose_find_text_is_ambiguous_is_refused():
    """A find text that occurs twice would make the bug ambiguous."""
    catalogue = parse_bugs(BUGS, "bugs.toml")
    with pytest.raises(ContentError, match="occurs 2 times"):
        apply_bug({"app.py": "range(10); range(10)\n"}, catalogue.bug[0], "bugs.toml")


def test_duplicate_bug_ids_are_refused():
    """Bug ids are unique within a catalogue."""
    with pytest.raises(ContentError, match="appears twice"):
        parse_bugs(BUGS + BUGS.replace("format_version = 1", ""), "bugs.toml")


# ---------------------------------------------------------------- mutants.toml (tests kind)

MODULE = """def double(n):
    if n < 0:
        raise ValueError(n)
    return 2 * n
"""

MUTANTS = """
format_version = 1

[[mutant]]
id = "adds-instead"
misconception = "adding instead of multiplying"
hint = "Test a value other than 2."
find = "return 2 * n"
replace = "return n + 2"
"""


def mutant_problems(text: str, reference: str = MODULE) -> list[str]:
    with pytest.raises(ContentError) as caught:
        parse_mutants(text, "checks/mutants.toml", reference, reference_name="starter/module.py")
    return caught.value.problems


def test_mutants_parse_and_apply():
    """A valid catalogue parses, and a mutant is the reference with its one edit."""
    catalogue = parse_mutants(MUTANTS, "checks/mutants.toml", MODULE)
    (mutant,) = catalogue.mutant
    assert (mutant.id, mutant.misconception) == ("adds-instead", "adding instead of multiplying")
    assert apply_mutant(MODULE, mutant) == MODULE.replace("return 2 * n", "return n + 2")
    assert catalogue.get("adds-instead") is mutant


def test_mutants_need_a_format_version():
    """format_version is required, and only version 1 is read."""
    assert mutant_problems(MUTANTS.replace("format_version = 1", "")) == [
        "checks/mutants.toml: format_version: required but missing"]
    assert mutant_problems(MUTANTS.replace("format_version = 1", "format_version = 3")) == [
        "checks/mutants.toml: format_version: format_version 3 is not supported; this runner reads version 1"]


def test_mutant_field_problems_name_the_mutant():
    """An unknown or missing key of a mutant is reported under that mutant's id."""
    assert mutant_problems(MUTANTS.replace('hint = "Test a value other than 2."', 'hnit = "x"')) == [
        "checks/mutants.toml: mutant 'adds-instead': hint: required but missing",
        "checks/mutants.toml: mutant 'adds-instead': hnit: unknown key (check its spelling; unknown keys are "
        "not allowed)",
    ]
    (line,) = mutant_problems(MUTANTS.replace('id = "adds-instead"', 'id = "Adds Instead"'))
    assert line.startswith("checks/mutants.toml: mutant 'Adds Instead': id: String should match pattern")
    (line,) = mutant_problems(MUTANTS.replace('id = "adds-instead"\n', ""))
    assert line == "checks/mutants.toml: mutant #1: id: required but missing"


def test_mutant_catalogue_needs_a_mutant():
    """A catalogue without [[mutant]] entries grades nothing."""
    assert mutant_problems("format_version = 1\n") == ["checks/mutants.toml: mutant: required but missing"]
    (line,) = mutant_problems("format_version = 1\nmutant = []\n")
    assert line == "checks/mutants.toml: mutant: Tuple should have at least 1 item after validation, not 0"


def test_duplicate_mutant_ids_are_refused():
    """Mutant ids are unique: each is the parameter id of a check."""
    assert mutant_problems(MUTANTS + MUTANTS.replace("format_version = 1", "")) == [
        "checks/mutants.toml: mutant id 'adds-instead' appears twice"]


def test_mutant_find_must_occur_exactly_once():
    """A find text that is missing or ambiguous is refused, naming the mutant and the module."""
    assert mutant_problems(MUTANTS, MODULE.replace("return 2 * n", "return n * 2")) == [
        "checks/mutants.toml: mutant 'adds-instead': 'find' text occurs 0 times in starter/module.py; "
        "it must occur exactly once"]
    assert mutant_problems(MUTANTS, MODULE + "# return 2 * n\n") == [
        "checks/mutants.toml: mutant 'adds-instead': 'find' text occurs 2 times in starter/module.py; "
        "it must occur exactly once"]
    with pytest.raises(ValueError, match="occurs 2 times"):
        apply_mutant(MODULE + "# return 2 * n\n", parse_mutants(MUTANTS, "m", MODULE).mutant[0])


def test_mutant_must_change_the_module_and_compile():
    """A mutant that changes nothing, or is not valid Python, is refused; all problems come at once."""
    text = MUTANTS.replace('replace = "return n + 2"', 'replace = "return 2 * n"') + """
[[mutant]]
id = "broken"
misconception = "a broken mutant"
hint = "Nothing catches it."
find = "if n < 0:"
replace = "if n < 0"
"""
    assert mutant_problems(text) == [
        "checks/mutants.toml: mutant 'adds-instead': 'replace' is the same as 'find', so the module does not change",
        "checks/mutants.toml: mutant 'broken': the mutated module does not compile: expected ':' (line 2)",
    ]


def test_mutant_toml_syntax_error_is_reported():
    (line,) = mutant_problems("format_version = ")
    assert line.startswith("checks/mutants.toml: not valid TOML:")


def test_the_catalogued_mutants_of_03_are_valid():
    """The real mutants.toml of 03-testing-pricing parses against its starter module."""
    from pathlib import Path

    exercise = Path(__file__).resolve().parent.parent / "exercises" / "03-testing-pricing"
    catalogue = parse_mutants((exercise / "checks" / "mutants.toml").read_text(), "mutants.toml",
                              (exercise / "starter" / "pricing.py").read_text())
    assert len(catalogue.mutant) >= 5


# ---------------------------------------------------------------- equivalent.toml (machine mutants)

EQUIVALENTS = """
format_version = 1

[[equivalent]]
mutant = "pricing.py:compare:0a1b2c3d"
reason = "quantity is at least 1 here, so >= 1 and > 0 agree"
"""


def equivalent_problems(text: str) -> list[str]:
    with pytest.raises(ContentError) as caught:
        parse_equivalents(text, "solutions/03/equivalent.toml")
    return caught.value.problems


def test_equivalents_parse():
    """Each listed mutant has an id of the generator's shape and a reason."""
    catalogue = parse_equivalents(EQUIVALENTS, "equivalent.toml")
    assert catalogue.ids() == {"pricing.py:compare:0a1b2c3d"}
    assert parse_equivalents("format_version = 1\n", "equivalent.toml").equivalent == ()


def test_equivalent_needs_a_machine_id_and_a_real_reason():
    """A mutant id not of the form file:operator:8hex, or a reason too short to explain, is refused."""
    (line,) = equivalent_problems(EQUIVALENTS.replace("0a1b2c3d", "0A1B2C3D"))
    assert line.startswith("solutions/03/equivalent.toml: equivalent 'pricing.py:compare:0A1B2C3D': mutant: "
                           "String should match pattern")
    (line,) = equivalent_problems(EQUIVALENTS.replace("pricing.py:", "src/../pricing.py:"))
    assert line.endswith("mutant: 'src/../pricing.py' must be a relative path inside the workspace, without '..'")
    assert equivalent_problems(EQUIVALENTS.replace('"quantity is at least 1 here, so >= 1 and > 0 agree"', '"same"')
                               ) == ["solutions/03/equivalent.toml: equivalent 'pricing.py:compare:0a1b2c3d': "
                                     "reason: String should have at least 10 characters"]
    assert equivalent_problems(EQUIVALENTS.replace("reason =", "reasn =")) == [
        "solutions/03/equivalent.toml: equivalent 'pricing.py:compare:0a1b2c3d': reason: required but missing",
        "solutions/03/equivalent.toml: equivalent 'pricing.py:compare:0a1b2c3d': reasn: unknown key (check its "
        "spelling; unknown keys are not allowed)",
    ]


def test_equivalent_listed_twice_is_refused():
    assert equivalent_problems(EQUIVALENTS + EQUIVALENTS.replace("format_version = 1", "")) == [
        "solutions/03/equivalent.toml: mutant 'pricing.py:compare:0a1b2c3d' is listed twice"]
    assert equivalent_problems(EQUIVALENTS.replace("format_version = 1", "format_version = 2")) == [
        "solutions/03/equivalent.toml: format_version: format_version 2 is not supported; this runner reads version 1"]
