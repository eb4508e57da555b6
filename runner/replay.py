"""``runner replay``: one check again, on the last grade's seed, with every HTTP exchange shown.

The grader runs as for ``runner grade`` with two options of its judge (``JudgeSpec.only``: just
this check; ``JudgeSpec.exchanges_file``: every exchange it sends, written as it goes), so the
check sends exactly what it sent in that grade (its data comes from the seed and the check's id).
This module is the pure part: which check a learner means, the exchanges as read back, and the
``.http`` file (the format of VS Code's REST Client and JetBrains' HTTP client) they can rerun.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .judge.http import CURL_BASE
from .results import CheckSpec

#: The response headers worth showing (the others are the server's own: Date, Server, ...).
SHOWN_HEADERS = ("content-type", "location", "retry-after", "allow", "etag", "cache-control",
                 "www-authenticate", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
#: How much of a body the terminal shows.
BODY_LINES = 20
BODY_CHARS = 2000


@dataclass(frozen=True)
class Recorded:
    """One exchange of the replayed check, as the judge wrote it."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: str | None
    status: int | None
    response_headers: tuple[tuple[str, str], ...]
    response_body: str


def _function(check_id: str) -> str:
    return check_id.rsplit("::", 1)[-1]


def resolve_check(typed: str, checks: Sequence[CheckSpec]) -> CheckSpec:
    """The check ``typed`` names: its id, its test function's name (``test_`` may be left out) or
    its displayed name, each in full or by an unambiguous prefix."""
    def keys(check: CheckSpec) -> list[str]:
        function = _function(check.id)
        return [check.id, function, function.removeprefix("test_"), check.name.lower()]

    wanted = typed.strip()
    for exact in (True, False):
        found = [c for c in checks
                 if any((key == wanted.lower() or key == wanted) if exact else key.startswith(wanted.lower())
                        for key in keys(c))]
        if len(found) == 1:
            return found[0]
        if len(found) > 1 and exact:
            break
        if len(found) > 1:
            names = ", ".join(_function(c.id) for c in found[:5])
            raise UsageError(f"{typed!r} matches several checks: {names}.", hint="Type more of its name.")
    visible = [c for c in checks if c.visible]
    raise UsageError(f"{typed!r} is not a check of this exercise.",
                     hint="Name one as the report does (its first words are enough), or leave it out to "
                          "replay the first failing check of your last grade"
                          + (f"; visible checks: {', '.join(_function(c.id) for c in visible[:5])}." if visible
                             else "."))


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        return ()
    return tuple((str(pair[0]), str(pair[1])) for pair in value if isinstance(pair, list) and len(pair) == 2)


def read_exchanges(path: Path, check_id: str) -> list[Recorded]:
    """The check's exchanges from the judge's file (none when it wrote nothing)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            raw = json.loads(line)
        except ValueError:
            continue
        if not isinstance(raw, dict) or raw.get("check") != check_id:
            continue
        status = raw.get("status")
        found.append(Recorded(str(raw.get("method", "")), str(raw.get("path", "")), _pairs(raw.get("headers")),
                              None if raw.get("body") is None else str(raw.get("body")),
                              status if isinstance(status, int) else None, _pairs(raw.get("response_headers")),
                              str(raw.get("response_body", ""))))
    return found


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def _excerpt(body: str) -> list[str]:
    text = _pretty(body.strip())
    lines = text.splitlines()
    kept = lines[:BODY_LINES]
    while sum(len(line) + 1 for line in kept) > BODY_CHARS and len(kept) > 1:
        kept.pop()
    if len(kept) < len(lines):
        kept.append(f"… ({len(lines) - len(kept)} more lines)")
    return kept


def shown_headers(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers if name.lower() in SHOWN_HEADERS]


def describe(index: int, total: int, exchange: Recorded) -> list[str]:
    """One exchange for the terminal: the request, then what came back."""
    lines = [f"── {index} of {total} ──", f"{exchange.method} {exchange.path}"]
    lines += [f"{name}: {value}" for name, value in exchange.headers]
    if exchange.body:
        lines += ["", *_excerpt(exchange.body)]
    if exchange.status is None:
        lines.append("→ no answer (the app did not answer in time, or closed the connection)")
        return lines
    lines.append(f"→ {exchange.status}")
    lines += [f"  {name}: {value}" for name, value in shown_headers(exchange.response_headers)]
    if exchange.response_body.strip():
        lines += ["  " + line for line in _excerpt(exchange.response_body)]
    return lines


def http_file(check: CheckSpec, exchanges: Sequence[Recorded], base: str = CURL_BASE) -> str:
    """The exchanges as a ``.http`` file: each request under ``### name``, what the app answered
    during the replay as a comment above it."""
    parts = [f"# runner replay: {check.name}\n# Run your app with `flask --app app run`, then send these "
             "requests one by one (VS Code REST Client, JetBrains HTTP client).\n"]
    total = len(exchanges)
    for index, exchange in enumerate(exchanges, start=1):
        lines = [f"### {index}/{total} {check.name}"]
        answer = "no answer" if exchange.status is None else str(exchange.status)
        content_type = next((v for k, v in exchange.response_headers if k.lower() == "content-type"), None)
        lines.append(f"# during the replay your app answered {answer}" + (f" ({content_type})" if content_type else ""))
        lines.append(f"{exchange.method} {base}{exchange.path}")
        lines += [f"{name}: {value}" for name, value in exchange.headers]
        if exchange.body is not None:
            lines += ["", exchange.body]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def replay_path(workspace: Path, check: CheckSpec) -> Path:
    """Where the ``.http`` file goes: the workspace's ``.backend-kit/`` folder."""
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in _function(check.id))
    return workspace / ".backend-kit" / f"replay-{name}.http"
