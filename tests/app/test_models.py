"""ModelState: the window's model state moved by its events, without a window."""

from __future__ import annotations

import pytest

from camvideo.app.models import ModelState


def test_a_model_that_cannot_load_offline_leaves_weights_file_on_it_while_lite0_runs():
    state = ModelState("lite0")
    state.asked("lite0")
    assert state.line == "loading lite0…" and state.shown == "lite0"
    state.ready("lite0", "cpu")
    assert state.line == "lite0 ready on cpu" and state.weights_for == "lite0"
    state.asked("resnet50")
    assert state.shown == "resnet50" and state.line == "loading resnet50…"
    assert state.failed("resnet50", "no weights offline") is None  # lite0 runs on: nothing else to load
    # the list shows what runs; "Weights file…" is for the model that needs its weights
    assert state.shown == "lite0" and state.weights_for == "resnet50"
    assert state.line == "resnet50 could not load; still lite0 on cpu"
    state.asked("resnet50")  # Weights file…
    assert state.weights_for == "resnet50" and state.line == "loading resnet50…"
    state.ready("resnet50", "cpu")
    assert state.shown == "resnet50" and state.line == "resnet50 ready on cpu" and state.failure is None
    assert state.stale_message() == "no weights offline" and state.stale_message() is None  # once


def test_a_wrong_weights_file_for_the_model_in_use_says_it_still_runs():
    state = ModelState("lite0")
    state.asked("lite0")
    state.ready("lite0", "cpu")
    state.asked("lite0")
    assert state.failed("lite0", "not an EfficientNet-Lite0 checkpoint") is None
    assert state.line == "lite0 could not load from that file; still lite0 on cpu"
    assert state.shown == "lite0" and state.stale_message() is None


def test_a_remembered_model_that_cannot_load_gives_way_to_the_built_in_one():
    state = ModelState("lite0", chosen="resnet50")
    assert state.shown == "resnet50" and state.line == ""
    state.asked("resnet50")
    assert state.failed("resnet50", "offline") == "lite0"
    assert state.shown == "lite0" and state.line == "resnet50 could not load; loading lite0"
    state.asked("lite0")
    assert state.line == "resnet50 could not load; loading lite0…"
    assert state.failed("lite0", "broken") is None
    assert state.line == "lite0 could not load" and state.in_use is None
    state.asked("lite0")
    state.ready("lite0", "cuda:0")
    assert state.line == "lite0 ready on cuda:0" and state.stale_message() == "broken"


def test_the_built_in_model_loaded_in_place_of_a_remembered_one_keeps_weights_file_on_that_one():
    """Issue 23, finding 2 at start-up: a remembered model offline gives way to lite0,
    and once lite0 runs, "Weights file…" is still for the model that could not load
    (not for lite0), its banner stays, and the line says what runs instead."""
    state = ModelState("lite0", chosen="resnet18")
    state.asked("resnet18")
    assert state.failed("resnet18", "offline") == "lite0"
    state.asked("lite0")
    state.ready("lite0", "cpu")
    assert state.shown == "lite0" and state.weights_for == "resnet18"
    assert state.line == "resnet18 could not load; still lite0 on cpu" and state.stale_message() is None
    state.asked("resnet18")  # with a weights file
    state.ready("resnet18", "cpu")
    assert state.line == "resnet18 ready on cpu" and state.stale_message() == "offline"
    assert state.weights_for == "resnet18"


def test_the_default_is_checked():
    with pytest.raises(ValueError, match="default"):
        ModelState("")


def test_an_exported_graph_picked_is_a_model_of_its_own_with_the_labels_picked(tmp_path):
    from camvideo.app.models import Choice, chosen_file, labels_for

    graph = tmp_path / "resnet18.onnx"
    choice = chosen_file(str(graph), "resnet50", {"input_size": 160})
    assert choice == Choice(str(graph), {})  # the graph fixes its own preprocessing: no options carried
    assert labels_for(choice, str(tmp_path / "labels.txt")) == Choice(str(graph), {"labels": str(tmp_path / "labels.txt")})
    assert labels_for(choice, None) == choice  # cancelled: the graph's own labels
    assert chosen_file("model.XML", "lite0").name.endswith("model.XML")
    # any other file is weights for the model the button is for, its other options kept
    assert chosen_file("w.pth", "resnet50", {"input_size": 160}) == Choice("resnet50", {"input_size": 160, "weights": "w.pth"})
    with pytest.raises(ValueError, match="path"):
        chosen_file("", "lite0")


def test_the_list_keeps_an_exported_graph_and_a_timm_model():
    from camvideo.app.models import listed

    names = ["lite0", "resnet18"]
    assert listed(names, "/m/resnet18.onnx") == [*names, "/m/resnet18.onnx"]
    assert listed(names, "timm:convnext_tiny") == [*names, "timm:convnext_tiny"]
    assert listed(names, "gone") == names and listed(names, "resnet18") == names


def test_the_model_line_names_an_exported_graph_by_its_file_name():
    state = ModelState("lite0")
    state.asked("/models/resnet18.onnx")
    assert state.line == "loading resnet18.onnx…" and state.shown == "/models/resnet18.onnx"
    state.ready("/models/resnet18.onnx", "cpu")
    assert state.line == "resnet18.onnx ready on cpu"
    state.asked("/models/vgg.xml")
    state.failed("/models/vgg.xml", "vgg.xml: the output comes from ...")
    assert state.line == "vgg.xml could not load; still resnet18.onnx on cpu"
