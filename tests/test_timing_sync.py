"""StageTimer's optional CUDA sync: none (and no torch) off CUDA; on a GPU, the
spans wait for the kernels."""

from __future__ import annotations

import subprocess
import sys

import pytest

from camvideo.timing import StageTimer, cuda_sync


def test_no_sync_off_cuda_and_no_torch_import():
    code = ("import sys\nfrom camvideo.timing import StageTimer\n"
            "t = StageTimer(sync='cpu')\nwith t('x'): pass\nassert not t.syncs and StageTimer(sync=None).syncs is False\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert cuda_sync(None) is None and cuda_sync("mps") is None and cuda_sync("openvino:GPU") is None


def test_a_torch_cpu_device_does_not_sync():
    torch = pytest.importorskip("torch")
    timer = StageTimer(sync=torch.device("cpu"))
    with timer("forward"):
        pass
    assert not timer.syncs and set(timer.ms) == {"forward"}


def test_the_sync_runs_at_both_ends_of_a_span(monkeypatch):
    """The sync path without a GPU: torch.cuda.synchronize is called on entry and exit."""
    torch = pytest.importorskip("torch")
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    timer = StageTimer(sync="cuda:0")
    assert timer.syncs
    with timer("forward"):
        calls.append("body")
    with pytest.raises(ZeroDivisionError), timer("boxes"):
        1 / 0  # noqa: B018 - a stage that raises still syncs and records
    assert calls == [torch.device("cuda:0"), "body", torch.device("cuda:0")] * 1 + [torch.device("cuda:0")] * 2
    assert set(timer.ms) == {"forward", "boxes"}


@pytest.mark.skipif("not __import__('torch').cuda.is_available()", reason="needs a CUDA GPU")
def test_forward_on_a_gpu_times_the_kernels():
    import torch

    x = torch.randn(2048, 2048, device="cuda")
    torch.cuda.synchronize()
    plain, synced = StageTimer(), StageTimer(sync=x.device)
    for timer in (plain, synced):
        with timer("forward"):
            for _ in range(20):
                x @ x
    assert synced.ms["forward"] > plain.ms["forward"]
