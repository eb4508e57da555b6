"""Name resolution: full names, prefixes, parts after the number, ambiguity and typos."""

from __future__ import annotations

import pytest

from runner.errors import UsageError
from runner.names import resolve

NAMES = ["01-bookmarks-api", "02-library-schema", "03-testing-pricing", "10-bookshelf"]


@pytest.mark.parametrize("typed", ["01-bookmarks-api", "01", "01-book", "bookmarks", "bookmarks-api"])
def test_resolves_full_names_prefixes_and_parts(typed):
    assert resolve(typed, NAMES) == "01-bookmarks-api"


def test_ambiguous_prefix_lists_the_candidates():
    with pytest.raises(UsageError) as caught:
        resolve("0", NAMES)
    assert caught.value.exit_code == 2
    assert "01-bookmarks-api, 02-library-schema, 03-testing-pricing" in caught.value.message


def test_ambiguous_part_lists_the_candidates():
    with pytest.raises(UsageError) as caught:
        resolve("book", NAMES)
    assert "01-bookmarks-api, 10-bookshelf" in caught.value.message


def test_typo_suggests_the_closest_names():
    with pytest.raises(UsageError) as caught:
        resolve("bookmrks-api", NAMES)
    assert caught.value.hint is not None and "Did you mean: 01-bookmarks-api" in caught.value.hint


def test_nonsense_lists_every_exercise():
    with pytest.raises(UsageError) as caught:
        resolve("zzzzzz", NAMES)
    assert caught.value.hint is not None and "Choose one of: 01-bookmarks-api" in caught.value.hint
