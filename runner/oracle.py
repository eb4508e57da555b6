"""A copy of the module under test inside a learner's test suite (the tests kind). Pure: text in, findings out.

A suite for the tests kind is worth what its expectations are worth. One that pastes the module
under test into the test file and asserts only that the module answers as the pasted copy does
(on a grid of inputs) kills nearly every mutant without one expectation of its own: the copy is
an oracle. This module finds such copies, so that a check can refuse them:

- ``find_copies``: function definitions of the test file, at any depth (methods, nested functions)
  and inside string constants that hold code (plain, concatenated, joined, bytes, base64, base64 of
  zlib), whose *normalised* AST is identical or highly similar to one of the module's functions
  (its public ones or its helpers). Normalised: docstrings, annotations, decorators and the
  function's own name dropped, every local and argument named ``v``, every other non-builtin name
  ``G`` (so renamed helpers and constants still match), every string ``S`` (messages may be
  reworded). Similarity is ``difflib``'s ratio over the tokens of the normalised dump.
- ``find_source_reads``: calls that read the module's source (``inspect.getsource``, ``open`` of
  ``pricing.py``, ...). While grading the module is a proxy, so they read the proxy and build an
  oracle that agrees with every mutant; they are reported so the learner learns why.

A copy of the module's constant tables alone is not a copy: a suite may restate the tiers the
statement gives. Only functions are compared.
"""

from __future__ import annotations

import ast
import base64
import binascii
import builtins
import difflib
import re
import textwrap
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

#: At or above this similarity a function is a copy.
THRESHOLD = 0.85
#: Below this many tokens a function is too small to judge by similarity: only an identical one counts.
MIN_TOKENS = 40
#: How deep code inside strings inside code is searched.
MAX_DEPTH = 3
_TOKEN = re.compile(r"\w+|[^\w\s]")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]{40,}$")
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class Copy:
    """A function of the test file that is a copy of the module's ``function``."""

    function: str  # the module's function it copies
    name: str  # its name in the test file
    where: str  # "line 12", or "line 40, in a string"
    similarity: float  # 0..1; 1.0 is identical once normalised

    def describe(self) -> str:
        same = "" if self.name == self.function else f" (as {self.name})"
        return f"{self.function}{same} at {self.where}, {self.similarity:.0%} similar"


@dataclass(frozen=True)
class SourceRead:
    """A call of the test file that reads the module's source."""

    call: str
    line: int

    def describe(self) -> str:
        return f"{self.call} at line {self.line}"


# ---------------------------------------------------------------- normalising a function


