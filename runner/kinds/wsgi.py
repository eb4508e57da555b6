"""The ``wsgi`` kind: a Flask app factory, served on a real WSGI server and checked over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..results import Category
from . import Kind, Scaffold, ScaffoldBug

if TYPE_CHECKING:
    from ..learner.host import Host

_STARTER = '''from flask import Flask, jsonify


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(config or {})

    @app.get("/health")
    def health():
        # TODO: return {"status": "ok"}
        return jsonify({})

    return app
'''

_CHECK = '''import pytest

from runner.judge import expect_equal, expect_json, expect_status


@pytest.mark.gate
@pytest.mark.points(2)
@pytest.mark.rules("R1")
def test_health(client):
    """GET /health answers {"status": "ok"}"""
    response = client.get("/health")
    expect_status(response, 200)
    expect_equal(expect_json(response), {"status": "ok"}, "the body of GET /health")
'''


class Wsgi(Kind):
    name = "wsgi"
    description = "a Flask app factory, served over HTTP on loopback"
    scaffold = Scaffold(
        learner_file="app.py",
        target="app:create_app",
        functions=(),
        starter=_STARTER,
        solution=_STARTER.replace('        # TODO: return {"status": "ok"}\n', "").replace(
            "jsonify({})", 'jsonify({"status": "ok"})'),
        check=_CHECK,
        bug=ScaffoldBug("health-empty", "Returns an empty object", 'jsonify({"status": "ok"})', "jsonify({})",
                        "test_health"),
        rules=('[R1] (gate) `GET /health` answers 200 with the JSON body `{"status": "ok"}`.',),
    )

    def entry_problem(self, target: str, functions: Sequence[str]) -> str | None:
        if ":" not in target:
            return "a wsgi entry needs 'module:factory', e.g. 'app:create_app'"
        return None

    def serve(self, host: Host) -> None:
        spec = host.spec
        app_log = None
        if spec.app_log:
            from ..learner.applog import AppLog

            # Before the learner's code is imported: a logging handler it makes holds the proxies.
            app_log = AppLog(spec.app_log, str(host.workspace))
            app_log.install()
        guard = host.refuse_servers(spec.target.partition(":")[2] + "(config)")
        factory = host.load(spec.target)
        guard.importing = False
        try:
            app = factory(dict(spec.config))
            if not callable(app):
                raise TypeError(f"{spec.target} returned {type(app).__name__}, not a WSGI app (a Flask object)")
        except BaseException as exc:
            host.fail(Category.STARTUP_ERROR, f"{spec.target}(config) raised {type(exc).__name__}: {exc}",
                      host.traceback(exc))
        guard.restore()
        import logging

        from werkzeug.serving import make_server

        # Request logs would drown the learner's own prints in the report.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        served = app if app_log is None else app_log.wrap(app)
        server = make_server(spec.bind, 0, served, threaded=True)
        host.ready(server.server_port)
        server.serve_forever()

    def judge_fixtures(self) -> dict[str, Callable[..., Any]]:
        import pytest

        from ..judge.http import Client
        from ..judge.instances import Instances, channel_stopper
        from ..wire import Endpoint, JudgeSpec

        @pytest.fixture(scope="session")
        def client(endpoint: Endpoint, judge_spec: JudgeSpec) -> Client:
            """HTTP to the learner's app; each check's exchanges are kept for its failure message."""
            several = len(endpoint.base_urls) > 1
            return Client(endpoint.base_url, timeout=judge_spec.request_timeout, label="instance 1" if several else "")

        @pytest.fixture(scope="session")
        def instances(endpoint: Endpoint, judge_spec: JudgeSpec, client: Client,
                      pytestconfig: pytest.Config) -> Instances:
            """Every copy of the learner's app (``entry.instances``): a ``Client`` each, and ``stop(i)``."""
            from ..judge.plugin import STATE_KEY

            state = pytestconfig.stash[STATE_KEY]
            others = [Client(url, timeout=judge_spec.request_timeout, label=f"instance {number}")
                      for number, url in enumerate(endpoint.base_urls[1:], start=2)]
            return Instances([client, *others], channel_stopper(state.emit, judge_spec.endpoint_fd))

        return {"client": client, "instances": instances}


KIND = Wsgi()
