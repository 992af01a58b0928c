"""The compiled-model cache of exported graphs (``camvideo.runtime.ovgraph``): a
slow compile kept and imported the next time, keyed by the graph files' digest
(an edited file, its external data included, is a new entry), a damaged blob compiled again, a quick compile
not kept (and no digest taken for it), a file changed after it was read not
cached, a cache that cannot be written not in the way."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("openvino")
pytest.importorskip("onnx")

import exported_graphs as graphs  # noqa: E402

from camvideo.models.exported import GraphSource, load_exported  # noqa: E402
from camvideo.runtime import ovcache, ovgraph  # noqa: E402
from camvideo.runtime.openvino import OpenVINOForward  # noqa: E402

pytestmark = pytest.mark.timeout(300)
SIZE = (64, 96)


def _net(seed: int) -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return graphs.GapNet().eval()


@pytest.fixture
def imports(monkeypatch):
    """Every compiled model imported from the cache, by entry folder name; every compile kept."""
    seen: list[str] = []
    kept = ovcache.kept_compiled

    def spy(core, entry, device, config):
        compiled = kept(core, entry, device, config)
        if compiled is not None:
            seen.append(entry.folder.name)
        return compiled

    monkeypatch.setattr(ovgraph, "kept_compiled", spy)
    monkeypatch.setattr(ovgraph, "KEEP_S", 0.0)
    return seen


def _features(model, cache) -> torch.Tensor:
    forward = OpenVINOForward(model, cache=cache, sizes=[SIZE])
    try:
        return forward(forward.prepare(torch.linspace(0, 1, 3 * SIZE[0] * SIZE[1]).reshape(1, 3, *SIZE)))
    finally:
        forward.close()


def _want(net) -> torch.Tensor:
    with torch.no_grad():
        return torch.relu(net.conv(torch.linspace(0, 1, 3 * SIZE[0] * SIZE[1]).reshape(1, 3, *SIZE)))


@pytest.mark.parametrize("kind", ["onnx", "xml"])
def test_a_kept_compile_is_imported_next_time_and_an_edited_graph_is_a_new_entry(tmp_path, imports, kind):
    export = graphs.export_onnx if kind == "onnx" else graphs.export_ir
    path, cache = export(_net(1), tmp_path / f"g.{kind}", SIZE), tmp_path / "cache"
    assert torch.allclose(_features(load_exported(path), cache), _want(_net(1)), atol=1e-5)
    (entry,) = cache.iterdir()
    assert entry.name.startswith("exported-g-") and imports == []
    assert sorted(p.suffix for p in entry.iterdir()) == [".blob", ".sha256"]
    assert torch.allclose(_features(load_exported(path), cache), _want(_net(1)), atol=1e-5)
    assert imports == [entry.name]  # a new load of the same file: imported
    export(_net(2), path, SIZE)  # the same name, other weights
    assert torch.allclose(_features(load_exported(path), cache), _want(_net(2)), atol=1e-5)
    assert imports == [entry.name] and len(list(cache.iterdir())) == 2  # its own entry, compiled


def test_new_weights_in_an_onnx_files_external_data_are_a_new_entry(tmp_path, imports):
    """A large model's weights live beside its .onnx, which names them: new weights
    leave the .onnx byte for byte the same, and must not get the old blob."""
    path, cache = tmp_path / "g.onnx", tmp_path / "cache"
    graphs.export_onnx_external(_net(1), path, SIZE)
    first = path.read_bytes()
    assert torch.allclose(_features(load_exported(path), cache), _want(_net(1)), atol=1e-5)
    graphs.export_onnx_external(_net(2), path, SIZE)
    assert path.read_bytes() == first
    assert torch.allclose(_features(load_exported(path), cache), _want(_net(2)), atol=1e-5)
    assert imports == [] and len(list(cache.iterdir())) == 2
    assert load_exported(path).features.source.files == (path, tmp_path / "g.onnx.data")


def test_a_damaged_blob_is_compiled_again_and_replaced(tmp_path, imports, caplog):
    path, cache = graphs.export_onnx(_net(1), tmp_path / "g.onnx", SIZE), tmp_path / "cache"
    _features(load_exported(path), cache)
    (blob,) = cache.glob("*/*.blob")
    blob.write_bytes(blob.read_bytes()[:-100] + bytes(100))
    assert torch.allclose(_features(load_exported(path), cache), _want(_net(1)), atol=1e-5)
    assert imports == [] and "does not match its digest" in caplog.text
    _features(load_exported(path), cache)
    assert len(imports) == 1  # the replaced blob is whole


def test_a_quick_compile_is_not_kept_and_takes_no_digest(tmp_path, monkeypatch):
    path, cache = graphs.export_onnx(_net(1), tmp_path / "g.onnx", SIZE), tmp_path / "cache"
    digests = []
    monkeypatch.setattr(GraphSource, "digest", lambda self: digests.append(1) or "x")
    assert ovgraph.KEEP_S >= 0.5  # what the module measured: a quicker compile does not pay
    assert torch.allclose(_features(load_exported(path), cache), _want(_net(1)), atol=1e-5)
    assert not cache.exists() and digests == []


def test_a_file_changed_after_it_was_read_is_not_cached(tmp_path, imports):
    path, cache = graphs.export_onnx(_net(1), tmp_path / "g.onnx", SIZE), tmp_path / "cache"
    model = load_exported(path)
    graphs.export_onnx(_net(2), path, SIZE)  # replaced while the first one runs
    assert model.features.digest() is None
    assert torch.allclose(_features(model, cache), _want(_net(1)), atol=1e-5)  # the graph it read
    assert not cache.exists()


def test_a_cache_that_cannot_be_written_is_not_in_the_way(tmp_path, imports):
    path = graphs.export_onnx(_net(1), tmp_path / "g.onnx", SIZE)
    (tmp_path / "file").write_text("a file where the cache folder would be")
    assert torch.allclose(_features(load_exported(path), tmp_path / "file" / "cache"), _want(_net(1)), atol=1e-5)
