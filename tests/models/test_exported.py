"""Exported graphs (ONNX, OpenVINO IR) as exact-CAM models: the maps and the top-1
against the same network in torch, the head found through each shape of graph,
and the graphs exact CAM cannot use refused in one line."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest
import torch

pytest.importorskip("openvino")
pytest.importorskip("onnx")

import exported_graphs as graphs  # noqa: E402

from camvideo.cam.methods import ExactCam  # noqa: E402
from camvideo.cam.preprocess import preprocess  # noqa: E402
from camvideo.errors import ModelLoadError  # noqa: E402
from camvideo.models import Preprocessing, imagenet_labels, load_model, wrap_network  # noqa: E402
from camvideo.models.exported import is_exported, load_exported  # noqa: E402

pytestmark = pytest.mark.timeout(300)
FRAMES = ("chelsea", "astronaut", "coffee")


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    """(the torch reference as a GapClassifier, its ONNX file, its IR file)."""
    folder = tmp_path_factory.mktemp("resnet")
    net = graphs.resnet18()
    reference = wrap_network("resnet18", net, imagenet_labels(), Preprocessing(), None).requires_grad_(False)
    return reference, graphs.export_onnx(net, folder / "r18.onnx"), graphs.export_ir(net, folder / "r18.xml")


def _batch(model, frames, size):
    prep = dataclasses.replace(model.preprocessing, size=size)
    return preprocess(frames, types.SimpleNamespace(preprocessing=prep, device=model.device))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _same_maps(model, reference, frames, sizes):
    """Exact CAM's maps of every class the reference ranks top-3, relative error
    <= 1e-4, and the same top-1, at each input size."""
    for size in sizes:
        x = _batch(model, frames, size)
        ours, theirs = ExactCam(model).evidence(x), ExactCam(reference).evidence(x)
        for a, b in zip(ours, theirs):
            assert int(a.logits.argmax()) == int(b.logits.argmax())
            top = [int(c) for c in b.logits.topk(3).indices]
            assert _rel(ExactCam(model).maps(a, top), ExactCam(reference).maps(b, top)) <= 1e-4
            assert _rel(a.logits, b.logits) <= 1e-4


@pytest.mark.parametrize("kind", ["onnx", "ir"])
def test_resnet18_maps_match_torch(resnet, photo, kind):
    reference, onnx_file, ir_file = resnet
    model = load_exported(onnx_file if kind == "onnx" else ir_file)
    assert model.num_classes == 1000 and model.labels[:2] == ["class 0", "class 1"]
    assert not model.preprocessing.fixed and model.preprocessing.size == (224, 224)
    _same_maps(model, reference, [photo(n) for n in FRAMES], [(224, 224), (224, 288)])


def test_load_model_takes_a_file_name_and_labels(resnet, tmp_path):
    _, onnx_file, _ = resnet
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"thing {i}" for i in range(1000)))
    model = load_model(str(onnx_file), labels=labels, input_size=256, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert is_exported(onnx_file) and model.name == "r18.onnx" and model.labels[7] == "thing 7"
    assert model.preprocessing == Preprocessing((256, 256), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert not any(p.requires_grad for p in model.parameters())


def test_lite0_with_a_fixed_input_size(lite0, photo, tmp_path):
    """The embedded lite0 exported at 224x224 (its "same" padding traced as fixed
    numbers): the graph's size is kept whatever is asked, every pass runs at it."""
    path = graphs.export_onnx(graphs.Lite0Net(lite0), tmp_path / "lite0.onnx", dynamic=False)
    model = load_exported(path, labels=None)
    assert model.preprocessing.fixed and model.preprocessing.size == (224, 224)
    _same_maps(model, lite0, [photo(n) for n in FRAMES], [(224, 224)])
    with pytest.raises(ModelLoadError, match=r"takes 224x224 images \(fixed in the graph\)"):
        load_exported(path, input_size=256)


def test_labels_from_the_graphs_metadata(tmp_path):
    names = [f"kind {i}" for i in range(5)]
    onnx_file = graphs.export_onnx(graphs.NhwcNet(), tmp_path / "n.onnx", (64, 64), nhwc=True, labels=names)
    assert load_exported(onnx_file).labels == names
    ir_file = graphs.export_ir(graphs.GapNet(), tmp_path / "v.xml", (64, 64), labels=names)
    assert load_exported(ir_file).labels == names
    labels = tmp_path / "three.txt"
    labels.write_text("a\nb\nc\n")
    with pytest.raises(ModelLoadError, match="5 classes but 3 labels were given: one class name per line, in class order$"):
        load_exported(ir_file, labels=labels)
    short = graphs.export_onnx(graphs.GapNet(), tmp_path / "short.onnx", (64, 64), labels=names[:3])
    with pytest.raises(ModelLoadError, match=r"^short\.onnx: the classifier has 5 classes but the graph's metadata "
                       "names 3 labels: give the right ones with --labels FILE$"):
        load_exported(short)
    five = tmp_path / "five.txt"
    five.write_text("\n".join(names))
    assert load_exported(short, labels=five).labels == names  # a file overrides the metadata


