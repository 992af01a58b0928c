"""An exported graph (``--model FILE.onnx|.xml``) through a batch (the local pool,
and ``--ray local``) and ``camvideo eval``: the same classes and boxes (IoU >= 0.97)
as the same network from its torch checkpoint, on real clips."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from batch_helpers import camvideo, env, summary
from clips import make_cat_clip

from camvideo.cam.boxes import iou

pytest.importorskip("openvino")
pytest.importorskip("onnx")

import exported_graphs as graphs  # noqa: E402

pytestmark = pytest.mark.timeout(600)
CLIPS = {"a.mp4": 8, "sub/b.mp4": 6}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported-batch")
    net = graphs.resnet18()
    torch.save(net.state_dict(), folder / "r18.pt")
    (folder / "labels.txt").write_text("\n".join(f"kind {i}" for i in range(1000)))
    for rel, frames in CLIPS.items():
        (folder / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        make_cat_clip(folder / "in" / rel, frames=frames, size=(128, 96))
    return {"folder": folder, "onnx": graphs.export_onnx(net, folder / "r18.onnx"),
            "xml": graphs.export_ir(net, folder / "r18.xml"),
            "torch": ["--model", "resnet18", "--checkpoint", str(folder / "r18.pt")]}


def _batch(setup, name: str, *args: str, timeout: float = 300) -> dict[str, list[dict]]:
    out = setup["folder"] / name
    done = camvideo(setup["folder"] / "in", "--output-dir", out, "--no-recording", "--labels",
                    setup["folder"] / "labels.txt", "--topk", "2", "--gate", "0", *args, timeout=timeout,
                    env=env(CAMVIDEO_CACHE=str(setup["folder"] / "cache")))
    assert done.returncode == 0, done.stderr
    assert sorted(r["rel"] for r in summary(out)) == sorted(CLIPS)
    return {rel: [json.loads(line) for line in (out / rel).with_suffix(".jsonl").read_text().splitlines()]
            for rel in CLIPS}


def _same(reference: dict[str, list[dict]], rows: dict[str, list[dict]]) -> float:
    ious = []
    for rel, frames in CLIPS.items():
        assert len(reference[rel]) == len(rows[rel]) == frames
        for a, b in zip(reference[rel], rows[rel]):
            assert [d["class_id"] for d in a["detections"]] == [d["class_id"] for d in b["detections"]]
            assert b["detections"][0]["label"].startswith("kind ")
            ious += [iou(x["box"], y["box"]) for x, y in zip(a["detections"], b["detections"]) if x["box"] and y["box"]]
    assert ious
    return min(ious)


@pytest.fixture(scope="module")
def reference(setup):
    return _batch(setup, "torch", *setup["torch"])


@pytest.mark.parametrize("kind", ["onnx", "xml"])
def test_a_batch_of_an_exported_model_equals_its_checkpoint(setup, reference, kind):
    assert _same(reference, _batch(setup, f"pool-{kind}", "--model", str(setup[kind]), "--jobs", "2")) >= 0.97


@pytest.mark.slow
@pytest.mark.xdist_group("ray")  # starts a Ray instance: one Ray test at a time (tests/conftest.py)
def test_a_ray_run_of_an_exported_model_equals_its_checkpoint(setup, reference, tmp_path):
    pytest.importorskip("ray")
    # --ray local: a Ray instance of this run's own (bound to this machine), stopped with it
    rows = _batch(setup, "ray-onnx", "--model", str(setup["onnx"]), "--ray", "local", "--cpus-per-job", "1",
                  timeout=420)
    assert _same(reference, rows) >= 0.97


def _eval(setup, name: str, *model: str) -> dict:
    out = Path(setup["folder"]) / f"eval-{name}"
    done = subprocess.run([sys.executable, "-m", "camvideo", "eval", "--devset", "--split", "tune", "--shots", "1",
                           "--shot-frames", "4", "--out", str(out), *model, "--labels",
                           str(setup["folder"] / "labels.txt")], capture_output=True, text=True, env=env(),
                          timeout=500)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "devset_summary.json").read_text())


@pytest.mark.slow  # ~3 min on 2 busy cores: 23 photos and 2 clips, twice
def test_eval_of_an_exported_model_equals_its_checkpoint(setup):
    """The devset's figures from the graph are the checkpoint's (its boxes are: a
    box moved by an IoU of 0.97 can flip one photo across the 0.5 line, no more)."""
    want, got = _eval(setup, "torch", *setup["torch"]), _eval(setup, "onnx", "--model", str(setup["onnx"]))
    a, b = want["photos"], got["photos"]
    assert a["images"] == b["images"] > 0 and a["top1_cls"] == b["top1_cls"]
    assert abs(a["gt_known_loc"] - b["gt_known_loc"]) <= 1 / a["images"] + 1e-6
    assert abs(a["maxboxacc_v2"]["value"] - b["maxboxacc_v2"]["value"]) <= 1 / a["images"] + 1e-6
    assert abs(want["photo_mean_iou"]["tune"] - got["photo_mean_iou"]["tune"]) <= 0.03
    assert want["clips"].keys() == got["clips"].keys()
    for clip, x in want["clips"].items():
        y = got["clips"][clip]
        assert (x["frames"], x["class_accuracy"], x["label_changes"]) == (y["frames"], y["class_accuracy"],
                                                                          y["label_changes"])
        assert abs(x["mean_iou"] - y["mean_iou"]) <= 0.03, clip
