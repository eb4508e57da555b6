"""The ``functions`` kind: learner functions, called by the judge through the protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..results import Category
from . import Kind, Scaffold, ScaffoldBug

if TYPE_CHECKING:
    from ..judge.learner import Learner
    from ..learner.host import Host

_CHECK = '''import pytest

from runner.judge import expect_equal


@pytest.mark.points(2)
@pytest.mark.rules("R1")
def test_answer(learner):
    """answer() gives the answer"""
    expect_equal(learner.call("answer", "everything"), 42, "answer('everything')")
'''


class Functions(Kind):
    name = "functions"
    description = "functions called through the request/response protocol"
    scaffold = Scaffold(
        learner_file="solution.py",
        target="solution",
        functions=("answer",),
        starter="def answer(question):\n    # TODO: return the answer\n    raise NotImplementedError\n",
        solution="def answer(question):\n    return 42\n",
        check=_CHECK,
        bug=ScaffoldBug("wrong-answer", "Returns the wrong answer", "return 42", "return 41", "test_answer"),
        rules=("[R1] `answer(question)` returns 42.",),
    )

    def serve(self, host: Host) -> None:
        from .. import protocol

        spec = host.spec
        module = host.load(spec.target)
        functions = {}
        for name in spec.functions:
            fn = getattr(module, name, None)
            if not callable(fn):
                host.fail(Category.IMPORT_ERROR, f"{spec.target}.py must define a function {name}()")
            functions[name] = fn
        server = protocol.serve(functions, host=spec.bind, threaded=True, include_tracebacks=host.traceback)
        host.ready(server.server_address[1])
        server.serve_forever()

    def judge_fixtures(self) -> dict[str, Callable[..., Any]]:
        import pytest

        from ..wire import Endpoint, JudgeSpec

        @pytest.fixture(scope="session")
        def learner(endpoint: Endpoint, judge_spec: JudgeSpec) -> Iterator[Learner]:
            """Calls the learner's functions; their exceptions arrive as ``Learner.Raised``."""
            from ..judge.learner import connect

            with connect(endpoint, judge_spec.call_timeout) as learner:
                yield learner

        return {"learner": learner}


KIND = Functions()