def test_an_nhwc_graph_with_softmax(tmp_path):
    with torch.random.fork_rng():
        torch.manual_seed(2)
        net = graphs.NhwcNet().eval()
    model = load_exported(graphs.export_onnx(net, tmp_path / "nhwc.onnx", (64, 64), nhwc=True))
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        feats = torch.relu(net.conv(x))  # NCHW, as the graph's features come out
        want = net(x.permute(0, 2, 3, 1)).log()
    got = model(x)
    assert got.shape == feats.shape and _rel(got, feats) <= 1e-5
    # the softmax is monotone: exact CAM's logits are the linear layer's, the same classes
    logits = model.classify(got)
    assert torch.allclose(logits.log_softmax(1), want, atol=1e-5)


def test_a_graph_of_uint8_pixels_is_fed_the_pixels(tmp_path):
    """An integer input holds 0..255 pixels: ImageNet's normalized values (-2..2.6) would
    reach it as 0, 1 and 2. Fed the pixels, rounded, the features are the network's own."""
    with torch.random.fork_rng():
        torch.manual_seed(3)
        net = graphs.PixelsNet().eval()
    model = load_exported(graphs.export_onnx(net, tmp_path / "u8.onnx", (64, 64), nhwc=True))
    assert model.preprocessing.mean == (0, 0, 0) and model.preprocessing.std == (1 / 255,) * 3
    image = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)  # BGR, as frames come
    got = model(_batch(model, [image], (64, 96)))
    with torch.no_grad():
        want = torch.relu(net.conv(torch.from_numpy(image[None, :, :, ::-1].copy()).permute(0, 3, 1, 2) / 255))
    assert _rel(got, want) <= 1e-5


def test_a_1x1_convolution_over_the_pooled_map_is_the_linear_layer(tmp_path):
    """A classifier convolution on the pooled 1x1 map, flattened after it: the same
    exact CAM as a linear layer (it was refused as "comes from a Reshape")."""
    with torch.random.fork_rng():
        torch.manual_seed(4)
        net = graphs.ConvHead().eval()
    model = load_exported(graphs.export_onnx(net, tmp_path / "conv.onnx", (64, 64)))
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        feats, want = torch.relu(net.conv(x)), net(x).log()
    got = model(x)
    assert _rel(got, feats) <= 1e-5
    assert torch.allclose(model.classify(got).log_softmax(1), want, atol=1e-5)


def test_an_average_pooling_over_the_whole_map_of_a_fixed_graph_is_global(tmp_path):
    """AvgPool 16x16 on the 16x16 features of a 64x64 graph is global average pooling;
    with a free input size it is not (it was "fed by a AvgPool" either way)."""
    with torch.random.fork_rng():
        torch.manual_seed(5)
        net = graphs.WindowPool().eval()
    model = load_exported(graphs.export_onnx(net, tmp_path / "fixed.onnx", (64, 64), dynamic=False))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        feats, want = torch.relu(net.conv(x)), net(x)
    got = model(x)
    assert _rel(got, feats) <= 1e-5 and _rel(model.classify(got), want) <= 1e-5
    with pytest.raises(ModelLoadError, match=r"^free\.onnx: the linear layer is fed by an AvgPool, not by global"):
        load_exported(graphs.export_onnx(net, tmp_path / "free.onnx", (64, 64)))


def test_bgr_flips_the_channels_inside_the_graph(resnet, photo):
    reference, onnx_file, _ = resnet
    model = load_exported(onnx_file, bgr=True)
    x = _batch(model, [photo("chelsea")], (224, 224))
    with torch.inference_mode():
        assert _rel(model(x), reference(x.flip(1))) <= 1e-4


@pytest.mark.parametrize("net, words", [
    (graphs.VggHead, "the output comes from a linear layer fed by 1 more fully connected layer: exact CAM needs "
     "global average pooling followed by one linear layer"),
    (graphs.NoPool, "the linear layer is fed by a Relu, not by global average pooling: exact CAM needs"),
])
def test_graphs_exact_cam_cannot_use_are_refused(tmp_path, net, words):
    path = graphs.export_onnx(net(), tmp_path / "bad.onnx", (64, 64), dynamic=net is not graphs.NoPool)
    with pytest.raises(ModelLoadError) as caught:
        load_exported(path)
    message = str(caught.value)
    assert message.startswith("bad.onnx: ") and words in message and "\n" not in message
    assert message.endswith(": exact CAM needs global average pooling followed by one linear layer (Grad-CAM takes any "
                            "head: load the network in PyTorch with --checkpoint PATH)")


def test_a_multi_label_graph_is_refused_with_what_to_do(tmp_path):
    class Sigmoid(graphs.GapNet):
        def forward(self, x):
            return super().forward(x).sigmoid()

    path = graphs.export_onnx(Sigmoid(), tmp_path / "tags.onnx", (64, 64))
    with pytest.raises(ModelLoadError, match=r"^tags\.onnx: the output is a Sigmoid of each class \(a multi-label "
                       r"head\); .* export the graph without its final Sigmoid$"):
        load_exported(path)


