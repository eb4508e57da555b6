"""`runner new`: a new exercise folder and its solution folder, ready to fill in and validate.

What is written for each kind (starter, solution, a check, a catalogued bug) is the kind's own
``Scaffold`` (``runner.kinds``); this module only lays it out.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import kinds
from .catalog import SLUG
from .errors import UsageError


def _bugs_toml(bug: kinds.ScaffoldBug, file: str) -> str:
    return (
        "#:schema ../../schemas/bugs.schema.json\n"
        f'format_version = 1\n\n[[bug]]\nid = "{bug.id}"\nsummary = "{bug.summary}"\nfile = "{file}"\n'
        f"find = '''{bug.find}'''\nreplace = '''{bug.replace}'''\nfails = [\"{bug.fails}\"]\n"
    )


def scaffold(root: Path, slug: str, kind_name: str, title: str) -> list[Path]:
    if not SLUG.match(slug):
        raise UsageError(f"{slug!r} is not a valid exercise name.", hint="Use a number and a name: 04-rate-limits.")
    if kind_name not in kinds.names():
        raise UsageError(f"{kind_name!r} is not an exercise kind.", hint=f"Use one of: {', '.join(kinds.names())}.")
    exercise = root / "exercises" / slug
    solution = root / "solutions" / slug
    if exercise.exists() or solution.exists():
        raise UsageError(f"{slug} already exists.", hint="Choose another name, or edit the existing exercise.")
    template = kinds.get(kind_name).scaffold
    learner_file = template.learner_file
    files = {
        exercise / "exercise.toml": f'''#:schema ../../schemas/exercise.schema.json
format_version = 1
title = "{title}"
track = "general"
difficulty = "beginner"
concepts = ["TODO: the concepts this exercise teaches"]
prerequisites = []
time_limit = 60
check_timeout = 10
files = ["{learner_file}"]
support_files = {json.dumps(sorted(template.support_files))}
hints = ["TODO: a first hint"]

[entry]
kind = "{kind_name}"
target = "{template.target}"
functions = {json.dumps(list(template.functions))}

[services]
database = false
redis = false
backends = ["embedded", "server"]
''',
        exercise / "README.md": f"# {title}\n\nTODO: the statement: what to build, and the exact contract.\n\n"
        "## Rules\n\nEvery rule has an id; the checks name the rules they prove (`@pytest.mark.rules`).\n\n"
        + "".join(f"- {rule}\n" for rule in template.rules),
        exercise / "starter" / learner_file: template.starter,
        exercise / "tests" / "test_visible.py": "def test_placeholder():\n    # TODO: visible tests\n    assert True\n",
        exercise / "checks" / "test_checks.py": template.check,
        solution / learner_file: template.solution,
        solution / "bugs.toml": _bugs_toml(template.bug, learner_file),
    }
    for name, text in {**template.support_files, **template.local_files}.items():
        files[exercise / "starter" / name] = text
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return sorted(files)
