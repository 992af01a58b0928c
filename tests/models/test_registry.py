"""Models by name, by inspection, from your own checkpoint; clear errors offline."""

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from oneshot import cams
from torch import nn

from camvideo import cli
from camvideo.cam.methods import cam_method
from camvideo.errors import ModelLoadError
from camvideo.models import available_models, inspect_model, load_model

torch.set_num_threads(2)

# One or more of each family that `camvideo models` marks exact, built with random
# weights (CAMVIDEO_ALL_MODELS=1: every exact name, slow).
EXACT_SUBSET = [
    "lite0", "resnet18", "densenet121", "efficientnet_b0", "mobilenet_v2", "mnasnet0_5",
    "shufflenet_v2_x0_5", "regnet_x_400mf", "googlenet", "swin_t", "timm:test_efficientnet",
]  # fmt: skip
SIZES = {"inception_v3": 96, "swin_t": 96, "swin_v2_t": 96}


def _exact_names():
    if os.environ.get("CAMVIDEO_ALL_MODELS"):
        return [n for n in available_models() if inspect_model(n).method == "cam"]
    return EXACT_SUBSET


@pytest.fixture(scope="module")
def reports():
    from camvideo.cli.commands.models import reports as _reports

    return {r.name: r for r in _reports(available_models(), refresh=True)}


def test_every_torchvision_classifier_is_classified(reports, tmp_path_factory):
    assert len(reports) > 70
    expected = {
        "cam": ("resnet", "resnext", "wide_resnet", "densenet", "efficientnet", "regnet", "mobilenet_v2",
                "mnasnet", "shufflenet", "googlenet", "inception", "swin", "lite"),
        "gradcam": ("vgg", "mobilenet_v3", "convnext", "alexnet", "squeezenet", "maxvit"),
        "unsupported": ("vit_",),
    }  # fmt: skip
    for name, report in reports.items():
        families = [m for m, prefixes in expected.items() if name.startswith(prefixes)]
        assert families == [report.method], (name, report)
        if report.method != "unsupported":
            assert report.layer


@pytest.mark.parametrize("name", _exact_names())
def test_cam_identity_for_exact_models(name, reports):
    if name in reports:
        assert reports[name].method == "cam"
    torch.manual_seed(0)
    size = SIZES.get(name, 64)
    model = load_model(name, pretrained=False, input_size=size)
    assert model.method == "cam"
    x = torch.randn(2, 3, size, size)
    out = cams(cam_method(model), x, topk=3)
    with torch.no_grad():
        reference = model.network(x)
        torch.testing.assert_close(model.classify(model(x)), reference, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.logits, reference, rtol=1e-4, atol=1e-4)
    chosen = out.logits.gather(1, out.class_ids)
    torch.testing.assert_close(out.maps.mean(dim=(2, 3)) + model.bias[out.class_ids], chosen, rtol=1e-4, atol=1e-4)


def test_layer_override_gives_gradcam_and_unknown_layer_is_clear():
    model = load_model("resnet18", pretrained=False, input_size=64, layer="layer3")
    assert model.method == "gradcam" and model.layer == "layer3.1.relu_1"
    assert load_model("resnet18", pretrained=False, input_size=64, layer="layer4").method == "cam"
    with pytest.raises(ModelLoadError, match="layer 'nope' is not in the model.*layer4"):
        load_model("resnet18", pretrained=False, input_size=64, layer="nope")
    with pytest.raises(ModelLoadError, match="not a .batch, channels, h, w. map"):
        load_model("resnet18", pretrained=False, input_size=64, layer="fc")


def test_unknown_names():
    with pytest.raises(ModelLoadError, match=r"unknown model .resnet7. \(did you mean .*resnet18\?\); `camvideo models` lists every name"):
        load_model("resnet7", pretrained=False)
    with pytest.raises(ModelLoadError, match="unknown timm model"):
        load_model("timm:no_such_net", pretrained=False)


# --- your own checkpoint ----------------------------------------------------------------


class TinyNet(nn.Module):
    """conv -> conv (stride 2) -> conv -> GAP -> Linear: 32x32 maps at 64x64."""

    def __init__(self, classes=2):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        )  # fmt: skip
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.body(x)), 1))


MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
LABELS = ["empty", "square"]


def _scene(rng, size, square, box=None):
    """A dark noisy BGR image; with ``square``, a bright square at ``box`` or at random."""
    img = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
    if square:
        if box is None:
            side = size * 3 // 8
            x, y = rng.integers(0, size - side, 2)
            box = (x, y, x + side, y + side)
        x1, y1, x2, y2 = box
        img[y1:y2, x1:x2] = 230
    return img, box


def _train(net, size, steps, seed=0):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(steps):
        labels = rng.integers(0, 2, 16)
        imgs = np.stack([_scene(rng, size, bool(c))[0] for c in labels])[..., ::-1] / 255.0  # BGR -> RGB
        x = torch.tensor(((imgs - MEAN) / STD).transpose(0, 3, 1, 2), dtype=torch.float32)
        loss = nn.functional.cross_entropy(net(x), torch.tensor(labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def _iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    tiny = _train(TinyNet(), 64, steps=40)
    torch.save(tiny, root / "tiny_full.pt")
    import timm

    torch.manual_seed(0)
    arch = timm.create_model("test_resnet", num_classes=2).eval()
    torch.save(arch.state_dict(), root / "test_resnet_state.pt")
    torch.save(arch, root / "test_resnet_arch.pt")  # the reference, for comparison
    (root / "labels.txt").write_text("\n".join(LABELS) + "\n")
    (root / "three.txt").write_text("a\nb\nc\n")
    return root


def _run_image(tmp_path, img, *args):
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), img)
    out = tmp_path / "out.json"
    rc = cli.main(["image", str(path), "-o", str(tmp_path / "annotated.png"), "--json", str(out),
                   "--device", "cpu", *args])  # fmt: skip
    assert rc == 0
    return json.loads(out.read_text().splitlines()[0])


def test_checkpoint_round_trip_localizes_the_square(trained, tmp_path):
    """A whole pickled model, trained above, through `camvideo image --checkpoint --labels`."""
    rng = np.random.default_rng(7)
    img, box = _scene(rng, 64, True, (8, 16, 32, 40))
    result = _run_image(tmp_path, img, "--checkpoint", str(trained / "tiny_full.pt"), "--trust-checkpoint",
                        "--labels", str(trained / "labels.txt"), "--input-size", "64")  # fmt: skip
    top = result["detections"][0]
    assert top["label"] == "square" and top["score"] > 0.5
    assert "method" not in top  # GAP -> Linear: exact CAM
    assert _iou(top["box"], box) >= 0.5, (top["box"], box)
    assert (tmp_path / "annotated.png").is_file()


def test_state_dict_round_trip_for_a_named_architecture(trained):
    """A state dict for timm:test_resnet with 2 classes: the loaded model is the saved one."""
    reference = torch.load(trained / "test_resnet_arch.pt", weights_only=False)
    model = load_model("timm:test_resnet", checkpoint=trained / "test_resnet_state.pt",
                       labels=trained / "labels.txt", input_size=64)  # fmt: skip
    assert model.labels == LABELS and model.method == "cam"
    x = torch.randn(2, 3, 64, 64)
    out = cams(cam_method(model), x, topk=2)
    with torch.no_grad():
        torch.testing.assert_close(out.logits, reference(x), rtol=1e-5, atol=1e-5)


