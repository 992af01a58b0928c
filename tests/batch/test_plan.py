"""From inputs to jobs: folders, globs, lists, the mirrored output tree, what a
folder of images and videos means, and what a rerun skips."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from camvideo.batch.plan import (
    expands_to_videos,
    make_plan,
    prepare_output_dir,
)
from camvideo.errors import CamvideoError, InputError, OutputError


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))
    return path


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "archive"
    for rel in ("a.mp4", "b.MKV", "day1/c.mov", "day1/deep/d.webm", ".hidden/e.mp4", "day1/.f.mp4", "notes.txt"):
        touch(root / rel)
    return root


def test_a_folder_of_videos_is_one_job_per_video_mirrored_under_the_output_folder(tree, tmp_path):
    out = tmp_path / "out"
    plan = make_plan([str(tree)], out)
    assert [j.rel for j in plan.jobs] == ["a.mp4", "b.MKV", "day1/c.mov", "day1/deep/d.webm"]  # hidden names skipped
    assert all(j.kind == "video" for j in plan.jobs)
    job = plan.jobs[2]
    assert job.source == str(tree / "day1/c.mov")
    assert job.recording == str(out / "day1/c_cam.mkv") and job.export == str(out / "day1/c.jsonl")
    assert job.size == 1 and job.mtime_ns == os.stat(tree / "day1/c.mov").st_mtime_ns
    assert plan.summary_path == out / "camvideo-run.jsonl"
    assert plan.notes == ()


def test_csv_and_no_recording_name_the_outputs(tree, tmp_path):
    plan = make_plan([str(tree / "a.mp4")], tmp_path / "out", recording=False, export_format="csv")
    assert plan.jobs[0].outputs == (str(tmp_path / "out/a.csv"),)
    with pytest.raises(CamvideoError, match="nothing to write"):
        make_plan([str(tree)], tmp_path / "out", recording=False, export_format="none")


def test_a_recursive_glob_mirrors_the_tree_below_its_fixed_part(tree, tmp_path):
    plan = make_plan([str(tree / "**/*.mp4")], tmp_path / "out")
    # glob's ** skips hidden names, as the folder walk does
    assert [j.rel for j in plan.jobs] == ["a.mp4"]
    plan = make_plan([str(tree / "day1/**/*")], tmp_path / "out")
    assert [j.rel for j in plan.jobs] == ["c.mov", "deep/d.webm"]
    with pytest.raises(InputError, match="no videos or images match"):
        make_plan([str(tree / "*.avi")], tmp_path / "out")


def test_a_folder_of_images_and_videos_processes_the_videos_and_says_so(tree, tmp_path):
    image(tree / "day1/cover.jpg")
    image(tree / "day1/back.jpg")
    for i in range(3):
        image(tree / "frames" / f"{i:03d}.png")
    plan = make_plan([str(tree)], tmp_path / "out")
    kinds = {j.rel: j.kind for j in plan.jobs}
    assert kinds["frames"] == "images"  # a folder of images alone: one image sequence
    assert "day1/cover.jpg" not in kinds and "day1/back.jpg" not in kinds
    assert len(plan.notes) == 1
    note = plan.notes[0]
    assert "2 images in a folder that also holds videos not processed" in note
    assert "day1/*.jpg" in note  # how to process them instead
    frames = next(j for j in plan.jobs if j.rel == "frames")
    assert frames.recording.endswith("out/frames_cam.mkv") and frames.size > 0


def test_the_note_on_a_folders_images_names_their_usual_suffix(tree, tmp_path):
    """It named the first image's in name order: 'day1/*.jpg' for one stray .jpg among PNGs."""
    image(tree / "day1/0-cover.jpg")  # first in name order
    for i in range(3):
        image(tree / "day1" / f"{i:03d}.png")
    (note,) = make_plan([str(tree)], tmp_path / "out").notes
    assert "4 images in a folder" in note and "day1/*.png" in note


def test_a_glob_of_images_and_videos_processes_the_videos_and_says_so(tree, tmp_path):
    image(tree / "x.png")
    plan = make_plan([str(tree / "*")], tmp_path / "out")
    assert "x.png" not in [j.rel for j in plan.jobs]
    assert any("1 image matched among videos not processed" in n for n in plan.notes)
    only_images = make_plan([str(tree / "*.png")], tmp_path / "out")
    assert [(j.kind, j.rel) for j in only_images.jobs] == [("images", "archive")]


def test_names_that_would_collide_keep_their_suffix(tmp_path):
    for rel in ("clip.mp4", "clip.mov", "other.mp4", "camvideo-run.mkv"):
        touch(tmp_path / "in" / rel)
    plan = make_plan([str(tmp_path / "in")], tmp_path / "out")
    names = {j.rel: Path(j.recording).name for j in plan.jobs}
    assert names == {"clip.mov": "clip_mov_cam.mkv", "clip.mp4": "clip_mp4_cam.mkv", "other.mp4": "other_cam.mkv",
                     "camvideo-run.mkv": "camvideo-run_mkv_cam.mkv"}
    exports = [j.export for j in plan.jobs]
    assert len(set(exports)) == 4 and str(plan.summary_path) not in exports


def test_several_inputs_mirror_from_their_common_folder_and_a_file_given_twice_is_one_job(tree, tmp_path):
    other = touch(tmp_path / "elsewhere/z.mp4")
    plan = make_plan([str(tree / "day1"), str(other), str(other)], tmp_path / "out")
    assert [j.rel for j in plan.jobs] == ["archive/day1/c.mov", "archive/day1/deep/d.webm", "elsewhere/z.mp4"]
    assert plan.notes == (f"1 more name of videos already in the run (given twice, or a link) processed once: "
                          f"{other}",)


def test_links_to_one_video_are_one_job_and_a_note_says_so(tmp_path):
    """A folder of 3 links to one video was "1 file" without a word."""
    video = touch(tmp_path / "v.mp4")
    (tmp_path / "links").mkdir()
    for name in ("l1.mp4", "l2.mp4", "l3.mp4"):
        (tmp_path / "links" / name).symlink_to(video)
    plan = make_plan([str(tmp_path / "links")], tmp_path / "out")
    assert len(plan.jobs) == 1
    assert len(plan.notes) == 1 and plan.notes[0].startswith("2 more names of videos already in the run"), plan.notes
    assert plan.notes[0].endswith(f"{tmp_path / 'links' / 'l2.mp4'} is {tmp_path / 'links' / 'l1.mp4'}, ...")


def test_a_list_file_with_comments_and_a_missing_file(tree, tmp_path, monkeypatch):
    monkeypatch.chdir(tree)
    listing = tmp_path / "list.txt"
    listing.write_text("# my files\n\na.mp4\n  day1/c.mov  \ngone.mp4\n")
    plan = make_plan([], tmp_path / "out", from_list=listing)
    assert [(j.rel, j.kind) for j in plan.jobs] == [("a.mp4", "video"), ("day1/c.mov", "video"),
                                                    ("gone.mp4", "missing")]
    assert plan.jobs[2].size is None
    with pytest.raises(InputError, match="cannot read it"):
        make_plan([], tmp_path / "out", from_list=tmp_path / "nope.txt")


def test_cameras_streams_and_empty_inputs_are_refused(tmp_path):
    for spec in ("0", "rtsp://host/stream"):
        with pytest.raises(CamvideoError, match="cannot be part of a batch"):
            make_plan([spec, str(touch(tmp_path / "a.mp4"))], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no videos or images in this folder"):
        make_plan([str(tmp_path / "empty")], tmp_path / "out")
    with pytest.raises(CamvideoError, match="no source"):
        make_plan([], tmp_path / "out")


def test_the_output_folder_is_never_taken_as_input(tree):
    out = tree / "out"
    touch(out / "a_cam.mkv")  # the recording of an earlier run, inside the input tree
    plan = make_plan([str(tree)], out)
    assert not any(j.source.startswith(str(out)) for j in plan.jobs)


def test_which_single_sources_make_a_batch(tree, tmp_path):
    assert expands_to_videos(str(tree)) and expands_to_videos(str(tree / "**/*.mp4"))
    frames = tmp_path / "frames"
    image(frames / "0.png")
    assert not expands_to_videos(str(frames)) and not expands_to_videos(str(frames / "*.png"))
    assert not expands_to_videos(str(tree / "a.mp4")) and not expands_to_videos("0")


