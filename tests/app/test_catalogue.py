"""The window's model list without torch in its process: torch's hub cache found by
torch's rule, the list kept whole, the child at the lowest priority when asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from camvideo.app import catalogue

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("env", "folder"), [
    ({"TORCH_HOME": "/t/home"}, "/t/home/hub/checkpoints"),
    ({"XDG_CACHE_HOME": "/x/cache"}, "/x/cache/torch/hub/checkpoints"),
    ({}, "~/.cache/torch/hub/checkpoints"),
])
def test_torchs_hub_cache_is_found_by_torchs_rule(env, folder, monkeypatch):
    import torch.hub

    for name in ("TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert catalogue.hub_checkpoints() == Path(os.path.expanduser(folder))
    assert catalogue.hub_checkpoints() == Path(torch.hub.get_dir()) / "checkpoints"  # torch's own answer


def test_a_kept_list_and_what_is_ready_offline_need_no_torch(tmp_path, monkeypatch):
    """A fresh process, as the window before torch's import is done."""
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "resnet18-f37072fd.pth").write_bytes(b"weights")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    catalogue.keep([("lite0", catalogue.EMBEDDED), ("resnet18", "resnet18-f37072fd.pth"), ("resnet50", "r50.pth")])
    code = ("import json, sys; from camvideo.app import catalogue; pairs = catalogue.catalogue(); "
            "print(json.dumps([len(pairs), catalogue.ready_offline(pairs), 'torch' in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [3, ["lite0", "resnet18"], False]


def test_the_list_is_kept_whole_or_not_at_all(tmp_path):
    path = tmp_path / "deep" / "models.json"
    catalogue.keep([("lite0", catalogue.EMBEDDED)], path)
    assert json.loads(path.read_text()) == [["lite0", catalogue.EMBEDDED]]
    assert [p.name for p in path.parent.iterdir()] == ["models.json"]  # no part file left
    blocked = tmp_path / "file"
    blocked.write_text("")
    catalogue.keep([("lite0", catalogue.EMBEDDED)], blocked / "models.json")  # cannot: said at INFO, no raise


@pytest.mark.skipif(not hasattr(os, "nice"), reason="POSIX nice")
def test_the_child_asked_to_be_nice_runs_at_the_lowest_priority():
    code = "import os; from camvideo.app.catalogue import _lowest_priority; _lowest_priority(); print(os.nice(0))"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, check=True).stdout
    assert int(out) == 19
