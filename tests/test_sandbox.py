"""The sandboxes: the same verdicts in both, nothing left behind, and no silent fallback."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from runner.cli import main
from runner.grading import grade
from runner.results import Status

from .conftest import HELLO_SOLUTION, HELLO_STARTER

FULL = 7


def _leftovers(client) -> list[str]:
    """This process's sandbox containers and grade networks (others may be grading at the same time)."""
    import os

    mine = f"backend-kit.owner={os.getpid()}"
    containers = [c.name for c in client.containers.list(all=True, filters={"label": mine})]
    networks = [n.name for n in client.networks.list() if n.name.startswith(f"bk-net-{os.getpid()}-")]
    return containers + networks


@pytest.mark.docker
def test_docker_sandbox_gives_the_process_sandboxs_verdicts(hello, submit, sandbox):
    """The solution and the starter get the same verdicts in either sandbox."""
    for files, score in (({"app.py": HELLO_SOLUTION}, FULL), ({"app.py": HELLO_STARTER}, 0)):
        report = grade(hello, submit(files), sandbox=sandbox)
        assert report.score == score


@pytest.mark.docker
def test_docker_sandbox_on_real_services_leaves_nothing_behind(hello, submit, docker_services):
    """A grade in a container against PostgreSQL and Redis leaves no container, network, database or key."""
    from runner.sandbox import make_sandbox

    box = make_sandbox("docker")
    report = grade(hello, submit({"app.py": HELLO_SOLUTION}), provider=docker_services, sandbox=box)
    assert (report.status, report.score) == (Status.PASS, FULL)
    assert _leftovers(box.client) == []
    assert docker_services.leftovers() == []


@pytest.mark.docker
def test_container_cannot_see_the_checks_or_reach_outside(hello, submit):
    """Inside the container the kit's files do not exist and the network leads nowhere but the grade's services."""
    from runner.sandbox import make_sandbox

    probe = textwrap.dedent(f"""
        import os, socket
        print("KIT_VISIBLE", os.path.exists({str(hello.checks_dir)!r}), os.path.exists({str(hello.solution_dir)!r}))
        try:
            socket.create_connection(("1.1.1.1", 80), timeout=2)
            print("OUTSIDE_REACHABLE")
        except OSError:
            print("OUTSIDE_BLOCKED")
        try:
            open("/etc/hostile", "w")
        except OSError:
            print("ROOT_READ_ONLY")
        print("UID", os.getuid())
    """) + HELLO_SOLUTION
    box = make_sandbox("docker")
    report = grade(hello, submit({"app.py": probe}), sandbox=box)
    assert report.score == FULL
    assert "KIT_VISIBLE False False" in report.output
    assert "OUTSIDE_BLOCKED" in report.output and "OUTSIDE_REACHABLE" not in report.output
    assert "ROOT_READ_ONLY" in report.output
    assert "UID 1000" in report.output
    assert _leftovers(box.client) == []


@pytest.mark.docker
def test_background_processes_die_with_the_container(hello, submit):
    """A daemonised child (setsid + double fork) does not survive the grade in the docker sandbox."""
    from runner.sandbox import make_sandbox

    daemon = textwrap.dedent("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(3600)
            os._exit(0)
    """) + HELLO_SOLUTION
    box = make_sandbox("docker")
    report = grade(hello, submit({"app.py": daemon}), sandbox=box)
    assert report.score == FULL
    assert _leftovers(box.client) == []


def test_docker_sandbox_without_docker_is_an_infrastructure_error(hello, monkeypatch):
    """--sandbox docker with no Docker exits 3 with what to do; it never falls back to the process sandbox."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = CliRunner().invoke(main, ["grade", "01-hello", "--submission", str(hello.solution_dir),
                                       "--sandbox", "docker", "--json"])
    assert result.exit_code == 3
    error = json.loads(result.output)["error"]
    assert error["kind"] == "infrastructure"
    assert "Docker is not available" in error["message"]
    assert "never falls back" in error["hint"]


@pytest.mark.parametrize("confined", [True, False], ids=["bubblewrap", "plain"])
def test_process_sandbox_kills_setsid_escapees(hello, submit, monkeypatch, confined):
    """A double-forked, setsid() daemon dies with the grade: by its PID namespace (bubblewrap), or
    found by its environment token (plain process sandbox)."""
    import sys
    import time
    import uuid
    from pathlib import Path

    from runner.sandbox import process

    if confined and process.bubblewrap() is None:
        pytest.skip("bubblewrap is not available here")
    if not confined:
        monkeypatch.setattr(process, "bubblewrap", lambda: None)
    marker = f"escapee-{uuid.uuid4().hex}"
    daemon = textwrap.dedent(f"""
        import os
        child = os.fork()
        if child == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv({sys.executable!r}, [{sys.executable!r}, "-c", "import time; time.sleep(3600)", {marker!r}])
            os._exit(0)
        os.waitpid(child, 0)  # reaped: nothing links the daemon to this process any more
    """) + HELLO_SOLUTION
    report = grade(hello, submit({"app.py": daemon}), sandbox=None)
    assert report.score == FULL
    time.sleep(0.3)
    survivors = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    survivors.append(entry.name)
        except OSError:
            continue
    assert survivors == []


def test_a_confinement_that_cannot_start_python_is_an_infrastructure_error(hello, submit, monkeypatch):
    """If bubblewrap cannot run the interpreter, grading stops with exit-3 error, not a learner's crash."""
    from runner.errors import InfrastructureError
    from runner.sandbox import process

    monkeypatch.setattr(process, "bubblewrap", lambda: "/bin/false")
    monkeypatch.setattr(process, "_PROBED", {})
    with pytest.raises(InfrastructureError, match="could not start Python under bubblewrap"):
        grade(hello, submit({"app.py": HELLO_SOLUTION}), sandbox=None)


def test_confinement_shows_the_interpreter_even_under_tmp():
    """The interpreter's own folders are bound back through the /tmp mask (a virtualenv in /tmp)."""
    import sys
    from pathlib import Path

    from runner.sandbox import process

    if process.bubblewrap() is None:
        pytest.skip("bubblewrap is not available here")
    argv = process.confine(["python"], workdir=Path("/tmp/x"), writable=[Path("/tmp/x/workspace")], hidden=[])
    bound = {argv[i + 1] for i, arg in enumerate(argv) if arg == "--ro-bind"}
    assert str(Path(sys.prefix).resolve()) in bound
