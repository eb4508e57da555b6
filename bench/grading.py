"""Benchmark: how fast the kit grades, against what a user would otherwise do, in one run.

Every figure is measured in the same run on the same machine, and every ratio is between figures
of that run, so a slower change shows as a worse ratio even on a noisy (shared) machine. Rounds are
interleaved: each round measures every baseline and every grade once, in an order that alternates
between rounds, so a burst of load from elsewhere hits both sides of a ratio.

What is measured (seconds, whole processes unless said otherwise; median and p95 over --rounds):

- import floor: one fresh interpreter importing flask, sqlalchemy, redis and pytest;
- naive baseline, per exercise: what a user would do without the kit, a fresh ``python -m pytest``
  per submission in the learner's own process (no judge, no sandbox, no isolated services). For a
  wsgi or functions exercise that runs the exercise's *visible* tests against the reference
  solution (they cover less than the hidden checks: the output says how many of each); for a tests
  exercise, a fresh pytest of the reference test suite per hidden mutant, plus one for the
  reference;
- warm floor: the same naive runs, each in a child forked from a parent that has imported
  everything and run one throwaway pytest session (no isolation at all): time from fork to exit;
- ``runner grade EX --submission <reference solution> --json``: the whole process, and the grade's
  own ``duration`` (inside the runner, after its imports);
- batch: ``runner grade-batch`` with ``--jobs 1`` and ``--jobs <cores>`` on a synthetic class
  (tests/synthetic_class.py) against a loop of ``runner grade --submission`` (one fresh runner per
  submission);
- per-grade isolation: ``sandbox.open`` + ``provider.acquire`` + ``release`` + ``close`` (a grade's
  own SQLite file / fakeredis server, its own workspace), as a share of a grade;
- with --docker: the same isolation on real PostgreSQL/Redis containers (a database cloned from a
  template, a Redis slot and user) against fresh containers per grade, and ``runner grade
  --sandbox docker`` against a fresh ``docker run`` of the naive tests per grade.

Usage: python bench/grading.py [--rounds 3] [--exercise 01-bookmarks-api ...] [--class-size 24]
       [--jobs N] [--docker] [--json-out bench/results.json]      (or: runner bench [same options])
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runner.exercises import Exercise, find_exercise  # noqa: E402
from tests.synthetic_class import make_class  # noqa: E402

#: One exercise of each kind: wsgi, functions, tests.
DEFAULT_EXERCISES = ("01-bookmarks-api", "02-library-schema", "03-testing-pricing")
HEAVY_IMPORTS = "import flask, sqlalchemy, redis, pytest"
#: Learners of the synthetic class left out by default: an endless loop at import costs the
#: start-up timeout (20 s) in every run alike, which measures the timeout, not the grader.
SKIPPED_LEARNERS = ("loop",)
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "-o", "addopts=")


# ------------------------------------------------------------------------------------- statistics


@dataclass
class Samples:
    """Seconds of one measured thing, one sample per round."""

    values: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.values.append(seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p95(self) -> float:
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    def to_dict(self) -> dict[str, Any]:
        return {"median": round(self.median, 4), "p95": round(self.p95, 4), "rounds": len(self.values),
                "samples": [round(v, 4) for v in self.values]}


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator > 0 else float("nan")


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run_checked(args: Sequence[str], cwd: Path, *, ok: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
    """Run a command; a wrong exit code stops the benchmark (a baseline that fails measures nothing)."""
    completed = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False)
    if completed.returncode not in ok:
        raise SystemExit(f"bench: {' '.join(args)} (in {cwd}) exited {completed.returncode}, expected {list(ok)}:\n"
                         f"{completed.stdout[-2000:]}{completed.stderr[-2000:]}")
    return completed


# ---------------------------------------------------------------------------------- naive baselines


@dataclass(frozen=True)
class NaiveRun:
    """One fresh pytest of a naive baseline: where, on what, and the exit codes it must end with."""

    cwd: Path
    args: tuple[str, ...]
    ok: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Naive:
    """What a user without the kit would run to grade one submission of an exercise."""

    runs: tuple[NaiveRun, ...]
    covers: str


def naive_baseline(exercise: Exercise, folder: Path) -> Naive:
    """Lay out the naive baseline of ``exercise`` under ``folder`` (see the module docstring)."""
    if exercise.meta.entry.kind == "tests":
        return _naive_tests(exercise, folder)
    work = folder / "naive"
    work.mkdir(parents=True)
    for name in exercise.meta.support_files:
        shutil.copyfile(exercise.starter_dir / name, work / name)
    for name, text in exercise.solution_files().items():
        (work / name).write_text(text, encoding="utf-8")
    shutil.copytree(exercise.root / "tests", work / "tests")
    visible = run_checked([sys.executable, "-m", "pytest", "--collect-only", "-q", *PYTEST_ARGS[1:], "tests"], work)
    count = sum(1 for line in visible.stdout.splitlines() if "::" in line)
    return Naive((NaiveRun(work, ("tests",)),),
                 f"its {count} visible tests, in-process with Flask's test client / direct calls, against "
                 f"{_hidden_count(exercise)} hidden checks over HTTP or the call protocol for runner grade")


def _naive_tests(exercise: Exercise, folder: Path) -> Naive:
    from runner.kinds.tests import mutation_plan

    plan = mutation_plan(exercise.root)
    (suite_name,) = exercise.meta.files
    suite = exercise.solution_files()[suite_name]
    runs = []
    for label, source, ok in [("reference", plan.reference, (0,)),
                              *((m.id, plan.source(m.id), (1,)) for m in plan.mutants)]:
        work = folder / f"naive-{label}"
        work.mkdir(parents=True)
        (work / f"{plan.module}.py").write_text(source, encoding="utf-8")
        (work / suite_name).write_text(suite, encoding="utf-8")
        runs.append(NaiveRun(work, (suite_name,), ok))
    return Naive(tuple(runs), f"a fresh pytest of the reference suite per mutant ({len(plan.mutants)}) and one for "
                              "the reference, like runner grade's runs (which also runs the reference twice)")


def _hidden_count(exercise: Exercise) -> int:
    from runner.grading import collect_checks

    return len(collect_checks(exercise))


def run_naive(naive: Naive) -> float:
    def all_runs() -> None:
        for one in naive.runs:
            run_checked([sys.executable, "-m", "pytest", *PYTEST_ARGS, *one.args], one.cwd, ok=one.ok)

    return timed(all_runs)


# --------------------------------------------------------------------------------------- warm floor

#: The parent of the warm floor: imports everything, runs a throwaway session, then forks a child
#: per naive run (each child holds nothing of another: it runs pytest once and exits).
WARM_PARENT = r"""
import json, os, sys, tempfile, time
import flask, sqlalchemy, redis, pytest, fakeredis
ARGS = sys.argv[1:]
with tempfile.TemporaryDirectory() as scratch:
    with open(os.path.join(scratch, "test_warmup_bk.py"), "w") as f:
        f.write("def test_warmup():\n    assert True\n")
    out = os.dup(1); null = os.open(os.devnull, os.O_WRONLY); os.dup2(null, 1)
    pytest.main([*ARGS, "--rootdir", scratch, os.path.join(scratch, "test_warmup_bk.py")])
    os.dup2(out, 1)
