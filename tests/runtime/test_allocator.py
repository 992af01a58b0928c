"""tune_allocator: glibc's thresholds set once, a no-op elsewhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, **env) -> str:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environment.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


CODE = "from camvideo.runtime.allocator import tune_allocator as t; print(t(), t())"


def test_sets_the_thresholds_once_on_linux():
    expected = "True True" if sys.platform.startswith("linux") else "False False"
    assert _run(CODE) == expected


def test_the_users_own_setting_wins():
    assert _run(CODE, MALLOC_MMAP_THRESHOLD_="1048576") == "False False"
