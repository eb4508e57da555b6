"""The docker sandbox: learner code in a hardened container, the judge outside it.

Per grade: a private ``--internal`` network (no route out), on which only that grade's services are
reachable: the embedded fakeredis listens on the network's gateway address, and for real services
the provider's PostgreSQL and Redis containers are attached to it for the grade. The learner's
container has no capabilities, no new privileges, runs as uid 1000 on a read-only root, with
tmpfs ``/workspace`` and ``/tmp`` (size-capped: a disk bomb fills only its own tmpfs), memory
without swap, a pids limit, a CPU quota and file-size/open-file ulimits. The submission is mounted
read-only and copied into the tmpfs; the runner package is mounted read-only (the same code as the
judge's side), and nothing else of the host is visible: not the hidden checks, not the solutions,
not the judge's spec. Killing the container kills every process it holds (its own PID namespace).

The image is the configured Python image plus the kit's learner-side dependencies, installed from
wheels the host downloads (the build container may have no network), pinned to the host's versions.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..catalog import Backend
from ..containers import LABEL, OWNER, SANDBOX, docker_client, reap_sandboxes, resolve_image
from ..errors import InfrastructureError, UsageError
from ..localbuild import build_lock
from ..processes import OUTPUT_KEEP, BoundedOutput, pid_alive, sample_stack
from ..services import GradeServices
from ..settings import Settings
from ..settings import load as load_settings
from ..wire import HostSpec, dump

REQUIREMENTS = ("flask", "sqlalchemy", "redis", "psycopg", "psycopg-binary", "pytest")
RUNNER_DIR = Path(__file__).resolve().parent.parent
#: Dependencies only some Python patch levels need (pip download does not evaluate
#: python_full_version markers for a target version): offered to the image's pip, used if wanted.
MARKER_EXTRAS = ("async-timeout>=4.0.3",)

HARDENING: dict[str, Any] = {
    "user": "1000:1000",
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "read_only": True,
    "mem_limit": "512m",
    "memswap_limit": "512m",
    "pids_limit": 128,
    "nano_cpus": 1_000_000_000,
    "init": True,
}


def _pins() -> list[str]:
    pins = []
    for name in REQUIREMENTS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            pins.append(f"{name}=={importlib.metadata.version(name)}")
    return pins


class OutputStream(BoundedOutput):
    """A container's output stream (the Docker SDK's attach), with the same bounds as a pipe."""

    def __init__(self, chunks: Any, keep: int = OUTPUT_KEEP) -> None:
        self._stream = chunks
        super().__init__(keep)

    def _chunks(self) -> Iterator[bytes]:
        with contextlib.suppress(Exception):  # the stream ends with any error once the container is gone
            yield from self._stream


class DockerLearner:
    def __init__(self, container: Any, ready_fd: int, keep_fd: int, address: str,
                 stack_file: Path | None = None) -> None:
        self.container = container
        self.stack_file = stack_file
        self.ready_fd = ready_fd
        self._keep_fd = keep_fd
        self.address = address
        self.output = OutputStream(container.attach(stdout=True, stderr=True, stream=True, logs=True))
        self._code: int | None = None
        self._closed = False

    def poll(self) -> int | None:
        if self._code is not None:
            return self._code
        try:
            self.container.reload()
        except Exception:  # removed: it is over
            self._code = -9
            return self._code
        if self.container.status in ("exited", "dead"):
            state = self.container.attrs.get("State", {})
            self._code = 137 if state.get("OOMKilled") else int(state.get("ExitCode", 0))
        return self._code

    def wait(self, timeout: float) -> int | None:
        try:
            result = self.container.wait(timeout=timeout)
            self._code = int(result.get("StatusCode", 0))
            return self._code
        except Exception:
            return self.poll()

    def sample_stack(self) -> str:
        """The host is the container's PID 1: SIGUSR1 to the container reaches it."""
        if self.stack_file is None or self._closed:
            return ""
        return sample_stack(self.stack_file, lambda: self.container.kill(signal="SIGUSR1"))

    def kill(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self.container.remove(force=True)
            self.output.join()
            with contextlib.suppress(OSError):
                os.close(self._keep_fd)


@functools.cache
def firewall_available() -> bool:
    """Whether this process can add iptables rules (root, with iptables): then a grade's network is
    closed to the host too, except the grade's own embedded services."""
    if os.geteuid() != 0 or shutil.which("iptables") is None:
        return False
    probe = subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True)
    return probe.returncode == 0