sys.modules.pop("test_warmup_bk", None)
print("ready", flush=True)
for line in sys.stdin:
    runs = json.loads(line)
    started = time.perf_counter()
    codes = []
    for cwd, args in runs:
        pid = os.fork()
        if pid == 0:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1); os.dup2(null, 2)
            os.chdir(cwd); sys.path.insert(0, cwd)
            os._exit(int(pytest.main([*ARGS, *args])))
        codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    print(json.dumps({"seconds": time.perf_counter() - started, "codes": codes}), flush=True)
"""


class WarmFloor:
    """A pre-imported parent process that times naive runs in forked children."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", WARM_PARENT, *PYTEST_ARGS], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("bench: the warm-floor parent did not start")

    def run(self, naive: Naive) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([[str(r.cwd), list(r.args)] for r in naive.runs]) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        expected = [r.ok for r in naive.runs]
        if any(code not in ok for code, ok in zip(answer["codes"], expected, strict=True)):
            raise SystemExit(f"bench: a warm-floor run ended with {answer['codes']}, expected {expected}")
        return float(answer["seconds"])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


# ------------------------------------------------------------------------------------- runner grade


def runner_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "runner", *args]


def write_submission(exercise: Exercise, folder: Path) -> Path:
    """The reference solution as a learner's submission folder (only the files a learner hands in)."""
    folder.mkdir(parents=True)
    for name, text in exercise.solution_files().items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def run_grade(exercise: Exercise, submission: Path, cwd: Path, *extra: str) -> tuple[float, float]:
    """Whole-process seconds of one ``runner grade``, and the grade's own duration from its report."""
    started = time.perf_counter()
    completed = run_checked(runner_command("grade", exercise.slug, "--submission", str(submission), "--json", *extra),
                            cwd)
    seconds = time.perf_counter() - started
    report = json.loads(completed.stdout)
    if report["score"] != report["max_score"]:
        raise SystemExit(f"bench: the reference solution of {exercise.slug} scored {report['score']}")
    return seconds, float(report["duration"])


