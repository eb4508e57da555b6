"""The mutant generator: each operator's change, what is never touched, stable ids, and purity."""

import ast
import dataclasses
from pathlib import Path

import pytest

from runner.mutate import OPERATORS, Mutant, generate

SAMPLE = '''\
"""A module docstring."""

from __future__ import annotations

import os

__all__ = ["price", "Cart"]
LIMIT = 10


def price(cents: int, percent: int = 0) -> int:
    """The discounted price."""
    if percent < 0 or percent > 100:
        raise ValueError("percent out of range")
    elif not cents:
        return 0
    else:
        cents -= cents * percent // 100
    return cents


class Cart:
    size: int = 3

    def __init__(self) -> None:
        self.items: list[str] = []
        return None

    def full(self) -> bool:
        if len(self.items) >= LIMIT and os.sep in "/\\\\":
            return True
        return False


if __name__ == "__main__":
    print(price(1000, 10) + 1)
'''


def texts(source: str, operator: str) -> list[str]:
    return [mutant.files["m.py"] for mutant in generate({"m.py": source}, operators=[operator])]


def only_change(source: str, operator: str) -> str:
    (text,) = texts(source, operator)
    return text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("x = a < b\n", "x = a <= b\n"),
        ("x = a <= b\n", "x = a < b\n"),
        ("x = a > b\n", "x = a >= b\n"),
        ("x = a >= b\n", "x = a > b\n"),
        ("x = a == b\n", "x = a != b\n"),
        ("x = a != b\n", "x = a == b\n"),
        ("x = a in b\n", "x = a not in b\n"),
        ("x = a not  in b\n", "x = a in b\n"),
        ("x = a is b\n", "x = a is not b\n"),
        ("x = a is not b\n", "x = a is b\n"),
        ("x = (a  # left\n     ) < (b)\n", "x = (a  # left\n     ) <= (b)\n"),
    ],
)
def test_comparison_boundary_and_negation(before, after):
    """One variant per comparison operator, found in the source text even across comments."""
    assert only_change(before, "comparison") == after


def test_chained_comparisons_mutate_each_operator():
    assert texts("x = a < b == c\n", "comparison") == ["x = a <= b == c\n", "x = a < b != c\n"]


def test_boolean_operators():
    """`and`↔`or`, `not` dropped, `True`↔`False`."""
    assert texts("x = a and b or c\n", "boolean") == ["x = a or b or c\n", "x = a and b and c\n"]
    assert texts("x = not a\ny = True\nz = False\n", "boolean") == [
        "x = a\ny = True\nz = False\n",
        "x = not a\ny = False\nz = False\n",
        "x = not a\ny = True\nz = True\n",
    ]
    assert texts("x = c and not (a or b)\n", "boolean") == [  # the parentheses stay: precedence is kept
        "x = c or not (a or b)\n",
        "x = c and (a or b)\n",
        "x = c and not (a and b)\n",
    ]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("x = a + b\n", "x = a - b\n"),
        ("x = a - b\n", "x = a + b\n"),
        ("x = a * b\n", "x = a / b\n"),
        ("x = a / b\n", "x = a * b\n"),
        ("x = a // b\n", "x = a / b\n"),
        ("x = a % b\n", "x = a // b\n"),
        ("x += 1\n", "x -= 1\n"),
        ("x -= y\n", "x += y\n"),
    ],
)
def test_arithmetic(before, after):
    assert only_change(before, "arithmetic") == after


def test_string_concatenation_and_formatting_are_not_arithmetic():
    assert texts('x = "a" + b\ny = "%s" % b\nz = f"{a}" + b\nname += "!"\n', "arithmetic") == []


def test_integer_and_string_constants():
    """n → n+1 and n-1; non-empty strings and f-strings → "", never the parts of an f-string."""
    assert texts("x = 5\n", "constant") == ["x = 6\n", "x = 4\n"]
    assert texts("x = 0\n", "constant") == ["x = 1\n", "x = -1\n"]
    assert texts('d = {"k": ""}\n', "constant") == ['d = {"": ""}\n']
    assert texts('s = f"n={n + 1:>{width}}"\n', "constant") == ['s = ""\n']


