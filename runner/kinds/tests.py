"""The ``tests`` kind: the learner writes pytest tests, graded by running them against the module
under test and its hidden mutants (served from the judge, so the learner's process never holds them).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import wire
from . import Kind, Scaffold, ScaffoldBug

if TYPE_CHECKING:
    from ..catalog import HiddenMutant, MutantCatalogue
    from ..judge.learner import LearnerTests, TestRun
    from ..learner.host import Host

_STARTER = '''from module import double


def test_double():
    # TODO: test more than one value
    assert double(2) == 4
'''

_CHECK = '''import pytest

from runner.judge import expect

REFERENCE = "def double(n):\\n    return 2 * n\\n"
MUTANT = "def double(n):\\n    return n + 2\\n"


@pytest.mark.gate
@pytest.mark.rules("R1")
def test_reference(learner_tests):
    """Your tests pass against the correct module"""
    run = learner_tests.run(REFERENCE, ["double"])
    expect(run.green, "your tests fail against the correct implementation", actual=", ".join(run.failed))


@pytest.mark.rules("R2")
def test_mutant(learner_tests):
    """Your tests catch: adding instead of multiplying"""
    expect(learner_tests.run(MUTANT, ["double"]).red, "no test failed against a buggy double()")
'''

#: The pinned configuration of the learner's test runs (no learner pytest.ini is read).
LEARNER_INI = Path(__file__).resolve().parent.parent / "learner" / "pytest.ini"
#: What one run may report before the rest is dropped (the learner's process writes it).
MAX_REPORT = 1_000_000
#: The hidden mutants of an exercise of this kind, in its folder (``runner.catalog.MutantCatalogue``).
MUTANTS_FILE = "checks/mutants.toml"
#: What one run costs besides ``check_timeout``: forking, the round trip, serving the implementation.
RUN_OVERHEAD = 3.0
#: The mutation gate's margin over all its runs, and the grade's margin over the gate.
GATE_MARGIN = 10.0
GRADE_MARGIN = 20.0
#: The name of the reference's runs in ``MutationRuns.order``.
REFERENCE = "reference"


@dataclass(frozen=True)
class MutationPlan:
    """What the mutation runs of an exercise need, read and validated from its folder: the module
    under test (``starter/<target>.py``, the reference), the public functions its proxy serves, the
    hidden mutants of ``checks/mutants.toml``, and how long the runs may take."""

    module: str
    reference: str = field(repr=False)
    functions: tuple[str, ...]
    catalogue: MutantCatalogue
    gate_timeout: float

    @property
    def mutants(self) -> tuple[HiddenMutant, ...]:
        return self.catalogue.mutant

    def source(self, mutant_id: str) -> str:
        """The module under test with mutant ``mutant_id`` applied."""
        from ..catalog import apply_mutant

        return apply_mutant(self.reference, self.catalogue.get(mutant_id))


def mutation_plan(exercise_dir: Path) -> MutationPlan:
    """Read ``exercise.toml``, the module under test and ``checks/mutants.toml`` of a tests-kind
    exercise; any authoring mistake is a ``ContentError`` naming the file. The exercise's
    ``time_limit`` must cover the gate that waits for every run (the reference twice, each mutant
    once, each up to ``check_timeout`` plus ``RUN_OVERHEAD``)."""
    from ..catalog import parse_meta, parse_mutants
    from ..errors import ContentError

    meta_path = exercise_dir / "exercise.toml"
    meta = parse_meta(meta_path.read_text(encoding="utf-8"), str(meta_path))
    module_name = meta.entry.target.replace(".", "/") + ".py"
    reference = (exercise_dir / "starter" / module_name).read_text(encoding="utf-8")
    mutants_path = exercise_dir / MUTANTS_FILE
    catalogue = parse_mutants(mutants_path.read_text(encoding="utf-8"), str(mutants_path), reference,
                              reference_name=f"starter/{module_name}")
    gate_timeout = (len(catalogue.mutant) + 2) * (meta.check_timeout + RUN_OVERHEAD) + GATE_MARGIN
    if meta.time_limit < gate_timeout + GRADE_MARGIN:
        raise ContentError(
            [f"{meta_path}: time_limit: must be at least {gate_timeout + GRADE_MARGIN:g} s for "
             f"{len(catalogue.mutant)} mutants with check_timeout {meta.check_timeout:g}"],
            hint="Raise time_limit, lower check_timeout, or catalogue fewer mutants.")
    return MutationPlan(meta.entry.target, reference, meta.entry.functions, catalogue, gate_timeout)


@dataclass
class MutationRuns:
    """The learner's suite run against the reference (twice) and each hidden mutant (once).

    If a reference run is not green, the runs stop there: the gate fails, and no later check
    looks at the others (a mutant that did not run is absent from ``mutants``)."""

    __test__ = False  # not a pytest test class

    plan: MutationPlan
    reference: list[TestRun] = field(default_factory=list)  # in the order they ran
    mutants: dict[str, TestRun] = field(default_factory=dict)  # by mutant id
    order: list[str] = field(default_factory=list)  # what ran, in order ("reference" or a mutant id)

    @property
    def catalogue(self) -> MutantCatalogue:
        return self.plan.catalogue


def run_mutation(learner_tests: LearnerTests, plan: MutationPlan) -> MutationRuns:
    """Each implementation once, the reference twice, in an order the learner cannot predict
    (``random.SystemRandom``, not the grade's seed: a suite cannot count runs to find the reference)."""
    import random

    order = [REFERENCE, REFERENCE, *(m.id for m in plan.mutants)]
    random.SystemRandom().shuffle(order)
    functions = list(plan.functions)
    runs = MutationRuns(plan)
    for name in order:
        runs.order.append(name)
        if name == REFERENCE:
            run = learner_tests.run(plan.reference, functions)
            runs.reference.append(run)
            if not run.green:
                break  # the gate fails: no later check will look at the other runs
        else:
            runs.mutants[name] = learner_tests.run(plan.source(name), functions)
    return runs



def _test_files(files: Sequence[str]) -> list[str]:
    return [name for name in files if Path(name).name.startswith("test_")]


class Tests(Kind):
    name = "tests"
    description = "the learner's own pytest tests, run against the reference and mutants"
    serves_implementation = True
    # A solution here is a test suite: a changed expected value fails on the reference, so every
    # constant and arithmetic mutant is killed by the first check and says nothing. What can
    # survive is a weaker suite: a removed assertion or call, a negated or loosened comparison.
    mutation_operators = ("statement", "comparison", "boolean", "branch")
    scaffold = Scaffold(
        learner_file="test_module.py",
        target="module",
        functions=("double",),
        starter=_STARTER,
        solution="from module import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
        "    assert double(-3) == -6\n    assert double(0) == 0\n",
        check=_CHECK,
        bug=ScaffoldBug("only-two", "Only tests the value two",
                        "    assert double(-3) == -6\n    assert double(0) == 0\n", "", "test_mutant"),
        local_files={"module.py": "def double(n):\n    return 2 * n\n"},
        rules=("[R1] (gate) Your tests pass against the correct `double(n)`.",
               "[R2] They fail against a `double(n)` that adds 2 instead of multiplying by 2."),
    )

    def stage(self, workspace: Path, target: str, functions: Sequence[str]) -> None:
        """The module under test is replaced by a proxy: its implementations stay in the judge."""
        from ..learner.proxy import stub_source

        module_file = workspace / (target.replace(".", "/") + ".py")
        module_file.parent.mkdir(parents=True, exist_ok=True)
        module_file.write_text(stub_source(target, list(functions)))

    def visible_test_args(self, files: Sequence[str]) -> list[str]:
        return _test_files(files)

    def serve(self, host: Host) -> None:
        import _pytest.config
        import pytest  # noqa: F401 - imported once here so that every forked run starts warm

        from .. import protocol

        # pytest imports its built-in plugins at each session start; importing them once here, before
        # any fork, saves that time in every run of the learner's tests.
        for plugin in _pytest.config.default_plugins:
            with contextlib.suppress(ImportError):
                importlib.import_module(f"_pytest.{plugin}")

        prepared = prepare_config(host)

        def run_tests(impl: str, timeout: float = 30.0) -> dict[str, Any]:
            return run_once(host, impl, timeout, prepared).to_wire()

        server = protocol.serve({"run_tests": run_tests}, host=host.spec.bind, threaded=False)
        host.ready(server.server_address[1])
        server.serve_forever()

    def judge_fixtures(self) -> dict[str, Callable[..., Any]]:
        import pytest

        from ..wire import Endpoint, JudgeSpec

        @pytest.fixture(scope="session")
        def learner_tests(endpoint: Endpoint, judge_spec: JudgeSpec) -> Iterator[LearnerTests]:
            """Runs the learner's tests against module source served from the judge's own process."""
            from ..judge.learner import LearnerTests, connect

            with connect(endpoint, judge_spec.test_run_timeout + 5) as learner:
                tests = LearnerTests(learner, judge_spec.test_run_timeout, judge_spec.impl_host, judge_spec.impl_port)
                try:
                    yield tests
                finally:
                    tests.close()

        @pytest.fixture(scope="session")
        def mutation(learner_tests: LearnerTests, exercise_dir: Path) -> MutationRuns:
            """The learner's suite against the reference twice and every hidden mutant of
            checks/mutants.toml once, in an unpredictable order (see ``run_mutation``)."""
            return run_mutation(learner_tests, mutation_plan(exercise_dir))

        @pytest.fixture(scope="session")
        def submission_files(judge_spec: JudgeSpec) -> dict[str, str]:
            """The learner's files as submitted (name → text), from the runner's own copy: one the
            learner's process cannot reach, so a suite that rewrites itself while it runs changes
            only the workspace's copy."""
            if judge_spec.submission_dir is None:
                raise pytest.UsageError("the runner passed no submission_dir to the judge (a bug in backend-kit)")
            root = Path(judge_spec.submission_dir)
            return {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8", errors="replace")
                    for path in sorted(root.rglob("*")) if path.is_file()}

        return {"learner_tests": learner_tests, "mutation": mutation, "submission_files": submission_files}


def _pytest_args(host: Host) -> list[str]:
    return [*host.spec.test_files, "-p", "runner.learner.testrun", "-c", str(LEARNER_INI),
            "--rootdir", str(host.workspace), "-p", "no:cacheprovider", "-q", "-s"]


def prepare_config(host: Host) -> Any:
    """pytest's configuration of the learner's runs, made once before any fork: registering the
    built-in plugins and parsing the arguments took half of each run (0.15 s of 0.3 s). Every run
    forks from it and starts its own session, so no run sees another's state. ``None`` (each run
    then starts pytest from scratch) when it cannot be made here, e.g. when the learner's conftest
    calls the module under test at import, which only a run can serve."""
    import os

    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        from _pytest.config import _prepareconfig

        return _prepareconfig(_pytest_args(host))
    except BaseException:  # the learner's conftest may raise anything, SystemExit included
        return None


def _run_pytest(host: Host, prepared: Any) -> int:
    """What ``pytest.main`` does, from the prepared configuration when there is one."""
    import pytest

    if prepared is None:
        return int(pytest.main(_pytest_args(host)))
    import os

    os.environ["PYTEST_VERSION"] = pytest.__version__
    try:
        return int(prepared.hook.pytest_cmdline_main(config=prepared))
    except pytest.UsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return int(pytest.ExitCode.USAGE_ERROR)
    finally:
        prepared._ensure_unconfigure()


def run_once(host: Host, impl: str, timeout: float, prepared: Any = None) -> wire.TestRunReply:
    """Run the learner's tests in a fresh fork; the parent only relays what the child reported."""
    import os
    import select
    import signal
    import time

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run pytest, report through the pipe, never return
        os.close(read_fd)
        os.setpgid(0, 0)
        os.environ["BACKEND_KIT_IMPL"] = impl
        os.environ["BACKEND_KIT_OUTCOMES_FD"] = str(write_fd)
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        # A run's own output is not the learner's program output: 43 runs of pytest, most against
        # hidden versions, in a random order. What a run has to say comes back as its outcomes.
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
        try:
            code = _run_pytest(host, prepared)
        except BaseException:
            code = 99
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code) if isinstance(code, int) else 0)
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    lines = wire.Lines()
    received: list[bytes] = []
    size = 0
    timed_out = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        if size < MAX_REPORT:
            size += len(chunk)
            received.extend(lines.feed(chunk))
    os.close(read_fd)
    if timed_out:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return wire.reply_from_lines([*received, *lines.flush()], timed_out)


KIND = Tests()
