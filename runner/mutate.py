"""Machine-made mutants of Python source, to measure how strong an exercise's hidden checks are. Pure.

``runner validate`` grades every mutant of a reference solution with the hidden checks: the share
they kill is the checks' strength, and each survivor is shown to the author (with its diff) so that
they add a check or mark it equivalent, by id, with a reason. Hence the two properties that matter:

* ids are stable across unrelated edits: a digest of the file, the enclosing qualname, the source
  of the enclosing statement before and after the change, and how many identical changes precede it
  in that qualname; never a line number, so that a marked mutant stays marked;
* every mutant is a small, readable, compilable change: the replacement is spliced into the
  original text (comments and formatting kept), never ``ast.unparse`` of the whole file.

No I/O at all (no files, no subprocesses, no clock): text in, mutants out.
"""

from __future__ import annotations

import ast
import bisect
import difflib
import hashlib
import io
import re
import tokenize
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

OPERATORS: dict[str, str] = {
    "comparison": "a comparison's boundary or negation: `<`→`<=`, `>=`→`>`, `==`↔`!=`, `in`↔`not in`, `is`↔`is not`",
    "boolean": "`and`↔`or`, a `not` removed, `True`↔`False`",
    "arithmetic": "`+`↔`-`, `*`→`/`, `/`→`*`, `//`→`/`, `%`→`//`, and the same in augmented assignments",
    "constant": "an integer n → n+1 and n-1, a non-empty string (or f-string) → `\"\"`",
    "statement": "one statement removed (`pass` when it is the only one of its block)",
    "branch": "an `if`/`elif` condition forced to `True` and to `False`, an `else`/`elif` branch removed",
    "return": "`return <expr>` → `return None`; with exactly two distinct return values, one swapped for the other",
}


@dataclass(frozen=True)
class Mutant:
    """One small change to one file of a solution, with everything needed to grade and to show it."""

    id: str  # f"{file}:{operator}:{digest}", stable across unrelated edits (no line number in it)
    file: str
    operator: str  # a key of OPERATORS
    line: int  # 1-based line of the change in the original text
    qualname: str  # the enclosing function or class, dotted ("create_app.list_bookmarks"), "<module>" at top level
    description: str  # one short line, e.g. "`>` → `>=`" or "removed `session.commit()`"
    diff: str  # unified diff, two lines of context, headers a/<file> and b/<file>
    files: dict[str, str] = field(compare=False, repr=False)  # all the input files, this one mutated


def generate(
    files: Mapping[str, str], *, only: Iterable[str] | None = None, operators: Iterable[str] | None = None
) -> list[Mutant]:
    """Every mutant of every ``.py`` file in ``files`` (or of those named in ``only``).

    The order is deterministic: (file, line, column, operator). A file that does not parse yields no
    mutants rather than an exception, since the author will hear about it from the checks anyway.
    Every mutant compiles and differs from the original; mutants with the same resulting text are
    kept once. ``only`` naming a file absent from ``files``, or ``operators`` naming an unknown
    operator, raises ValueError: a typo must not silently shrink the set and inflate the strength.
    """
    chosen_ops = frozenset(OPERATORS) if operators is None else frozenset(operators)
    unknown_ops = sorted(chosen_ops - OPERATORS.keys())
    if unknown_ops:
        raise ValueError(f"unknown mutation operator(s) {unknown_ops}; known: {sorted(OPERATORS)}")
    names = sorted(files) if only is None else sorted(set(only))
    missing = [name for name in names if name not in files]
    if missing:
        raise ValueError(f"no such file(s) to mutate: {missing}; given: {sorted(files)}")
    mutants: list[Mutant] = []
    for name in names:
        if name.endswith(".py"):
            mutants.extend(_mutants_of(files, name, chosen_ops))
    return mutants


# ------------------------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Edit:
    """Replace ``text[start:end]`` by ``replacement``; ``context`` is the span hashed into the id."""

    operator: str
    start: int
    end: int
    replacement: str
    description: str
    context: tuple[int, int]
    qualname: str


