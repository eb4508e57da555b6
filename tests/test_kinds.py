"""Exercise kinds: the registry, what each kind says about its entry, and a new kind added as one module."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from runner import kinds
from runner.catalog import parse_meta
from runner.errors import ContentError
from runner.exercises import find_exercise
from runner.grading import grade
from runner.results import CheckStatus, Status

from .conftest import write

KINDS_DIR = Path(kinds.__file__).parent


def test_the_registry_finds_one_kind_per_module():
    """wsgi, functions and tests, each from its own module, each with its fixtures and scaffold."""
    assert kinds.names() == ("functions", "tests", "wsgi")
    assert {name: sorted(kinds.get(name).judge_fixtures()) for name in kinds.names()} == {
        "functions": ["learner"], "tests": ["learner_tests", "mutation", "submission_files"],
        "wsgi": ["client", "instances"]}
    assert [kinds.get(name).serves_implementation for name in kinds.names()] == [False, True, False]
    with pytest.raises(KeyError, match="the kinds are functions, tests, wsgi"):
        kinds.get("cobol")


META = """format_version = 1
title = "T t t"
track = "apis"
difficulty = "beginner"
concepts = ["x"]
files = ["app.py"]

[entry]
kind = "{kind}"
target = "{target}"
functions = {functions}
"""


@pytest.mark.parametrize(("kind", "target", "functions", "problem"), [
    ("wsgi", "app", "[]", "needs 'module:factory'"),
    ("functions", "app:make", '["f"]', "names a module only"),
    ("functions", "app", "[]", "must list its 'functions'"),
    ("tests", "pricing", "[]", "must list its 'functions'"),
    ("graphql", "app", "[]", "is not an exercise kind; the kinds are functions, tests, wsgi"),
])
def test_each_kind_says_what_its_entry_must_look_like(kind, target, functions, problem):
    """The catalog reports the kind's own rule for its [entry], with the file and field."""
    with pytest.raises(ContentError, match=problem):
        parse_meta(META.format(kind=kind, target=target, functions=functions), "x/exercise.toml")


def test_the_tests_kind_stages_a_proxy_in_place_of_the_module(tmp_path):
    """The module under test is written as a stub that forwards to the judge, never its source."""
    kinds.get("tests").stage(tmp_path, "shop.pricing", ["price", "discount"])
    stub = (tmp_path / "shop" / "pricing.py").read_text()
    assert "from runner.learner.proxy import bind" in stub and "['price', 'discount']" in stub


#: A whole new kind, as an author would write it: the learner's module defines ANSWERS (a dict); the
#: host serves lookups over the protocol; checks get an ``answers`` fixture.
NEW_KIND = '''
"""The ``zz_answers`` kind (written by tests/test_kinds.py, removed after it)."""

from __future__ import annotations

from . import Kind, Scaffold, ScaffoldBug
from ..results import Category


class Answers(Kind):
    name = "zz_answers"
    description = "a module of answers, looked up by the judge"
    scaffold = Scaffold("answers.py", "answers", ("ANSWERS",), "ANSWERS = {}  # TODO\\n",
                        "ANSWERS = {'life': 42}\\n", "", ScaffoldBug("x", "x", "42", "41", "test_life"))

    def serve(self, host):
        from .. import protocol

        module = host.load(host.spec.target)
        answers = getattr(module, "ANSWERS", None)
        if not isinstance(answers, dict):
            host.fail(Category.IMPORT_ERROR, f"{host.spec.target}.py must define a dict ANSWERS")
        server = protocol.serve({"lookup": lambda key: answers.get(key)}, host=host.spec.bind, threaded=True)
        host.ready(server.server_address[1])
        server.serve_forever()

    def judge_fixtures(self):
        import pytest

        @pytest.fixture(scope="session")
        def answers(endpoint, judge_spec):
            from ..judge.learner import connect

            with connect(endpoint, judge_spec.call_timeout) as learner:
                yield lambda key: learner.call("lookup", key)

        return {"answers": answers}


KIND = Answers()
'''


@pytest.fixture
def new_kind():
    """runner/kinds/zz_answers.py for the duration of one test (the learner host imports it too)."""
    path = KINDS_DIR / "zz_answers.py"
    path.write_text(NEW_KIND)
    kinds.registry.cache_clear()
    dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        yield "zz_answers"
    finally:
        sys.dont_write_bytecode = dont_write
        path.unlink()
        sys.modules.pop("runner.kinds.zz_answers", None)
        kinds.registry.cache_clear()


def test_a_new_kind_is_one_module(kit, submit, new_kind):
    """Adding one module to runner/kinds/ is all it takes: the catalog accepts the kind, the learner host
    serves it, the judge gives its fixture to checks, and grading tells a right answer from a wrong one."""
    assert new_kind in kinds.names()
    folder = kit / "exercises" / "01-answers"
    write(folder / "exercise.toml", META.format(kind=new_kind, target="answers", functions='["ANSWERS"]')
          .replace('files = ["app.py"]', 'files = ["answers.py"]'))
    write(folder / "README.md", "# Answers\n")
    write(folder / "starter" / "answers.py", "ANSWERS = {}  # TODO\n")
    write(folder / "checks" / "test_answers.py", textwrap.dedent('''
        from runner.judge import expect_equal


        def test_life(answers):
            """The answer to life"""
            expect_equal(answers("life"), 42, "ANSWERS['life']")
    '''))
    exercise = find_exercise("01-answers", kit)
    right = grade(exercise, submit({"answers.py": "ANSWERS = {'life': 42}\n"}))
    wrong = grade(exercise, submit({"answers.py": "ANSWERS = {'life': 41}\n"}))
    broken = grade(exercise, submit({"answers.py": "ANSWERS = 42\n"}))
    assert (right.status, right.score) == (Status.PASS, 1)
    assert (wrong.status, [c.status for c in wrong.checks]) == (Status.FAIL, [CheckStatus.FAILED])
    assert broken.status is Status.ERROR and "must define a dict ANSWERS" in broken.problems[0].message