def test_statement_removal_takes_whole_lines_or_leaves_pass():
    source = "def f(a):\n    a.x = 1  # set it\n    a.save()\n    if a:\n        a.go()\n"
    assert texts(source, "statement") == [
        "def f(a):\n    a.save()\n    if a:\n        a.go()\n",
        "def f(a):\n    a.x = 1  # set it\n    if a:\n        a.go()\n",
        "def f(a):\n    a.x = 1  # set it\n    a.save()\n    if a:\n        pass\n",
    ]
    assert texts("a = 1; b = 2\n", "statement") == ["pass; b = 2\n", "a = 1; pass\n"]


def test_statement_removal_skips_what_must_stay():
    """Imports, `pass`, `global`, returns, bare annotations and module-level definitions stay."""
    source = (
        "import os\nfrom x import y\n\n\nclass A:\n    pass\n\n\nclass B:\n    n: int\n\n\n"
        "def f():\n    global G\n    return 1\n"
    )
    assert texts(source, "statement") == []


def test_branch_forced_and_else_removed():
    head = "def f(a):\n    if a > 1:\n        return 1\n"
    elif_ = "    elif a:\n        return 2\n"
    else_ = "    else:\n        return 3\n"
    results = texts(head + elif_ + else_, "branch")
    assert head.replace("a > 1", "True") + elif_ + else_ in results
    assert head + elif_.replace("elif a", "elif False") + else_ in results
    assert head in results  # the elif and everything under it
    assert head + elif_ in results  # only the else
    assert len(results) == 6


def test_returns_become_none_and_two_values_swap():
    assert texts("def f(x):\n    return x + 1\n", "return") == ["def f(x):\n    return None\n"]
    source = "def f(x):\n    if x:\n        return True\n    return False\n"
    assert texts(source, "return") == [
        "def f(x):\n    if x:\n        return False\n    return False\n",
        "def f(x):\n    if x:\n        return None\n    return False\n",
        "def f(x):\n    if x:\n        return True\n    return True\n",
        "def f(x):\n    if x:\n        return True\n    return None\n",
    ]
    assert texts("def f():\n    return None\n", "return") == []
    assert texts("class A:\n    def __init__(self):\n        return self.x\n", "return") == []


def test_docstrings_annotations_decorators_main_and_pragma_are_untouched():
    source = (
        '"""Doc 1."""\n\n\n@app.get("/x", code=1)\n'
        'def f(a: "int" = 2, *, b: Literal["q"] = "r") -> "str":\n'
        '    """Doc 2."""\n    y: Annotated[int, "meta"] = 5\n'
        "    z = a < 1  # pragma: no mutate\n    return y\n\n\n"
        'if __name__ == "__main__":\n    f(1 + 2)\n'
    )
    changed = set()
    for mutant in generate({"m.py": source}):
        before, after = source.splitlines(), mutant.files["m.py"].splitlines()
        changed.update(line for line in before if line not in after)
    assert changed == {
        "def f(a: \"int\" = 2, *, b: Literal[\"q\"] = \"r\") -> \"str\":",  # its defaults
        '    y: Annotated[int, "meta"] = 5',  # its value, or the statement
        "    return y",
    }
    values = {m.description for m in generate({"m.py": source}) if m.line == 5}
    assert values == {"`2` → `3`", "`2` → `1`", '`"r"` → `""`'}


def test_every_mutant_compiles_differs_and_is_unique():
    mutants = generate({"m.py": SAMPLE})
    assert {m.operator for m in mutants} == set(OPERATORS)
    assert len({m.files["m.py"] for m in mutants}) == len(mutants)
    assert len({m.id for m in mutants}) == len(mutants)
    for mutant in mutants:
        assert mutant.files["m.py"] != SAMPLE
        compile(mutant.files["m.py"], "m.py", "exec")
        assert mutant.id.startswith(f"m.py:{mutant.operator}:") and len(mutant.id.rsplit(":", 1)[1]) == 8
        assert "\n" not in mutant.description and mutant.description


def test_sample_skips_docstrings_all_init_and_main():
    mutants = generate({"m.py": SAMPLE})
    lines = SAMPLE.splitlines()
    touched = {lines[m.line - 1] for m in mutants}
    never = ('"""', "__all__", "from", "import", "if __name__", "    print")
    assert not any(line.startswith(never) for line in touched)
    assert "        return None" not in touched  # nothing to do in __init__'s `return None`
    assert next(m.qualname for m in mutants if m.line == 31) == "Cart.full"
    assert {m.qualname for m in mutants if m.line == 8} == {"<module>"}


