"""Where learner code runs: never in the runner's or the judge's process.

``process`` (this package's only sandbox so far) starts the learner's program as a subprocess with
a clean environment, ``python -I -B``, its own session and process group, resource limits, and a
bounded capture of its output; ending a grade kills the whole group with SIGKILL.
"""
