"""``Mismatch``, the failure every check raises, and ``show``, how values appear in its fields.

Its own module so that the HTTP client and the ``expect_*`` helpers both use it without importing
each other.
"""

from __future__ import annotations

import json
from typing import Any


def show(value: Any, limit: int = 300) -> str:
    """A compact, capped rendering of a value for a message."""
    try:
        text = json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class Mismatch(AssertionError):
    """A check failed: says what happened against what was expected, and what to try."""

    def __init__(
        self,
        message: str,
        *,
        expected: Any = None,
        actual: Any = None,
        sent: str | None = None,
        hint: str | None = None,
        blocked_by: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: The set-up step this check could not get past, e.g. "POST /bookmarks": checks blocked by
        #: one step are collapsed into one line of the report, under the check that shows the cause.
        self.blocked_by = blocked_by
        self.expected = None if expected is None else (expected if isinstance(expected, str) else show(expected))
        self.actual = None if actual is None else (actual if isinstance(actual, str) else show(actual))
        self.sent = sent
        self.hint = hint