def _error(capsys, *argv):
    rc = cli.main(list(argv))
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_checkpoint_errors_are_one_clear_line(trained, tmp_path, capsys):
    img = tmp_path / "x.png"
    cv2.imwrite(str(img), np.zeros((32, 32, 3), np.uint8))
    labels3 = str(trained / "three.txt")
    line = _error(capsys, "image", str(img), "--checkpoint", str(trained / "tiny_full.pt"), "--trust-checkpoint",
                  "--labels", labels3)
    assert "2 classes but 3 labels" in line
    line = _error(capsys, "image", str(img), "--model", "timm:test_resnet",
                  "--checkpoint", str(trained / "test_resnet_state.pt"), "--labels", labels3)  # fmt: skip
    assert "has 2 classes" in line and "3 labels" in line
    corrupt = tmp_path / "corrupt.pt"
    # random bytes; a pickle's first byte then an opcode torch's safe unpickler refuses
    for data in (os.urandom(2000), b"\x80\x02\xe4" + os.urandom(2000)):
        corrupt.write_bytes(data)
        line = _error(capsys, "image", str(img), "--checkpoint", str(corrupt), "--labels", str(trained / "labels.txt"))
        assert f"cannot read checkpoint {corrupt}" in line and "--trust-checkpoint" not in line
    line = _error(capsys, "image", str(img), "--checkpoint", str(tmp_path / "missing.pt"))
    assert "does not exist" in line
    line = _error(capsys, "image", str(img), "--checkpoint", str(trained / "tiny_full.pt"), "--labels",
                  str(trained / "labels.txt"), "--layer", "nope", "--trust-checkpoint")  # fmt: skip
    assert "layer 'nope' is not in the model" in line
    line = _error(capsys, "image", str(img), "--checkpoint", str(trained / "tiny_full.pt"), "--trust-checkpoint")
    assert "--labels" in line  # 2 classes, not ImageNet's: names needed


class _Evil:
    """A pickle that runs code when loaded: it would write ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code from the checkpoint ran"))


def test_a_pickled_checkpoint_runs_no_code_without_trust_checkpoint(trained, tmp_path, capsys):
    """Case 10 of the reliability issue: `--checkpoint evil.pt` never unpickles code
    silently; a whole pickled model (ours, trusted) needs --trust-checkpoint."""
    evil, marker = tmp_path / "evil.pt", tmp_path / "ran.txt"
    torch.save({"model": _Evil(marker)}, evil)
    img = tmp_path / "x.png"
    cv2.imwrite(str(img), np.zeros((32, 32, 3), np.uint8))
    for path in (evil, trained / "tiny_full.pt"):
        line = _error(capsys, "image", str(img), "--checkpoint", str(path), "--labels", str(trained / "labels.txt"))
        assert "is a pickled model" in line and "runs code stored in the file" in line and "--trust-checkpoint" in line
        assert not marker.exists()
    help_text = _help(capsys)
    assert "--trust-checkpoint" in help_text and "runs code stored in the file" in help_text


def _help(capsys) -> str:
    with pytest.raises(SystemExit):
        cli.main(["process", "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_offline_torchvision_weights_name_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for var in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    img = tmp_path / "x.png"
    cv2.imwrite(str(img), np.zeros((32, 32, 3), np.uint8))
    line = _error(capsys, "image", str(img), "--model", "resnet18")
    assert "resnet18-f37072fd.pth" in line and "--weights" in line and str(tmp_path / "torch") in line


def test_offline_timm_weights_say_how(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants

    # read at import (which another test may have done): set both; offline mode
    # fails at once where a refused connection is retried for half a minute
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for var in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):  # fail at once, not after DNS timeouts
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    img = tmp_path / "x.png"
    cv2.imwrite(str(img), np.zeros((32, 32, 3), np.uint8))
    line = _error(capsys, "image", str(img), "--model", "timm:resnet18")
    assert "Hugging Face hub" in line and "--weights" in line and "model.safetensors" in line


def test_weights_file_for_a_torchvision_model(tmp_path):
    from torchvision.models import get_model

    torch.manual_seed(1)
    net = get_model("resnet18", weights=None).eval()
    torch.save(net.state_dict(), tmp_path / "r18.pth")
    model = load_model("resnet18", weights=tmp_path / "r18.pth", input_size=64)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.classify(model(x)), net(x))


def test_models_command_lists_methods_and_weights(capsys, reports):
    assert cli.main(["models", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {r["name"]: r for r in rows}
    assert by_name["lite0"] == {"name": "lite0", "method": "cam", "layer": "head_act", "weights": "embedded"}
    assert by_name["vgg16"]["method"] == "gradcam" and by_name["resnet50"]["method"] == "cam"
    assert {r["weights"] for r in rows} <= {"embedded", "cached", "download"}
    assert cli.main(["models", "--layers", "resnet18"]) == 0
    assert "layer4.1.relu_1  512x7x7" in capsys.readouterr().out
