"""The learner side of the trust boundary: what runs *inside* the learner's sandbox.

``host`` (imports and serves the learner's code), ``proxy`` (stands in for a module under test),
``testrun`` (reports the outcomes of the learner's own tests) and ``pytest.ini`` (the pinned
configuration of those runs). These modules are mounted into the docker sandbox and imported with
``python -I``, so they import only the stdlib, ``wire``, ``results``, ``protocol`` and ``kinds``
(a test holds them to that); nothing here is trusted as a verdict.
"""