def test_ids_are_stable_when_unrelated_lines_are_inserted_above():
    edited = SAMPLE.replace("LIMIT = 10\n", "LIMIT = 10\nOTHER = 1  # new\n\n\ndef g():\n    return 4\n")
    before = {m.id: m.description for m in generate({"m.py": SAMPLE})}
    after = {m.id: m.description for m in generate({"m.py": edited})}
    assert set(before) <= set(after)
    assert all(after[key] == description for key, description in before.items())


def test_identical_changes_in_one_function_get_distinct_ids():
    mutants = generate({"m.py": "def f(a):\n    a.save()\n    a.save()\n"}, operators=["statement"])
    assert len(mutants) == 1  # the same resulting text: kept once
    mutants = generate({"m.py": "def f(a):\n    a.save()\n    a.x()\n    a.save()\n"}, operators=["statement"])
    assert len({m.id for m in mutants}) == 3


def test_mutant_fields_diff_and_other_files():
    files = {"app.py": "x = 1 < 2\n", "util.py": "y = 3\n", "notes.txt": "not python"}
    (mutant,) = generate(files, only=["app.py"], operators=["comparison"])
    assert mutant == Mutant(
        id=mutant.id,
        file="app.py",
        operator="comparison",
        line=1,
        qualname="<module>",
        description="`<` → `<=`",
        diff="--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-x = 1 < 2\n+x = 1 <= 2\n",
        files={},
    )
    assert mutant.files == {**files, "app.py": "x = 1 <= 2\n"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        mutant.line = 2  # type: ignore[misc]


def test_non_ascii_columns():
    """ast columns are UTF-8 bytes; the splice is in characters."""
    assert only_change('s = "é"; x = a < b\n', "comparison") == 's = "é"; x = a <= b\n'


def test_deterministic_order():
    files = {"b.py": SAMPLE, "a.py": "x = 1 + 2\n"}
    first, second = generate(files), generate(dict(reversed(files.items())))
    assert first == second
    assert [m.file for m in first] == sorted(m.file for m in first)
    keys = [m.line for m in first if m.file == "b.py"]
    assert keys == sorted(keys)


def test_unparsable_and_non_python_files_yield_nothing():
    assert generate({"bad.py": "def f(:\n    return 1 < 2\n", "data.json": '{"a": 1 < 2}'}) == []
    assert generate({"nul.py": "x = 1\x00\n"}) == []


def test_filters_and_errors():
    files = {"a.py": "x = 1 < 2\n", "b.py": "y = True\n"}
    assert {m.file for m in generate(files, only=["b.py"])} == {"b.py"}
    assert {m.operator for m in generate(files, operators=["boolean", "comparison"])} == {"boolean", "comparison"}
    assert generate(files, operators=[]) == []
    with pytest.raises(ValueError, match=r"known: .*'arithmetic'.*'statement'"):
        generate(files, operators=["comparision"])
    with pytest.raises(ValueError, match=r"c\.py"):
        generate(files, only=["c.py"])


def test_module_imports_only_pure_stdlib():
    """No I/O: the module can reach nothing beyond these (io is there for StringIO, for tokenize)."""
    allowed = {
        "__future__", "ast", "bisect", "difflib", "hashlib", "tokenize", "io", "dataclasses",
        "collections.abc", "typing", "itertools", "re", "keyword", "warnings",
    }
    tree = ast.parse((Path(__file__).parents[1] / "runner" / "mutate.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
        elif isinstance(node, ast.Name):
            assert node.id not in {"open", "exec", "eval", "__import__", "print", "input"}, node.id
    assert imported <= allowed, imported - allowed
    attributes = (node for node in ast.walk(tree) if isinstance(node, ast.Attribute))
    uses_io = {node.attr for node in attributes if getattr(node.value, "id", "") == "io"}
    assert uses_io == {"StringIO"}


def test_generate_touches_no_files(monkeypatch):
    """Run with every way to open a file or a process broken: nothing is needed."""
    import builtins
    import io
    import os
    import subprocess

    def refuse(*args, **kwargs):
        raise AssertionError("runner.mutate must do no I/O")

    for owner, name in [(builtins, "open"), (io, "open"), (os, "open"), (os, "stat"), (os, "listdir"),
                        (os, "scandir"), (subprocess, "Popen")]:
        monkeypatch.setattr(owner, name, refuse)
    assert len(generate({"m.py": SAMPLE})) > 20
