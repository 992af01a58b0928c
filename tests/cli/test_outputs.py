"""No output may replace an input, or another output, whatever the paths are called;
an export replaces an older file only when complete, and a run that fails before
its first frame leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clips import make_clip
from contract import one_line_error

from camvideo.cli import main
from camvideo.errors import OutputError
from camvideo.video.outputs import check_outputs

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def clip(tmp_path) -> Path:
    path = tmp_path / "in.mkv"
    make_clip(path, frames=4, size=(64, 48))
    return path


def _links(tmp_path: Path, clip: Path) -> dict:
    hard, soft = tmp_path / "hard.mkv", tmp_path / "soft.mkv"
    os.link(clip, hard)
    os.symlink(clip, soft)
    (tmp_path / "sub").mkdir()
    return {"the same name": clip, "a hard link": hard, "a symbolic link": soft,
            "another spelling": tmp_path / "sub" / ".." / clip.name}


@pytest.mark.skipif(sys.platform == "win32", reason="hard and symbolic links as on POSIX")
@pytest.mark.parametrize("kind", ["the same name", "a hard link", "a symbolic link", "another spelling"])
def test_the_recording_never_replaces_the_source(tmp_path, capsys, clip, kind):
    before = clip.read_bytes()
    output = _links(tmp_path, clip)[kind]
    assert main(["process", str(clip), "-o", str(output)]) == 2
    line = one_line_error(capsys)
    assert f"-o {output} is the input {clip} itself" in line
    assert clip.read_bytes() == before  # the user's video, untouched
    assert not list(tmp_path.glob("*partial*"))


def test_the_recording_never_lands_on_the_source_under_its_temporary_name(tmp_path, capsys):
    """``-o clip.mkv`` is written as ``clip.partial.mkv`` first: that must not be the source either."""
    source = tmp_path / "clip.partial.mkv"
    make_clip(source, frames=4, size=(64, 48))
    before = source.read_bytes()
    assert main(["process", str(source), "-o", str(tmp_path / "clip.mkv")]) == 2
    assert "written first as clip.partial.mkv) is the input" in one_line_error(capsys)
    assert source.read_bytes() == before


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links as on POSIX")
def test_the_export_never_replaces_the_source_or_the_recording(tmp_path, capsys, clip):
    onto_source = tmp_path / "data.jsonl"
    onto_source.symlink_to(clip)
    before = clip.read_bytes()
    assert main(["process", str(clip), "--export", str(onto_source)]) == 2
    assert f"--export {onto_source} is the input {clip} itself" in one_line_error(capsys)
    assert clip.read_bytes() == before

    recording, export = tmp_path / "old.mkv", tmp_path / "old.jsonl"
    make_clip(recording, frames=2, size=(32, 32))
    export.symlink_to(recording)
    kept = recording.read_bytes()
    assert main(["process", str(clip), "-o", str(recording), "--export", str(export)]) == 2
    assert f"-o {recording} and --export {export} are the same file" in one_line_error(capsys)
    assert recording.read_bytes() == kept


def test_image_output_never_replaces_an_input(tmp_path, capsys, data_dir):
    photo = tmp_path / "cat.png"
    photo.write_bytes((data_dir / "chelsea.png").read_bytes())
    before = photo.read_bytes()
    assert main(["image", str(photo), "-o", str(photo)]) == 2
    assert f"is the input {photo} itself" in one_line_error(capsys)
    assert main(["image", str(photo), "--json", str(photo), "-o", str(tmp_path / "out.png")]) == 2
    assert f"--json {photo} is the input" in one_line_error(capsys)
    assert photo.read_bytes() == before
    # two photos of the same name in two folders: one annotated image would replace the other
    other = tmp_path / "b" / "cat.png"
    other.parent.mkdir()
    other.write_bytes(before)
    assert main(["image", str(photo), str(other)]) == 2
    assert "are the same file" in one_line_error(capsys)
    assert not list(Path.cwd().glob("cat_cam.png"))


def test_eval_never_writes_over_its_inputs(tmp_path, capsys):
    truth = tmp_path / "truth.jsonl"
    truth.write_text(json.dumps({"frame": 0, "time": 0.0, "width": 10, "height": 10,
                                 "detections": [{"rank": 1, "class_id": 1, "label": "x", "score": 1.0,
                                                 "box": [0, 0, 5, 5]}]}) + "\n")
    out = tmp_path / "eval"
    out.mkdir()
    (out / "frames.csv").symlink_to(truth)
    before = truth.read_text()
    assert main(["eval", "--clip", str(truth), "--truth", str(truth), "--out", str(out)]) == 2
    assert f"{out / 'frames.csv'} is the input {truth} itself" in one_line_error(capsys)
    assert truth.read_text() == before


def test_check_outputs_compares_files_not_names(tmp_path):
    a, b = tmp_path / "a.mkv", tmp_path / "b.jsonl"
    a.write_bytes(b"x")
    check_outputs([a], [("-o new.mkv", tmp_path / "new.mkv"), ("--export b.jsonl", b)])  # none exists: fine
    check_outputs([a], [])
    with pytest.raises(OutputError, match="are the same file"):  # neither exists yet: where they would go
        check_outputs([], [("-o x", tmp_path / "x.mkv"), ("--export x", tmp_path / "sub" / ".." / "x.mkv")])
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputError, match="is the input"):
        check_outputs([tmp_path / "sub" / ".." / "a.mkv"], [("-o a.mkv", a)])


# --- exports written under a temporary name ------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_run_that_fails_before_its_first_frame_leaves_nothing_behind(tmp_path, capsys, clip, suffix):
    """--topk 5000 fails once the model is known, after the outputs were opened."""
    old, fresh = tmp_path / f"old{suffix}", tmp_path / f"fresh{suffix}"
    old.write_text("an earlier run's export\n")
    for export in (old, fresh):
        assert main(["process", str(clip), "-o", str(tmp_path / "out.mkv"), "--export", str(export),
                     "--topk", "5000"]) == 2
        assert "--topk must be at most 1000" in one_line_error(capsys)
    assert old.read_text() == "an earlier run's export\n"  # untouched, not truncated to 0 bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([clip.name, old.name])  # no empty file left


def test_a_complete_export_replaces_the_old_one(tmp_path, clip):
    data = tmp_path / "out.jsonl"
    data.write_text("old\n")
    assert main(["process", str(clip), "--export", str(data)]) == 0
    assert [json.loads(line)["frame"] for line in data.read_text().splitlines()] == [0, 1, 2, 3]
    assert not (tmp_path / "out.partial.jsonl").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="a FIFO holds the model load")
def test_a_signal_while_the_model_loads_leaves_nothing_behind(tmp_path, clip):
    """The model load takes a minute (the command runs with ``load_model_from`` made to
    wait first: a FIFO as the weights file, the old way to hold it, is refused now):
    the signal comes there. The old export stays as it was, and no file is left behind."""
    import signal
    import subprocess
    import time

    data = tmp_path / "out.jsonl"
    data.write_text("old\n")
    root = Path(__file__).resolve().parents[2]
    slow_load = ("import sys, time\n"
                 "import camvideo.runtime.loading as loading\n"
                 "real = loading.load_model_from\n"
                 "loading.load_model_from = lambda *a, **k: (time.sleep(60), real(*a, **k))[1]\n"
                 "from camvideo.cli import main\n"
                 "sys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.Popen([sys.executable, "-c", slow_load, "process", str(clip), "-o", str(tmp_path / "out.mkv"),
                             "--export", str(data)], stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(root)))
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "out.partial.jsonl").exists():  # the outputs are open: the model load is next
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
            time.sleep(0.02)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "before the first frame; nothing written" in err and "Traceback" not in err
    assert data.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([clip.name, data.name])


def test_an_earlier_stopped_runs_partial_files_are_kept_and_named(tmp_path, capsys, clip):
    """A rerun never writes over what a stopped run left (a camera's hour cannot be made again)."""
    out, data = tmp_path / "rec.mkv", tmp_path / "rec.jsonl"
    (tmp_path / "rec.partial.mkv").write_bytes(b"earlier recording")
    (tmp_path / "rec.partial-1.mkv").write_bytes(b"an even earlier one")
    (tmp_path / "rec.partial.jsonl").write_text("earlier data\n")
    assert main(["process", str(clip), "-o", str(out), "--export", str(data), "--max-frames", "2"]) == 0
    assert (tmp_path / "rec.partial-2.mkv").read_bytes() == b"earlier recording"
    assert (tmp_path / "rec.partial-1.mkv").read_bytes() == b"an even earlier one"
    assert (tmp_path / "rec.partial-1.jsonl").read_text() == "earlier data\n"
    assert out.is_file() and len(data.read_text().splitlines()) == 2
    assert not (tmp_path / "rec.partial.mkv").exists() and not (tmp_path / "rec.partial.jsonl").exists()
    err = capsys.readouterr().err
    assert "rec.partial.mkv, left by an earlier run that stopped, is kept as rec.partial-2.mkv" in err
    assert "rec.partial.jsonl, left by an earlier run that stopped, is kept as rec.partial-1.jsonl" in err


@pytest.mark.parametrize("held", ["rec.mkv", "rec.jsonl"])
def test_a_run_writing_the_same_output_refuses_a_second_at_once(tmp_path, capsys, clip, held):
    """A live run's .partial file is never renamed by a second run of the same outputs (nor
    renamed to its final name by the first run's end): the second is refused, naming the holder."""
    from camvideo.batch.lock import OutputLock

    out, data = tmp_path / "rec.mkv", tmp_path / "rec.jsonl"
    (tmp_path / "rec.partial.mkv").write_bytes(b"growing")  # the first run's, still being written
    (tmp_path / "rec.partial.jsonl").write_text("growing\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    with OutputLock.for_file(tmp_path / held, "camvideo process first.mp4", "-o"):
        assert main(["process", str(clip), "-o", str(out), "--export", str(data)]) == 2
        line = one_line_error(capsys)
        assert f"{tmp_path / held} is being written by another camvideo run" in line
        assert f":{os.getpid()} since " in line and "camvideo process first.mp4" in line
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == before
        assert (tmp_path / "rec.partial.mkv").read_bytes() == b"growing"
    assert main(["process", str(clip), "-o", str(out), "--export", str(data)]) == 0  # the holder gone: kept aside
    assert (tmp_path / "rec.partial-1.mkv").read_bytes() == b"growing" and out.is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".camvideo-lock")]  # the locks removed