_PRAGMA = re.compile(r"#\s*pragma:\s*no\s+mutate\b", re.IGNORECASE)
_COMPARE_TOKEN = re.compile(r"<=|>=|==|!=|<|>|not\s+in\b|is\s+not\b|in\b|is\b")
_BINOP_TOKEN = re.compile(r"\*\*|//|<<|>>|[-+*/%@|&^]")
_AUGOP_TOKEN = re.compile(r"(?:\*\*|//|<<|>>|[-+*/%@|&^])=")
_BOOLOP_TOKEN = re.compile(r"(?:and|or)\b")
_ELSE_LINE = re.compile(r"[ \t]*else[ \t]*:")

_COMPARE_SWAP: dict[type[ast.cmpop], tuple[str, str]] = {
    ast.Lt: ("<", "<="),
    ast.LtE: ("<=", "<"),
    ast.Gt: (">", ">="),
    ast.GtE: (">=", ">"),
    ast.Eq: ("==", "!="),
    ast.NotEq: ("!=", "=="),
    ast.In: ("in", "not in"),
    ast.NotIn: ("not in", "in"),
    ast.Is: ("is", "is not"),
    ast.IsNot: ("is not", "is"),
}
_ARITH_SWAP: dict[type[ast.operator], tuple[str, str]] = {
    ast.Add: ("+", "-"),
    ast.Sub: ("-", "+"),
    ast.Mult: ("*", "/"),
    ast.Div: ("/", "*"),
    ast.FloorDiv: ("//", "/"),
    ast.Mod: ("%", "//"),
}
# Calls whose string arguments are type names, not behaviour.
_TYPING_CALLS = frozenset({"cast", "TypeVar", "NewType", "ParamSpec", "TypeVarTuple", "TypeAliasType"})


