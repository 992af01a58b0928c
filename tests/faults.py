"""Faults for the reliability tests: a disk that fills up.

``small_disk(folder, kib)`` mounts a real tmpfs of that size where the test may
mount one (root with CAP_SYS_ADMIN): writes beyond it fail with ENOSPC, as on a
full disk. Elsewhere (or with CAMVIDEO_TEST_NO_TMPFS=1; CI without the right) it yields None and ``limited``
gives the fallback: the command run under ``RLIMIT_FSIZE``, where the kernel
fails a write past the limit with EFBIG on the same code paths.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path


@contextlib.contextmanager
def small_disk(folder: Path, kib: int):
    """A tmpfs of ``kib`` KiB mounted on ``folder`` (made), or None when none can be mounted."""
    folder.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    if os.name != "posix" or os.geteuid() != 0 or mount is None or os.environ.get("CAMVIDEO_TEST_NO_TMPFS"):
        yield None
        return
    done = subprocess.run([mount, "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)],
                          capture_output=True, timeout=10)
    if done.returncode != 0:
        yield None
        return
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=10)


def fill(folder: Path, leave_kib: int) -> None:
    """Fill the disk of ``folder`` up to ``leave_kib`` KiB free."""
    free = shutil.disk_usage(folder).free - leave_kib * 1024
    if free > 0:
        with open(folder / "filler", "wb") as file:
            file.write(b"\0" * free)


def limited(argv: list[str], limit_bytes: int | None) -> list[str]:
    """``argv`` (a Python command line: ``[sys.executable, ...]``) run with files
    limited to ``limit_bytes`` (None: as it is)."""
    if limit_bytes is None:
        return argv
    code = (f"import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes})); "
            f"sys.argv = {argv[2:]!r}; runpy.run_module({argv[2]!r}, run_name='__main__')")
    assert argv[:2] == [sys.executable, "-m"], argv
    return [sys.executable, "-c", code]
