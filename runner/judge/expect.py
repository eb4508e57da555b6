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

__all__ = ["Mismatch", "expect", "expect_equal", "expect_error_json", "expect_header", "expect_json",
           "expect_json_matches", "expect_keys", "expect_status", "json_diff", "show"]


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
            hint=hint,
        )


def expect_error_json(response: Response, status: int | Iterable[int], *, key: str = "error",
                      hint: str | None = None) -> Any:
    """The status, and a JSON object whose ``key`` is a non-empty string (``{"error": "…"}``)."""
    expect_status(response, status, hint=hint)
    wanted = f'{{"{key}": "a message"}}'
    try:
        data = response.json()
    except Mismatch as exc:
        raise Mismatch(f"{response.request_line} returned {response.status} as it should, but its body is not JSON",
                       expected=wanted, actual=exc.actual,
                       hint=f"Answer errors with a JSON object such as {wanted} (jsonify it).") from None
    value = data.get(key) if isinstance(data, dict) else None
    if not (isinstance(value, str) and value.strip()):
        raise Mismatch(f"{response.request_line} returned {response.status} as it should, but the body lacks "
                       f"an error message", expected=wanted, actual=response.body_excerpt(),
                       hint=f"Answer errors with a JSON object such as {wanted} (jsonify it).")
    return data


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def json_diff(actual: Any, expected: Any, *, path: str = "$", extra_ok: bool = True, limit: int = 20) -> list[str]:
    """Every difference between two JSON values at once, each with its path: missing keys, extra keys
    (unless ``extra_ok``), mistyped values, different values and list lengths.

    ``$.tags[1]: expected "web", got 7 (a number)``. An empty list means they match.
    """
    problems: list[str] = []

    def walk(have: Any, want: Any, where: str) -> None:
        if len(problems) >= limit:
            return
        if isinstance(want, Mapping):
            if not isinstance(have, Mapping):
                problems.append(f"{where}: expected an object, got {_kind(have)} {show(have, 80)}")
                return
            for key in want:
                if key not in have:
                    problems.append(f"{where}.{key}: missing (expected {show(want[key], 80)})")
                else:
                    walk(have[key], want[key], f"{where}.{key}")
            if not extra_ok:
                for key in have:
                    if key not in want:
                        problems.append(f"{where}.{key}: unexpected key (value {show(have[key], 80)})")
            return
        if isinstance(want, list):
            if not isinstance(have, list):
                problems.append(f"{where}: expected a list, got {_kind(have)} {show(have, 80)}")
                return
            if len(have) != len(want):
                problems.append(f"{where}: expected {len(want)} items, got {len(have)}")
            for index, (item_have, item_want) in enumerate(zip(have, want, strict=False)):
                walk(item_have, item_want, f"{where}[{index}]")
            return
        if _kind(have) != _kind(want):
            problems.append(f"{where}: expected {_kind(want)} {show(want, 80)}, got {_kind(have)} {show(have, 80)}")
        elif have != want:
            problems.append(f"{where}: expected {show(want, 80)}, got {show(have, 80)}")

    walk(actual, expected, path)
    return problems


def expect_json_matches(actual: Any, expected: Any, what: str, *, extra_ok: bool = True,
                        hint: str | None = None, sent: str | None = None) -> None:
    """``actual`` has (at least, with ``extra_ok``) every key and value of ``expected``; else one
    ``Mismatch`` listing every difference with its path."""
    problems = json_diff(actual, expected, extra_ok=extra_ok)
    if problems:
        raise Mismatch(f"{what} differs from what was expected in {len(problems)} place"
                       f"{'s' if len(problems) != 1 else ''}:\n" + "\n".join(f"  {p}" for p in problems),
                       expected=expected, actual=actual, hint=hint, sent=sent)
