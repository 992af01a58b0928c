"""Damaged files: every frame PyAV can decode is kept, numbered by the file, and the
stretches lost are listed (issue 17, items 4 and 5, and the corruption fuzz test)."""

from __future__ import annotations

import logging

import av
import cv2
import numpy as np
import pytest
from clips import decode_times, make_clip, make_truncated_clip, pattern

from camvideo.errors import InputError
from camvideo.video.sources import describe_damage, open_source

pytestmark = pytest.mark.timeout(300)

FPS, FRAMES, GOP = 30, 300, 30


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """A 300-frame clip in .mp4 and .mkv, made once for the module."""
    folder = tmp_path_factory.mktemp("whole")
    made = {}
    for ext in ("mp4", "mkv"):
        made[ext] = folder / f"whole.{ext}"
        make_clip(made[ext], frames=FRAMES, size=(160, 120), fps=FPS, gop=GOP)
    return made


def _damaged(whole, out, at: float, length: int, seed: int = 0):
    """``whole`` with ``length`` random bytes written over it at ``at`` (a fraction of its size)."""
    data = bytearray(whole.read_bytes())
    start = int(len(data) * at)
    data[start: start + length] = np.random.default_rng(seed).bytes(length)[: len(data) - start]
    out.write_bytes(bytes(data))
    return out


def pyav_decodable(path) -> int:
    """How many frames PyAV alone can decode: packet by packet, skipping the ones
    that fail, the demuxer retried after an error (the best it can do)."""
    count = 0
    try:
        container = av.open(str(path))
    except av.FFmpegError:
        return 0
    with container:
        if not container.streams.video:
            return 0
        stream = container.streams.video[0]
        for _ in range(20):
            try:
                for packet in container.demux(stream):
                    try:
                        count += len(packet.decode())
                    except av.FFmpegError:
                        pass
                break
            except av.FFmpegError:
                continue
    return count


def _read(path):
    with open_source(path) as src:
        frames = list(src)
    return src, frames


def _check_numbering(src, frames) -> None:
    """Indices are the file's own (CFR: index = time x fps), a gap stays a gap and
    every frame missing between the first and the last is in ``damage``."""
    indices = [f.index for f in frames]
    assert indices == sorted(set(indices))
    assert all(f.index == round(f.time * FPS) for f in frames), [(f.index, f.time) for f in frames][:5]
    lost = {i for d in src.damage for i in range(d.first, d.last + 1)}
    assert set(range(indices[0], indices[-1] + 1)) - set(indices) <= lost
    assert not lost & set(indices)


def test_one_bad_packet_in_an_mp4_keeps_every_decodable_frame(clips, tmp_path, caplog):
    bad = _damaged(clips["mp4"], tmp_path / "bad.mp4", at=0.5, length=9910, seed=1)
    before = len(decode_times(bad))  # what container.decode() gave: it stops at the bad packet
    with caplog.at_level(logging.INFO):  # INFO: the front ends say it, once
        src, frames = _read(bad)
    assert len(frames) == pyav_decodable(bad) > before + 100
    print(f"\nmp4, 9910 bytes overwritten at the middle: {len(frames)} of {FRAMES} frames kept "
          f"(container.decode: {before}); {src.skipped} packets skipped; {describe_damage(src.damage)}")
    assert src.skipped > 0 and frames[-1].index == FRAMES - 1
    _check_numbering(src, frames)
    assert len(src.damage) == 1 and len(frames) + src.damage[0].frames == FRAMES
    assert f"{src.damage[0]} could not be decoded" in caplog.text


def test_damage_inside_an_mkv_leaves_a_gap_and_says_where(clips, tmp_path):
    """The Matroska demuxer skips a damaged cluster without an error: the frames
    after it keep their numbers, and the stretch is named."""
    bad = _damaged(clips["mkv"], tmp_path / "bad.mkv", at=0.33, length=7009, seed=3)
    src, frames = _read(bad)
    assert len(frames) == pyav_decodable(bad)
    _check_numbering(src, frames)
    (damage,) = src.damage
    assert damage.first > 0 and damage.last < FRAMES - 1
    assert [f.index for f in frames].index(damage.last + 1) == damage.first  # the frame after the gap
    assert damage.start == pytest.approx(damage.first / FPS, abs=2e-3)
    assert damage.end == pytest.approx((damage.last + 1) / FPS, abs=2e-3)
    assert str(damage) == f"frames {damage.first}-{damage.last} ({damage.first / FPS:.1f}-{(damage.last + 1) / FPS:.1f} s)"
    print(f"\nmkv, 7009 bytes overwritten at a third: {len(frames)} of {FRAMES} frames kept; "
          f"{describe_damage(src.damage)}")


def test_a_truncated_file_lists_its_missing_tail(tmp_path):
    cut = make_truncated_clip(tmp_path, frames=60)
    src, frames = _read(cut)
    assert [f.index for f in frames] == list(range(len(frames)))
    (tail,) = src.damage
    assert (tail.first, tail.last) == (len(frames), 59) and tail.end == pytest.approx(2.0, abs=0.05)
    assert tail.truncated and describe_damage(src.damage) == (
        f"{tail} are missing: the video stops before the 2.0 s its header says (truncated or damaged); "
        "every frame that could be decoded was kept")


