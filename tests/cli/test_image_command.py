"""`camvideo image` end to end on real photos with the embedded model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from camvideo.cam.boxes import iou
from camvideo.cli import main

CAT_BOX = (0, 0, 400, 300)
CUP_BOX = (75, 15, 480, 390)


def run_json(capsys, *args):
    assert main(["image", *args, "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_cat_and_cup_are_named_and_boxed(capsys, tmp_path, data_dir):
    cat, cup = run_json(capsys, str(data_dir / "chelsea.png"), str(data_dir / "coffee.png"), "-o", str(tmp_path))
    top = cat["detections"][0]
    assert 281 <= top["class_id"] <= 285 and top["rank"] == 1
    assert iou(top["box"], CAT_BOX) >= 0.6
    top = cup["detections"][0]
    assert top["class_id"] in (967, 968)  # espresso or cup
    # 0.58: the mirrored map's box at 25% of its maximum (0.64 with session 13's zoomed
    # pass, 0.65 at 20% without the mirror; docs/eval.md): ILSVRC's 0.5 holds
    assert iou(top["box"], CUP_BOX) >= 0.55
    assert (cat["frame"], cat["width"], cat["height"]) == (0, 451, 300)
    assert (cat["source"], cup["source"]) == (str(data_dir / "chelsea.png"), str(data_dir / "coffee.png"))
    assert (tmp_path / "chelsea_cam.png").stat().st_size > 10_000
    assert (tmp_path / "coffee_cam.png").is_file()


def test_json_follows_the_contract(capsys, tmp_path, data_dir):
    (obj,) = run_json(capsys, str(data_dir / "chelsea.png"), "-o", str(tmp_path / "x.png"), "--topk", "3")
    assert set(obj) == {"frame", "time", "width", "height", "detections", "source"}
    assert obj["source"] == str(data_dir / "chelsea.png") and list(obj)[-1] == "source"  # after the contract's keys
    assert [d["rank"] for d in obj["detections"]] == [1, 2, 3]
    for det in obj["detections"]:
        assert set(det) - {"regions"} == {"rank", "class_id", "label", "score", "box"}
        assert det.get("regions", [det["box"]])[0] == det["box"]  # each region's box, the paper's first
        x1, y1, x2, y2 = det["box"]
        assert 0 <= x1 < x2 <= 451 and 0 <= y1 < y2 <= 300
        assert 0.0 < det["score"] <= 1.0
    assert obj["detections"][0]["score"] >= obj["detections"][1]["score"]
    assert (tmp_path / "x.png").is_file()


def test_json_to_file(capsys, tmp_path, data_dir):
    out = tmp_path / "r.jsonl"
    assert main(["image", str(data_dir / "coffee.png"), "-o", str(tmp_path), "--json", str(out)]) == 0
    (line,) = capsys.readouterr().out.splitlines()  # the JSON in its file, the line saying where the image went
    assert line.startswith(f"{data_dir / 'coffee.png'}: ") and line.endswith(f"-> {tmp_path / 'coffee_cam.png'}")
    (obj,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert obj["detections"][0]["label"] in ("espresso", "cup")


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d, t: [str(t / "missing.png")], "no such file"),
        (lambda d, t: [str(d / "SOURCES.md")], "not an image"),
        (lambda d, t: [str(d / "chelsea.png"), "--model", "nope"], "unknown model 'nope'; `camvideo models` lists every name"),
        (lambda d, t: [str(d / "chelsea.png"), "--topk", "0"], "topk"),
        (lambda d, t: [str(d / "chelsea.png"), "--class", "1000"], "--class must be a class id of lite0 in 0..999"),
        (lambda d, t: [str(d / "chelsea.png"), "--weights", str(d / "SOURCES.md")], "cannot read weights file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, data_dir, make_args, message):
    assert main(["image", *make_args(data_dir, tmp_path), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("camvideo: error:") and message in err
    assert len(err.splitlines()) == 1


def test_a_json_file_that_is_a_folder_is_said_before_any_image_is_written(capsys, tmp_path, data_dir):
    out = tmp_path / "x.png"
    assert main(["image", str(data_dir / "chelsea.png"), "-o", str(out), "--json", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"camvideo: error: cannot write {tmp_path}: it is a folder; give a file name"
    assert not out.exists()


def test_weights_that_cannot_be_fetched_say_which_file_to_provide(tmp_path, data_dir):
    """A real download attempt, failing fast: an empty torch cache and a closed proxy port."""
    env = {
        "PATH": "/usr/bin:/bin",
        "TORCH_HOME": str(tmp_path / "torch"),
        "https_proxy": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "camvideo", "image", str(data_dir / "chelsea.png"), "--model", "resnet18", "-o", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "resnet18-f37072fd.pth" in line and "--weights" in line
    assert proc.stdout == ""


def test_the_photos_analysis_boxes_one_chicken_with_best(capsys, tmp_path, data_dir):
    # --quality best's photo analysis (camvideo.cam.still): the finer pass tells the four
    # chickens apart, so the box is one bird and each bird's region is listed;
    # the default (balanced) is its preset's one pass, as a video frame: one box around the flock.
    chicken = str(data_dir / "devset" / "farm_chicken.jpg")
    (best,) = run_json(capsys, chicken, "-o", str(tmp_path / "a.png"), "--quality", "best")
    (default,) = run_json(capsys, chicken, "-o", str(tmp_path / "b.png"))
    top, plain = best["detections"][0], default["detections"][0]
    assert top["label"] in ("hen", "cock") and len(top["regions"]) >= 2 and top["regions"][0] == top["box"]
    assert iou(top["box"], (11, 39, 70, 158)) >= 0.5 or iou(top["box"], (220, 41, 312, 188)) >= 0.5
    assert len(plain.get("regions", [plain["box"]])) == 1
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    assert area(top["box"]) < area(plain["box"]) / 2


def _refused(capsys, *args) -> str:
    assert main(["image", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("camvideo: error:"), err
    return err[0]


def test_several_images_need_a_folder_and_a_new_one_is_made(capsys, tmp_path, data_dir):
    # -o one.png made a folder named one.png; an existing out.jpg gave "cannot write out.jpg/chelsea_cam.png"
    cat, cup = str(data_dir / "chelsea.png"), str(data_dir / "coffee.png")
    (tmp_path / "out.jpg").write_bytes(b"mine")
    for name in ("one.png", "out.jpg", "out.txt"):
        line = _refused(capsys, cat, cup, "-o", str(tmp_path / name))
        assert "with several images, -o must be a folder" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg"] and (tmp_path / "out.jpg").read_bytes() == b"mine"
    assert main(["image", cat, cup, "-o", str(tmp_path / "new" / "sub"), "--quality", "fast"]) == 0
    assert sorted(p.name for p in (tmp_path / "new" / "sub").iterdir()) == ["chelsea_cam.png", "coffee_cam.png"]
    assert main(["image", cat, "-o", str(tmp_path / "dotted.v2") + "/", "--quality", "fast"]) == 0  # ending in /
    assert (tmp_path / "dotted.v2" / "chelsea_cam.png").is_file()


def test_one_image_is_written_only_as_an_image_in_a_folder_that_exists(capsys, tmp_path, data_dir):
    # -o out.txt wrote out.txt/chelsea_cam.png; -o nodir/x.png made nodir (process refuses both)
    cat = str(data_dir / "chelsea.png")
    line = _refused(capsys, cat, "-o", str(tmp_path / "out.txt"))
    assert "the annotated image must be .png, .jpg" in line and "'.txt'" in line
    line = _refused(capsys, cat, "-o", str(tmp_path / "nodir" / "x.png"))
    assert line == f"camvideo: error: cannot write {tmp_path / 'nodir' / 'x.png'}: the folder {tmp_path / 'nodir'} does not exist"
    line = _refused(capsys, cat, "-o", str(tmp_path / "x.png"), "--json", str(tmp_path / "nodir" / "r.jsonl"))
    assert line.endswith(f"the folder {tmp_path / 'nodir'} does not exist")  # before the model, not after the images
    (tmp_path / "plain").write_bytes(b"mine")
    assert "is a file, not an image" in _refused(capsys, cat, "-o", str(tmp_path / "plain"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]
    assert main(["image", cat, "-o", str(tmp_path / "x.jpg"), "--quality", "fast"]) == 0
    assert (tmp_path / "x.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG, by its suffix


def test_an_output_under_a_file_or_in_a_folder_that_cannot_be_written_is_refused_before_the_model(
        capsys, tmp_path, data_dir, monkeypatch):
    cat = str(data_dir / "chelsea.png")
    (tmp_path / "plain").write_bytes(b"mine")
    line = _refused(capsys, cat, "-o", str(tmp_path / "plain" / "x.png"))
    assert line.endswith(f"cannot write {tmp_path / 'plain' / 'x.png'}: {tmp_path / 'plain'} is a file, not a folder")
    line = _refused(capsys, cat, "-o", str(tmp_path / "x.png"), "--json", str(tmp_path / "plain" / "r.jsonl"))
    assert line.endswith("plain is a file, not a folder")
    # a read-only folder (root may write anywhere, so the permission is what os.access says)
    from camvideo.cli import outputs

    monkeypatch.setattr(outputs.os, "access", lambda path, mode: Path(path) != tmp_path)
    line = _refused(capsys, cat, "-o", str(tmp_path / "x.png"))
    assert line.endswith(f"the folder {tmp_path} is not writable (read-only, or no permission)")
    assert "cannot write into" in _refused(capsys, cat, "-o", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert _refused(capsys, cat).endswith("not writable (read-only, or no permission); choose a folder with -o")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


def test_every_bad_input_is_named_before_anything_is_written(capsys, tmp_path, data_dir):
    fake = tmp_path / "fake.jpg"
    fake.write_text("not a photo")
    paths = [str(data_dir / "chelsea.png"), str(tmp_path / "nothere.jpg"), str(fake), str(data_dir / "coffee.png")]
    assert main(["image", *paths, "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"camvideo: error: {tmp_path / 'nothere.jpg'}: no such file",
                   f"camvideo: error: {fake}: not an image that can be decoded (is it a PNG, JPEG, BMP, TIFF or WebP?)"]
    assert not (tmp_path / "out").exists()


def test_an_output_another_run_is_writing_is_refused(capsys, tmp_path, data_dir):
    """``-o FILE`` and ``--json FILE`` are locked for the run (refused before the model loads);
    each image of a folder ``-o`` while it is written."""
    import os

    from camvideo.batch.lock import OutputLock

    cat, cup = str(data_dir / "chelsea.png"), str(data_dir / "coffee.png")
    out, data = tmp_path / "one.png", tmp_path / "one.jsonl"
    for held, option in ((out, "-o"), (data, "--json")):
        with OutputLock.for_file(held, "camvideo image first.png", option):
            assert main(["image", cat, "-o", str(out), "--json", str(data)]) == 2
        line = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
        assert len(line) == 1 and f"{held} is being written by another camvideo run" in line[0]
        assert f":{os.getpid()} since " in line[0] and line[0].endswith(f"give another {option}")
        assert not out.exists() and not data.exists()
    (tmp_path / "many").mkdir()
    with OutputLock.for_file(tmp_path / "many" / "coffee_cam.png"):
        assert main(["image", cat, cup, "-o", str(tmp_path / "many"), "--quality", "fast"]) == 2
    assert "coffee_cam.png is being written by another camvideo run" in capsys.readouterr().err
    assert main(["image", cat, "-o", str(out), "--json", str(data), "--quality", "fast"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many", "one.jsonl", "one.png"]  # no lock file left