def _short(text: str, limit: int = 48) -> str:
    """One line of at most ``limit`` characters, for a description."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _Source:
    """The text of one file, with conversions from ast positions (UTF-8 byte columns) to offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
        self.pragma_lines = _pragma_lines(text)

    def offset(self, lineno: int, col: int) -> int:
        start = self.line_starts[lineno - 1]
        end = self.line_starts[lineno] if lineno < len(self.line_starts) else len(self.text)
        line = self.text[start:end]
        if line.isascii():
            return start + col
        return start + len(line.encode("utf-8")[:col].decode("utf-8", errors="replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        lineno, col = getattr(node, "lineno", None), getattr(node, "col_offset", None)
        end_lineno, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        assert None not in (lineno, col, end_lineno, end_col), "parsed nodes carry their positions"
        return self.offset(int(lineno), int(col)), self.offset(int(end_lineno), int(end_col))  # type: ignore[arg-type]

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset)

    def line_start(self, lineno: int) -> int:
        return self.line_starts[lineno - 1]

    def line_end(self, lineno: int) -> int:
        """The offset just past line ``lineno``'s newline (or the end of the text)."""
        return self.line_starts[lineno] if lineno < len(self.line_starts) else len(self.text)

    def touches_pragma(self, start: int, end: int) -> bool:
        first, last = self.line_of(start), self.line_of(max(start, end - 1))
        return any(first <= line <= last for line in self.pragma_lines)

    def find_token(self, start: int, end: int, pattern: re.Pattern[str]) -> tuple[int, int] | None:
        """The operator token between two operands: skip blanks, parentheses, continuations, comments."""
        text, i = self.text, start
        while i < end:
            char = text[i]
            if char in " \t\r\n\f()\\":
                i += 1
            elif char == "#":
                newline = text.find("\n", i, end)
                i = end if newline < 0 else newline + 1
            else:
                match = pattern.match(text, i, end)
                return (i, match.end()) if match else None
        return None


def _pragma_lines(text: str) -> frozenset[int]:
    lines: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT and _PRAGMA.search(token.string):
                lines.add(token.start[0])
    except (tokenize.TokenError, SyntaxError):
        pass
    return frozenset(lines)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _is_main_guard(stmt: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either way round): a script entry point, never graded."""
    if not (isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Compare)):
        return False
    test = stmt.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [side.id for side in sides if isinstance(side, ast.Name)]
    values = [side.value for side in sides if isinstance(side, ast.Constant)]
    return names == ["__name__"] and values == ["__main__"]


def _is_type_checking(stmt: ast.stmt) -> bool:
    """``if TYPE_CHECKING:``: imports for the type checker only."""
    if not isinstance(stmt, ast.If):
        return False
    test = stmt.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_string(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _own_returns(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.Return]:
    """The ``return`` statements of ``function`` itself, not of functions or classes nested in it."""
    found: list[ast.Return] = []
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Return):
            found.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
    return sorted(found, key=lambda node: (node.lineno, node.col_offset))


def _declares_names(stmt: ast.Assign) -> bool:
    """``__all__ = [...]`` or ``__slots__ = ...``: declarations about names, not behaviour to check."""
    return any(isinstance(target, ast.Name) and target.id in ("__all__", "__slots__") for target in stmt.targets)


def _is_plain_value(node: ast.expr) -> bool:
    """A constant, a name or an attribute (possibly negated): a value worth returning instead of another."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not):
        node = node.operand
    return isinstance(node, ast.Constant | ast.Name | ast.Attribute)


_SIMPLE_STATEMENTS = (
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Expr,
    ast.Raise,
    ast.Assert,
    ast.Delete,
    ast.Break,
    ast.Continue,
)


class _Collector:
    """Walks one module and records every candidate edit, skipping what must never be mutated."""

    def __init__(self, source: _Source, operators: frozenset[str]) -> None:
        self.source = source
        self.operators = operators
        self.edits: list[_Edit] = []
        self.scope: list[str] = []
        self.context: tuple[int, int] = (0, 0)
        self.function_names: list[str] = []

    # -- recording

    @property
    def qualname(self) -> str:
        return ".".join(self.scope) or "<module>"

    def add(self, operator: str, start: int, end: int, replacement: str, description: str,
            context: tuple[int, int] | None = None) -> None:
        if operator not in self.operators or self.source.touches_pragma(start, end):
            return
        low, high = context or self.context
        self.edits.append(
            _Edit(operator, start, end, replacement, description, (min(low, start), max(high, end)), self.qualname)
        )

    # -- statements

    def block(self, stmts: list[ast.stmt], *, docstring: bool = False) -> None:
        for index, stmt in enumerate(stmts):
            if index == 0 and docstring and _is_docstring(stmt):
                continue
            if _is_main_guard(stmt) or _is_type_checking(stmt):
                continue
            self.context = self.source.span(stmt)
            self.removal(stmt, stmts)
            self.statement(stmt)

    def removal(self, stmt: ast.stmt, stmts: list[ast.stmt]) -> None:
        """Remove a simple statement: its whole lines when it has them to itself, else ``pass`` in its place."""
        if not isinstance(stmt, _SIMPLE_STATEMENTS):
            return
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return  # a bare constant (a string used as a comment, `...`): removing it changes nothing
        if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
            return  # a bare annotation
        if isinstance(stmt, ast.Assign) and _declares_names(stmt):
            return
        source = self.source
        start, end = source.span(stmt)
        description = f"removed `{_short(source.text[start:end])}`"
        first, last = stmt.lineno, source.line_of(max(start, end - 1))
        before = source.text[source.line_start(first):start]
        after = source.text[end:source.line_end(last)]
        whole_lines = not before.strip() and (not after.strip() or after.strip().startswith("#"))
        if len(stmts) > 1 and whole_lines:
            self.add("statement", source.line_start(first), source.line_end(last), "", description)
        else:
            self.add("statement", start, end, "pass", description)

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            self.function(stmt)
        elif isinstance(stmt, ast.ClassDef):
            for expr in [*stmt.bases, *(keyword.value for keyword in stmt.keywords)]:
                self.top_expr(expr)
            self.scope.append(stmt.name)
            self.block(stmt.body, docstring=True)
            self.scope.pop()
        elif isinstance(stmt, ast.If):
            self.if_statement(stmt)
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            self.top_expr(stmt.target)
            self.top_expr(stmt.iter)
            self.block(stmt.body)
            self.block(stmt.orelse)
        elif isinstance(stmt, ast.While):
            self.top_expr(stmt.test)
            self.block(stmt.body)
            self.block(stmt.orelse)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                self.top_expr(item.context_expr)
            self.block(stmt.body)
        elif isinstance(stmt, ast.Try | ast.TryStar):
            self.block(stmt.body)
            for handler in stmt.handlers:
                if handler.type is not None:
                    self.top_expr(handler.type)
                self.block(handler.body)
            self.block(stmt.orelse)
            self.block(stmt.finalbody)
        elif isinstance(stmt, ast.Match):
            self.top_expr(stmt.subject)
            for case in stmt.cases:
                if case.guard is not None:
                    self.top_expr(case.guard)
                self.block(case.body)
        elif isinstance(stmt, ast.Return):
            self.return_statement(stmt)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:  # never the annotation
                self.expr(stmt.value)
        elif isinstance(stmt, ast.Assign):
            if _declares_names(stmt):
                return
            for child in [*stmt.targets, stmt.value]:
                self.expr(child)
        elif isinstance(stmt, ast.AugAssign):
            self.aug_assign(stmt)
        elif isinstance(stmt, ast.Assert):
            self.expr(stmt.test)  # not the message: it only matters once the assertion has failed
        elif isinstance(stmt, ast.Expr):
            if not isinstance(stmt.value, ast.Constant):
                self.expr(stmt.value)
        elif isinstance(stmt, ast.Import | ast.ImportFrom | ast.Global | ast.Nonlocal | ast.Pass):
            return
        else:  # Raise, Delete, Break, Continue, TypeAlias...
            for part in ast.iter_child_nodes(stmt):
                if isinstance(part, ast.expr):
                    self.expr(part)

    def function(self, stmt: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """Defaults are mutated; decorators, annotations and the docstring are not."""
        self.scope.append(stmt.name)
        self.function_names.append(stmt.name)
        for default in [*stmt.args.defaults, *(d for d in stmt.args.kw_defaults if d is not None)]:
            self.top_expr(default)
        self.swapped_returns(stmt)
        self.block(stmt.body, docstring=True)
        self.function_names.pop()
        self.scope.pop()

    def top_expr(self, expr: ast.expr) -> None:
        """An expression of a compound statement's header: it is its own context."""
        self.context = self.source.span(expr)
        self.expr(expr)

    def if_statement(self, stmt: ast.If) -> None:
        source = self.source
        keyword = "elif" if source.text.startswith("elif", source.span(stmt)[0]) else "if"
        if not isinstance(stmt.test, ast.Constant):
            start, end = source.span(stmt.test)
            header = _short(source.text[start:end], 40)
            for forced in ("True", "False"):
                self.add("branch", start, end, forced, f"`{keyword} {header}` → `{keyword} {forced}`", (start, end))
        self.top_expr(stmt.test)
        self.block(stmt.body)
        if stmt.orelse:
            self.else_removal(stmt)
            if len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If) and source.text.startswith(
                "elif", source.span(stmt.orelse[0])[0]
            ):
                self.context = source.span(stmt.orelse[0])
                self.statement(stmt.orelse[0])  # the elif chain: a statement of no block of its own
            else:
                self.block(stmt.orelse)

    def else_removal(self, stmt: ast.If) -> None:
        """Remove the ``else:`` (or ``elif ...:``) line and everything under it."""
        source = self.source
        first = stmt.orelse[0]
        last = stmt.orelse[-1]
        start_offset, _ = source.span(first)
        if isinstance(first, ast.If) and source.text.startswith("elif", start_offset):
            header_line = first.lineno
            what = f"`elif {_short(source.segment(first.test), 40)}` branch"
        else:
            body_end = source.line_of(source.span(stmt.body[-1])[1] - 1)
            candidates = [
                lineno
                for lineno in range(body_end + 1, first.lineno + 1)
                if _ELSE_LINE.match(source.text, source.line_start(lineno))
            ]
            if not candidates:
                return  # `if x: a\nelse: b` on one line cannot be; anything else unexpected is left alone
            header_line = candidates[0]
            what = "`else` branch"
        start = source.line_start(header_line)
        end = source.line_end(source.line_of(source.span(last)[1] - 1))
        self.add("branch", start, end, "", f"removed {what}", (start, end))

    def return_statement(self, stmt: ast.Return) -> None:
        value = stmt.value
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            in_init = bool(self.function_names) and self.function_names[-1] == "__init__"
            if not in_init:
                start, end = self.source.span(value)
                was = _short(self.source.text[start:end], 36)
                self.add("return", start, end, "None", f"`return {was}` → `return None`")
        if value is not None:
            self.expr(value)

    def swapped_returns(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """With exactly two distinct return values (``True``/``False``, a value/``None``), return the other."""
        if function.name == "__init__":
            return
        returns = _own_returns(function)
        source = self.source

        def text_of(node: ast.Return) -> str:
            return "None" if node.value is None else source.segment(node.value)

        def key(node: ast.Return) -> str:
            return "None" if node.value is None else ast.dump(node.value)

        distinct: dict[str, str] = {}
        for node in returns:
            distinct.setdefault(key(node), text_of(node))
        if len(distinct) != 2 or not all(node.value is None or _is_plain_value(node.value) for node in returns):
            return  # swapping two calls mostly duplicates a removed statement or a crash; values are the point
        for node in returns:
            other = next(text for k, text in distinct.items() if k != key(node))
            replacement = f"({other})" if "\n" in other else other
            context = source.span(node)
            if node.value is None:
                _, end = context
                self.add("return", end, end, f" {replacement}", f"`return` → `return {_short(other, 36)}`", context)
            else:
                start, end = source.span(node.value)
                was = _short(source.text[start:end], 24)
                self.add("return", start, end, replacement, f"`return {was}` → `return {_short(other, 24)}`", context)

    def aug_assign(self, stmt: ast.AugAssign) -> None:
        swap = _ARITH_SWAP.get(type(stmt.op))
        if swap is not None and not _is_string(stmt.value):
            between = self.source.span(stmt.target)[1], self.source.span(stmt.value)[0]
            token = self.source.find_token(*between, _AUGOP_TOKEN)
            if token is not None and self.source.text[token[0]:token[1]] == swap[0] + "=":
                self.add("arithmetic", token[0], token[1], swap[1] + "=", f"`{swap[0]}=` → `{swap[1]}=`")
        self.expr(stmt.target)
        self.expr(stmt.value)

    # -- expressions

    def expr(self, node: ast.expr) -> None:
        source = self.source
        if isinstance(node, ast.JoinedStr):
            if node.values:  # the whole f-string; never the pieces inside it
                start, end = source.span(node)
                self.add("constant", start, end, '""', f"`{_short(source.text[start:end], 40)}` → `\"\"`")
            return
        if isinstance(node, ast.Constant):
            self.constant(node)
            return
        if isinstance(node, ast.Compare):
            self.compare(node)
        elif isinstance(node, ast.BoolOp):
            word = "and" if isinstance(node.op, ast.And) else "or"
            other = "or" if word == "and" else "and"
            for left, right in zip(node.values, node.values[1:], strict=False):
                token = source.find_token(source.span(left)[1], source.span(right)[0], _BOOLOP_TOKEN)
                if token is not None and source.text[token[0]:token[1]] == word:
                    self.add("boolean", token[0], token[1], other, f"`{word}` → `{other}`")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            start, _ = source.span(node)
            operand_start, _ = source.span(node.operand)
            operand = source.segment(node.operand)
            if source.text.startswith("not", start):
                cut = start + 3
                while cut < operand_start and source.text[cut] in " \t":
                    cut += 1
                self.add("boolean", start, cut, "", f"`not {_short(operand, 32)}` → `{_short(operand, 32)}`")
        elif isinstance(node, ast.BinOp):
            swap = _ARITH_SWAP.get(type(node.op))
            if swap is not None and not (_is_string(node.left) or _is_string(node.right)):
                token = source.find_token(source.span(node.left)[1], source.span(node.right)[0], _BINOP_TOKEN)
                if token is not None and source.text[token[0]:token[1]] == swap[0]:
                    self.add("arithmetic", token[0], token[1], swap[1], f"`{swap[0]}` → `{swap[1]}`")
        elif isinstance(node, ast.Call):
            callee = node.func
            called = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", "")
            if called in _TYPING_CALLS:
                self.expr(callee)
                return
        elif isinstance(node, ast.Lambda):
            for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
                self.expr(default)
            self.expr(node.body)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child)
            elif isinstance(child, ast.comprehension):
                for part in [child.target, child.iter, *child.ifs]:
                    self.expr(part)
            elif isinstance(child, ast.keyword):
                self.expr(child.value)

    def constant(self, node: ast.Constant) -> None:
        start, end = self.source.span(node)
        written = self.source.text[start:end]
        value = node.value
        if isinstance(value, bool):
            flipped = "False" if value else "True"
            self.add("boolean", start, end, flipped, f"`{written}` → `{flipped}`")
        elif isinstance(value, int):
            for changed in (value + 1, value - 1):
                self.add("constant", start, end, str(changed), f"`{_short(written, 24)}` → `{changed}`")
        elif isinstance(value, str) and value:
            self.add("constant", start, end, '""', f"`{_short(written, 40)}` → `\"\"`")

    def compare(self, node: ast.Compare) -> None:
        source = self.source
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            was, becomes = _COMPARE_SWAP[type(op)]
            token = source.find_token(source.span(left)[1], source.span(right)[0], _COMPARE_TOKEN)
            if token is None or " ".join(source.text[token[0]:token[1]].split()) != was:
                continue
            self.add("comparison", token[0], token[1], becomes, f"`{was}` → `{becomes}`")


def _compiles(text: str, name: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a mutant's SyntaxWarning is no reason to print anything
        try:
            compile(text, name, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return False
    return True


def _diff(name: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}", n=2
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _mutants_of(files: Mapping[str, str], name: str, operators: frozenset[str]) -> Iterator[Mutant]:
    text = files[name]
    try:
        tree = ast.parse(text, filename=name)
    except (SyntaxError, ValueError):
        return
    source = _Source(text)
    collector = _Collector(source, operators)
    collector.block(tree.body, docstring=True)

    def order(item: tuple[int, _Edit]) -> tuple[int, int, str, int]:
        index, edit = item
        line = source.line_of(edit.start)
        return line, edit.start - source.line_start(line), edit.operator, index

    seen: set[str] = {text}
    occurrences: dict[tuple[str, str, str, str], int] = {}
    for _, edit in sorted(enumerate(collector.edits), key=order):
        mutated = text[: edit.start] + edit.replacement + text[edit.end :]
        if mutated in seen or not _compiles(mutated, name):
            continue
        seen.add(mutated)
        low, high = edit.context
        before = text[low:high].strip()
        after = (text[low : edit.start] + edit.replacement + text[edit.end : high]).strip()
        pair = (edit.operator, edit.qualname, before, after)
        occurrence = occurrences.get(pair, 0)
        occurrences[pair] = occurrence + 1
        payload = "\x00".join([name, edit.qualname, before, after, str(occurrence)])
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:8]
        yield Mutant(
            id=f"{name}:{edit.operator}:{digest}",
            file=name,
            operator=edit.operator,
            line=source.line_of(edit.start),
            qualname=edit.qualname,
            description=edit.description,
            diff=_diff(name, text, mutated),
            files={**files, name: mutated},
        )
