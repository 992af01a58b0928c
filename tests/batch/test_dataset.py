"""The archive's per-frame data as one Parquet dataset (``--dataset DIR``), read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from batch_helpers import camvideo, env, summary
from clips import make_cat_clip, make_clip

pa = pytest.importorskip("pyarrow")
import pyarrow.compute as pc  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from camvideo.batch.dataset import COLUMNS, build, built_from, rows  # noqa: E402
from camvideo.errors import OutputError  # noqa: E402


def detections(jsonl: Path) -> int:
    return sum(len(json.loads(line)["detections"]) for line in jsonl.read_text().splitlines())


# A process that holds one dataset file's lock, as another run writing it would, and
# has its .partial half written; it lets go when told (a line on its stdin).
HOLDER = """
import sys
from pathlib import Path
from camvideo.batch.dataset import partial_path
from camvideo.batch.lock import OutputLock

target = Path(sys.argv[1])
with OutputLock.for_file(target, "camvideo process other/", "--dataset"):
    partial_path(target).write_bytes(b"half a file")
    print("held", flush=True)
    sys.stdin.readline()
"""


def refused_while_held(target: Path, args: tuple) -> None:
    """``camvideo process *args`` while another process holds ``target`` (as a run writing
    it would, its .partial half written): refused with one line naming the holder (exit
    2), the holder's partial untouched, ``target`` not written."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env())
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = camvideo(*args)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        errors = [line for line in refused.stderr.splitlines() if line.startswith("camvideo: error: ")]
        assert len(errors) == 1 and f"{target} is being written by another camvideo run" in errors[0], refused.stderr
        assert f":{holder.pid} since " in errors[0] and "camvideo process other/" in errors[0]
        assert errors[0].endswith("give another --dataset")
        assert (target.parent / f".{target.name}.partial").read_bytes() == b"half a file"
        assert not target.exists()
    finally:
        holder.communicate("go\n", timeout=30)


def test_an_archive_becomes_one_dataset_that_answers_which_files_hold_a_class_and_when(tmp_path):
    source = tmp_path / "in"
    (source / "day1").mkdir(parents=True)
    make_cat_clip(source / "day1" / "cat.mp4", frames=20)
    make_clip(source / "plain.mp4", frames=15, size=(64, 48))
    out, dataset = tmp_path / "out", tmp_path / "dataset"
    done = camvideo(source, "--output-dir", out, "--no-recording", "--jobs", "1", "--dataset", dataset)
    assert done.returncode == 0, done.stderr
    assert "dataset" in done.stderr and "2 files written" in done.stderr
    assert sorted(p.relative_to(dataset).as_posix() for p in dataset.rglob("*")) == [
        "day1", "day1/cat.parquet", "plain.parquet"]
    table = ds.dataset(dataset, format="parquet").to_table()
    assert table.column_names == list(COLUMNS)
    assert table.num_rows == detections(out / "day1" / "cat.jsonl") + detections(out / "plain.jsonl")
    jsonl_scores = [d["score"] for line in (out / "day1" / "cat.jsonl").read_text().splitlines()
                    for d in json.loads(line)["detections"]]
    cat_rows = table.filter(pc.equal(table["file"], "day1/cat.mp4"))
    assert cat_rows["score"].to_pylist() == jsonl_scores  # the JSONL's numbers, not float32's neighbours
    assert sorted(set(cat_rows["frame"].to_pylist())) == list(range(20))
    # the docs' question, asked with pyarrow: which files contain class 285 (Egyptian cat), from when to when
    hits = table.filter(pc.equal(table["class_id"], 285)).group_by("file").aggregate([("time", "min"), ("time", "max")])
    assert hits["file"].to_pylist() == ["day1/cat.mp4"]
    assert hits["time_min"].to_pylist() == [0.0] and hits["time_max"][0].as_py() == pytest.approx(19 / 30, abs=1e-3)
    # another run writing one of its files: the rerun is refused, then leaves the others as they are
    (dataset / "plain.parquet").unlink()
    args = (source, "--output-dir", out, "--no-recording", "--jobs", "1", "--dataset", dataset)
    refused_while_held(dataset / "plain.parquet", args)
    again = camvideo(*args)
    assert again.returncode == 0 and "1 file written, 1 up to date" in again.stderr, again.stderr
    assert [r["status"] for r in summary(out)[-2:]] == ["skipped", "skipped"]
    assert sorted(p.name for p in dataset.iterdir()) == ["day1", "plain.parquet"]  # no partial, no lock left


