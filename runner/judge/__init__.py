"""The judge: where hidden checks run, in a process that never imports learner code.

Checks are plain pytest functions in an exercise's ``checks/`` folder. They use:

- markers: ``@pytest.mark.points(n)``, ``@pytest.mark.gate`` (if it fails, later checks are
  skipped with a reason), ``@pytest.mark.task(n)``, ``@pytest.mark.visible`` (hidden otherwise),
  ``@pytest.mark.timeout(seconds)`` (enforced from outside by the runner with SIGKILL);
- fixtures every kind has (``runner.judge.plugin``): ``db`` (a SQLAlchemy engine on the grade's
  own database), ``redis`` (a client on the grade's own Redis), ``rng`` (seeded per grade and
  check), ``judge_spec``, ``endpoint``, ``learner_settings``, ``learner_database_url``,
  ``exercise_dir``; and the fixtures of the exercise's kind (``runner.kinds``): ``client`` (wsgi:
  HTTP to the learner's app), ``learner`` (functions: calls through the protocol),
  ``learner_tests`` (tests: runs the learner's tests against an implementation served from here);
- ``Mismatch`` and the ``expect_*`` helpers for failure messages a learner can act on;
- the SQL kit (``runner.judge.sql``: ``expect_accepted``, ``expect_refused``, ``expect_rows``,
  ``watch_tables``, ...) and the ``statements`` fixture with ``expect_at_most``
  (``runner.judge.statements``: the SQL statements the app sent during a block);
- the Redis kit (``runner.judge.redis_probe``: the ``redis_probe`` fixture, ``expect_key``,
  ``expect_ttl_between``, ``watch()`` with ``expect_cache_hit``/``expect_no_command``) and the
  ``faults`` fixture (``runner.judge.faults``: ``redis_down()``, ``database_down()``);
- several copies of the learner's app (``[entry] instances = 2``): the ``instances`` fixture
  (``runner.judge.instances``: a ``Client`` per copy, ``alternate()``, ``stop(i)``).

A check's docstring (first line) is its learner-facing name.
"""

from ..wire import Endpoint, JudgeSpec, TestOutcome
from .expect import (
    expect,
    expect_equal,
    expect_error_json,
    expect_header,
    expect_json,
    expect_json_matches,
    expect_keys,
    expect_status,
    json_diff,
)
from .faults import Faults
from .http import TRANSCRIPT, Client, Exchange, Response, curl_command, run_together
from .instances import Instances
from .learner import Learner, LearnerTests, TestRun
from .mismatch import Mismatch, show
from .redis_probe import (
    CommandLog,
    KeyState,
    RedisProbe,
    expect_cache_hit,
    expect_command,
    expect_key,
    expect_no_command,
    expect_no_key,
    expect_ttl_between,
)
from .sql import (
    TableChanges,
    TableWatch,
    db_error,
    describe_insert,
    expect_accepted,
    expect_delete_cascades,
    expect_delete_refused,
    expect_refused,
    expect_row_count,
    expect_rows,
    insert,
    row_count,
    rows,
    watch_tables,
)
from .statements import StatementLog, Statements, expect_at_most

Raised = Learner.Raised

__all__ = [
    "TRANSCRIPT",
    "Client",
    "CommandLog",
    "Endpoint",
    "Exchange",
    "Faults",
    "Instances",
    "JudgeSpec",
    "KeyState",
    "Learner",
    "LearnerTests",
    "Mismatch",
    "Raised",
    "RedisProbe",
    "Response",
    "StatementLog",
    "Statements",
    "TableChanges",
    "TableWatch",
    "TestOutcome",
    "TestRun",
    "curl_command",
    "db_error",
    "describe_insert",
    "expect",
    "expect_accepted",
    "expect_at_most",
    "expect_cache_hit",
    "expect_command",
    "expect_delete_cascades",
    "expect_delete_refused",
    "expect_equal",
    "expect_error_json",
    "expect_header",
    "expect_json",
    "expect_json_matches",
    "expect_key",
    "expect_keys",
    "expect_no_command",
    "expect_no_key",
    "expect_refused",
    "expect_row_count",
    "expect_rows",
    "expect_status",
    "expect_ttl_between",
    "insert",
    "json_diff",
    "row_count",
    "rows",
    "run_together",
    "show",
    "watch_tables",
]
