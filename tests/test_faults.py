"""Per-grade outages (runner.judge.faults): the learner's Redis or database goes away for the block
and comes back, on the embedded backend and on real servers (docker provider), without touching
another grade; and the `faults` and `redis_probe` fixtures of the judge plugin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis as redis_module
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from runner import wire
from runner.judge import Faults
from runner.results import CheckStatus
from runner.services import GradeServices
from runner.services.embedded import EmbeddedProvider

from .test_judge_plugin import _finished, run

pytest_plugins = ["pytester"]

BACKENDS = ["embedded", pytest.param("docker", marks=pytest.mark.docker)]


@dataclass
class Grade:
    services: GradeServices
    faults: Faults
    learner_redis: Any
    learner_db: Any  # a SQLAlchemy engine on the learner's DATABASE_URL, standing in for the app

    def redis_works(self) -> bool:
        try:
            return bool(self.learner_redis.ping())
        except redis_module.RedisError:
            return False

    def database_works(self) -> bool:
        try:
            with self.learner_db.connect() as connection:
                connection.execute(text("SELECT 1")).scalar_one()
                connection.execute(text("CREATE TABLE IF NOT EXISTS probe (x int)"))
                connection.commit()
            return True
        except OperationalError:
            return False


def _faults(services: GradeServices) -> Faults:
    """The judge's Faults as the plugin builds it from the JudgeSpec and the learner's settings."""
    return Faults(judge_redis_url=services.judge_redis, learner_redis_url=services.redis_url,
                  judge_database_url=services.judge_database, learner_database_url=services.database_url,
                  fault_token=services.handle.get("fault_token"))


@pytest.fixture(params=BACKENDS)
def provider(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "embedded":
        embedded = EmbeddedProvider()
        yield embedded
        embedded.close()
    else:
        yield request.getfixturevalue("docker_services")


@pytest.fixture
def grades(provider: Any, tmp_path: Path) -> Iterator[Any]:
    acquired: list[Grade] = []

    def acquire() -> Grade:
        folder = tmp_path / f"grade-{len(acquired)}"
        folder.mkdir()
        services = provider.acquire(folder, database=True, redis=True)
        learner_redis = redis_module.Redis.from_url(services.redis_url, socket_timeout=5, socket_connect_timeout=5)
        if services.database_url.startswith("sqlite"):
            engine = create_engine(services.database_url, poolclass=NullPool, connect_args={"timeout": 0.2})
        else:
            engine = create_engine(services.database_url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
        grade = Grade(services, _faults(services), learner_redis, engine)
        acquired.append(grade)
        return grade

    yield acquire
    for grade in acquired:
        grade.faults.restore_all()
        grade.learner_redis.close()
        grade.learner_db.dispose()
        provider.release(grade.services)


def test_redis_down_cuts_the_learner_off_and_brings_it_back(grades):
    """Inside the block the learner's open and new connections fail; the judge's own keep working;
    a second grade is untouched; after the block the learner's client works again."""
    first, second = grades(), grades()
    judge = redis_module.Redis.from_url(first.services.judge_redis, decode_responses=True, socket_timeout=5)
    first.learner_redis.set("k", "v")
    assert first.redis_works() and second.redis_works()
    with first.faults.redis_down() as faults:
        assert not first.redis_works()
        fresh = redis_module.Redis.from_url(first.services.redis_url, socket_timeout=5)
        with pytest.raises(redis_module.RedisError):
            fresh.get("k")
        assert judge.get("k") == "v"
        assert second.redis_works() and second.learner_redis.set("theirs", "1")
        how = faults.how
    assert first.redis_works() and first.learner_redis.get("k") == b"v"
    judge.close()
    if first.services.handle.get("fault_token"):
        assert how == "the embedded Redis closed the app's connections and refused new ones"
    else:
        user = first.services.handle["redis_user"]
        assert how == f"the grade's Redis user {user} was disabled (ACL SETUSER off) and its connections killed"


def test_database_down_cuts_the_learner_off_and_brings_it_back(grades):
    """Inside the block the learner's queries fail (locked SQLite, or a role without LOGIN); a
    second grade's database keeps working; after the block the learner's queries work again."""
    first, second = grades(), grades()
    assert first.database_works() and second.database_works()
    with first.faults.database_down() as faults:
        with pytest.raises(OperationalError) as failure, first.learner_db.connect() as connection:
            connection.execute(text("SELECT * FROM probe")).fetchall()
        assert second.database_works()
        how = faults.how
    assert first.database_works()
    if first.services.database_url.startswith("sqlite"):
        assert "database is locked" in str(failure.value)
        assert how.startswith("the judge held an exclusive lock on the SQLite database (BEGIN EXCLUSIVE)")
    else:
        role = first.services.handle["role"]
        assert how == f"the grade's PostgreSQL role {role} lost LOGIN and its connections were terminated"
        assert "not permitted to log in" in str(failure.value) or "terminat" in str(failure.value)


