"""Sources: order, timestamps, policies, rotation, odd sizes, bad input."""

from __future__ import annotations

import logging
import threading
import time

import av
import cv2
import numpy as np
import pytest
from clips import make_clip, make_truncated_clip, pattern

from camvideo.errors import InputError
from camvideo.video.sources import Frame, IterableSource, describe_damage, open_source

pytestmark = pytest.mark.timeout(120)


def _reader_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("camvideo-reader")]


def test_file_frames_in_order_with_constant_rate_timestamps(tmp_path):
    path = tmp_path / "cfr.mkv"
    times = make_clip(path, frames=24, size=(96, 64), fps=24)
    with open_source(path) as src:
        assert not src.live and src.policy.name == "block"
        assert src.size == (96, 64)
        frames = list(src)
    assert [f.index for f in frames] == list(range(24))
    assert [f.time for f in frames] == pytest.approx(times, abs=1e-3)
    assert all(isinstance(f, Frame) and f.image.shape == (64, 96, 3) and f.image.flags.c_contiguous for f in frames)
    assert not _reader_threads()


def test_variable_frame_rate_timestamps_are_the_containers(tmp_path):
    gaps = [0.010, 0.050, 0.033, 0.120, 0.017, 0.040] * 4
    wanted = list(np.cumsum(gaps))
    path = tmp_path / "vfr.mp4"
    times = make_clip(path, size=(64, 48), times=wanted)
    with open_source(path) as src:
        got = [f.time for f in src]
    assert len(got) == len(wanted)
    assert got == pytest.approx(times, abs=1e-3)
    assert got == pytest.approx(wanted, abs=1e-3)


def test_folder_is_sorted_and_glob_matches(tmp_path):
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"img_{i}.png"), pattern(i, 40, 30))
    (tmp_path / "notes.txt").write_text("not an image")
    with open_source(tmp_path) as src:
        frames = list(src)
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.time for f in frames] == pytest.approx([0, 1 / 30, 2 / 30])
    np.testing.assert_array_equal(frames[2].image, pattern(2, 40, 30))
    with open_source(str(tmp_path / "img_[01].png")) as src:
        assert src.frame_count_hint == 2 and len(list(src)) == 2


def test_odd_size_input(tmp_path):
    path = tmp_path / "odd.mkv"
    make_clip(path, frames=5, size=(321, 241), pix_fmt="yuv444p")
    with open_source(path) as src:
        frames = list(src)
    assert src.size == (321, 241)
    assert len(frames) == 5 and frames[0].image.shape == (241, 321, 3)


def test_rotation_metadata_is_applied(tmp_path):
    plain, rotated = tmp_path / "plain.mp4", tmp_path / "rot.mp4"
    make_clip(plain, frames=4, size=(96, 64))
    make_clip(rotated, frames=4, size=(96, 64), rotation=90)
    with av.open(str(rotated)) as c:
        assert next(c.decode(video=0)).rotation == 90
    with open_source(plain) as a, open_source(rotated) as b:
        fa, fb = list(a), list(b)
    assert b.size == (64, 96)
    assert fb[0].image.shape == (96, 64, 3)
    for x, y in zip(fa, fb):  # display = stored picture turned 90 degrees counterclockwise
        np.testing.assert_array_equal(y.image, np.rot90(x.image, 1))


def test_file_frames_are_pyavs_own_bgr_decoded_on_one_thread(tmp_path):
    """The source converts with one swscale context of its own, on the reader thread
    (``av_image``), and decodes frames up to 1080p there too: the same pixels as
    PyAV's ``to_ndarray(format="bgr24")``."""
    from camvideo.video.decoding import av_image, bgr_reformatter

    path = tmp_path / "clip.mp4"
    make_clip(path, frames=6, size=(160, 120))
    with av.open(str(path)) as c:
        expected = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    with open_source(path) as src:
        got = [f.image for f in src]
    assert len(got) == 6 and all(np.array_equal(a, b) for a, b in zip(got, expected))
    # one reformatter for frames of two sizes (a stream that comes back at another size)
    other = tmp_path / "other.mp4"
    make_clip(other, frames=2, size=(96, 64), pix_fmt="yuv444p")
    reformatter = bgr_reformatter()
    for clip in (path, other, path):
        with av.open(str(clip)) as c:
            for frame in c.decode(video=0):
                np.testing.assert_array_equal(av_image(frame, reformatter), frame.to_ndarray(format="bgr24"))


def test_decoder_threads_by_frame_size():
    from types import SimpleNamespace

    from camvideo.video.files import decoder_threads

    small = SimpleNamespace(codec_context=SimpleNamespace(width=1920, height=1080), thread_count=0, thread_type="SLICE")
    decoder_threads(small)
    assert small.thread_count == 1 and small.thread_type == "SLICE"
    big = SimpleNamespace(codec_context=SimpleNamespace(width=3840, height=2160), thread_count=0, thread_type="SLICE")
    decoder_threads(big)
    assert big.thread_count == 0 and big.thread_type == "AUTO"


