"""``--model FILE.onnx|FILE.xml`` on the command line: the same classes and boxes as
the same network from its torch checkpoint, on a real clip; a graph exact CAM
cannot use is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("openvino")
pytest.importorskip("onnx")

import exported_graphs as graphs  # noqa: E402
from clips import make_cat_clip  # noqa: E402

from camvideo.cam.boxes import iou  # noqa: E402
from camvideo.cli import main  # noqa: E402

pytestmark = pytest.mark.timeout(600)
FRAMES = 12


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported")
    net = graphs.resnet18()
    torch.save(net.state_dict(), folder / "r18.pt")
    (folder / "labels.txt").write_text("\n".join(f"kind {i}" for i in range(1000)))
    return {"folder": folder, "clip": make_cat_clip(folder / "clip.mp4", frames=FRAMES),
            "onnx": graphs.export_onnx(net, folder / "r18.onnx"), "xml": graphs.export_ir(net, folder / "r18.xml")}


def _process(files, name: str, *model: str) -> list[dict]:
    out, rows = files["folder"] / f"{name}.mkv", files["folder"] / f"{name}.jsonl"
    assert main(["process", str(files["clip"]), *model, "--labels", str(files["folder"] / "labels.txt"),
                 "-o", str(out), "--export", str(rows), "--topk", "2",
                 "--gate", "0"]) == 0  # random weights: every class under 1%: no gate, whatever the default
    assert out.stat().st_size > 0
    return _jsonl(rows)


def test_process_an_exported_model_like_its_checkpoint(files):
    reference = _process(files, "torch", "--model", "resnet18", "--checkpoint", str(files["folder"] / "r18.pt"))
    assert len(reference) == FRAMES
    for kind in ("onnx", "xml"):
        rows = _process(files, kind, "--model", str(files[kind]))
        assert len(rows) == FRAMES
        ious = []
        for a, b in zip(reference, rows):
            assert [d["class_id"] for d in a["detections"]] == [d["class_id"] for d in b["detections"]]
            assert [d["label"] for d in b["detections"]][0].startswith("kind ")
            ious += [iou(x["box"], y["box"]) for x, y in zip(a["detections"], b["detections"]) if x["box"] and y["box"]]
        assert ious and min(ious) >= 0.97, (kind, min(ious))


def test_a_graph_exact_cam_cannot_use_is_one_line(tmp_path, capsys):
    path = graphs.export_onnx(graphs.VggHead(), tmp_path / "vgg.onnx", (64, 64))
    clip = make_cat_clip(tmp_path / "c.mp4", frames=2)
    code = main(["process", str(clip), "--model", str(path), "-o", str(tmp_path / "o.mkv")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == ("camvideo: error: vgg.onnx: the output comes from a linear layer fed by 1 more fully connected "
                      "layer: exact CAM needs global average pooling followed by one linear layer (Grad-CAM takes "
                      "any head: load the network in PyTorch with --checkpoint PATH)")
    assert not (tmp_path / "o.mkv").exists()


def test_torch_options_with_an_exported_model_are_one_line(tmp_path, capsys, files):
    code = main(["process", str(files["clip"]), "--model", str(files["onnx"]), "--layer", "layer3",
                 "-o", str(tmp_path / "o.mkv")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("camvideo: error: --layer: an exported graph (r18.onnx)")
