"""runner watch: regrade on save in a real terminal (tmux), and the polling decision."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from runner.watch import filesystem_of, polling_reason

from .conftest import HELLO_SOLUTION, require_tool, write


def _tmux_or_skip() -> str:
    return require_tool("tmux", "the watch test needs a real terminal")


def test_watch_regrades_on_save_in_a_real_terminal(hello, kit: Path) -> None:
    """In an 80×24 tmux pane, saving a fix redraws the report with the new score."""
    tmux = _tmux_or_skip()
    subprocess.run([sys.executable, "-m", "runner", "start", "01-hello"], check=True, capture_output=True,
                   env={**os.environ, "BACKEND_KIT_ROOT": str(kit)})
    server = [tmux, "-L", f"backend-kit-watch-{os.getpid()}"]
    command = f"env BACKEND_KIT_ROOT={shlex.quote(str(kit))} {shlex.quote(sys.executable)} -m runner watch 01-hello"
    subprocess.run([*server, "new-session", "-d", "-s", "watch", "-x", "80", "-y", "24", command], check=True)

    def wait_for(text: str, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = subprocess.run([*server, "capture-pane", "-p", "-t", "watch"], capture_output=True,
                                    text=True).stdout
            if text in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")

    try:
        wait_for("Score 0/7")
        write(kit / "workspace" / "01-hello" / "app.py", HELLO_SOLUTION)
        screen = wait_for("Score 7/7")
        assert "Score 0/7" not in screen  # the screen was cleared and redrawn
        assert "Watching app.py" in screen
    finally:
        subprocess.run([*server, "kill-server"], capture_output=True)


def test_network_and_windows_filesystems_are_polled() -> None:
    """nfs, WSL's drvfs and FUSE shares are polled; ext4 is not."""
    assert polling_reason("nfs4", "6.1.0") is not None
    assert polling_reason("drvfs", "5.15.0-microsoft-standard") is not None
    assert polling_reason("fuse.sshfs", "6.1.0") is not None
    assert polling_reason("ext4", "6.1.0") is None


def test_filesystem_of_takes_the_longest_mount_point() -> None:
    """A folder's filesystem is that of the deepest mount holding it."""
    mounts = "/dev/sda1 / ext4 rw 0 0\nserver:/home /mnt/share nfs4 rw 0 0\n"
    assert filesystem_of(Path("/mnt/share/ws"), mounts) == "nfs4"
    assert filesystem_of(Path("/mnt/sharex"), mounts) == "ext4"