def test_seek_restarts_at_the_time(tmp_path):
    path = tmp_path / "seek.mkv"
    make_clip(path, frames=40, size=(64, 48), fps=20, gop=5)
    with open_source(path) as src:
        first = src.read(timeout=10)
        assert first.index == 0
        src.seek(1.0)
        frame = src.read(timeout=10)
        assert frame.time == pytest.approx(1.0, abs=1e-3) and frame.index == 20
        rest = list(src)
    assert [f.index for f in rest] == list(range(21, 40))
    with pytest.raises(ValueError, match="seconds"):
        open_source(path).seek(-1)


def test_a_source_at_its_end_stays_there_until_a_seek(tmp_path):
    """A second reader (the window's pipeline after its preview) finds the end, not
    the first frame again."""
    path = tmp_path / "end.mkv"
    make_clip(path, frames=6, size=(64, 48), fps=20, gop=5)
    with open_source(path) as src:
        assert [f.index for f in src] == list(range(6))
        src._thread.join(10)  # the reader thread has ended with the file
        src.start()
        assert src.read(timeout=10) is None
        src.seek(0.0)
        assert src.read(timeout=10).index == 0


def test_loop_keeps_time_increasing(tmp_path):
    path = tmp_path / "loop.mkv"
    make_clip(path, frames=5, size=(32, 32), fps=10)
    with open_source(path, loop=True) as src:
        frames = [src.read(timeout=10) for _ in range(12)]
    assert [f.index for f in frames] == list(range(12))
    assert all(b.time > a.time for a, b in zip(frames, frames[1:]))


def test_live_source_keeps_only_the_newest_frame():
    def produce():
        for i in range(200):
            time.sleep(0.002)
            yield np.full((8, 8, 3), i % 256, np.uint8)

    with IterableSource(produce(), live=True) as src:
        assert src.policy.name == "latest"
        src.start()
        got = []
        while (frame := src.read(timeout=10)) is not None:
            got.append(frame)
            time.sleep(0.03)  # a consumer ~15x slower than the producer
    indices = [f.index for f in got]
    assert indices == sorted(indices)
    assert src.dropped > 100 and len(got) + src.dropped == 200


def test_read_timeout_and_close_joins_the_reader():
    gate = threading.Event()

    def slow():
        gate.wait(5)
        yield np.zeros((4, 4, 3), np.uint8)

    src = IterableSource(slow(), live=False)
    with pytest.raises(TimeoutError):
        with src:
            try:
                src.start()
                src.read(timeout=0.05)
            finally:
                gate.set()
    assert not _reader_threads()
    assert src.read(timeout=0.1) is None  # closed


def test_reader_error_reaches_the_consumer():
    def broken():
        yield np.zeros((4, 4, 3), np.uint8)
        raise RuntimeError("device gone")

    with IterableSource(broken()) as src:
        assert src.read(timeout=5) is not None
        with pytest.raises(InputError, match="device gone"):
            src.read(timeout=5)


def _file(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.mp4", "no such file"),
    (lambda p: _file(p / "empty.mp4", b""), "empty"),
    (lambda p: _file(p / "noise.mp4", np.random.default_rng(0).bytes(4096)), "not a video"),
    (lambda p: p / "nothing" / "*.png", "no images"),
])
def test_bad_input_is_a_clear_input_error(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        open_source(make(tmp_path))


def test_camera_index_with_no_camera():
    with pytest.raises(InputError, match="no camera"):
        open_source("7")


def test_truncated_video_gives_everything_before_the_damage(tmp_path, caplog):
    cut = make_truncated_clip(tmp_path, size=(96, 64))
    with caplog.at_level(logging.WARNING, logger="camvideo.video.sources"):
        with open_source(cut) as src:
            frames = list(src)
    assert 10 < len(frames) < 60
    assert [f.index for f in frames] == list(range(len(frames)))
    (tail,) = src.damage  # the missing tail, said once (by the front ends), not also as a warning
    assert tail.truncated and "truncated" in describe_damage(src.damage) and caplog.text == ""


def test_a_stream_that_never_answers_says_so(caplog):
    """A server that accepts the connection and never speaks (a wrong port, a hung
    camera): the error names the wait instead of FFmpeg's "invalid data"."""
    import socket

    from camvideo.video.sources import StreamSource

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    url = f"rtsp://127.0.0.1:{server.getsockname()[1]}/camera"
    try:
        began = time.monotonic()
        with pytest.raises(InputError, match=r"no answer from the stream within 1 s; check the address"):
            StreamSource(url, stall_s=1.0)
        assert time.monotonic() - began < 10
    finally:
        server.close()
        for conn, _ in accepted:
            conn.close()
