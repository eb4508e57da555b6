"""Resolving what a learner types (`01`, `01-book`, `bookmarks`, a typo) to one exercise name.

Pure: takes the catalog's names, returns one name or raises a `UsageError` whose hint is the next
step (the candidates of an ambiguous prefix, or the closest names to a typo).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from .errors import UsageError


def _after_number(name: str) -> str:
    return name.split("-", 1)[-1]


def resolve(typed: str, names: Sequence[str]) -> str:
    """The one exercise `typed` means: the full name, an unambiguous prefix, or a unique part
    after the number; anything else is a usage error that says what to type instead."""
    if typed in names:
        return typed
    prefixed = [n for n in names if n.startswith(typed)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        raise UsageError(f"{typed!r} matches several exercises: {', '.join(prefixed)}.",
                         hint="Type more of the name, e.g. `" + prefixed[0] + "`.")
    parts = [n for n in names if _after_number(n) == typed or _after_number(n).startswith(typed)
             or typed in _after_number(n).split("-")]
    if len(parts) == 1:
        return parts[0]
    if len(parts) > 1:
        raise UsageError(f"{typed!r} matches several exercises: {', '.join(parts)}.",
                         hint="Type the number too, e.g. `" + parts[0] + "`.")
    by_part = {_after_number(n): n for n in names}
    close = difflib.get_close_matches(typed, list(names), n=3, cutoff=0.5)
    close += [by_part[p] for p in difflib.get_close_matches(typed, list(by_part), n=3, cutoff=0.5)
              if by_part[p] not in close]
    if close:
        raise UsageError(f"{typed!r} is not an exercise.", hint=f"Did you mean: {', '.join(close[:3])}?")
    raise UsageError(f"{typed!r} is not an exercise.",
                     hint=f"Choose one of: {', '.join(names) or '(none)'} (see `runner list`).")
