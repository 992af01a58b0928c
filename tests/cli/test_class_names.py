"""``--class NAME``: a class by its name, found as the window's Class field finds it
(``classnames.find_class``): in ``--labels`` when given, else ImageNet's names."""

from __future__ import annotations

import json

import pytest

from camvideo.cli import main
from camvideo.cli.options import class_argument


def _image(photo_path, tmp_path, *flags) -> dict:
    out = tmp_path / "out.json"
    assert main(["image", str(photo_path), "--json", str(out), "-o", str(tmp_path), *flags]) == 0  # not into the checkout
    return json.loads(out.read_text())


def test_a_name_localizes_the_class_its_id_does(data_dir, tmp_path):
    chelsea = data_dir / "chelsea.png"
    by_id = _image(chelsea, tmp_path, "--class", "285", "--class", "281")
    assert _image(chelsea, tmp_path, "--class", "egyptian CAT", "--class", "tabby") == by_id
    assert [d["class_id"] for d in by_id["detections"]] == [285, 281]


CATS = ("matches 8 classes (143 oystercatcher, 282 tiger cat, 283 Persian cat, 284 Siamese cat, 285 Egyptian cat, "
        "358 polecat, 383 Madagascar cat, 484 catamaran)")


@pytest.mark.parametrize(("value", "why"), [("cat", CATS), ("zzz", "matches none"),
                                            ("a", "matches 610 classes (2 great white shark, 3 tiger shark, "
                                             "4 hammerhead, 5 electric ray, 6 stingray, 10 brambling, 17 jay, "
                                             "18 magpie, 19 chickadee, 20 water ouzel, ... 600 more)")])
def test_a_name_that_picks_several_classes_or_none_is_one_line(data_dir, capsys, value, why):
    assert main(["image", str(data_dir / "chelsea.png"), "--class", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"camvideo: error: --class {value!r} {why} of ImageNet's class names: "
                   "give a class id or a whole name"]


def test_names_come_from_the_labels_file_when_given(tmp_path, capsys):
    labels = tmp_path / "names.txt"
    labels.write_text("ant\nbee\ncat\n")
    from camvideo.cli.options import resolve_classes
    from camvideo.cli.parser import build_parser

    args = build_parser().parse_args(["image", "x.png", "--labels", str(labels), "--class", "BEE", "--class", "0"])
    resolve_classes(args)
    assert args.class_ids == [1, 0]
    graph = build_parser().parse_args(["image", "x.png", "--model", "m.onnx", "--class", "bee"])
    with pytest.raises(Exception, match="give the class id, or its names with --labels FILE"):
        resolve_classes(graph)


def test_the_argument_keeps_ids_as_numbers():
    assert class_argument(" 285 ") == 285 and class_argument("-1") == -1 and class_argument("Egyptian cat") == "Egyptian cat"