# ----------------------------------------------------------------------------------------- isolation


def isolation_cost(exercise: Exercise, provider: Any, sandbox: Any, rounds: int) -> dict[str, Samples]:
    """Seconds of what a grade spends on its own isolation, measured directly: the sandbox's
    per-grade ``open``/``close`` (workspace, bubblewrap view) and the provider's ``acquire``/``release``
    (the grade's database and Redis), exactly as ``Grader._grade`` calls them."""
    services_meta = exercise.meta.services
    hidden = [exercise.root.parent.resolve(), exercise.solutions_root.resolve()]
    found = {"sandbox": Samples(), "services": Samples(), "total": Samples()}
    for _ in range(rounds):
        workdir = Path(tempfile.mkdtemp(prefix="backend-kit-bench-iso-"))
        try:
            t0 = time.perf_counter()
            for sub in ("workspace", "judge", "tmp"):
                (workdir / sub).mkdir()
            box = sandbox.open(workdir, hidden=hidden)
            t1 = time.perf_counter()
            services = provider.acquire(workdir, database=services_meta.database, redis=services_meta.redis,
                                        template=exercise.slug, listen_host=box.service_host)
            provider.release(services)
            t2 = time.perf_counter()
            box.close()
            shutil.rmtree(workdir, ignore_errors=True)
            t3 = time.perf_counter()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        found["sandbox"].add((t1 - t0) + (t3 - t2))
        found["services"].add(t2 - t1)
        found["total"].add(t3 - t0)
    return found


# --------------------------------------------------------------------------------------------- batch


def batch_figures(exercise: Exercise, size: int, jobs: int, root: Path) -> dict[str, Any]:
    """One run each, in this order: the naive loop, grade-batch --jobs 1, grade-batch --jobs N."""
    folder = root / "class"
    learners = make_class(folder, exercise, size)
    left_out = [learner.name for learner in learners if learner.kind in SKIPPED_LEARNERS]
    for name in left_out:
        shutil.rmtree(folder / name, ignore_errors=True)
        (folder / f"{name}.zip").unlink(missing_ok=True)
    submissions = sorted(p for p in folder.iterdir() if not p.name.startswith("."))

    def loop() -> None:
        for path in submissions:
            run_checked(runner_command("grade", exercise.slug, "--submission", str(path), "--json"), root,
                        ok=(0, 1))

    def batch(n: int) -> Callable[[], None]:
        def go() -> None:
            book = root / f"gradebook-{n}.sqlite"
            book.unlink(missing_ok=True)
            completed = run_checked(runner_command("grade-batch", str(folder), "--exercise", exercise.slug,
                                                   "--jobs", str(n), "--gradebook", f"sqlite:///{book}", "--json"),
                                    root)
            summary = json.loads(completed.stdout.strip().splitlines()[-1])
            if summary["graded"] != len(submissions):
                raise SystemExit(f"bench: grade-batch graded {summary['graded']} of {len(submissions)}")
        return go

    seconds = {"loop": timed(loop), "jobs_1": timed(batch(1)), f"jobs_{jobs}": timed(batch(jobs))}
    return {"exercise": exercise.slug, "submissions": len(submissions), "left_out": left_out, "jobs": jobs,
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
            "per_minute": {k: round(60 * len(submissions) / v, 2) for k, v in seconds.items()}}


# -------------------------------------------------------------------------------------------- docker


