"""Assertions for hidden checks, with uniform learner-facing messages.

A failing check raises ``Mismatch``: what was sent, what came back, what was expected, and a hint.
The judge turns that into the check's message; the check's source is never shown, so checks must
say everything the learner needs through these fields (pytest's assertion rewriting is off in the
judge for exactly that reason: it would print the check's source line).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .http import Response
from .mismatch import Mismatch, show

__all__ = ["Mismatch", "expect", "expect_equal", "expect_header", "expect_json", "expect_keys", "expect_status",
           "show"]


def expect(condition: bool, message: str, *, hint: str | None = None, **fields: Any) -> None:
    if not condition:
        raise Mismatch(message, hint=hint, **fields)


def expect_equal(actual: Any, expected: Any, what: str, *, hint: str | None = None, sent: str | None = None) -> None:
    if actual != expected:
        raise Mismatch(f"{what} is wrong", expected=expected, actual=actual, hint=hint, sent=sent)


def expect_status(response: Response, status: int | Iterable[int], *, hint: str | None = None) -> None:
    allowed = {status} if isinstance(status, int) else set(status)
    if response.status not in allowed:
        wanted = " or ".join(str(s) for s in sorted(allowed))
        raise Mismatch(
            f"{response.request_line} returned status {response.status}, expected {wanted}",
            expected=wanted,
            actual=f"{response.status} {response.body_excerpt()}",
            sent=response.request_summary(),
            hint=hint,
        )


def expect_json(response: Response, *, hint: str | None = None) -> Any:
    """The response's JSON body; fails with a clear message when there is none."""
    return response.json(hint=hint)


def expect_keys(obj: Any, keys: Iterable[str], what: str, *, hint: str | None = None, sent: str | None = None) -> None:
    keys = list(keys)
    if not isinstance(obj, Mapping):
        raise Mismatch(f"{what} should be a JSON object", expected=f"an object with {keys}", actual=obj, hint=hint,
                       sent=sent)
    missing = [k for k in keys if k not in obj]
    if missing:
        raise Mismatch(f"{what} lacks {', '.join(repr(k) for k in missing)}", expected=f"keys {keys}",
                       actual=f"keys {sorted(obj)}", hint=hint, sent=sent)


def expect_header(response: Response, name: str, contains: str, *, hint: str | None = None) -> None:
    value = response.header(name)
    if value is None or contains.lower() not in value.lower():
        raise Mismatch(
            f"{response.request_line}: header {name} should contain {contains!r}",
            expected=contains,
            actual=value if value is not None else "(no such header)",
            sent=response.request_summary(),
            hint=hint,
        )
