"""The disk quota of one grade: what the learner's program may write to the host's disk.

A per-file size limit (RLIMIT_FSIZE) does not stop many files, so the folders on the host's disk
that the learner can write to are measured (blocks actually used, every few hundred milliseconds)
and the program is stopped past the quota.
"""

from __future__ import annotations

import os
from pathlib import Path

#: What a grade may write to the host's disk (workspace, temporary and database folders together).
DISK_QUOTA = 256 * 1024 * 1024
DISK_QUOTA_FILES = 20_000


def writable_folders(workdir: Path) -> list[Path]:
    return [workdir / "workspace", workdir / "tmp", workdir / "db"]


def over_quota(workdir: Path) -> bool:
    """Whether the grade's writable folders hold more than ``DISK_QUOTA`` bytes or ``DISK_QUOTA_FILES`` entries."""
    total = files = 0
    stack = writable_folders(workdir)
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            files += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
        if total > DISK_QUOTA or files > DISK_QUOTA_FILES:
            return True
    return False