def docker_figures(exercises: Sequence[Exercise], naives: dict[str, Naive], submissions: dict[str, Path],
                   rounds: int, root: Path) -> dict[str, Any]:
    """Real services and the docker sandbox, each against a fresh container per grade."""
    from runner.sandbox.docker import DockerSandbox
    from runner.services.docker import DockerProvider
    from runner.settings import load

    figures: dict[str, Any] = {}
    warm = DockerProvider(load(None, provider="docker"), instance=f"bench-{os.getpid()}")
    try:
        warm.up()
        server = warm._server  # the benchmark measures the isolation layer directly
        assert server is not None
        server.prepare()
        workdir = Path(tempfile.mkdtemp(prefix="backend-kit-bench-docker-"))
        server.release(server.acquire(workdir, database=True, redis=True, template="bench"))  # the template exists
        isolated = Samples()
        for _ in range(max(rounds * 5, 5)):
            isolated.add(timed(lambda: server.release(server.acquire(workdir, database=True, redis=True,
                                                                     template="bench"))))
        shutil.rmtree(workdir, ignore_errors=True)
    finally:
        warm.down()
    fresh = Samples()
    for number in range(max(1, min(rounds, 2))):
        provider = DockerProvider(load(None, provider="docker"), instance=f"bench-fresh-{os.getpid()}-{number}")
        fresh.add(timed(lambda provider=provider: (provider.up(), provider.down())))
    figures["services"] = {"isolated_acquire_release": isolated.to_dict(), "fresh_containers": fresh.to_dict()}

    image = DockerSandbox().image
    for exercise in exercises:
        grade, naive = Samples(), Samples()
        for number in range(rounds):
            def docker_run(exercise: Exercise = exercise) -> None:
                for one in naives[exercise.slug].runs:
                    run_checked(["docker", "run", "--rm", "--network", "none", "-v", f"{one.cwd}:/work", "-w", "/work",
                                 image, "python", "-m", "pytest", *PYTEST_ARGS, "--basetemp", "/tmp/bk", *one.args],
                                root, ok=one.ok)

            def in_sandbox(ex: Exercise = exercise, into: Samples = grade) -> None:
                into.add(run_grade(ex, submissions[ex.slug], root, "--sandbox", "docker")[0])

            def fresh_run(into: Samples = naive, go: Callable[[], None] = docker_run) -> None:
                into.add(timed(go))

            steps = [in_sandbox, fresh_run]
            for step in steps if number % 2 == 0 else reversed(steps):
                step()
        figures[exercise.slug] = {"grade_docker_sandbox": grade.to_dict(), "fresh_docker_run_naive": naive.to_dict()}
    return figures


