"""`camvideo models`'s table: an unsupported model's reason cut at a word, with an
ellipsis; the footer's timm hint only when the table is not timm's already."""

from __future__ import annotations

import pytest

from camvideo import cli
from camvideo.cli.commands import models as cmd
from camvideo.models import ModelReport

VIT_H_14 = ("VisionTransformer does not run on a 518x518 input (RuntimeError: ShapeProp error for: "
            "node=%_assert : [num_users=0] = call_function[target=torch._assert](args = (%eq, Wrong image "
            "height! Expected 224 but got Proxy(getitem_2)!), kwargs = {}) with meta={})")


def test_a_long_reason_is_cut_at_a_word_with_an_ellipsis():
    short = cmd.shorten(VIT_H_14)
    assert len(short) <= cmd.DETAIL_WIDTH and short.endswith("…")
    assert VIT_H_14.startswith(short[:-1]) and VIT_H_14[len(short) - 1] in " :"  # a whole word (its colon left out)
    assert short == "VisionTransformer does not run on a 518x518 input (RuntimeError: ShapeProp error for…"


def test_a_reason_that_fits_or_one_long_word_is_kept_as_is_or_cut_inside_it():
    assert cmd.shorten("no fc layer") == "no fc layer"
    assert cmd.shorten("x" * 200, width=20) == "x" * 19 + "…"


@pytest.fixture
def fake_reports(monkeypatch):
    monkeypatch.setattr(cmd, "reports", lambda names, refresh=False: [
        ModelReport(names[0], "cam", "head"), ModelReport("vit_h_14", "unsupported", "", VIT_H_14)])


def test_the_timm_hint_only_when_timm_was_not_asked(capsys, fake_reports):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].endswith("; timm models: camvideo models --timm 'PATTERN'")
    assert out[-2].endswith("ShapeProp error for…")
    assert cli.main(["models", "--timm", "resnet18"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "# 2 models: 1 exact CAM, 0 Grad-CAM, 1 unsupported"


@pytest.mark.parametrize("args, line", [
    (["--layers", "lite0", "--json"], "--layers lists one model's layers: --json would do nothing with it; leave it out"),
    (["--fetch", "lite0", "--cached", "--layers", "lite0"],
     "--fetch downloads weights: --layers, --cached would do nothing with it; leave them out"),
])
def test_fetch_and_layers_refuse_the_options_they_ignore(capsys, args, line):
    assert cli.main(["models", *args]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"camvideo: error: {line}"]


@pytest.mark.parametrize("argv, words", [
    (["models", "--layers", "nets/r18.onnx"], "--layers: r18.onnx is an exported graph: camvideo takes the feature "
     "maps its global average pooling averages, found in the graph (--layer does not apply)"),
    (["models", "--fetch", "lite0", "r18.XML"], "--fetch: r18.XML is an exported graph, read from its file: nothing "
     "to fetch"),
])
def test_an_exported_graph_has_no_layers_to_list_or_weights_to_fetch(capsys, argv, words):
    """It was "unknown model 'nets/r18.onnx'", and lite0's weights were fetched before it."""
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.strip() == f"camvideo: error: {words}"
