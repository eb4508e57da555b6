"""Real PostgreSQL and Redis through the docker and url providers: reuse, recovery, isolation, cleanup."""

from __future__ import annotations

import textwrap
import threading

import psycopg
import pytest
import redis as redis_module

from runner.grading import Grader, grade
from runner.results import Status
from runner.services.server import ServerProvider

from .conftest import HELLO_SOLUTION

pytestmark = pytest.mark.docker

FULL = 7


def test_grade_on_real_services_records_its_backend(hello, submit, docker_services):
    """The reference solution scores full marks on PostgreSQL + Redis, and the result says so."""
    report = grade(hello, submit({"app.py": HELLO_SOLUTION}), provider=docker_services)
    assert (report.status, report.score) == (Status.PASS, FULL)
    assert report.backend == "server"
    assert report.services["provider"] == "docker"
    assert report.services["database"].startswith("postgresql 15")
    assert report.services["redis"].startswith("redis 7")


def test_second_grade_reuses_the_containers(hello, submit, docker_services):
    """Grading again starts no container: the same ones answer."""
    before = {c.container: c.state for c in docker_services.status()}
    started = list(docker_services.started)
    ids = {s: docker_services.find(s).id for s in ("postgres", "redis")}
    grade(hello, submit({"app.py": HELLO_SOLUTION}), provider=docker_services)
    assert docker_services.started == started
    assert {s: docker_services.find(s).id for s in ("postgres", "redis")} == ids
    assert before == {c.container: c.state for c in docker_services.status()}


def test_nothing_is_left_behind_after_a_grade(hello, submit, docker_services):
    """No grade database, role, Redis user or slot survives the grade."""
    grade(hello, submit({"app.py": HELLO_SOLUTION}), provider=docker_services)
    assert docker_services.leftovers() == []


def test_killed_service_container_is_restarted(hello, submit, docker_services):
    """A service container killed between grades is detected and restarted; the next grade is correct."""
    docker_services.find("redis").kill()
    docker_services.find("postgres").kill()
    report = grade(hello, submit({"app.py": HELLO_SOLUTION}), provider=docker_services)
    assert (report.status, report.score) == (Status.PASS, FULL)
    assert {row.state for row in docker_services.status()} == {"running"}


HOSTILE = textwrap.dedent('''
    import os, redis, psycopg

    def _attack():
        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg", "postgresql")
        held = []
        try:
            for _ in range(100):  # a connection flood on its own role
                held.append(psycopg.connect(url, autocommit=True))
        except psycopg.Error:
            pass
        if held:
            for (name,) in held[0].execute("SELECT datname FROM pg_database").fetchall():
                try:
                    held[0].execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                except psycopg.Error:
                    pass
        store = redis.Redis.from_url(os.environ["REDIS_URL"])
        for command in (["FLUSHALL"], ["SWAPDB", "0", "1"], ["CONFIG", "SET", "maxclients", "1"], ["SELECT", "1"]):
            try:
                store.execute_command(*command)
            except redis.RedisError:
                pass
        flood = []
        for _ in range(300):
            client = redis.Redis.from_url(os.environ["REDIS_URL"])
            client.ping()
            flood.append(client)
        globals()["_held"] = (held, flood)

    _attack()
''')


