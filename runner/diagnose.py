"""Diagnoses: why a learner's program could not start (or was stopped), in words they can act on.

Pure: text in, messages out, no I/O. The learner host uses ``server_at_import`` (inside the
sandbox, so this module imports only the stdlib and ``results``); the runner uses the rest on
what it already has: the start-up ``Problem``, the program's output, and a stack sample of the
program taken just before it was killed (``faulthandler``'s format, see ``parse_stack``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .results import Category, Problem

#: The packages installed for learners' code, by import name (the docker sandbox's image installs
#: the same ones: ``runner.sandbox.docker.REQUIREMENTS``, a test keeps the two in step).
LEARNER_PACKAGES = ("flask", "werkzeug", "sqlalchemy", "redis", "psycopg", "pytest")

#: The first line of a stack sample file: where the learner's files are, as the sandbox sees them.
SAMPLE_HEADER = "# workspace "

_MISSING = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_IN_USE = re.compile(r"\[Errno (?:98|48)\]|EADDRINUSE|Address already in use|is in use by another program", re.I)
_PORT_IN_USE = re.compile(r"Port (\d+) is in use")
_BANNER = re.compile(r"Serving Flask app|Running on (https?://\S+)|Serving HTTP on (\S+) port (\d+)|"
                     r"Uvicorn running on (\S+)|Listening at: (\S+)")
_FRAME = re.compile(r'^\s*File "(.+)", line (\d+) in (.+?)\s*$')
_THREAD = re.compile(r"^(?:Current thread|Thread) 0x[0-9a-f]+")
#: Functions a program sits in when it serves (or waits for connections) on its own.
_SERVING = frozenset({"serve_forever", "run_simple", "accept", "_accept", "handle_request", "serve"})


@dataclass(frozen=True)
class Frame:
    file: str  # relative to the workspace for the learner's files, else the path as printed
    line: int
    function: str
    learner: bool


@dataclass(frozen=True)
class Context:
    """What the runner knows about the submission beyond the files it grades."""

    #: The files the exercise grades (``files`` in exercise.toml).
    graded: tuple[str, ...] = ()
    #: Module names of ``.py`` files in the learner's folder that are not graded.
    ungraded_modules: tuple[str, ...] = ()
    #: What learners' code may import besides the standard library ("flask 3.1", ...).
    packages: tuple[str, ...] = LEARNER_PACKAGES


# ---------------------------------------------------------------- learner host: app.run() at import


def server_at_import(file: str, line: int, call: str, *, importing: bool, factory: str) -> tuple[str, str]:
    """(message, advice) for ``app.run()`` (or ``run_simple``) called while the grader loads the code."""
    when = "when the module is imported" if importing else f"when {factory} is called"
    message = (f"{file} line {line} calls {call} {when}: the grader starts your app itself; "
               'put it under `if __name__ == "__main__":`')
    advice = ('Move app.run() under `if __name__ == "__main__":` at the bottom of the file (or remove it), '
              "then grade again: `flask run` and `python app.py` still work for you.")
    return message, advice


# ---------------------------------------------------------------- stack samples


def parse_stack(text: str) -> list[list[Frame]]:
    """The threads of a ``faulthandler`` dump (most recent call first), each a list of frames; the
    learner's files (under the header's workspace) are marked and shown relative to it."""
    workspace = ""
    threads: list[list[Frame]] = []
    current: list[Frame] | None = None
    for raw in text.splitlines():
        if raw.startswith(SAMPLE_HEADER):
            workspace = raw[len(SAMPLE_HEADER):].strip().rstrip("/") + "/"
            continue
        if _THREAD.match(raw) or raw.startswith("Stack (most recent call first)"):
            current = []
            threads.append(current)
            continue
        match = _FRAME.match(raw)
        if match is None:
            continue
        if current is None:
            current = []
            threads.append(current)
        path, line, function = match.group(1), int(match.group(2)), match.group(3)
        learner = bool(workspace) and path.startswith(workspace)
        current.append(Frame(path[len(workspace):] if learner else path, line, function, learner))
    return [thread for thread in threads if thread]


def _where(frame: Frame) -> str:
    return f"{frame.function}, {frame.file} line {frame.line}"


def _library(frame: Frame) -> str:
    name = frame.file.rsplit("/", 1)[-1].removesuffix(".py")
    return f"{frame.function} ({name})"


def stopped_at(sample: str) -> tuple[str, str]:
    """(a sentence, the learner's frames) for a stack sample: "stopped in update_bookmark, app.py
    line 97"; empty strings when the sample shows none of the learner's code."""
    found = []
    for thread in parse_stack(sample):
        mine = [frame for frame in thread if frame.learner]
        if mine:
            found.append((thread, mine))
    if not found:
        return "", ""
    parts = []
    lines = []
    for thread, mine in found[:3]:
        where = _where(mine[0])
        called = thread.index(mine[0])
        if called > 0:  # the library function the learner's line called, and was waiting in
            where += f" (in {_library(thread[called - 1])})"
        parts.append(where)
        lines.append("\n".join(f"  {_where(frame)}" for frame in mine[:8]))
    sentence = "stopped in " + "; and in ".join(parts)
    details = "Where your code was when it was stopped (most recent call first):\n" + "\n--\n".join(lines)
    return sentence, details


def _serving_in(sample: str) -> str:
    """The library function a sampled thread that runs learner code is serving in (serve_forever), if any."""
    for thread in parse_stack(sample):
        if not any(frame.learner for frame in thread):
            continue
        for frame in thread:
            if frame.learner:
                break
            if frame.function in _SERVING:
                return _library(frame)
    return ""


# ---------------------------------------------------------------- start-up problems


def _banner(output: str) -> str:
    """What the output says a server of the learner's own listens on ("http://127.0.0.1:5000"),
    "a development server" when only Flask's banner is there, "" when nothing says so."""
    return _banner_of(output)[:80]


def _banner_of(output: str) -> str:
    seen = ""
    for match in _BANNER.finditer(output):
        if match.group(1):
            return match.group(1).rstrip(".,")
        if match.group(2):
            return f"{match.group(2)} port {match.group(3)}"
        if match.group(4) or match.group(5):
            return (match.group(4) or match.group(5)).rstrip(".,")
        seen = "a development server"
    return seen


def _missing_module(problem: Problem, context: Context) -> Problem | None:
    match = _MISSING.search(problem.message) or _MISSING.search(problem.details)
    if match is None:
        return None
    name = match.group(1)
    top = name.split(".", 1)[0]
    graded = ", ".join(context.graded) or "the exercise's files"
    graded_modules = {f.removesuffix(".py").replace("/", ".") for f in context.graded}
    if top in graded_modules:
        return None
    if top in context.ungraded_modules:
        only = "only " + graded + (" is" if len(context.graded) == 1 else " are")
        first = context.graded[0] if context.graded else "the graded file"
        return replace(
            problem,
            message=f"Your code imports {top}, but {top}.py is not graded: {only} graded, so {top}.py "
                    f"is not there when your code runs ({problem.message}).",
            hint=f"{only.capitalize()} graded: move the code of {top}.py into {first} and import nothing "
                 "else of your own, then grade again.")
    available = ", ".join(context.packages)
    return replace(
        problem,
        message=f"Your code imports {name}, which is not installed for graded code ({problem.message}).",
        hint=f"Graded code can use the standard library and these packages only: {available}. "
             f"Remove the import of {top} (or write that part yourself), then grade again.")


def _port_in_use(problem: Problem, output: str) -> Problem | None:
    text = "\n".join((problem.message, problem.details, output))
    if not _IN_USE.search(text):
        return None
    port = _PORT_IN_USE.search(text)
    which = f"port {port.group(1)}" if port else "a port"
    return replace(
        problem,
        message=f"{problem.message.rstrip('.')}: your code tried to listen on {which} that is already in use.",
        hint="Do not start a server or open a listening socket when your module is imported or in create_app: "
             "the grader serves your app itself, on a port it picks. Keep app.run() under "
             '`if __name__ == "__main__":`.')


def _startup_timeout(problem: Problem, output: str, sample: str) -> Problem:
    sentence, frames = stopped_at(sample)
    server = _banner(output)
    serving = _serving_in(sample)
    message = problem.message.rstrip(".")
    hint = problem.hint
    if server:
        where = "" if server == "a development server" else f" on {server}"
        message += (f": the output shows a server of your own started{where} (Flask's development "
                    "server banner), and it never returns")
        hint = ("Do not run a server at import (app.run(), run_simple, serve_forever): the grader serves the "
                'app your create_app returns. Put app.run() under `if __name__ == "__main__":`.')
    elif serving:
        message += f": your code started a server of its own ({serving}), which never returns"
        hint = ("Do not start a server or open a listening socket at import: the grader serves the app your "
                "create_app returns, on its own port.")
    if sentence:
        message += f"; it was {sentence}"
        if not hint:
            hint = "Look at the line shown: a loop that never ends, or a call that waits for ever, at start-up."
    details = "\n\n".join(part for part in (frames, problem.details) if part)
    return replace(problem, message=message + ".", details=details, hint=hint)


def explain(problem: Problem, *, output: str = "", sample: str = "", context: Context = Context()) -> Problem:
    """A start-up problem (from the host, its death, or the start-up timeout) said more usefully
    when the output, the stack sample or the submission's folder shows why."""
    if problem.category is Category.TIMEOUT:
        return _startup_timeout(problem, output, sample)
    if problem.category in (Category.IMPORT_ERROR, Category.STARTUP_ERROR):
        better = _missing_module(problem, context) or _port_in_use(problem, output)
        if better is not None:
            return better
    if problem.category is Category.CRASH:
        better = _port_in_use(problem, output)
        if better is not None:
            return better
    return problem


def timed_out_check(message: str, sample: str) -> str:
    """A check's timeout message with where the learner's code was when it was stopped."""
    sentence, _ = stopped_at(sample)
    return f"{message.rstrip('.')}: your code was {sentence}." if sentence else message