def test_a_graph_of_one_channel_images_is_refused(tmp_path):
    net = graphs.GapNet()
    net.conv = torch.nn.Conv2d(1, 8, 3, stride=4, padding=1)
    path = tmp_path / "gray.onnx"
    with torch.no_grad():
        torch.onnx.export(net.eval(), torch.zeros(1, 1, 64, 64), str(path), dynamo=False)
    with pytest.raises(ModelLoadError, match=r"^gray\.onnx: the input \[1,1,64,64\] has no axis of 3 colour channels "
                       r"\(NCHW or NHWC\): export it taking colour images$"):
        load_exported(path)


def test_files_that_are_not_models(tmp_path, resnet):
    with pytest.raises(ModelLoadError, match="not found"):
        load_exported(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a graph at all")
    with pytest.raises(ModelLoadError, match=r"^cannot read garbage.onnx as an ONNX model \(Model can't be parsed\): "
                       "a damaged or cut-short file, or another format; export it again$"):
        load_exported(garbage)
    cut = tmp_path / "cut.xml"
    cut.write_text(resnet[2].read_text()[:3000])
    cut.with_suffix(".bin").hardlink_to(resnet[2].with_suffix(".bin"))
    with pytest.raises(ModelLoadError, match=r"^cannot read cut.xml as an OpenVINO IR model \(Error parsing [^\n]*"
                       r"another format; export it again$"):
        load_exported(cut)
    empty = tmp_path / "empty.onnx"
    empty.touch()
    with pytest.raises(ModelLoadError, match=r"empty\.onnx is empty \(0 bytes\): export it again$"):
        load_exported(empty)
    lone = tmp_path / "lone.xml"
    lone.write_text(resnet[2].read_text())
    with pytest.raises(ModelLoadError, match=r"lone\.bin not found: an OpenVINO IR is the \.xml and the \.bin"):
        load_exported(lone)


def test_a_file_not_its_suffixs_format_is_read_by_that_format_alone(tmp_path, capfd):
    """OpenVINO's read_model tries every frontend; TensorFlow's printed a line of its own on stderr."""
    text = tmp_path / "text.onnx"
    text.write_text("hello\n")
    with pytest.raises(ModelLoadError, match="^cannot read text.onnx as an ONNX model"):
        load_exported(text)
    assert capfd.readouterr().err == ""


def test_an_onnx_files_missing_external_data_is_named(tmp_path):
    path = graphs.export_onnx_external(graphs.GapNet(), tmp_path / "g.onnx", (64, 64))
    assert load_exported(path).num_classes == 5
    (tmp_path / "g.onnx.data").unlink()
    with pytest.raises(ModelLoadError, match=r"g\.onnx\.data not found: g\.onnx keeps its weights in that file; "
                       "put it beside the .onnx$"):
        load_exported(path)


def test_torch_options_do_not_apply(resnet, tmp_path):
    _, onnx_file, _ = resnet
    with pytest.raises(ModelLoadError, match="--weights: an exported graph"):
        load_model(str(onnx_file), weights=tmp_path / "w.pt")
    with pytest.raises(ModelLoadError, match="--layer: an exported graph"):
        load_model(str(onnx_file), layer="layer3")
    with pytest.raises(ModelLoadError, match="--bgr: the colour order of an exported graph"):
        load_model("lite0", bgr=True)
    with pytest.raises(ModelLoadError, match="use --device cpu or openvino:GPU"):
        load_model(str(onnx_file), device="cuda")


def test_int8_is_refused_not_run_as_f32(tmp_path):
    """camvideo quantizes only what it converts: int8 for a graph is one line, not f32 under int8's name."""
    from camvideo.errors import CamvideoError
    from camvideo.runtime.runtimes import choose_runtime, make_forward

    model = load_exported(graphs.export_onnx(graphs.GapNet(), tmp_path / "g.onnx", (64, 64)))
    for call in (choose_runtime, make_forward):
        with pytest.raises(CamvideoError, match=r"^--precision int8: camvideo quantizes .* \(g\.onnx\)"):
            call(model, "auto", precision="int8")
    assert choose_runtime(model, "auto", precision="bf16") == "openvino"


def test_graph_features_are_thread_safe(resnet, photo):
    """Several threads at once (the files pipeline's workers), each its own request."""
    from concurrent.futures import ThreadPoolExecutor

    reference, onnx_file, _ = resnet
    model = load_exported(onnx_file)
    xs = [_batch(model, [photo(n)], (224, 224)) for n in FRAMES]
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(model, xs * 2))
    with torch.inference_mode():
        want = [reference(x) for x in xs * 2]
    assert all(_rel(a, b) <= 1e-4 for a, b in zip(got, want))
    assert np.isfinite(got[0].numpy()).all()