# ---------------------------------------------------------------------------------------------- main


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": [round(v, 2) for v in os.getloadavg()]}


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="bk-bench-", dir="/var/tmp" if Path("/var/tmp").is_dir() else None))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def measure(options: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    from runner.sandbox.process import ProcessSandbox
    from runner.services.embedded import EmbeddedProvider

    started = time.perf_counter()
    exercises = [find_exercise(name) for name in options.exercise]
    result: dict[str, Any] = {"machine": machine(), "options": {
        "rounds": options.rounds, "exercises": [e.slug for e in exercises], "class_size": options.class_size,
        "jobs": options.jobs, "docker": options.docker}}
    figures: dict[str, Any] = {"exercises": {}}
    ratios: dict[str, Any] = {"exercises": {}}
    with scratch() as root:
        naives = {e.slug: naive_baseline(e, root / e.slug) for e in exercises}
        submissions = {e.slug: write_submission(e, root / e.slug / "submission") for e in exercises}
        floor = Samples()
        naive = {e.slug: Samples() for e in exercises}
        warm = {e.slug: Samples() for e in exercises}
        grade = {e.slug: Samples() for e in exercises}
        inside = {e.slug: Samples() for e in exercises}
        warm_floor = WarmFloor()
        try:
            for number in range(options.rounds):
                steps: list[tuple[str, Callable[[], None]]] = [
                    ("import floor", lambda: floor.add(timed(lambda: run_checked(
                        [sys.executable, "-I", "-c", HEAVY_IMPORTS], root))))]
                for e in exercises:
                    def graded(e: Exercise = e) -> None:
                        whole, own = run_grade(e, submissions[e.slug], root)
                        grade[e.slug].add(whole)
                        inside[e.slug].add(own)

                    steps += [(f"{e.slug} naive", lambda e=e: naive[e.slug].add(run_naive(naives[e.slug]))),
                              (f"{e.slug} runner grade", graded),
                              (f"{e.slug} warm floor", lambda e=e: warm[e.slug].add(warm_floor.run(naives[e.slug])))]
                for _name, step in steps if number % 2 == 0 else reversed(steps):
                    step()
                log(f"round {number + 1}/{options.rounds} done ({time.perf_counter() - started:.0f} s)")
        finally:
            warm_floor.close()

        provider, sandbox = EmbeddedProvider(), ProcessSandbox()
        isolation = {e.slug: isolation_cost(e, provider, sandbox, max(options.rounds * 5, 5)) for e in exercises}
        provider.close()
        log(f"isolation measured ({time.perf_counter() - started:.0f} s)")

        for e in exercises:
            slug = e.slug
            figures["exercises"][slug] = {
                "kind": e.meta.entry.kind, "naive_covers": naives[slug].covers, "naive_runs": len(naives[slug].runs),
                "naive": naive[slug].to_dict(), "warm_floor": warm[slug].to_dict(),
                "runner_grade": grade[slug].to_dict(), "grade_in_process": inside[slug].to_dict(),
                "isolation": {k: v.to_dict() for k, v in isolation[slug].items()}}
            ratios["exercises"][slug] = {
                "grade_vs_naive": ratio(grade[slug].median, naive[slug].median),
                "grade_vs_import_floor": ratio(grade[slug].median, floor.median),
                "grade_vs_warm_floor": ratio(grade[slug].median, warm[slug].median),
                "naive_vs_warm_floor": ratio(naive[slug].median, warm[slug].median),
                "isolation_share_of_grade": ratio(isolation[slug]["total"].median, inside[slug].median)}
        figures["import_floor"] = floor.to_dict()

        batch_exercise = find_exercise(options.batch_exercise)
        batch = batch_figures(batch_exercise, options.class_size, options.jobs, root / "batch")
        figures["batch"] = batch
        loop = batch["seconds"]["loop"]
        ratios["batch"] = {"jobs_1_vs_loop": ratio(loop, batch["seconds"]["jobs_1"]),
                           f"jobs_{options.jobs}_vs_loop": ratio(loop, batch["seconds"][f"jobs_{options.jobs}"])}
        log(f"batch measured ({time.perf_counter() - started:.0f} s)")

        if options.docker:
            docker = docker_figures(exercises, naives, submissions, options.rounds, root / "docker")
            figures["docker"] = docker
            services = docker["services"]
            ratios["docker"] = {
                "fresh_containers_vs_isolated_services": ratio(services["fresh_containers"]["median"],
                                                               services["isolated_acquire_release"]["median"]),
                **{f"{e.slug}.grade_docker_sandbox_vs_fresh_docker_run": ratio(
                    docker[e.slug]["grade_docker_sandbox"]["median"],
                    docker[e.slug]["fresh_docker_run_naive"]["median"]) for e in exercises}}
            log(f"docker measured ({time.perf_counter() - started:.0f} s)")
    result["figures"] = figures
    result["ratios"] = ratios
    result["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    return result


def render(result: dict[str, Any]) -> str:
    """The table a person reads (the JSON holds the same figures)."""
    m, f, r = result["machine"], result["figures"], result["ratios"]
    lines = [f"backend-kit grading benchmark: {m['nproc']} cores, {m['cpu']}, Python {m['python']}, "
             f"load {m['load_average_at_start']} → {m['load_average_at_end']}, {result['options']['rounds']} "
             f"interleaved round(s), {result['elapsed_seconds']} s", "",
             f"import floor ({HEAVY_IMPORTS}): median {f['import_floor']['median']:.2f} s, "
             f"p95 {f['import_floor']['p95']:.2f} s", ""]
    head = f"{'exercise':<20} {'kind':<9} {'naive':>7} {'warm':>7} {'grade':>7} {'p95':>7} {'in-proc':>7} " \
           f"{'÷naive':>7} {'÷floor':>7} {'÷warm':>7} {'isol.':>7}"
    lines += [head, "-" * len(head)]
    for slug, ex in f["exercises"].items():
        q = r["exercises"][slug]
        lines.append(f"{slug:<20} {ex['kind']:<9} {ex['naive']['median']:7.2f} {ex['warm_floor']['median']:7.2f} "
                     f"{ex['runner_grade']['median']:7.2f} {ex['runner_grade']['p95']:7.2f} "
                     f"{ex['grade_in_process']['median']:7.2f} {q['grade_vs_naive']:6.2f}× "
                     f"{q['grade_vs_import_floor']:6.2f}× {q['grade_vs_warm_floor']:6.2f}× "
                     f"{100 * q['isolation_share_of_grade']:6.2f}%")
    lines += ["", "seconds, medians; grade = whole `runner grade --json` process, in-proc = its report's duration;",
              "÷ = the grade's median over the baseline's; isol. = sandbox open/close + services acquire/release "
              "over in-proc.", "naive baselines:"]
    lines += [f"  {slug}: {ex['naive_runs']} fresh pytest run(s): {ex['naive_covers']}"
              for slug, ex in f["exercises"].items()]
    for slug, ex in f["exercises"].items():
        iso = ex["isolation"]
        lines.append(f"  {slug} isolation: sandbox {1000 * iso['sandbox']['median']:.1f} ms, services "
                     f"{1000 * iso['services']['median']:.1f} ms per grade")
    b = f["batch"]
    lines += ["", f"batch: {b['submissions']} submissions of {b['exercise']} (synthetic class; left out: "
                  f"{', '.join(b['left_out']) or 'none'})"]
    for name, seconds in b["seconds"].items():
        speed = "" if name == "loop" else f"  {r['batch'][f'{name}_vs_loop']:.2f}× the loop"
        label = "loop of runner grade --submission" if name == "loop" else f"grade-batch --{name.replace('_', ' ')}"
        lines.append(f"  {label:<36} {seconds:8.1f} s  {b['per_minute'][name]:7.1f}/min{speed}")
    if "docker" in f:
        d = f["docker"]
        s = d["services"]
        warm_ms = 1000 * s["isolated_acquire_release"]["median"]
        lines += ["", "docker:", f"  isolated services on warm containers: {warm_ms:.0f} ms per grade;"
                  f" fresh PostgreSQL + Redis containers: {s['fresh_containers']['median']:.1f} s "
                  f"({r['docker']['fresh_containers_vs_isolated_services']:.0f}×)"]
        for e in f["exercises"]:
            lines.append(f"  {e}: runner grade --sandbox docker {d[e]['grade_docker_sandbox']['median']:.2f} s, "
                         f"fresh docker run of the naive tests {d[e]['fresh_docker_run_naive']['median']:.2f} s "
                         f"({r['docker'][f'{e}.grade_docker_sandbox_vs_fresh_docker_run']:.2f}×)")
    return "\n".join(lines)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/grading.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--exercise", action="append", default=None,
                        help=f"an exercise to measure (repeat; default: {', '.join(DEFAULT_EXERCISES)})")
    parser.add_argument("--class-size", type=int, default=24, help="submissions in the batch class (default 24)")
    parser.add_argument("--batch-exercise", default="01-bookmarks-api", help="the batch class's exercise")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="the parallel grade-batch's --jobs (default: the cores)")
    parser.add_argument("--docker", action="store_true", help="also real PostgreSQL/Redis and the docker sandbox")
    parser.add_argument("--json-out", type=Path, default=ROOT / "bench" / "results.json",
                        help="where the figures go as JSON (default bench/results.json)")
    options = parser.parse_args(argv)
    options.exercise = options.exercise or list(DEFAULT_EXERCISES)
    if options.rounds < 1 or options.class_size < 1 or options.jobs < 1:
        parser.error("--rounds, --class-size and --jobs must be at least 1")
    return options


def main(argv: Sequence[str] | None = None) -> None:
    options = parse(argv)
    result = measure(options, lambda line: print(f"bench: {line}", file=sys.stderr, flush=True))
    print(render(result))
    options.json_out.parent.mkdir(parents=True, exist_ok=True)
    options.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {options.json_out}")


if __name__ == "__main__":
    main()
