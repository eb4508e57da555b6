"""Images that build themselves: the decision (use, pull, build, fail), the build's lock and errors, and
a real build into a throwaway prefix (docker-marked)."""

from __future__ import annotations

import contextlib
import os
import threading
import tomllib
from pathlib import Path

import pytest

import runner
from runner import localbuild
from runner.containers import choose_image, resolve_image
from runner.errors import InfrastructureError
from runner.settings import load

from .conftest import require_docker

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in ("PROVIDER", "POSTGRES_IMAGE", "REDIS_IMAGE", "PYTHON_IMAGE", "BASE_IMAGE", "IMAGE_PREFIX", "CONFIG"):
        monkeypatch.delenv(f"BACKEND_KIT_{name}", raising=False)


# ------------------------------------------------------------------ the decision, a pure function

LOCAL = "backend-kit/postgres:15"


@pytest.mark.parametrize(("explicit", "present", "pull_failed", "expected"), [
    (False, {"postgres:15"}, False, ("use", "postgres:15")),
    (False, {"postgres:15", LOCAL}, False, ("use", "postgres:15")),
    (False, {LOCAL}, False, ("use", LOCAL)),
    (False, set(), False, ("pull", "postgres:15")),
    (False, set(), True, ("build", LOCAL)),  # no registry, no local image: build it
    (True, {LOCAL}, False, ("pull", "postgres:15")),  # the user's own image is never swapped for ours
    (True, set(), True, ("fail", "postgres:15")),
])
def test_choose_image(explicit, present, pull_failed, expected):
    assert choose_image("postgres:15", LOCAL, explicit=explicit, present=present, pull_failed=pull_failed) == expected


def test_a_local_name_is_built_never_pulled():
    """BACKEND_KIT_POSTGRES_IMAGE=backend-kit/postgres:15 means our image, not a registry's namesake."""
    assert choose_image(LOCAL, LOCAL, explicit=True, present=set(), pull_failed=False) == ("build", LOCAL)
    assert choose_image(LOCAL, LOCAL, explicit=True, present={LOCAL}, pull_failed=False) == ("use", LOCAL)


class FakeImages:
    def __init__(self, present: set[str], *, pull_works: bool) -> None:
        self.present = present
        self.pull_works = pull_works
        self.pulled: list[str] = []

    def get(self, name: str) -> object:
        import docker.errors

        if name not in self.present:
            raise docker.errors.ImageNotFound(name)
        return object()

    def pull(self, name: str) -> None:
        import docker.errors

        self.pulled.append(name)
        if not self.pull_works:
            raise docker.errors.APIError("500 Server Error: lookup registry-1.docker.io: no such host")
        self.present.add(name)


class FakeClient:
    def __init__(self, present: set[str], *, pull_works: bool) -> None:
        self.images = FakeImages(present, pull_works=pull_works)


def test_pull_fails_and_no_local_image_then_the_local_images_are_built(monkeypatch):
    client = FakeClient(set(), pull_works=False)
    builds = []

    def fake_build(settings, service, present):
        builds.append((settings.image_prefix, service, present(settings.local_image(service))))
        client.images.present.update(settings.local_image(s) for s in ("postgres", "redis", "python"))

    monkeypatch.setattr(localbuild, "build_local_images", fake_build)
    settings = load(None, provider="docker")
    assert resolve_image(client, settings, "postgres") == "backend-kit/postgres:15"
    assert client.images.pulled == ["postgres:15"]
    assert builds == [("backend-kit", "postgres", False)]
    # The sibling images came with the same build: nothing more to pull or build.
    assert resolve_image(client, settings, "redis") == "backend-kit/redis:7"
    assert len(builds) == 1


def test_with_a_registry_nothing_is_built(monkeypatch):
    client = FakeClient(set(), pull_works=True)
    monkeypatch.setattr(localbuild, "build_local_images", lambda *a: pytest.fail("built"))
    assert resolve_image(client, load(None), "redis") == "redis:7"


def test_an_explicit_image_that_cannot_be_pulled_is_an_infrastructure_error(monkeypatch):
    monkeypatch.setenv("BACKEND_KIT_REDIS_IMAGE", "mine/redis:9")
    monkeypatch.setattr(localbuild, "build_local_images", lambda *a: pytest.fail("built"))
    with pytest.raises(InfrastructureError, match="mine/redis:9 is not here and cannot be pulled"):
        resolve_image(FakeClient(set(), pull_works=False), load(None), "redis")


def test_the_prefix_names_the_local_images(monkeypatch):
    monkeypatch.setenv("BACKEND_KIT_IMAGE_PREFIX", "backend-kit-test/")
    settings = load(None)
    assert [settings.local_image(s) for s in ("postgres", "redis", "python", "base")] == [
        "backend-kit-test/postgres:15", "backend-kit-test/redis:7", "backend-kit-test/python:3.11",
        "backend-kit-test/base:bookworm"]


# ------------------------------------------------------------------ the build: shipped, locked, failing well

def test_the_recipe_ships_with_the_package():
    """An installed runner finds build-local.sh and the Dockerfiles beside its modules."""
    assert Path(runner.__file__).resolve().parent / "images" / "build-local.sh" == localbuild.SCRIPT
    assert localbuild.SCRIPT.is_file()
    assert all((localbuild.IMAGES_DIR / s / "Dockerfile").is_file() for s in ("postgres", "redis", "python"))
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["runner"]
    assert {"images/build-local.sh", "images/*/*"} <= set(data)


