"""Weights offline: a cached file loads without the network; a missing one fails
at once with one line saying what to do, not after the hub's half minute of retries.

No test here reaches the internet: the download host is made unreachable through
the environment (a proxy on a closed local port), which is what the code must
notice quickly on a machine without a network.
"""

from __future__ import annotations

import socket
import time

import pytest
import torch

from camvideo import cli
from camvideo import models as cm
from camvideo.errors import ModelLoadError
from camvideo.models import weights as cw

# A guard against hangs, not a speed benchmark: before the connect check, a timm
# model with no cached weights took ~46 s to fail here (the hub retries each of
# two files 5 times).
HANG_GUARD_S = 15.0
PROXY_VARS = ("https_proxy", "http_proxy", "all_proxy", "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Empty torch and Hugging Face caches in tmp_path, downloads through a proxy
    that refuses connections, hub offline mode off (the hub would retry)."""
    import huggingface_hub.constants as hf

    for var in PROXY_VARS + ("no_proxy", "NO_PROXY", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    proxy = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("https_proxy", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    # huggingface_hub reads HF_HOME / HF_HUB_OFFLINE once, at import: set its constants
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", False)
    return tmp_path


def _cli_error(capsys, *argv) -> tuple[str, float]:
    start = time.monotonic()
    rc = cli.main(list(argv))
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    return err[0], elapsed


@pytest.mark.parametrize(
    "model, cache, url",
    [
        ("resnet18", "torch/hub/checkpoints", "https://download.pytorch.org/models/resnet18-f37072fd.pth"),
        ("timm:resnet18", "hf/hub", "https://huggingface.co/timm/resnet18.a1_in1k/resolve/main/model.safetensors"),
    ],
)
def test_missing_weights_fail_at_once_with_the_remedy(offline, capsys, data_dir, model, cache, url):
    line, elapsed = _cli_error(capsys, "image", str(data_dir / "chelsea.png"), "--model", model)
    assert elapsed < HANG_GUARD_S
    assert line.startswith(f"camvideo: error: {model}: its pretrained weights are not on this machine")
    assert "refused the connection" in line  # why: the proxy is closed
    assert f"camvideo models --fetch {model}" in line and str(offline / cache) in line
    assert f"download {url} and pass it with --weights PATH" in line
    assert line.endswith(", or use one of the embedded models lite0, lite1 or lite2")  # every one, not lite0 alone


def test_the_embedded_models_are_named_from_the_registry(monkeypatch):
    monkeypatch.setattr(cw, "BUILTIN", ("lite0", "lite1", "lite2", "lite3"))
    assert cw.embedded_models() == "one of the embedded models lite0, lite1, lite2 or lite3"
    monkeypatch.setattr(cw, "BUILTIN", ("lite0",))
    assert cw.embedded_models() == "the embedded model lite0"


def test_hf_offline_mode_fails_without_trying(offline, monkeypatch, capsys, data_dir):
    import huggingface_hub.constants as hf

    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(cw, "network_problem", _no_network_check)
    line, _ = _cli_error(capsys, "image", str(data_dir / "chelsea.png"), "--model", "timm:resnet18")
    assert "(HF_HUB_OFFLINE is set)" in line and "--weights PATH" in line


def test_fetch_offline_fails_the_same_way(offline, capsys):
    line, elapsed = _cli_error(capsys, "models", "--fetch", "lite0", "resnet18")
    assert elapsed < HANG_GUARD_S and "resnet18: its weights cannot be downloaded here" in line
    assert "on a connected machine and copy its cache folder" in line and "--weights PATH" in line  # how to carry them
    assert capsys.readouterr().out == ""  # lite0's line was printed before: check it alone
    assert cli.main(["models", "--fetch", "lite0"]) == 0
    assert capsys.readouterr().out.split() == ["lite0", "embedded"]


def test_timm_model_without_pretrained_weights_says_so(offline, capsys, data_dir):
    line, _ = _cli_error(capsys, "image", str(data_dir / "chelsea.png"), "--model", "timm:coatnet_0_224")
    assert "timm:coatnet_0_224 has no pretrained weights" in line and "--weights PATH" in line


# --- cached weights: loaded with no network check at all ----------------------------


def _no_network_check(url, timeout=None):
    raise AssertionError(f"a cached file must load without checking the network ({url})")


def _random_state(name: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    return {k: v.clone() for k, v in cm.build_network(name).state_dict().items()}


def test_cached_torchvision_weights_load_offline(offline, monkeypatch, capsys):
    monkeypatch.setattr(cw, "network_problem", _no_network_check)
    state = _random_state("resnet18")
    path = offline / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    assert cm.cached_weights("resnet18") == str(path)
    start = time.monotonic()
    model = cm.load_model("resnet18", input_size=64)
    assert time.monotonic() - start < HANG_GUARD_S
    torch.testing.assert_close(model.weight, state["fc.weight"])
    assert cli.main(["models", "--fetch", "resnet18"]) == 0
    assert capsys.readouterr().out.split() == ["resnet18", str(path)]


def test_cached_timm_weights_load_offline(offline, monkeypatch):
    from safetensors.torch import save_file

    monkeypatch.setattr(cw, "network_problem", _no_network_check)
    state = _random_state("timm:resnet18")
    # the layout huggingface_hub keeps: refs/<branch> names the snapshot
    repo = offline / "hf" / "hub" / "models--timm--resnet18.a1_in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    path = repo / "snapshots" / "0123abcd" / "model.safetensors"
    path.parent.mkdir(parents=True)
    save_file(state, str(path))
    assert cm.cached_weights("timm:resnet18") == str(path)
    start = time.monotonic()
    model = cm.load_model("timm:resnet18", input_size=64)
    assert time.monotonic() - start < HANG_GUARD_S
    torch.testing.assert_close(model.weight, state["fc.weight"])


# --- the connect check ------------------------------------------------------------------


@pytest.fixture
def listener():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_network_problem_names_the_reason(monkeypatch, listener):
    for var in PROXY_VARS + ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    assert cw.network_problem(f"https://127.0.0.1:{listener}/w.pth") is None
    port = _closed_port()
    assert cw.network_problem(f"https://127.0.0.1:{port}/w.pth") == f"127.0.0.1:{port} refused the connection"
    assert cw.network_problem("https://weights.invalid/w.pth") == "cannot resolve weights.invalid"


def test_network_problem_goes_through_the_proxy(monkeypatch, listener):
    for var in PROXY_VARS + ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{listener}")  # no scheme: http:// is meant
    assert cw.network_problem("https://weights.invalid/w.pth") is None  # the proxy resolves names
    monkeypatch.setenv("no_proxy", "weights.invalid")
    assert cw.network_problem("https://weights.invalid/w.pth") == "cannot resolve weights.invalid"
    monkeypatch.delenv("no_proxy")
    port = _closed_port()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    assert cw.network_problem("https://weights.invalid/w.pth") == f"127.0.0.1:{port} (the proxy) refused the connection"


def test_weights_source_for_each_family(offline):
    assert cm.cached_weights("lite0") == "embedded" and cw.weights_source("lite0") is None
    tv = cw.weights_source("resnet18")
    assert tv.cached is None and not tv.hf_hub and tv.cache_dir == offline / "torch" / "hub" / "checkpoints"
    hub = cw.weights_source("timm:resnet18")
    assert hub.hf_hub and hub.url.endswith("/timm/resnet18.a1_in1k/resolve/main/model.safetensors")
    assert cw.weights_source("timm:gcvit_tiny").url.startswith("https://github.com/")  # timm's torch.hub downloads
    assert cw.weights_source("timm:coatnet_0_224") is None
    with pytest.raises(ModelLoadError, match="unknown"):
        cw.weights_source("timm:no_such_net")


def test_an_unknown_timm_tag_is_a_one_line_error(capsys, data_dir):
    assert cli.main(["image", str(data_dir / "chelsea.png"), "--model", "timm:resnet18.bogus"]) == 2
    err = capsys.readouterr().err
    assert "timm:resnet18.bogus" in err and "bogus" in err and "Traceback" not in err and err.count("\n") == 1
    with pytest.raises(ModelLoadError, match="pretrained tag"):
        cw.weights_source("timm:resnet18.bogus")