def test_damage_in_the_middle_and_a_missing_tail_make_one_line():
    from camvideo.video.decoding import Damage

    line = describe_damage((Damage(3, 5, 0.1, 0.2), Damage(9, 9, 0.3, 0.4, truncated=True)))
    assert line == ("frames 3-5 (0.1-0.2 s) could not be decoded; frame 9 (0.3-0.4 s) is missing: the video "
                    "stops before the 0.4 s its header says (truncated or damaged); every frame that could be "
                    "decoded was kept")


def test_a_variable_frame_rate_is_no_damage(tmp_path):
    """Long gaps between the frames of an intact VFR file are the file's timing:
    the frames are numbered one after the other and nothing is reported."""
    gaps = [0.010, 0.050, 0.033, 0.400, 0.017, 1.500] * 4
    path = tmp_path / "vfr.mkv"
    make_clip(path, size=(64, 48), times=list(np.cumsum(gaps)))
    src, frames = _read(path)
    assert [f.index for f in frames] == list(range(len(gaps))) and src.damage == () and src.skipped == 0


def test_a_bad_image_in_a_folder_is_one_warning_line_of_process(tmp_path):
    """A text file named zz.jpg was three lines: the sequence's and the reader's log
    warnings, then process's own; now process's alone (a real process: pytest's log
    capture would hide the logging lines in this one)."""
    import json
    import os
    import subprocess
    import sys

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"img_{i}.png"), pattern(i, 32, 24))
    (folder / "zz.jpg").write_text("not a photo")
    out = tmp_path / "x.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "camvideo", "process", str(folder), "--export", str(out),
                           "--no-progress", "--quality", "fast", "--device", "cpu"],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["frame"] for line in out.read_text().splitlines()] == [0, 1]
    named = [line for line in proc.stderr.splitlines() if "zz.jpg" in line]
    assert named == [f"camvideo: warning: {folder}: zz.jpg (image 3) could not be decoded"], proc.stderr


def test_an_unreadable_image_in_a_folder_is_a_gap(tmp_path):
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"img_{i}.png"), pattern(i, 32, 24))
    (tmp_path / "img_2.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    src, frames = _read(tmp_path)
    assert [f.index for f in frames] == [0, 1, 3]
    assert [(d.first, d.last) for d in src.damage] == [(2, 2)]
    assert describe_damage(src.damage) == "img_2.png (image 3) could not be decoded"  # the file, not a time
    assert src.damage[0].file == str(tmp_path / "img_2.png")


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_corruption_fuzz(clips, tmp_path, ext):
    """20 seeded variants: 4-64 KB overwritten at random places, or the file cut at
    a random point. No traceback, ever; every frame PyAV alone can decode is kept
    (within one GOP); numbering stays the file's."""
    rng = np.random.default_rng(17 if ext == "mkv" else 18)
    whole = clips[ext]
    size = whole.stat().st_size
    kept = []
    for variant in range(20):
        path = tmp_path / f"v{variant}.{ext}"
        if variant % 4 == 3:
            path.write_bytes(whole.read_bytes()[: int(rng.integers(size // 10, size))])
        else:
            _damaged(whole, path, at=float(rng.uniform(0.0, 0.95)), length=int(rng.integers(4096, 65536)),
                     seed=variant)
        reference = pyav_decodable(path)
        try:
            src, frames = _read(path)
        except InputError:  # the header is gone (an MP4's index is at its end): PyAV gets nothing either
            assert reference <= GOP, f"variant {variant}: PyAV decodes {reference} frames, the source none"
            kept.append(f"0/{reference}")
            continue
        assert len(frames) >= reference - GOP, f"variant {variant}: {len(frames)} kept, PyAV decodes {reference}"
        _check_numbering(src, frames)
        kept.append(f"{len(frames)}/{reference}")
    print(f"\n{ext}: frames kept / PyAV alone, 20 variants: {' '.join(kept)}")


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_sound_that_outlasts_the_video_is_no_damage(tmp_path, ext):
    """The container's duration counts the audio too: the video is measured by its own."""
    path = tmp_path / f"long_sound.{ext}"
    make_clip(path, frames=30, size=(64, 48), fps=30, audio=True, audio_s=3.0)
    with av.open(str(path)) as container:
        assert container.duration / 1e6 > 2.5  # the header's length is the sound's
    src, frames = _read(path)
    assert [f.index for f in frames] == list(range(30))
    assert not src.damage
    assert src.duration == pytest.approx(1.0, abs=0.05)



def test_one_lost_frame_within_a_tenth_of_a_second_names_one_time():
    from camvideo.video.decoding import Damage

    assert str(Damage(329, 329, 10.97, 11.0)) == "frame 329 (11.0 s)"
    assert str(Damage(329, 330, 10.97, 11.04)) == "frames 329-330 (11.0 s)"
    assert str(Damage(329, 331, 10.97, 11.08)) == "frames 329-331 (11.0-11.1 s)"
