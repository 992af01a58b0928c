"""Small wording: a batch of one file, --class's bad ids, bench --quick's help, an offline models --fetch."""

from __future__ import annotations

from pathlib import Path

import pytest

from camvideo.batch.summary import Totals, format_table
from camvideo.cli import build_parser
from camvideo.cli import options as cli
from camvideo.errors import CamvideoError


def test_a_batch_of_one_file_says_file_not_files(tmp_path):
    totals = Totals(files=1)
    totals.add({"rel": "a.mp4", "status": "done", "frames": 1, "seconds": 1.0})
    assert "1 file, 1 frame in" in format_table(totals, 1.0, tmp_path / "camvideo-run.jsonl")


def test_a_negative_class_id_is_named_without_list_brackets():
    args = build_parser().parse_args(["process", "a.mp4", "--class", "5", "--class", "-3"])
    with pytest.raises(CamvideoError, match=r"--class must be a class id \(0 or more\), got -3$"):
        cli.localize_settings_from_args(args)


def test_bench_quicks_help_says_what_quick_runs(capsys):
    from camvideo.tools.benchmark import QUICK

    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert QUICK["frames"] == 2 and QUICK["rounds"] == 1
    assert "--quick 2 frames and one round: a smoke test" in text


def test_an_offline_fetch_says_how_to_carry_the_weights_over(monkeypatch):
    from camvideo.cli.commands import models
    from camvideo.models import weights

    url = "https://download.pytorch.org/models/resnet50-11ad3fa6.pth"
    monkeypatch.setattr(weights, "weights_source",
                        lambda name: weights.WeightsSource(url, Path("/cache/hub/checkpoints"), None))
    monkeypatch.setattr(weights, "network_problem", lambda url: "cannot resolve download.pytorch.org")
    with pytest.raises(CamvideoError) as error:
        models.check_fetch("resnet50")
    text = str(error.value)
    assert "on a connected machine and copy its cache folder there to /cache/hub/checkpoints here" in text
    assert "TORCH_HOME" in text and "docs/offline.md" in text and url in text


def test_a_cached_fetch_asks_no_network(monkeypatch):
    from camvideo.cli.commands import models
    from camvideo.models import weights

    cached = weights.WeightsSource("https://x/y.pth", Path("/c"), Path("/c/y.pth"))
    monkeypatch.setattr(weights, "weights_source", lambda name: cached)
    monkeypatch.setattr(weights, "network_problem", lambda url: pytest.fail("asked the network"))
    models.check_fetch("resnet50")
