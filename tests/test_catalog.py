"""Metadata validation: precise messages (file, field, what is wrong), never a traceback."""

from __future__ import annotations

import pytest

from runner.catalog import apply_bug, parse_bugs, parse_meta
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