def _iptables(*args: str) -> bool:
    return subprocess.run(["iptables", "-w", *args], capture_output=True).returncode == 0


class DockerGrade:
    def __init__(self, sandbox: DockerSandbox, workdir: Path) -> None:
        self.sandbox = sandbox
        self.client = sandbox.client
        self.name = f"bk-net-{os.getpid()}-{secrets.token_hex(4)}"
        self.network = self.client.networks.create(self.name, driver="bridge", internal=True,
                                                   labels={LABEL: "1", OWNER: str(os.getpid())})
        self.network.reload()
        config = self.network.attrs["IPAM"]["Config"][0]
        self.service_host: str = config["Gateway"]
        self.workdir = workdir
        self.subnet: str = config["Subnet"]
        self._rules: list[list[str]] = []
        self._extra_ports: list[int] = []
        self._attached: list[Any] = []
        self._service_ips: dict[str, str] = {}
        self._database_dir: Path | None = None

    def allow_host_port(self, port: int) -> None:
        self._extra_ports.append(port)
        if self._rules:
            rule = ["-s", self.subnet, "-p", "tcp", "--dport", str(port), "-m", "comment", "--comment",
                    f"backend-kit:{self.name}", "-j", "ACCEPT"]
            if _iptables("-I", "INPUT", *rule):
                self._rules.append(rule)

    def _close_host(self, ports: list[int]) -> None:
        """The network is --internal (no route out), but the host is its gateway: without this, any
        service on the host listening on all addresses is reachable from the container. Drop
        everything from the grade's subnet to the host except replies and the grade's own ports."""
        if self._rules or not firewall_available():
            return
        tag = ["-m", "comment", "--comment", f"backend-kit:{self.name}"]
        rules = [["-s", self.subnet, *tag, "-j", "DROP"]]
        rules += [["-s", self.subnet, "-p", "tcp", "--dport", str(port), *tag, "-j", "ACCEPT"]
                  for port in [*ports, *self._extra_ports]]
        rules += [["-s", self.subnet, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", *tag, "-j", "ACCEPT"]]
        for rule in rules:  # each goes on top: the last inserted is checked first
            if _iptables("-I", "INPUT", *rule):
                self._rules.append(rule)

    def learner_services(self, services: GradeServices) -> dict[str, str]:
        config = dict(services.config())
        host_ports = [int(match) for url in config.values()
                      for match in re.findall(rf"@?{re.escape(self.service_host)}:(\d+)", url)]
        self._close_host(host_ports)
        if services.backend is Backend.EMBEDDED:
            database = config.get("DATABASE_URL", "")
            if database.startswith("sqlite:///"):
                path = Path(database.removeprefix("sqlite:///"))
                self._database_dir = path.parent
                path.parent.chmod(0o777)
                config["DATABASE_URL"] = f"sqlite:////data/{path.name}"
            return config
        if config and not services.containers:
            raise UsageError("the docker sandbox reaches real services only through the docker provider",
                             hint="Use --provider docker (or --provider embedded) with --sandbox docker.")
        for setting, where in services.containers.items():
            if where.name not in self._service_ips:
                container = self.client.containers.get(where.name)
                self.network.connect(container)
                self._attached.append(container)
                container.reload()
                self._service_ips[where.name] = container.attrs["NetworkSettings"]["Networks"][self.name]["IPAddress"]
            if setting in config:
                config[setting] = services.seen_from(setting, self._service_ips[where.name], where.inner_port)
        return config

    def launch(self, workdir: Path, spec: HostSpec, env: dict[str, str]) -> DockerLearner:
        control = workdir / "control"
        control.mkdir(exist_ok=True)
        # Listen on the container's address: the judge is outside, and the network is private anyway.
        # The host's stack samples (SIGUSR1), written by the container's user where the runner reads them.
        samples = workdir / "samples"
        samples.mkdir(exist_ok=True)
        samples.chmod(0o777)
        # One name per copy of the program (entry.instances): copies start at once.
        suffix = f"-{spec.instance}" if spec.instance else ""
        (control / f"host-spec{suffix}.json").write_bytes(dump(replace(
            spec, bind="0.0.0.0", stack_file=f"/samples/stack-sample{suffix}.txt")))
        fifo = control / f"ready{suffix}"
        with contextlib.suppress(FileNotFoundError):
            fifo.unlink()
        os.mkfifo(fifo, 0o622)
        fifo.chmod(0o622)
        ready_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        keep_fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # no EOF before the host speaks
        workspace = workdir / "workspace"
        for path in (workspace, *workspace.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        volumes = {
            str(workspace): {"bind": "/submission", "mode": "ro"},
            str(control): {"bind": "/control", "mode": "ro"},
            str(RUNNER_DIR): {"bind": "/opt/backend-kit/runner", "mode": "ro"},
            str(samples): {"bind": "/samples", "mode": "rw"},
        }
        if self._database_dir is not None:
            volumes[str(self._database_dir)] = {"bind": "/data", "mode": "rw"}
        inner_env = {**env, "HOME": "/workspace", "TMPDIR": "/tmp"}
        import docker.types

        try:
            container = self.client.containers.run(
                self.sandbox.image,
                ["sh", "-c", "cp -r /submission/. /workspace/ && cd /workspace && "
                 f"exec python -I -B -u -m runner.learner.host /control/host-spec{suffix}.json /control/ready{suffix}"],
                detach=True,
                environment=inner_env,
                volumes=volumes,
                tmpfs={"/workspace": "rw,size=64m,uid=1000,gid=1000,mode=0755", "/tmp": "rw,size=64m,mode=1777"},
                network=self.name,
                working_dir="/",
                labels={LABEL: "1", SANDBOX: "1", OWNER: str(os.getpid())},
                # The daemon keeps a container's output on the host's disk: cap it (we read a capped copy).
                log_config=docker.types.LogConfig(type="json-file", config={"max-size": "4m", "max-file": "1"}),
                ulimits=[docker.types.Ulimit(name="nofile", soft=1024, hard=1024),
                         docker.types.Ulimit(name="fsize", soft=64 << 20, hard=64 << 20),
                         docker.types.Ulimit(name="core", soft=0, hard=0)],
                **HARDENING,
            )
            container.reload()
            address = container.attrs["NetworkSettings"]["Networks"][self.name]["IPAddress"]
        except Exception as exc:
            os.close(ready_fd)
            os.close(keep_fd)
            raise InfrastructureError(f"could not start the sandbox container: {exc}") from None
        return DockerLearner(container, ready_fd, keep_fd, address, samples / f"stack-sample{suffix}.txt")

    def close(self) -> None:
        for rule in self._rules:
            _iptables("-D", "INPUT", *rule)
        self._rules = []
        for container in self._attached:
            with contextlib.suppress(Exception):
                self.network.disconnect(container, force=True)
        for container in self.client.containers.list(all=True, filters={"network": self.name}):
            with contextlib.suppress(Exception):
                container.remove(force=True)
        with contextlib.suppress(Exception):
            self.network.remove()


class DockerSandbox:
    name = "docker"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings(None)
        self.client = docker_client()
        self._image: str | None = None
        self._lock = threading.Lock()
        self.reap()

    @property
    def image(self) -> str:
        with self._lock:
            if self._image is None:
                self._image = self._ensure_image()
            return self._image

    def _ensure_image(self) -> str:
        """The sandbox image for this Python image and these pinned dependencies, built once."""
        import docker.errors

        base = resolve_image(self.client, self.settings, "python")
        pins = _pins()
        base_id = self.client.images.get(base).id
        tag = f"{self.settings.image_prefix}/sandbox:" + hashlib.sha256(f"{base_id}\n{pins}".encode()).hexdigest()[:12]
        with contextlib.suppress(docker.errors.ImageNotFound):
            self.client.images.get(tag)
            return tag
        # Two runners that want it at once: one builds, the other waits and finds it.
        with build_lock(f"{self.settings.image_prefix.replace('/', '_')}-sandbox"):
            with contextlib.suppress(docker.errors.ImageNotFound):
                self.client.images.get(tag)
                return tag
            self._build_image(base, pins, tag)
        return tag

    def _build_image(self, base: str, pins: list[str], tag: str) -> None:
        import docker.errors

        print("backend-kit: building the sandbox image from the Python image and the kit's pinned packages "
              "(first time only, ~30 s)…", file=sys.stderr, flush=True)
        context = Path(tempfile.mkdtemp(prefix="backend-kit-sandbox-image-"))
        try:
            wheels = context / "wheels"
            # Resolve for the image's own Python (dependency markers differ between 3.11.2 and 3.11.7).
            version = self.client.containers.run(
                base, ["python", "-c", "import platform; print(platform.python_version())"], remove=True
            ).decode().strip()
            download = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version",
                 version, "--dest", str(wheels), *pins, *MARKER_EXTRAS],
                capture_output=True, text=True, timeout=600,
            )
            if download.returncode != 0:
                raise InfrastructureError(f"could not download the sandbox's packages: {download.stderr[-800:]}",
                                          hint="The docker sandbox needs PyPI (or a wheel cache) once, to build.")
            (context / "Dockerfile").write_text(
                f"FROM {base}\n"
                "COPY wheels /tmp/wheels\n"
                f"RUN python -m pip install --no-cache-dir --no-index --find-links /tmp/wheels {' '.join(pins)} "
                "&& rm -rf /tmp/wheels\n"
                "RUN python -c \"import site; open(site.getsitepackages()[0] + '/backend_kit.pth', 'w')"
                ".write('/opt/backend-kit\\n')\"\n"
                "RUN mkdir -p /opt/backend-kit/runner /workspace /data && (id -u 1000 >/dev/null 2>&1 || "
                "useradd -u 1000 -m learner)\n"
            )
            try:
                self.client.images.build(path=str(context), tag=tag, rm=True, labels={LABEL: "1"})
            except docker.errors.BuildError as exc:
                log = "".join(str(line.get("stream", line.get("error", ""))) for line in exc.build_log)[-1500:]
                raise InfrastructureError(f"could not build the sandbox image: {exc}\n{log}") from None
        finally:
            shutil.rmtree(context, ignore_errors=True)
        print(f"backend-kit: built {tag}, done.", file=sys.stderr, flush=True)

    def open(self, workdir: Path, hidden: Sequence[Path] = ()) -> DockerGrade:
        """``hidden`` needs nothing here: the container sees only what is mounted into it."""
        _ = self.image  # build before the grade's clock matters
        try:
            return DockerGrade(self, workdir)
        except Exception as exc:
            raise InfrastructureError(f"could not create the grade's private network: {exc}") from None

    def reap(self) -> list[str]:
        """Remove sandbox containers, firewall rules and networks left by runner processes that are gone."""
        removed = reap_sandboxes(self.client)
        if firewall_available():
            listing = subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True, text=True).stdout
            for line in listing.splitlines():
                match = re.search(r"backend-kit:bk-net-(\d+)-", line)
                if match and not pid_alive(int(match.group(1))) and line.startswith("-A INPUT "):
                    _iptables("-D", "INPUT", *shlex.split(line[len("-A INPUT "):]))
                    removed.append("firewall rule")
        return removed
