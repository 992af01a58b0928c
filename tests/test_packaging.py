"""A built wheel carries the demo clip, and the installed package finds it there
(not only in an editable install that sees the repository)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Build from a copy: an in-tree build leaves build/ and *.egg-info in the checkout.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "camvideo", src / "camvideo", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(out), str(src)], capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("camvideo-*.whl")
    return path


def test_the_wheel_contains_the_demo_clip_and_its_attribution(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert {"camvideo/resources/demo.mp4", "camvideo/resources/SOURCES.md"} <= names
        assert z.getinfo("camvideo/resources/demo.mp4").file_size == (ROOT / "camvideo/resources/demo.mp4").stat().st_size


def test_the_installed_wheel_finds_its_demo_clip(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as z:  # what `pip install` puts in site-packages
        z.extractall(tmp_path / "site")
    code = "from camvideo.app.resources import demo_clip_path; print(demo_clip_path())"
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    found = Path(proc.stdout.strip())
    assert found == (tmp_path / "site" / "camvideo" / "resources" / "demo.mp4").resolve() and found.is_file()


def test_openvino_imported_through_any_camvideo_package_sends_no_usage_events():
    """The exported-graph readers (camvideo.models) import OpenVINO without camvideo.runtime:
    its telemetry package was imported (and its events sent) when they came first."""
    pytest.importorskip("openvino")
    code = ("import sys; import camvideo.models.graph_head; import openvino, openvino.frontend; "
            "print(sys.modules.get('openvino_telemetry') is None)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
