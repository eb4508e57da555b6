"""The judge: where hidden checks run, in a process that never imports learner code.

Checks are plain pytest functions in an exercise's ``checks/`` folder. They use:

- markers: ``@pytest.mark.points(n)``, ``@pytest.mark.gate`` (if it fails, later checks are
  skipped with a reason), ``@pytest.mark.task(n)``, ``@pytest.mark.visible`` (hidden otherwise),
  ``@pytest.mark.timeout(seconds)`` (enforced from outside by the runner with SIGKILL);
- fixtures from ``runner.judge.plugin``: ``client`` (HTTP to the learner's app), ``learner``
  (learner functions through the protocol), ``db`` (a SQLAlchemy engine on the grade's own
  database), ``redis`` (a client on the grade's own Redis), ``rng`` (seeded per grade and check),
  ``learner_tests`` (run the learner's tests against an implementation served from here);
- ``Mismatch`` and the ``expect_*`` helpers for failure messages a learner can act on.

A check's docstring (first line) is its learner-facing name.
"""

from .expect import Mismatch, expect, expect_equal, expect_header, expect_json, expect_keys, expect_status, show

__all__ = [
    "Mismatch",
    "expect",
    "expect_equal",
    "expect_header",
    "expect_json",
    "expect_keys",
    "expect_status",
    "show",
]