def test_an_output_folder_that_cannot_be_made_is_an_output_error(tree, tmp_path):
    blocker = touch(tmp_path / "a-file")
    plan = make_plan([str(tree)], blocker / "out")
    with pytest.raises(OutputError, match="cannot write there"):
        prepare_output_dir(plan)
    with pytest.raises(OutputError, match=r"a-file is a file, not a folder: give a folder"):  # was "(File exists)"
        prepare_output_dir(make_plan([str(tree)], blocker))
    good = make_plan([str(tree)], tmp_path / "out")
    prepare_output_dir(good)
    assert (tmp_path / "out/day1/deep").is_dir() and not list((tmp_path / "out").glob(".camvideo-check-*"))


def test_an_image_named_on_its_own_is_a_one_frame_sequence_named_after_it(tmp_path):
    shot = image(tmp_path / "shot.png")
    plan = make_plan([str(shot), str(touch(tmp_path / "shot.mp4"))], tmp_path / "out")
    assert [(j.kind, Path(j.recording).name) for j in plan.jobs] == [("images", "shot_png_cam.mkv"),
                                                                     ("video", "shot_mp4_cam.mkv")]
    alone = make_plan([str(shot)], tmp_path / "out").jobs[0]
    assert alone.export == str(tmp_path / "out/shot.jsonl")