def test_the_script_tags_local_names_only(monkeypatch):
    """The runner's BACKEND_KIT_POSTGRES_IMAGE is the configured image: the script must not tag it."""
    monkeypatch.setenv("BACKEND_KIT_POSTGRES_IMAGE", "postgres:15")
    monkeypatch.setenv("BACKEND_KIT_IMAGE_PREFIX", "bk-x")
    env = localbuild.script_environment(load(None))
    assert (env["BACKEND_KIT_POSTGRES_IMAGE"], env["BACKEND_KIT_BASE_IMAGE"]) == ("bk-x/postgres:15",
                                                                                  "bk-x/base:bookworm")


def fake_script(tmp_path: Path, monkeypatch, body: str) -> None:
    script = tmp_path / "build-local.sh"
    script.write_text(body)
    monkeypatch.setattr(localbuild, "SCRIPT", script)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_a_failed_build_is_an_infrastructure_error_saying_what_to_run(tmp_path, monkeypatch, capsys):
    fake_script(tmp_path, monkeypatch, "echo 'debootstrap needs root: run this script with sudo' >&2\nexit 1\n")
    with pytest.raises(InfrastructureError) as caught:
        localbuild.build_local_images(load(None), "postgres", lambda image: False)
    assert "building the local backend-kit/postgres:15 image failed" in caught.value.message
    assert "debootstrap needs root" in caught.value.message
    assert f"sudo bash {localbuild.SCRIPT}" in (caught.value.hint or "")
    assert caught.value.exit_code == 3
    assert "building the PostgreSQL image from Debian packages (first time only, ~3 min)…" in capsys.readouterr().err


def test_two_processes_build_once(tmp_path, monkeypatch):
    """The second waits on the lock, then finds the image the first built."""
    counter = tmp_path / "runs"
    fake_script(tmp_path, monkeypatch, f"echo run >> {counter}\nsleep 0.5\n")
    built: set[str] = set()

    def present(image: str) -> bool:
        return image in built or counter.exists()

    threads = [threading.Thread(target=localbuild.build_local_images, args=(load(None), "redis", present))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.read_text().splitlines() == ["run"]


# ------------------------------------------------------------------ a real build, into a throwaway prefix

@pytest.mark.docker
def test_missing_images_are_built_by_the_provider(monkeypatch, capsys):
    """With the images under a prefix that does not exist, asking the provider for them builds them
    (from the cached Debian root filesystem or a fresh debootstrap); then they are removed."""
    from runner.containers import docker_client
    from runner.services.docker import DockerProvider

    require_docker()
    client = docker_client()
    prefix = f"backend-kit-test-{os.getpid()}"
    monkeypatch.setenv("BACKEND_KIT_IMAGE_PREFIX", prefix)
    # Explicitly our local names: built even on a machine where the official images could be pulled.
    for service, tag in (("postgres", "postgres:15"), ("redis", "redis:7"), ("python", "python:3.11")):
        monkeypatch.setenv(f"BACKEND_KIT_{service.upper()}_IMAGE", f"{prefix}/{tag}")
    settings = load(None, provider="docker")
    names = [settings.local_image(s) for s in ("postgres", "redis", "python", "base")]
    assert not [name for name in names if localbuild_has(client, name)]
    # The base layer (debootstrap, 2-3 min) may come from the kit's own base image, as a cache: the
    # build path (build-local.sh, its labels, the three docker builds) still runs.
    with contextlib.suppress(Exception):
        client.images.get("backend-kit/base:bookworm").tag(f"{prefix}/base", "bookworm")
    provider = DockerProvider(settings, instance=f"imgtest-{os.getpid()}", client=client)
    try:
        assert provider.image_for("postgres") == f"{prefix}/postgres:15"
        assert provider.image_for("redis") == f"{prefix}/redis:7"
        err = capsys.readouterr().err
        assert err.count("building the PostgreSQL image from Debian packages (first time only, ~3 min)…") == 1
        assert f"built {prefix}/postgres:15" in err
        for name in names[:3]:
            assert client.images.get(name).labels.get("backend-kit.recipe"), name
        postgres_url, redis_url = provider.up()  # and they serve
        assert postgres_url.startswith("postgresql://") and redis_url.startswith("redis://")
    finally:
        with contextlib.suppress(Exception):
            provider.down()
        for name in names:  # by tag, never forced: an image another tag shares is only untagged
            with contextlib.suppress(Exception):
                client.images.remove(name)
    assert not [name for name in names if localbuild_has(client, name)]


def localbuild_has(client: object, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)  # type: ignore[attr-defined]
        return True
    except docker.errors.ImageNotFound:
        return False


@pytest.mark.docker
def test_a_failed_build_during_a_grade_exits_3_never_a_zero(hello, tmp_path, monkeypatch):
    """The docker sandbox needs the Python image; its build fails: an infrastructure error document."""
    import json

    from click.testing import CliRunner

    from runner.cli import main

    require_docker()
    prefix = f"backend-kit-test-{os.getpid()}-fail"
    monkeypatch.setenv("BACKEND_KIT_IMAGE_PREFIX", prefix)
    monkeypatch.setenv("BACKEND_KIT_PYTHON_IMAGE", f"{prefix}/python:3.11")  # ours: built, never pulled
    fake_script(tmp_path, monkeypatch, "echo 'build-local.sh: error: debootstrap stage 1 failed' >&2\nexit 1\n")
    result = CliRunner().invoke(main, ["grade", "01-hello", "--submission", str(hello.solution_dir),
                                       "--sandbox", "docker", "--json"])
    assert result.exit_code == 3, result.output
    document = json.loads(result.stdout)
    assert "status" not in document and document["error"]["kind"] == "infrastructure"
    assert f"building the local {prefix}/python:3.11 image failed" in document["error"]["message"]
    assert "debootstrap stage 1 failed" in document["error"]["message"]
    assert "build-local.sh" in document["error"]["hint"]
