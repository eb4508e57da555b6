"""Make learner-controlled text safe to show: capped, and stripped of control characters. Pure.

Everything a submission controls (its output, its exception messages, file names) passes through
here before it reaches a terminal, a JSON report or an HTML page, so that escape sequences cannot
repaint the terminal and megabytes of output cannot drown the report.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls (which include CSI, 0x9b).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")

DEFAULT_CAP = 8_000


def clean(text: str) -> str:
    """Remove ANSI escape sequences and control characters; keep tabs and newlines."""
    text = text.replace("\r\n", "\n")
    return _CONTROL.sub("", _ANSI.sub("", text))


def decode(data: bytes) -> str:
    """Bytes from a learner process as text; undecodable bytes become U+FFFD, never an exception."""
    return data.decode("utf-8", errors="replace")


def truncation_note(hidden_chars: int) -> str:
    return f"\n[output truncated: {hidden_chars} more characters not shown]"


def cap(text: str, limit: int = DEFAULT_CAP) -> tuple[str, bool]:
    """Clean ``text`` and keep at most ``limit`` characters, with a visible note when cut."""
    text = clean(text)
    if len(text) <= limit:
        return text, False
    return text[:limit] + truncation_note(len(text) - limit), True


def short(text: str, limit: int = 500) -> str:
    """A one-value excerpt for a check message (a response body, a return value)."""
    capped, _ = cap(text, limit)
    return capped


class Redactor:
    """Removes known secret lines (hidden check source, the reference solution) from learner-visible text.

    Defence in depth for the process sandbox, where learner code can read those files and print
    them: any line of at least ``min_length`` characters that appears verbatim is replaced. It
    cannot catch an encoded copy; the container sandbox is the real protection.
    """

    NOTE = "[hidden content redacted]"

    def __init__(self, texts: list[str], min_length: int = 16) -> None:
        lines = {line.strip() for text in texts for line in text.splitlines()}
        self.lines = sorted((line for line in lines if len(line) >= min_length), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for line in self.lines:
            if line in text:
                text = text.replace(line, self.NOTE)
        return text
