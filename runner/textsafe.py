"""Make learner-controlled text safe to show: capped, and stripped of control characters. Pure.

Everything a submission controls (its output, its exception messages, file names) passes through
here before it reaches a terminal, a JSON report or an HTML page, so that escape sequences cannot
repaint the terminal and megabytes of output cannot drown the report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
    """Removes known secrets (hidden check source, the reference solution) from learner-visible text.

    Defence in depth for a process sandbox without bubblewrap, where learner code can read those
    files and print them: every line of at least ``min_length`` characters, and every string
    literal of the Python files (a canary value printed on its own), is replaced where it appears
    verbatim. It cannot catch an encoded copy; the sandboxes that hide the files are the protection.
    """

    NOTE = "[hidden content redacted]"

    def __init__(self, texts: Sequence[str], min_length: int = 16, *, literals: Sequence[str] = (),
                 given: Sequence[str] = ()) -> None:
        lines = {line.strip() for text in texts for line in text.splitlines()}
        secrets = {line for line in lines if len(line) >= min_length}
        # Token-like literals only (a canary, a key): sentences and short values are also what a
        # correct program legitimately echoes back.
        secrets |= {literal for literal in literals if len(literal) >= 20 and not any(c.isspace() for c in literal)}
        # What the learner was given anyway (``given``: the starter code) is not a secret.
        given_lines = {line.strip() for text in given for line in text.splitlines()}
        everything_given = "\n".join(given)
        secrets = {line for line in secrets if line not in given_lines and line not in everything_given}
        self.lines = sorted(secrets, key=len, reverse=True)

    def sparing(self, own: Sequence[str]) -> Redactor:
        """This redactor without the secrets that ``own`` (the learner's submitted files) contains:
        a learner's own code is theirs to see, whatever else contains it (an idiom the statement
        teaches is in the reference too). They had that text already, so nothing leaks."""
        own_lines = {line.strip() for text in own for line in text.splitlines()}
        everything_own = "\n".join(own)
        spared = Redactor.__new__(Redactor)
        spared.lines = [line for line in self.lines if line not in own_lines and line not in everything_own]
        return spared

    def __call__(self, text: str) -> str:
        for line in self.lines:
            if line in text:
                text = text.replace(line, self.NOTE)
        return text

    def cap(self, text: str, limit: int) -> tuple[str, bool]:
        """Redact, cap, then drop a tail that begins a secret (its rest was cut off, here or earlier
        when the capture stopped keeping output)."""
        text = self(text)
        truncated = len(text) > limit
        kept = text[:limit]
        for line in self.lines:
            for size in range(min(len(line) - 1, len(kept)), 7, -1):
                if kept.endswith(line[:size]):
                    kept = kept[:-size] + self.NOTE
                    break
        return (kept + truncation_note(len(text) - limit), True) if truncated else (kept, False)


def string_literals(source: str) -> list[str]:
    """The string constants of a Python source (canaries, expected values), if it parses."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
