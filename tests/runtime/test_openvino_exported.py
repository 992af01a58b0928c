"""``OpenVINOForward`` on an exported graph: its own cut compiled per size and mode
(no conversion; a quick compile is not kept: tests/runtime/test_ovgraph.py), the same features as the graph's own module, and
a graph with a fixed input compiled at that size only."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("openvino")
pytest.importorskip("onnx")

import exported_graphs as graphs  # noqa: E402

from camvideo.models.exported import load_exported  # noqa: E402
from camvideo.presets import quality_maps  # noqa: E402
from camvideo.runtime.localizer import FrameLocalizer  # noqa: E402
from camvideo.runtime.openvino import OpenVINOForward  # noqa: E402
from camvideo.runtime.runtimes import choose_runtime, make_forward  # noqa: E402
from camvideo.settings import LocalizeSettings

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def gapnet(tmp_path_factory):
    with torch.random.fork_rng():
        torch.manual_seed(3)
        net = graphs.GapNet().eval()
    folder = tmp_path_factory.mktemp("gapnet")
    return load_exported(graphs.export_onnx(net, folder / "gap.onnx", (64, 64))), net


@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_openvino_forward_runs_the_graphs_cut(gapnet, mode, tmp_path):
    model, net = gapnet
    assert choose_runtime(model, "auto") == "openvino"
    forward = make_forward(model, "openvino", mode=mode, cache=tmp_path, sizes=[(64, 64), (64, 96)])
    assert isinstance(forward, OpenVINOForward) and forward.entry is None
    assert sorted(forward.sizes) == [(64, 64), (64, 96)] and not any(tmp_path.iterdir())  # nothing converted
    x = torch.rand(3, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = torch.relu(net.conv(x))
    assert torch.allclose(forward(forward.prepare(x)), want, atol=1e-5)
    assert torch.allclose(model(x), want, atol=1e-5)  # the model's own pass: the same graph
    forward.close()


def test_a_fixed_graph_compiles_its_own_size_only(tmp_path, photo):
    with torch.random.fork_rng():
        torch.manual_seed(4)
        net = graphs.GapNet().eval()
    model = load_exported(graphs.export_onnx(net, tmp_path / "fixed.onnx", (96, 128), dynamic=False))
    assert model.preprocessing.fixed and model.preprocessing.size == (96, 128)
    forward = make_forward(model, "openvino", sizes=[(224, 288)])
    assert forward.sizes == [(96, 128)]
    # the balanced preset asks for the frame's aspect: a fixed graph gets its own size, every frame
    settings = LocalizeSettings(maps=quality_maps("balanced")[0])
    results = FrameLocalizer(model, settings, forward=forward)([photo("chelsea"), photo("astronaut")])
    assert [r.maps.heat.shape[1:] for r in results] == [(24, 32)] * 2
    assert all(r.detections[0].box is not None for r in results)
