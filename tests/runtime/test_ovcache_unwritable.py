"""The OpenVINO conversion where its cache folder cannot be written (a read-only home):
OpenVINO still runs the model, from a temporary folder of the process's own, with one
warning (it fell back to torch, ~4x slower, saying "OpenVINO cannot run lite0")."""

from __future__ import annotations

import logging

import pytest
import torch

from camvideo.models import load_model

pytest.importorskip("openvino")
from camvideo.runtime import openvino as ovrt  # noqa: E402 - after the skip
from camvideo.runtime import ovcache  # noqa: E402


def test_a_cache_that_cannot_be_written_converts_for_the_run_and_says_so_once(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(ovcache, "_RUN_ONLY", {})
    monkeypatch.setattr(ovcache, "_RUN_ONLY_ROOT", [])
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")  # the cache folder cannot be made under it
    model = load_model("lite0")
    with caplog.at_level(logging.INFO, logger="camvideo.runtime.openvino"):
        entry = ovrt.convert(model, blocked / "openvino")
        again = ovrt.convert(model, blocked / "openvino")  # this run's conversion, found again
        other = ovrt.convert(model, blocked / "openvino", (224, 288))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "converted for this run only" in warnings[0].getMessage()
    assert again == entry and ovcache._valid(entry) and ovcache._valid(other)
    assert entry.folder.parent == ovcache._RUN_ONLY_ROOT[0] and not entry.folder.is_relative_to(tmp_path)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        ref = model.features(x)
    torch.testing.assert_close(ovrt.OpenVINOForward(model, cache=blocked / "openvino")(x), ref, atol=1e-4, rtol=1e-4)
