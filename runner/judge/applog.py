"""What the learner's app wrote while serving a failing check's requests: its "your app" line.

The learner host appends one record per request of the judge's (``runner.learner.applog``): the
request's id, the host's workspace folder, and what the serving thread wrote to stdout/stderr. The
judge reads the records of the check's own request ids (``TRANSCRIPT.request_ids``) from the offset
the log had when the check started, and ``trim`` makes them readable: tracebacks cut down to the
frames of the learner's own files (paths relative to the workspace), each distinct traceback once,
the timestamps of Flask's log lines dropped (a report must read the same twice), the whole capped
with a visible note. That file is written by the learner's process: what it holds is shown as the
app's output, never used for a verdict, and anything malformed in it is skipped.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence

from .. import textsafe
from ..processes import read_regular

#: How much of the app log the judge reads for one check.
MAX_READ = 4 << 20
#: The "your app" text: at most this many lines and characters.
MAX_LINES = 30
MAX_CHARS = 2400

TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'  File "(?P<file>[^"]+)", line (?P<rest>.*)')
#: Flask's default log format: "[2026-12-02 23:40:00,123] ERROR in app: ...".
_LOG_STAMP = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] ", re.MULTILINE)


def offset(path: str | None) -> int | None:
    """Where the log ends now (the start of the next check's records); None: no log."""
    if not path:
        return None
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def read_records(path: str, start: int, ids: Sequence[str]) -> list[tuple[str, str]]:
    """``(root, text)`` of the records of ``ids`` appended since ``start``, in the order of ``ids``."""
    data = read_regular(path, start, MAX_READ)  # the learner's process can write to its folder
    if data is None:
        return []
    wanted = set(ids)
    found: dict[str, list[tuple[str, str]]] = {}
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict):
            continue
        request_id, root, text = record.get("id"), record.get("root"), record.get("text")
        if request_id in wanted and isinstance(root, str) and isinstance(text, str):
            found.setdefault(request_id, []).append((root, text))
    return [record for request_id in dict.fromkeys(ids) for record in found.get(request_id, [])]


def app_output(path: str | None, start: int | None, ids: Sequence[str]) -> str | None:
    """The trimmed output of the check's requests; None when there is none (or no log)."""
    if not path or start is None or not ids:
        return None
    return trim(read_records(path, start, ids))


def trim(records: Iterable[tuple[str, str]]) -> str | None:
    """The records' texts as one readable block (pure): see the module's docstring."""
    seen: dict[str, int] = {}
    blocks: list[list[str]] = []
    for root, text in records:
        for block in _blocks(textsafe.clean(_LOG_STAMP.sub("", text)), root):
            if block[0] == TRACEBACK:
                key = "\n".join(block)
                if key in seen:
                    seen[key] += 1
                    continue
                seen[key] = 1
            blocks.append(block)
    lines: list[str] = []
    for block in blocks:
        lines.extend(block)
        count = seen.get("\n".join(block), 1) if block[0] == TRACEBACK else 1
        if count > 1:
            lines.append(f"(the same error {count} times)")
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return None
    return _cap(lines)


def _cap(lines: list[str]) -> str:
    kept: list[str] = []
    size = 0
    for line in lines:
        if len(kept) >= MAX_LINES or size + len(line) + 1 > MAX_CHARS:
            break
        kept.append(line)
        size += len(line) + 1
    hidden = len(lines) - len(kept)
    if hidden:
        kept.append(f"[… {hidden} more line{'s' if hidden != 1 else ''} of your app's output not shown]")
    return "\n".join(kept)


def _under(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` when it is inside it (compared as text: the judge cannot see
    the learner's sandbox), else None."""
    root = root.rstrip("/")
    if not root or not path.startswith(root + "/"):
        return None
    relative = os.path.normpath(path[len(root) + 1:])
    return None if relative.startswith("..") else relative


def _blocks(text: str, root: str) -> list[list[str]]:
    """The text as blocks: each traceback trimmed to the learner's frames, other lines as they are
    (with the workspace's path left out)."""
    lines = text.splitlines()
    blocks: list[list[str]] = []
    plain: list[str] = []
    index = 0
    prefix = root.rstrip("/") + "/" if root.strip("/") else None
    while index < len(lines):
        line = lines[index]
        if line.strip() != TRACEBACK:
            plain.append(line.replace(prefix, "") if prefix else line)
            index += 1
            continue
        if plain:
            blocks.append(plain)
            plain = []
        index += 1
        frames: list[str] = []
        while index < len(lines) and (lines[index].startswith(" ") or not lines[index]):
            match = _FRAME.match(lines[index])
            index += 1
            if match is None:
                continue  # a source or caret line of a frame already dropped, or a blank
            body = []
            while index < len(lines) and lines[index].startswith("    ") and not _FRAME.match(lines[index]):
                body.append(lines[index])
                index += 1
            relative = _under(match["file"], root)
            if relative is not None:
                frames.append(f'  File "{relative}", line {match["rest"]}')
                frames.extend(body)
        block = [TRACEBACK, *frames]
        if index < len(lines):  # the exception's own line
            exception = lines[index]
            block.append(exception.replace(prefix, "") if prefix else exception)
            index += 1
        blocks.append(block)
    if plain:
        blocks.append(plain)
    return blocks
