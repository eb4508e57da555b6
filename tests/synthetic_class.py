"""A synthetic class for batch grading: submissions made from an exercise's reference solution, its
bug catalogue, broken variants and a few hostile ones (used by tests/test_batch.py and bench/batch.py).

Every submission is distinct (a comment names its learner), as real learners' files are: no two
learners share a content hash, so each one is really graded.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from runner.exercises import Exercise

#: What the hostile "reads another submission" learner looks for; planted in learner-000's file.
SECRET = "bk-other-learner-secret-7f3a"


@dataclass(frozen=True)
class Learner:
    name: str
    kind: str  # correct | bug:<id> | syntax | missing | import | loop | huge-output | escape | snoop


def _prefixed(code: str, solution: str) -> str:
    """``code`` run first when the module is imported: after its ``from __future__`` line, which must
    stay the first statement."""
    future = "from __future__ import annotations\n"
    if future in solution:
        head, _, tail = solution.partition(future)
        return head + future + code + tail
    return code + solution


def _hostile(kind: str, root: Path, solution: str) -> str:
    return _prefixed(_hostile_code(kind, root), solution)


def _hostile_code(kind: str, root: Path) -> str:
    if kind == "huge-output":
        return "import sys\nsys.stdout.write('x' * (20 * 1024 * 1024))\nsys.stdout.flush()\n"
    if kind == "escape":
        return ("import os\n"
                "for target in [os.path.join(os.path.dirname(os.getcwd()), 'escaped.txt'),\n"
                f"               {str(root / 'escaped.txt')!r}, '/escaped-bk.txt']:\n"
                "    try:\n"
                "        open(target, 'w').write('escaped')\n"
                "        print('ESCAPE-OK', target)\n"
                "    except OSError as exc:\n"
                "        print('ESCAPE-DENIED', type(exc).__name__)\n")
    if kind == "snoop":
        return ("try:\n"
                f"    print('SNOOP-OK', open({str(root / 'learner-000' / 'app.py')!r}).read()[:300])\n"
                "except OSError as exc:\n"
                "    print('SNOOP-DENIED', type(exc).__name__)\n")
    raise ValueError(kind)


def make_class(root: Path, exercise: Exercise, size: int = 200, *, archives: int = 8) -> list[Learner]:
    """Write ``size`` submissions of ``exercise`` (one file: the exercise's first) under ``root``:
    ``root/learner-NNN`` folders, the last ``archives`` correct ones as ``.zip`` files."""
    (name,) = exercise.meta.files
    solution = exercise.solution_files()[name]
    bugs = exercise.bugs
    special = ["syntax"] * 4 + ["missing"] * 3 + ["import"] * 4 + ["loop", "huge-output", "escape", "snoop"]
    # learner-000 is correct: the snoop looks for its file.
    kinds: list[str] = ["correct", *special, *(f"bug:{bug.id}" for bug in bugs for _ in range(2))]
    kinds += ["correct"] * max(size - len(kinds), 0)
    kinds = kinds[:size]
    learners = []
    zipped = 0
    for index, kind in enumerate(kinds):
        learner = Learner(f"learner-{index:03d}", kind)
        header = f"# submitted by {learner.name}\n"
        if index == 0:
            header += f"# {SECRET}\n"
        text: str | None
        if kind == "correct":
            text = solution
        elif kind.startswith("bug:"):
            bug = next(b for b in bugs if b.id == kind.removeprefix("bug:"))
            text = exercise.bug_files(bug)[name]
        elif kind == "syntax":
            text = solution.replace("def ", "def (", 1)
        elif kind == "missing":
            text = None
        elif kind == "import":
            text = _prefixed(f"import no_such_module_{index}\n", solution)
        elif kind == "loop":
            text = _prefixed("while True:\n    pass\n", solution)
        else:
            text = _hostile(kind, root, solution)
        folder = root / learner.name
        folder.mkdir(parents=True)
        if text is None:
            (folder / "notes.txt").write_text("I forgot to add my file\n")
        else:
            (folder / name).write_text(header + text)
        if kind == "correct" and index >= size - archives * 3 and zipped < archives:
            zipped += 1
            with zipfile.ZipFile(root / f"{learner.name}.zip", "w") as archive:
                archive.write(folder / name, f"{learner.name}/{name}")
            (folder / name).unlink()
            folder.rmdir()
        learners.append(learner)
    return learners
