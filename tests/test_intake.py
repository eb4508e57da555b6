"""Intake: a submission is read and hashed once, and the hashes say when a result is stale."""

from __future__ import annotations

import io
import tarfile

from runner.intake import Submission, exercise_digest, read_submission
from runner.results import Category

from .conftest import HELLO_SOLUTION, write


def _tar(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


def test_equal_files_have_equal_hashes_and_a_syntax_error_is_found_before_any_process():
    """The digest depends on names and contents only; an unparsable file blocks the grade."""
    first = Submission.from_texts({"app.py": "x = 1\n"})
    assert first.digest == Submission.of({"app.py": b"x = 1\n"}).digest
    assert first.digest != Submission.from_texts({"app.py": "x=1"}).digest
    broken = Submission.from_texts({"app.py": "def f(:\n"})
    assert broken.blocked and [p.category for p in broken.problems] == [Category.SYNTAX_ERROR]


def test_a_rejected_declared_file_under_the_archives_top_folder_blocks(hello, tmp_path):
    """alice/app.py as a symlink is the declared file: rejected (blocking), not ignored."""
    archive = _tar(tmp_path / "alice.tar.gz", [("alice/app.py", None), ("alice/notes.txt", b"hi")])
    submission = read_submission(hello, archive, tmp_path / "scratch")
    assert submission.blocked
    assert [p.category for p in submission.problems] == [Category.REJECTED_FILE]


def test_a_rejected_extra_file_is_ignored_and_the_rest_is_graded(hello, tmp_path):
    """A symlink that is not a declared file is reported as ignored; app.py is read."""
    archive = _tar(tmp_path / "bob.tar.gz", [("bob/app.py", HELLO_SOLUTION.encode()), ("bob/other/app.py", None)])
    submission = read_submission(hello, archive, tmp_path / "scratch")
    assert not submission.blocked and set(submission.files) == {"app.py"}
    assert [p.category for p in submission.problems] == [Category.IGNORED_FILE]


def test_the_exercise_hash_follows_the_checks_and_metadata_not_the_solution(hello):
    """Changing a check or exercise.toml changes the hash; editing the reference solution does not."""
    before = exercise_digest(hello)
    write(hello.solution_dir / "app.py", HELLO_SOLUTION + "\n# edited\n")
    assert exercise_digest(hello) == before
    write(hello.checks_dir / "test_more.py", "def test_more():\n    pass\n")
    after_check = exercise_digest(hello)
    assert after_check != before
    meta = hello.root / "exercise.toml"
    meta.write_text(meta.read_text().replace("time_limit = 40", "time_limit = 41"))
    assert exercise_digest(hello) != after_check