class _Normaliser(ast.NodeTransformer):
    def __init__(self, local: set[str]) -> None:
        self.local = local

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # the docstring
        return body or [ast.Pass()]

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.name = "f"
        node.decorator_list = []
        node.returns = None
        node.type_comment = None
        node.body = self._body(node.body)
        self.generic_visit(node)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._function(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._body(node.body)
        node.decorator_list = []
        self.generic_visit(node)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return ast.arg(arg="v")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.local:
            return ast.Name(id="v", ctx=node.ctx)
        return ast.Name(id=node.id if node.id in _BUILTINS else "G", ctx=node.ctx)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        if node.name is not None:
            node.name = "v"
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant(value="S") if isinstance(node.value, str | bytes) else node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return ast.Constant(value="S")  # an f-string is a message: its wording may change

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        if node.value is None:
            return None
        assign: ast.AST = self.visit(ast.Assign(targets=[node.target], value=node.value))
        return assign


def _locals(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names a function binds (its arguments, assignments, loop and ``with`` targets, ...)."""
    found: set[str] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.arg):
            found.add(inner.arg)
        elif isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store | ast.Del):
            found.add(inner.id)
        elif isinstance(inner, ast.ExceptHandler | ast.FunctionDef | ast.AsyncFunctionDef) and inner is not node:
            found.update([inner.name] if inner.name else [])
    return found


def normalised(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """The tokens of a function's normalised AST dump (see the module docstring)."""
    copy = ast.parse(ast.unparse(node)).body[0]  # a copy the transformer may change
    assert isinstance(copy, ast.FunctionDef | ast.AsyncFunctionDef)
    tree = _Normaliser(_locals(copy)).visit(copy)
    return _TOKEN.findall(ast.dump(tree, annotate_fields=False, include_attributes=False))


def similarity(a: Sequence[str], b: Sequence[str]) -> float:
    if not a or not b or 2 * min(len(a), len(b)) / (len(a) + len(b)) < THRESHOLD:
        return 0.0  # the lengths alone rule out a ratio that high
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < THRESHOLD or matcher.quick_ratio() < THRESHOLD:
        return 0.0
    return matcher.ratio()


# ---------------------------------------------------------------- code, including code in strings


def _string_value(node: ast.expr) -> str | None:
    """The text of a constant string expression: a literal, ``"a" + "b"``, ``"".join([...])``, bytes."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            return node.value
        if isinstance(node.value, bytes):
            return node.value.decode("utf-8", "replace")
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string_value(node.left), _string_value(node.right)
        return None if left is None or right is None else left + right
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
            and len(node.args) == 1 and isinstance(node.args[0], ast.List | ast.Tuple)):
        separator = _string_value(node.func.value)
        parts = [_string_value(item) for item in node.args[0].elts]
        if separator is not None and all(part is not None for part in parts):
            return separator.join(part for part in parts if part is not None)
    return None


def _decoded(text: str) -> Iterator[str]:
    """The text itself, and what it decodes to if it is base64 (of zlib-compressed) text."""
    yield text
    if not _BASE64.match(text):
        return
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return
    for data in (raw, _inflate(raw)):
        if data:
            yield data.decode("utf-8", "replace")


def _inflate(data: bytes) -> bytes | None:
    try:
        return zlib.decompress(data)
    except zlib.error:
        return None


def _code_in_strings(tree: ast.AST) -> Iterator[tuple[int, ast.Module]]:
    """(line, parsed code) for each string constant of ``tree`` that holds function definitions."""
    seen: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.expr) or id(node) in seen:
            continue
        value = _string_value(node)
        if value is None:
            continue
        for inner in ast.walk(node):
            seen.add(id(inner))  # the parts of a concatenation are not searched again alone
        for text in _decoded(value):
            if "def " not in text:
                continue
            try:
                yield getattr(node, "lineno", 0), ast.parse(textwrap.dedent(text))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue


def _functions(tree: ast.AST, depth: int = 0, line: int | None = None
               ) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str]]:
    """Every function definition in ``tree``, at any depth, and in code inside its strings."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node, f"line {node.lineno}" if line is None else f"line {line}, in a string"
    if depth < MAX_DEPTH:
        for at, code in _code_in_strings(tree):
            yield from _functions(code, depth + 1, at if line is None else line)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def find_copies(test_source: str, module_source: str, functions: Sequence[str]) -> list[Copy]:
    """Functions of ``test_source`` that copy a function of ``module_source``: one of its public
    ``functions`` or one of its helpers (any other function it defines at its top level).

    Each function of the test file is reported once, as a copy of the module function it is most
    similar to; public functions first, then by line."""
    module, tests = _parse(module_source), _parse(test_source)
    if module is None or tests is None:
        return []
    targets = [(node.name, normalised(node)) for node in module.body
               if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    copies: list[Copy] = []
    for node, where in _functions(tests):
        tokens = normalised(node)
        best: tuple[float, str] | None = None
        for name, target in targets:
            score = 1.0 if tokens == target else similarity(tokens, target)
            fuzzy_allowed = min(len(tokens), len(target)) >= MIN_TOKENS
            if (score == 1.0 or (fuzzy_allowed and score >= THRESHOLD)) and (best is None or score > best[0]):
                best = (score, name)
        if best is not None:
            copies.append(Copy(best[1], node.name, where, round(best[0], 3)))
    order = {name: index for index, name in enumerate(functions)}
    return sorted(copies, key=lambda c: (order.get(c.function, len(order)), _line(c.where)))


def _line(where: str) -> int:
    match = re.search(r"\d+", where)
    return int(match.group()) if match else 0


# ---------------------------------------------------------------- reading the module's source

#: Calls that hand back source code (or where it lives) for the object they are given.
_SOURCE_CALLS = frozenset({"getsource", "getsourcelines", "getsourcefile", "getfile", "findsource", "getlines",
                           "getline", "spec_from_file_location", "SourceFileLoader", "get_source", "get_data"})
_READ_CALLS = frozenset({"open", "read_text", "read_bytes", "Path", "FileIO", "fromfile", "loadtxt"})


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def find_source_reads(test_source: str, module: str) -> list[SourceRead]:
    """Calls of ``test_source`` that read the source of ``module`` (a dotted module name): the
    inspect/linecache/importlib source functions, and file reads naming ``<module>.py``. The
    module's ``__file__`` or ``__spec__`` is reported too."""
    tree = _parse(test_source)
    if tree is None:
        return []
    filename = module.rsplit(".", 1)[-1] + ".py"
    found: list[SourceRead] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in _SOURCE_CALLS:
                found.append(SourceRead(f"{name}()", node.lineno))
            elif name in _READ_CALLS and any(filename in (_string_value(arg) or "")
                                             for arg in [*node.args, *(k.value for k in node.keywords)]):
                found.append(SourceRead(f"{name}({filename!r})", node.lineno))
        elif isinstance(node, ast.Attribute) and node.attr in ("__file__", "__spec__", "__loader__", "__cached__"):
            found.append(SourceRead(node.attr, node.lineno))
    return sorted(set(found), key=lambda r: (r.line, r.call))