def test_a_class_without_a_box_has_null_corners_and_a_failed_file_is_left_out(tmp_path):
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(json.dumps({"frame": 3, "time": 0.1, "width": 8, "height": 6, "detections": [
        {"rank": 1, "class_id": 7, "label": "x", "score": 0.5, "box": None}]}) + "\n")
    assert rows(jsonl, "a.mp4")["x1"] == [None] and rows(jsonl, "a.mp4")["frame"] == [3]
    records = [{"rel": "a.mp4", "status": "done", "outputs": [str(jsonl)]},
               {"rel": "a.mp4", "status": "failed", "outputs": []}]
    assert build(tmp_path, tmp_path / "set", records) == (0, 0)
    assert build(tmp_path, tmp_path / "set", records[:1]) == (1, 0)
    assert ds.dataset(tmp_path / "set", format="parquet").to_table()["x1"].to_pylist() == [None]


def test_a_dataset_needs_jsonl(tmp_path):
    make_clip(tmp_path / "a.mp4", frames=5, size=(32, 32))
    done = camvideo(tmp_path / "a.mp4", "--output-dir", tmp_path / "out", "--export-format", "csv",
                    "--dataset", tmp_path / "set")
    assert done.returncode == 2 and "--dataset is built from each file's JSONL" in done.stderr


def test_a_dataset_that_cannot_be_a_folder_is_one_line_before_the_run(tmp_path):
    """``--dataset`` naming a file (or a folder under one) ran the whole archive, then
    ended on "cannot write FILE/a.parquet: File exists"; now one line at once, nothing run."""
    make_clip(tmp_path / "a.mp4", frames=5, size=(32, 32))
    (tmp_path / "notes.txt").write_text("mine")
    dataset = tmp_path / "notes.txt" / "set"  # a file above it (or itself: the same check)
    done = camvideo(tmp_path / "a.mp4", "--output-dir", tmp_path / "out", "--dataset", dataset)
    assert done.returncode == 2 and done.stderr.splitlines() == [
        f"camvideo: error: --dataset {dataset}: {tmp_path / 'notes.txt'} is a file, not a folder"], done.stderr
    assert not (tmp_path / "out").exists() and (tmp_path / "notes.txt").read_text() == "mine"


def test_scores_and_times_read_back_as_the_jsonl_wrote_them(tmp_path):
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(json.dumps({"frame": 0, "time": 0.033333, "width": 8, "height": 6, "detections": [
        {"rank": 1, "class_id": 7, "label": "x", "score": 0.3, "box": [0, 1, 2, 3]},
        {"rank": 2, "class_id": 9, "label": "y", "score": 0.1234, "box": None}]}) + "\n")
    assert build(tmp_path, tmp_path / "set", [{"rel": "a.mp4", "status": "done", "outputs": [str(jsonl)]}]) == (1, 0)
    table = pq.read_table(tmp_path / "set" / "a.parquet")
    assert table.schema.field("score").type == pa.float64()
    assert table["score"].to_pylist() == [0.3, 0.1234] and table["time"].to_pylist() == [0.033333] * 2


RACER = """
import sys, time
from pathlib import Path
from camvideo.batch.dataset import build
from camvideo.errors import OutputError

out, dataset, go = map(Path, sys.argv[1:4])
records = [{"rel": f"{i:02d}.mp4", "status": "done", "outputs": [str(out / f"{i:02d}.jsonl")]} for i in range(5)]
print("ready", flush=True)
while not go.exists():
    time.sleep(0.0005)
try:
    print("built", *build(out, dataset, records, f"camvideo process {out.name}"))
except OutputError as exc:
    print("refused", exc)
"""