def test_an_export_alone_is_locked_too(tmp_path, capsys, clip):
    from camvideo.batch.lock import OutputLock

    data = tmp_path / "only.csv"
    with OutputLock.for_file(data, "camvideo process other.mp4"):
        assert main(["process", str(clip), "--export", str(data)]) == 2
    assert "is being written by another camvideo run" in one_line_error(capsys)
    assert not data.exists()


def test_set_aside_leaves_the_source_and_missing_files_alone(tmp_path):
    from camvideo.video.outputs import set_aside

    source = tmp_path / "in.partial.mkv"
    source.write_bytes(b"the input")
    assert set_aside(source, source) is None and source.read_bytes() == b"the input"
    assert set_aside(tmp_path / "none.partial.mkv") is None
    assert set_aside(source) == tmp_path / "in.partial-1.mkv"


def test_an_outputs_folder_is_checked_before_the_work(tmp_path, monkeypatch):
    """``check_folders``: a missing folder, a file where the folder should be, a folder
    that cannot be written (what os.access says: root may write anywhere); URLs are the
    object store's business."""
    from camvideo.cli import outputs

    (tmp_path / "plain").write_bytes(b"mine")
    outputs.check_folders([tmp_path / "a.mkv", None, "s3://bucket/x.mkv"])
    with pytest.raises(OutputError, match="the folder .*nodir does not exist"):
        outputs.check_folders([tmp_path / "a.mkv", tmp_path / "nodir" / "a.jsonl"])
    with pytest.raises(OutputError, match=r"cannot write .*plain/a.mkv: .*plain is a file, not a folder"):
        outputs.check_folders([tmp_path / "plain" / "a.mkv"])
    monkeypatch.setattr(outputs.os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(OutputError, match=r"the folder .* is not writable \(read-only, or no permission\)"):
        outputs.check_folders([tmp_path / "a.mkv"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


def test_a_recordings_and_an_exports_names_are_checked_before_the_work(tmp_path):
    """``check_names`` says, before the model loads, the very line the recorder and the
    exporter say when they open (a folder, .avi, no suffix, .txt); good names and URLs pass."""
    from camvideo.cli import outputs
    from camvideo.video.export import open_exporter
    from camvideo.video.recorder import Recorder

    outputs.check_names(tmp_path / "a.MKV", tmp_path / "a.csv")
    outputs.check_names(None, "s3://bucket/a.jsonl")
    outputs.check_names("s3://bucket/a", None)
    for recording, export, opens in ((tmp_path / "a.avi", None, Recorder), (tmp_path / "a", None, Recorder),
                                     (tmp_path, None, Recorder), (None, tmp_path / "a.txt", open_exporter)):
        with pytest.raises(OutputError) as early:
            outputs.check_names(recording, export)
        with pytest.raises(OutputError) as late:
            opens(recording or export)
        assert str(early.value) == str(late.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("source, output, line", [
    ("in.mp4", "out.avi", "a recording must be .mkv (default) or .mp4 (fragmented); got '.avi'"),
    ("in.mp4", "in.mp4", "is the input"),
    ("text.mp4", "out.mkv", "text.mp4: not a video that can be decoded"),
])
def test_process_says_a_bad_output_or_source_before_torch(tmp_path, source, output, line):
    """`camvideo process clip -o out.avi`, `-o` the input itself, a text file named .mp4:
    the one line comes before torch is imported (it came after, ~5 s on a loaded machine)."""
    make_clip(tmp_path / "in.mp4", frames=2, size=(32, 24))
    (tmp_path / "text.mp4").write_text("hello\n")
    code = ("import sys; from camvideo.cli import main; "
            f"rc = main(['process', {str(tmp_path / source)!r}, '-o', {str(tmp_path / output)!r}]); "
            "print(rc, 'torch' in sys.modules)")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(root)),
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["2", "False"], out.stderr
    assert line in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_a_side_file_takes_its_name_only_when_written_whole(tmp_path):
    """``--json`` and eval's summaries (``write_file``): a write that fails half way
    leaves the earlier file as it was, and no temporary file."""
    from camvideo.cli.outputs import write_file

    out = tmp_path / "frames.json"
    out.write_text("earlier, complete")

    def half(f):
        f.write("half of it")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match="No space left"):
        write_file(out, half)
    assert out.read_text() == "earlier, complete" and sorted(tmp_path.iterdir()) == [out]
    write_file(out, lambda f: f.write("new"))
    assert out.read_text() == "new" and sorted(tmp_path.iterdir()) == [out]


def test_a_special_file_is_written_in_place(tmp_path):
    from camvideo.cli.outputs import whole_file

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with whole_file(fifo) as target:
        assert target == fifo


def test_an_annotated_image_replaces_the_earlier_one_only_whole(tmp_path, monkeypatch):
    import cv2
    import numpy as np

    from camvideo.cli.commands import image as command

    out = tmp_path / "shot.png"
    out.write_bytes(b"earlier image")
    picture = np.full((8, 8, 3), 200, np.uint8)

    def cut(self, data):  # the disk fails half way through the image
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Path, "write_bytes", cut)
    with pytest.raises(OutputError, match="Input/output error"):
        command._write_image(out, picture)
    monkeypatch.undo()
    assert out.read_bytes() == b"earlier image" and sorted(tmp_path.iterdir()) == [out]
    command._write_image(out, picture)
    assert cv2.imread(str(out)).mean() == 200 and sorted(tmp_path.iterdir()) == [out]