def test_an_open_learner_connection_is_cut_too(grades):
    """The learner's Redis and database connections opened before the block do not survive it."""
    grade = grades()
    assert grade.redis_works()
    with grade.learner_db.connect() as held:
        held.execute(text("SELECT 1"))
        with grade.faults.database_down(), pytest.raises(OperationalError):
            held.execute(text("SELECT * FROM probe")).fetchall()
    assert grade.database_works()


def test_a_crash_inside_the_block_still_restores(grades):
    """The block restores in `finally`; a fault entered and never left is restored by restore_all
    (the fixture's teardown)."""
    grade = grades()
    with pytest.raises(ZeroDivisionError), grade.faults.redis_down():
        1 / 0  # noqa: B018
    assert grade.redis_works()
    redis_block = grade.faults.redis_down()
    redis_block.__enter__()
    database_block = grade.faults.database_down()
    database_block.__enter__()
    assert not grade.redis_works() and not grade.database_works()
    grade.faults.restore_all()
    assert grade.redis_works() and grade.database_works()
    redis_block.__exit__(None, None, None)  # leaving afterwards does nothing more
    database_block.__exit__(None, None, None)
    assert grade.redis_works() and grade.database_works()
    with grade.faults.redis_down(), pytest.raises(RuntimeError, match="already active"), grade.faults.redis_down():
        pass


def test_the_learner_cannot_use_the_embedded_fault_switch(tmp_path):
    """BACKENDKIT.FAULT without the grade's token is an unknown command, and nothing goes down;
    the judge's credentials are not the learner's."""
    provider = EmbeddedProvider()
    try:
        services = provider.acquire(tmp_path, database=False, redis=True)
        learner = redis_module.Redis.from_url(services.redis_url, socket_timeout=5)
        for args in (("wrong-token", "down"), (services.handle["fault_token"][:-1] + "0", "down"), ()):
            with pytest.raises(redis_module.ResponseError, match=r"unknown command 'BACKENDKIT\.FAULT'"):
                learner.execute_command("BACKENDKIT.FAULT", *args)
        assert learner.ping()
        assert services.redis_url.startswith("redis://127.0.0.1:") and "@" not in services.redis_url
        assert services.handle["fault_token"] not in str(services.details)
        learner.close()
    finally:
        provider.close()


# ---------------------------------------------------------------- the judge plugin's fixtures

FIXTURE_CHECKS = '''
import redis as redis_module
from runner.judge import Mismatch, RedisProbe, expect_cache_hit


def test_probe(redis_probe, learner_settings):
    """The probe watches the app"""
    assert isinstance(redis_probe, RedisProbe)
    app = redis_module.Redis.from_url(learner_settings["REDIS_URL"])
    with redis_probe.watch("GET /posts/7") as log:
        app.get("post:7")
    expect_cache_hit(log, "post:7")
    with redis_probe.watch("GET /posts/8") as log:
        pass
    expect_cache_hit(log, "post:8")


def test_faults(faults, learner_settings, redis):
    """Faults come back at teardown"""
    app = redis_module.Redis.from_url(learner_settings["REDIS_URL"])
    block = faults.redis_down()
    block.__enter__()  # and never left: the check crashes below
    try:
        app.ping()
    except Exception:
        pass
    else:
        raise AssertionError("still up")
    assert redis.ping()
    raise KeyError("the check crashed inside the block")


def test_after(learner_settings):
    """The next check finds Redis back"""
    assert redis_module.Redis.from_url(learner_settings["REDIS_URL"]).ping()
'''


def test_the_plugin_provides_redis_probe_and_faults(pytester, monkeypatch, tmp_path):
    """Checks ask for `redis_probe` and `faults`; a fault a crashed check left is restored at its teardown."""
    provider = EmbeddedProvider()
    try:
        services = provider.acquire(tmp_path, database=True, redis=True)
        endpoint_read, endpoint_write = os.pipe()
        os.write(endpoint_write, wire.dump(wire.Endpoint("127.0.0.1", 1, services.config())))
        os.close(endpoint_write)
        events = run(pytester, monkeypatch, FIXTURE_CHECKS, redis_url=services.judge_redis,
                     database_url=services.judge_database, fault_token=services.handle["fault_token"],
                     endpoint_fd=endpoint_read)
        finished = _finished(events)
        probe = finished["test_probe"]
        assert probe.status is CheckStatus.FAILED
        assert probe.outcome.message == ("GET /posts/8 sent 0 Redis commands; a cached read sends GET on the key "
                                         "post:8")
        assert finished["test_faults"].status is CheckStatus.ERROR
        assert finished["test_after"].status is CheckStatus.PASSED
    finally:
        provider.close()