def test_an_output_never_replaces_an_input(tree, tmp_path):
    with pytest.raises(CamvideoError, match="is the input folder itself"):
        make_plan([str(tree)], tree)
    touch(tree / "a_cam.mkv")  # named as a.mp4's recording would be, in the same folder
    with pytest.raises(OutputError, match="an output of a.mp4, is the input"):
        make_plan([str(tree / "a.mp4"), str(tree / "a_cam.mkv")], tree)
    inner = make_plan([str(tree / "day1")], tree / "day1" / "..")  # an input inside the output folder
    assert [j.rel for j in inner.jobs] == ["c.mov", "deep/d.webm"]


def test_a_recursive_glob_over_symlink_loops_ends_with_one_job_per_video(tmp_path):
    """Case 5 of the reliability issue: two loops (a/loop -> a, a/b/up -> a) made
    the glob run without end; one loop made 41 jobs of one video."""
    root = tmp_path / "a"
    touch(root / "x.mp4")
    touch(root / "b" / "y.mp4")
    (root / "loop").symlink_to(root)
    (root / "b" / "up").symlink_to(root)
    plan = make_plan([str(root / "**" / "*.mp4")], tmp_path / "out")
    assert sorted(job.rel for job in plan.jobs) == ["b/y.mp4", "x.mp4"]
    assert expands_to_videos(str(root / "**" / "*.mp4"))


def test_a_folder_walk_names_linked_folders_and_leaves_camvideo_recordings_out(tmp_path):
    """Issue 27's lower list: a linked folder was skipped without a word, and camvideo's
    own recordings in the input tree were analysed again (``x_cam_cam.mkv``)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from clips import make_clip

    from camvideo.cli import main

    tree = tmp_path / "in"
    (tree / "elsewhere").mkdir(parents=True)
    make_clip(tree / "x.mp4", frames=4, size=(64, 48))
    make_clip(tree / "front_cam.mkv", frames=4, size=(64, 48))  # a user's camera, not camvideo's
    make_clip(tmp_path / "linked.mp4", frames=4, size=(64, 48))
    (tree / "link").symlink_to(tmp_path, target_is_directory=True)
    assert main(["process", str(tree / "x.mp4"), "--output-dir", str(tree), "--max-frames", "2"]) == 0
    assert (tree / "x_cam.mkv").exists()  # a camvideo recording in the tree
    plan = make_plan([str(tree)], tmp_path / "out")
    assert sorted(Path(j.source).name for j in plan.jobs) == ["front_cam.mkv", "x.mp4"]
    assert any("1 linked folder not followed" in n and "link" in n for n in plan.notes), plan.notes
    assert any("1 camvideo recording not analysed again" in n and "x_cam.mkv" in n for n in plan.notes), plan.notes
    named = make_plan([str(tree / "x_cam.mkv")], tmp_path / "out")  # by name: analysed anyway
    assert [Path(j.source).name for j in named.jobs] == ["x_cam.mkv"]


def test_a_folder_of_images_given_twice_through_a_link_is_one_job_and_a_note(tmp_path):
    """The note named the repeat by its real path, which keys only videos: a folder of
    images given twice under a path through a link was a KeyError (a traceback)."""
    real = tmp_path / "real" / "imgs"
    real.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(real / f"{i}.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "link").symlink_to(tmp_path / "real")
    folder = str(tmp_path / "link" / "imgs")
    plan = make_plan([folder, folder], tmp_path / "out")
    assert len(plan.jobs) == 1
    assert plan.notes == (f"1 more name of videos already in the run (given twice, or a link) processed once: "
                          f"{folder}",)


def test_a_folder_with_nothing_to_process_but_what_the_walk_left_out_says_what(tmp_path):
    """A folder of linked folders alone said "no videos or images in this folder", and the
    note naming the links it did not follow was never printed (the error came first)."""
    (tmp_path / "cams").mkdir()
    touch(tmp_path / "cams" / "a.mp4")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cams").symlink_to(tmp_path / "cams", target_is_directory=True)
    with pytest.raises(InputError, match=r"in: no videos or images in this folder to process: 1 linked folder not "
                                         r"followed \(.*in/cams; a link may loop\): give it as a source"):
        make_plan([str(tmp_path / "in")], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: no videos or images in this folder \(videos: .mp4"):
        make_plan([str(tmp_path / "empty")], tmp_path / "out")
