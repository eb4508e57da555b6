"""backend-kit's runner: grades exercises with a judge that never imports learner code.

Module map (pure modules do no I/O and import nothing from the I/O modules):

- pure:   ``catalog`` (exercise metadata), ``results`` (the result model), ``scoring``,
          ``textsafe`` (capping and cleaning learner-controlled text)
- I/O:    ``exercises`` (finding exercises on disk), ``workspace``, ``services`` (embedded SQLite +
          fakeredis), ``sandbox`` (where learner code runs), ``host`` (runs *inside* the learner's
          process), ``judge`` (the pytest plugin and helpers the hidden checks use), ``grading``
          (the orchestrator), ``validate``, ``report``, ``cli``
"""

__version__ = "0.1.0"
