"""`runner new`: a new exercise folder and its solution folder, ready to fill in and validate."""

from __future__ import annotations

from pathlib import Path

from .catalog import SLUG, EntryKind
from .errors import UsageError

_FILES = {EntryKind.WSGI: "app.py", EntryKind.FUNCTIONS: "solution.py", EntryKind.TESTS: "test_module.py"}
_TARGET = {EntryKind.WSGI: "app:create_app", EntryKind.FUNCTIONS: "solution", EntryKind.TESTS: "module"}

_STARTER = {
    EntryKind.WSGI: '''from flask import Flask, jsonify


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(config or {})

    @app.get("/health")
    def health():
        # TODO: return {"status": "ok"}
        return jsonify({})

    return app
''',
    EntryKind.FUNCTIONS: '''def answer(question):
    # TODO: return the answer
    raise NotImplementedError
''',
    EntryKind.TESTS: '''from module import double


def test_double():
    # TODO: test more than one value
    assert double(2) == 4
''',
}

_SOLUTION = {
    EntryKind.WSGI: _STARTER[EntryKind.WSGI].replace("        # TODO: return {\"status\": \"ok\"}\n", "")
    .replace("jsonify({})", 'jsonify({"status": "ok"})'),
    EntryKind.FUNCTIONS: "def answer(question):\n    return 42\n",
    EntryKind.TESTS: "from module import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
    "    assert double(-3) == -6\n    assert double(0) == 0\n",
}

_CHECKS = {
    EntryKind.WSGI: '''import pytest

from runner.judge import expect_equal, expect_json, expect_status


@pytest.mark.gate
@pytest.mark.points(2)
def test_health(client):
    """GET /health answers {"status": "ok"}"""
    response = client.get("/health")
    expect_status(response, 200)
    expect_equal(expect_json(response), {"status": "ok"}, "the body of GET /health")
''',
    EntryKind.FUNCTIONS: '''import pytest

from runner.judge import expect_equal


@pytest.mark.points(2)
def test_answer(learner):
    """answer() gives the answer"""
    expect_equal(learner.call("answer", "everything"), 42, "answer('everything')")
''',
    EntryKind.TESTS: '''import pytest

from runner.judge import expect

REFERENCE = "def double(n):\\n    return 2 * n\\n"
MUTANT = "def double(n):\\n    return n + 2\\n"


@pytest.mark.gate
def test_reference(learner_tests):
    """Your tests pass against the correct module"""
    run = learner_tests.run(REFERENCE, ["double"])
    expect(run.green, "your tests fail against the correct implementation", actual=", ".join(run.failed))


def test_mutant(learner_tests):
    """Your tests catch: adding instead of multiplying"""
    expect(learner_tests.run(MUTANT, ["double"]).red, "no test failed against a buggy double()")
''',
}

_BUGS = {
    EntryKind.WSGI: ('health-empty', 'Returns an empty object', 'jsonify({"status": "ok"})', 'jsonify({})',
                     'test_health'),
    EntryKind.FUNCTIONS: ('wrong-answer', 'Returns the wrong answer', 'return 42', 'return 41', 'test_answer'),
    EntryKind.TESTS: (
        'only-two', 'Only tests the value two', '    assert double(-3) == -6\n    assert double(0) == 0\n', '',
        'test_mutant',
    ),
}


def _bugs_toml(bug_id: str, summary: str, find: str, replace: str, fails: str, file: str) -> str:
    return (
        f'format_version = 1\n\n[[bug]]\nid = "{bug_id}"\nsummary = "{summary}"\nfile = "{file}"\n'
        f"find = '''{find}'''\nreplace = '''{replace}'''\nfails = [\"{fails}\"]\n"
    )


def scaffold(root: Path, slug: str, kind: EntryKind, title: str) -> list[Path]:
    if not SLUG.match(slug):
        raise UsageError(f"{slug!r} is not a valid exercise name.", hint="Use a number and a name: 04-rate-limits.")
    exercise = root / "exercises" / slug
    solution = root / "solutions" / slug
    if exercise.exists() or solution.exists():
        raise UsageError(f"{slug} already exists.", hint="Choose another name, or edit the existing exercise.")
    learner_file = _FILES[kind]
    functions = {EntryKind.WSGI: "[]", EntryKind.FUNCTIONS: '["answer"]', EntryKind.TESTS: '["double"]'}[kind]
    support = '["module.py"]' if kind is EntryKind.TESTS else "[]"
    files = {
        exercise / "exercise.toml": f'''format_version = 1
title = "{title}"
track = "general"
difficulty = "beginner"
concepts = ["TODO: the concepts this exercise teaches"]
prerequisites = []
time_limit = 60
check_timeout = 10
files = ["{learner_file}"]
support_files = {support if kind is not EntryKind.TESTS else "[]"}
hints = ["TODO: a first hint"]

[entry]
kind = "{kind.value}"
target = "{_TARGET[kind]}"
functions = {functions}

[services]
database = false
redis = false
backends = ["embedded", "server"]
''',
        exercise / "README.md": f"# {title}\n\nTODO: the statement: what to build, and the exact contract.\n",
        exercise / "starter" / learner_file: _STARTER[kind],
        exercise / "tests" / "test_visible.py": "def test_placeholder():\n    # TODO: visible tests\n    assert True\n",
        exercise / "checks" / "test_checks.py": _CHECKS[kind],
        solution / learner_file: _SOLUTION[kind],
        solution / "bugs.toml": _bugs_toml(*_BUGS[kind], learner_file),
    }
    if kind is EntryKind.TESTS:
        files[exercise / "starter" / "module.py"] = "def double(n):\n    return 2 * n\n"
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return sorted(files)