def test_hostile_neighbour_does_not_change_an_honest_grade(hello, submit, docker_services):
    """DROP DATABASE, FLUSHALL and connection floods in one grade leave a concurrent grade unchanged."""
    honest_folder = submit({"app.py": HELLO_SOLUTION})
    alone = grade(hello, honest_folder, provider=docker_services)
    results = {}

    def run(label, folder):
        results[label] = Grader(hello, docker_services).grade_folder(folder)

    threads = [
        threading.Thread(target=run, args=("honest", honest_folder)),
        threading.Thread(target=run, args=("hostile", submit({"app.py": HOSTILE + HELLO_SOLUTION}))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["honest"].verdict() == alone.verdict()
    assert results["honest"].score == FULL
    assert docker_services.leftovers() == []


def test_grade_role_reaches_its_own_database_only(docker_services, tmp_path):
    """A grade's login role cannot connect to another database, nor its Redis user leave its slot."""
    server = docker_services._server
    first = server.acquire(tmp_path, database=True, redis=True, template="t")
    second = server.acquire(tmp_path, database=True, redis=True, template="t")
    try:
        own = first.database_url.replace("postgresql+psycopg", "postgresql")
        other = own.rsplit("/", 1)[0] + "/" + second.handle["database"]
        with psycopg.connect(own) as conn:
            conn.execute("CREATE TABLE mine (x int)")
        for target in (other, own.rsplit("/", 1)[0] + "/postgres"):
            with pytest.raises(psycopg.OperationalError, match=r"permission denied|not permitted"):
                psycopg.connect(target)
        store = redis_module.Redis.from_url(first.redis_url)
        store.set("k", "1")
        with pytest.raises(redis_module.RedisError, match="no permissions"):
            store.execute_command("SELECT", second.handle["slot"])
        assert redis_module.Redis.from_url(second.redis_url).get("k") is None
    finally:
        server.release(first)
        server.release(second)
    assert docker_services.leftovers() == []


def test_grade_redis_user_has_what_a_correct_solution_uses(docker_services, tmp_path):
    """The caching track's solutions need transactions, Lua, sorted sets, hashes and expiry: the grade's
    Redis user has them all, and still cannot reach another grade's slot, from a script either."""
    server = docker_services._server
    first = server.acquire(tmp_path, database=False, redis=True, template="t")
    second = server.acquire(tmp_path, database=False, redis=True, template="t")
    try:
        store = redis_module.Redis.from_url(first.redis_url, decode_responses=True)
        pipe = store.pipeline(transaction=True)  # MULTI ... EXEC
        pipe.incr("hits")
        pipe.expire("hits", 60)
        assert pipe.execute() == [1, True]
        with store.pipeline() as watched:  # WATCH, for optimistic locking
            watched.watch("hits")
            watched.multi()
            watched.incr("hits")
            assert watched.execute() == [2]
        script = "local n = redis.call('INCR', KEYS[1]); redis.call('EXPIRE', KEYS[1], ARGV[1]); return n"
        assert store.eval(script, 1, "window", 2) == 1
        assert store.evalsha(store.script_load(script), 1, "window", 2) == 2
        assert store.zincrby("board", 5, "ada") == 5.0
        assert store.zrevrange("board", 0, -1, withscores=True) == [("ada", 5.0)]
        store.hincrby("cart:ada", "MUG-1", 2)
        store.set("cache:1", "{}", ex=90, nx=True)
        assert 0 < store.ttl("cache:1") <= 90
        assert list(store.scan_iter(match="cache:*")) == ["cache:1"]
        with pytest.raises(redis_module.RedisError, match=r"can't run this command|no permissions"):
            store.eval(f"return redis.call('SELECT', '{second.handle['slot']}')", 0)
        with pytest.raises(redis_module.RedisError, match="no permissions"):
            store.execute_command("MOVE", "board", second.handle["slot"])
        assert redis_module.Redis.from_url(second.redis_url).dbsize() == 0
    finally:
        server.release(first)
        server.release(second)
    assert docker_services.leftovers() == []


def test_url_provider_isolates_grades_on_given_servers(hello, submit, docker_services):
    """The url provider (any PostgreSQL/Redis the user points at) grades with the same isolation."""
    postgres_url, redis_url = docker_services.up()
    provider = ServerProvider(postgres_url, redis_url, name="url")
    report = grade(hello, submit({"app.py": HELLO_SOLUTION}), provider=provider)
    assert (report.score, report.services["provider"]) == (FULL, "url")
    assert provider.leftovers() == []


def test_leftovers_of_a_dead_runner_are_reaped(docker_services, tmp_path):
    """Objects named after a runner process that no longer exists are dropped by reap()."""
    server = docker_services._server
    services = server.acquire(tmp_path, database=True, redis=True, template="t")
    name = services.handle["name"]
    dead = "bk_999999_" + name.rsplit("_", 1)[1]
    with psycopg.connect(postgres := docker_services.up()[0], autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{dead}"')
        conn.execute(f'ALTER ROLE "{name}" RENAME TO "{dead}"')
    admin = redis_module.Redis.from_url(docker_services.up()[1], decode_responses=True)
    admin.acl_deluser(name)
    admin.acl_setuser(dead, enabled=False)
    admin.set(f"backend-kit:slot:{services.handle['slot']}", dead)
    reaped = server.reap()
    assert sorted(r.split()[0] for r in reaped) == ["database", "redis", "redis", "role"]
    assert server.leftovers() == []
    assert postgres


def test_services_down_removes_the_containers(docker_services):
    """`runner services down` removes the containers; the provider starts them again on demand."""
    docker_services.down()
    assert {row.state for row in docker_services.status()} == {"absent"}
    docker_services.up()
    assert {row.state for row in docker_services.status()} == {"running"}


def test_start_up_failure_cleans_up_and_is_an_infrastructure_error(docker_services):
    """A service image that cannot start is removed again, and the error carries its logs (exit 3)."""
    import os

    from runner.errors import InfrastructureError
    from runner.services.docker import DockerProvider
    from runner.settings import load

    os.environ["BACKEND_KIT_POSTGRES_IMAGE"] = docker_services.image_for("python")
    try:
        broken = DockerProvider(load(None, provider="docker"), instance=f"broken-{os.getpid()}")
    finally:
        del os.environ["BACKEND_KIT_POSTGRES_IMAGE"]
    with pytest.raises(InfrastructureError) as caught:
        broken.up()
    assert caught.value.exit_code == 3
    assert "could not start the service containers" in caught.value.message
    assert '"postgres": executable file not found' in caught.value.message
    assert broken.find("postgres") is None and broken.find("redis") is None


def test_a_url_seen_from_a_containers_network_keeps_credentials_database_and_options():
    """Only host and port change when a sandbox reaches a server inside the server's network."""
    from runner.catalog import Backend
    from runner.services import GradeServices

    services = GradeServices(Backend.SERVER, "postgresql://bk_r1:p%40ss@127.0.0.1:49153/bk_g1?sslmode=disable",
                             "redis://:s3cret@127.0.0.1:49154/7")
    assert services.seen_from("DATABASE_URL", "172.20.0.3", 5432) == \
        "postgresql://bk_r1:p%40ss@172.20.0.3:5432/bk_g1?sslmode=disable"
    assert services.seen_from("REDIS_URL", "172.20.0.4", 6379) == "redis://:s3cret@172.20.0.4:6379/7"
    assert GradeServices(Backend.SERVER, redis_url="redis://127.0.0.1:1/0").seen_from(
        "REDIS_URL", "10.0.0.9", 6379) == "redis://10.0.0.9:6379/0"
