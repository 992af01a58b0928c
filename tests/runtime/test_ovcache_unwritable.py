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
    monkeypatch.setattr(ovcache, "_RUN_ONLY_PID", [])
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


def test_the_run_only_folder_is_the_process_s_own_and_removed_by_it_alone(tmp_path, monkeypatch):
    """A forked child (another pid) makes a folder of its own rather than writing into its
    parent's, and each folder is removed at exit by the process that made it."""
    import atexit
    import os
    import tempfile

    monkeypatch.setattr(ovcache, "_RUN_ONLY", {})
    monkeypatch.setattr(ovcache, "_RUN_ONLY_ROOT", [])
    monkeypatch.setattr(ovcache, "_RUN_ONLY_PID", [])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    at_exit = []
    monkeypatch.setattr(atexit, "register", lambda function, *args: at_exit.append((function, args)))
    parent = ovcache._run_only_root()
    assert ovcache._run_only_root() == parent and parent.parent == tmp_path
    pid = os.getpid()
    monkeypatch.setattr(ovcache.os, "getpid", lambda: pid + 1)  # as in a forked child
    child = ovcache._run_only_root()
    assert child != parent and child.is_dir() and len(at_exit) == 2
    for function, args in at_exit:  # the child exits
        function(*args)
    assert parent.is_dir() and not child.exists()
    monkeypatch.setattr(ovcache.os, "getpid", lambda: pid)
    at_exit[0][0](*at_exit[0][1])  # the parent exits
    assert not parent.exists()


def test_a_cache_that_fails_in_openvino_s_own_save_converts_for_the_run(tmp_path, caplog, monkeypatch):
    """OpenVINO's ``save_model`` failing to write (a full disk: it raises RuntimeError, not
    OSError) keeps the conversion for this run, as a read-only cache does (it fell back
    to torch)."""
    import openvino as ov

    monkeypatch.setattr(ovcache, "_RUN_ONLY", {})
    monkeypatch.setattr(ovcache, "_RUN_ONLY_ROOT", [])
    monkeypatch.setattr(ovcache, "_RUN_ONLY_PID", [])
    save, calls = ov.save_model, []

    def full_once(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 1:
            raise RuntimeError("Exception from src/core/src/pass/serialize.cpp: No space left on device")
        return save(*args, **kwargs)

    monkeypatch.setattr(ov, "save_model", full_once)
    with caplog.at_level(logging.INFO, logger="camvideo.runtime.openvino"):
        entry = ovrt.convert(load_model("lite0"), tmp_path / "openvino")
    assert ovcache._valid(entry) and entry.folder.parent == ovcache._RUN_ONLY_ROOT[0]
    assert not list((tmp_path / "openvino").iterdir())  # the failed staging folder removed
    assert any("converted for this run only" in r.getMessage() for r in caplog.records)