def test_two_processes_building_one_dataset_at_once_leave_only_whole_files(tmp_path):
    """Two real processes build the same 5 files from different output folders at the same
    instant: each file is whole and one run's own, no .partial or lock is left, and a run
    that met the other's file mid-write says so (never a failed write)."""
    dataset, go = tmp_path / "dataset", tmp_path / "go"
    sources = {}
    for run in ("one", "two"):
        for i in range(5):
            frames = [{"frame": f, "time": f / 30, "width": 8, "height": 6, "detections": [
                {"rank": 1, "class_id": i, "label": run, "score": 0.5, "box": [0, 0, 4, 4]}]} for f in range(5000)]
            (tmp_path / run).mkdir(exist_ok=True)
            (tmp_path / run / f"{i:02d}.jsonl").write_text("".join(json.dumps(f) + "\n" for f in frames))
        sources[run] = tmp_path / run
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(sources[run]), str(dataset), str(go)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
              for run in ("one", "two")]
    assert [racer.stdout.readline().strip() for racer in racers] == ["ready", "ready"]  # pyarrow imported
    go.touch()
    said = [racer.communicate(timeout=120) for racer in racers]
    for (stdout, stderr), racer in zip(said, racers):
        assert racer.returncode == 0 and "Traceback" not in stderr, stderr
        assert stdout.startswith("built ") or "is being written by another camvideo run" in stdout \
            or "(another output folder's); give each output folder its own --dataset" in stdout, stdout
    names = sorted(p.name for p in dataset.iterdir())
    assert names == [f"{i:02d}.parquet" for i in range(len(names))] and len(names) >= 1
    for name in names:
        table = pq.read_table(dataset / name)
        assert table.num_rows == 5000 and len(set(table["label"].to_pylist())) == 1  # whole, and one run's
        assert built_from(dataset / name) == str(tmp_path / table["label"][0].as_py() / name.replace("parquet", "jsonl"))


def _one_file(folder: Path, label: str) -> list[dict]:
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps({"frame": 0, "time": 0.0, "width": 8, "height": 6, "detections": [
        {"rank": 1, "class_id": 1, "label": label, "score": 0.5, "box": None}]}) + "\n")
    return [{"rel": "a.mp4", "status": "done", "outputs": [str(folder / "a.jsonl")]}]


@pytest.mark.parametrize("older", [True, False])
def test_a_users_own_file_where_a_dataset_file_goes_is_never_replaced(tmp_path, older):
    """A Parquet file of other columns, or bytes that are not Parquet, where the dataset
    would write: one line, the file as it was, whether older than the JSONL (was: replaced
    silently) or newer (was: counted up to date)."""
    one, dataset = _one_file(tmp_path / "one", "one"), tmp_path / "set"
    dataset.mkdir()
    pq.write_table(pa.table({"x": [1, 2, 3]}), dataset / "a.parquet")
    (dataset / "b.parquet").write_bytes(b"my notes")
    two = [{**one[0], "rel": "b.mp4", "outputs": [str(tmp_path / "one" / "b.jsonl")]}]
    (tmp_path / "one" / "b.jsonl").write_bytes((tmp_path / "one" / "a.jsonl").read_bytes())
    if older:
        for name in ("a.jsonl", "b.jsonl"):
            (tmp_path / "one" / name).touch()
            os.utime(tmp_path / "one" / name, ns=(2**62, 2**62))
    before = {p.name: p.read_bytes() for p in dataset.iterdir()}
    for records, name in ((one, "a.parquet"), (two, "b.parquet")):
        with pytest.raises(OutputError, match=rf"{name} is not a file of a camvideo dataset .*; "
                                              "move it away or give another --dataset"):
            build(tmp_path / "one", dataset, records)
    assert {p.name: p.read_bytes() for p in dataset.iterdir()} == before


def test_another_output_folders_data_in_the_dataset_is_never_replaced(tmp_path):
    """Two output folders with the same path feed one dataset one after the other: the
    second is refused (its data would replace the first's under the same name), and a
    rerun of the first does not count the file as up to date if it held the other's."""
    one, two, dataset = _one_file(tmp_path / "one", "one"), _one_file(tmp_path / "two", "two"), tmp_path / "set"
    assert build(tmp_path / "one", dataset, one) == (1, 0)
    assert built_from(dataset / "a.parquet") == str(tmp_path / "one" / "a.jsonl")
    assert build(tmp_path / "one", dataset, one) == (0, 1)
    with pytest.raises(OutputError, match=r"a\.parquet holds the data of .*one/a\.jsonl \(another output folder's\); "
                                          "give each output folder its own --dataset"):
        build(tmp_path / "two", dataset, two)
    assert pq.read_table(dataset / "a.parquet")["label"].to_pylist() == ["one"]
    (tmp_path / "one").rename(tmp_path / "moved")  # the first folder's JSONL gone: its file may be replaced
    assert build(tmp_path / "two", dataset, two) == (1, 0)
    assert pq.read_table(dataset / "a.parquet")["label"].to_pylist() == ["two"]
    assert sorted(p.name for p in dataset.iterdir()) == ["a.parquet"]  # no partial, no lock left
