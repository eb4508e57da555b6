"""backend-kit's runner: grades exercises with a judge that never imports learner code.

Module map (``tests/test_layout.py`` holds the code to it):

- pure, no I/O: ``results`` (the result model), ``scoring``, ``catalog`` (the exercise.toml
  schema), ``textsafe`` (capping, cleaning and redacting learner-controlled text), ``exports``,
  ``findings`` (what validate found), ``errors``, ``wire`` (every message that crosses a process),
  ``session`` (one grade's bookkeeping and time rules, told the time);
- ``kinds``: one module per exercise kind (wsgi, functions, tests), imported on both sides;
- ``learner``: inside the learner's sandbox (``host``, ``proxy``, ``testrun``), stdlib and wire only;
- ``judge``: the judge process's pytest plugin and the helpers checks use; ``judge.launch``
  starts it from the runner side;
- orchestration: ``intake`` (a submission read and hashed once), ``grading`` (the I/O loop of a
  grade), ``context`` (provider, sandbox and graders for a command), ``validate``, ``parity``,
  ``quota`` (the disk quota), ``processes`` (child-process primitives);
- plumbing: ``sandbox`` (process, docker), ``services`` (embedded, server, docker), ``containers``
  (Docker client, labels, images, reaping), ``archive`` (safe unpacking), ``exercises`` (finding
  exercises on disk), ``settings``;
- the CLI: ``cli``, ``report`` (terminal rendering), ``workspace``, ``scaffold``, ``doctor``.
"""

__version__ = "0.1.0"
