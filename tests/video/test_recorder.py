"""Recorder: timestamps kept, partial-then-rename, odd sizes, audio, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from clips import decode_times, make_clip, pattern

from camvideo.errors import OutputError
from camvideo.video.recorder import RECORDING_TAG, Recorder, made_by_camvideo, partial_path

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_variable_frame_rate_times_are_kept(tmp_path, suffix):
    times = list(np.cumsum([0.033, 0.010, 0.100, 0.045, 0.021] * 5))
    path = tmp_path / f"out{suffix}"
    with Recorder(path, fps_hint=30) as rec:
        assert rec.partial == partial_path(path) and rec.partial.exists()
        for i, t in enumerate(times):
            rec.write_image(pattern(i, 64, 48), t)
        assert not path.exists()  # only the partial file until a clean close
    assert path.exists() and not rec.partial.exists()
    assert rec.frames_written == len(times)
    if suffix == ".mp4":  # fragmented MP4 starts its clock at the first frame
        times = [t - times[0] for t in times]
    assert decode_times(path) == pytest.approx(times, abs=1e-3)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
@pytest.mark.parametrize("fps", [30, 25, 30000 / 1001])
def test_a_constant_rate_gives_that_rate(tmp_path, suffix, fps):
    """A 30 fps source makes a 30 fps file in either container (an .mp4 in milliseconds
    read as 320000/10667 = 29.999 fps): its average rate, frame count and length."""
    path = tmp_path / f"out{suffix}"
    with Recorder(path, fps_hint=fps) as rec:
        for i in range(45):
            rec.write_image(pattern(i, 64, 48), i / fps)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = sum(1 for _ in container.decode(stream))
        assert stream.average_rate == Fraction(fps).limit_denominator(1001) and decoded == 45
        assert container.duration / 1e6 == pytest.approx(45 / fps, abs=1e-3)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_recording_says_it_is_camvideo_s_in_its_metadata(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    with Recorder(path, fps_hint=30) as rec:
        for i in range(3):
            rec.write_image(pattern(i, 64, 48), i / 30)
    with av.open(str(path)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
        assert tags[RECORDING_TAG[0]] == RECORDING_TAG[1] and RECORDING_TAG[1].startswith("camvideo ")
        assert made_by_camvideo(container.metadata)
    from camvideo.video.files import VideoFileSource

    source = VideoFileSource(path)
    try:
        assert made_by_camvideo(source.metadata)
    finally:
        source.close()
    make_clip(tmp_path / "plain.mp4", frames=3)
    with av.open(str(tmp_path / "plain.mp4")) as plain:
        assert not made_by_camvideo(plain.metadata)
    assert not made_by_camvideo({"comment": "camvideos"}) and not made_by_camvideo(None)


def test_odd_size_is_padded_to_even(tmp_path):
    path = tmp_path / "odd.mkv"
    with Recorder(path) as rec:
        for i in range(3):
            rec.write_image(pattern(i, 321, 241), i / 30)
    assert rec.size == (322, 242)
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 3 and (frames[0].width, frames[0].height) == (322, 242)
    decoded = frames[0].to_ndarray(format="bgr24")[:241, :321].astype(int)
    assert np.abs(decoded - pattern(0, 321, 241)).mean() < 8  # the picture, not garbage


def test_the_recording_keeps_the_picture_and_its_colours(tmp_path, data_dir):
    """The frames go to the encoder as OpenCV's yuv420p (BT.601, video range): a photo
    decodes (FFmpeg's own conversion back) at >= 35 dB PSNR, white stays white and
    red stays red (a swapped channel order or a full-range mix-up would not)."""
    import cv2

    photo = cv2.resize(cv2.imread(str(data_dir / "chelsea.png")), (320, 240), interpolation=cv2.INTER_AREA)
    flat = np.zeros((240, 320, 3), np.uint8)
    flat[:, :160] = 255
    flat[:, 160:] = (0, 0, 255)  # BGR red
    path = tmp_path / "colours.mkv"
    with Recorder(path, crf=12) as rec:
        rec.write_image(photo, 0.0)
        rec.write_image(flat, 1 / 30)
    with av.open(str(path)) as c:
        got = [f.to_ndarray(format="bgr24").astype(float) for f in c.decode(video=0)]
    mse = np.mean((got[0] - photo) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) >= 35
    assert np.abs(got[1][100, 40] - (255, 255, 255)).max() <= 4
    assert np.abs(got[1][100, 280] - (0, 0, 255)).max() <= 8


@pytest.mark.parametrize("width,height", [(320, 240), (480, 270), (640, 482), (322, 242)])
def test_every_even_size_keeps_its_picture(tmp_path, data_dir, width, height):
    """Heights that are not multiples of 4 (270, 482: 16:9 at 480 wide, odd sizes padded
    to even) keep their picture too: the yuv420p frame is never a few rows short with
    its colour planes misplaced."""
    import cv2

    from camvideo.video.recorder import yuv420p_frame

    photo = cv2.resize(cv2.imread(str(data_dir / "chelsea.png")), (width, height), interpolation=cv2.INTER_AREA)
    frame = yuv420p_frame(photo)
    assert (frame.height, frame.width) == (height, width)
    path = tmp_path / "sizes.mkv"
    with Recorder(path, crf=12) as rec:
        rec.write_image(photo, 0.0)
    with av.open(str(path)) as c:
        got = next(iter(c.decode(video=0))).to_ndarray(format="bgr24").astype(float)
    assert got.shape == photo.shape
    mse = np.mean((got - photo) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) >= 35


def test_preset_trades_speed_for_size(tmp_path):
    """The same moving frames: ultrafast makes a larger file than veryfast, both
    decode to every frame; an unknown preset is refused up front."""
    from camvideo.tools.benchmark import video_frames

    frames = video_frames(160, 120, 30)
    sizes = {}
    for preset in ("ultrafast", "veryfast"):
        path = tmp_path / f"{preset}.mkv"
        with Recorder(path, preset=preset) as rec:
            for i, image in enumerate(frames):
                rec.write_image(image, i / 30)
        assert len(decode_times(path)) == len(frames)
        sizes[preset] = path.stat().st_size
    assert sizes["ultrafast"] > 1.3 * sizes["veryfast"]
    with pytest.raises(ValueError, match="preset must be one of"):
        Recorder(tmp_path / "x.mkv", preset="warp")


def test_the_default_preset_is_superfast_at_crf_24_everywhere(tmp_path):
    """The measured default (docs/measuring.md): superfast at CRF 24, the other presets at
    23 unless asked; the run request, a batch job and the command line default to it too."""
    from camvideo.batch.job import JobOptions
    from camvideo.runtime.run import RunRequest
    from camvideo.video.recorder import PRESET, crf_for

    assert (PRESET, crf_for(PRESET), crf_for("veryfast")) == ("superfast", 24, 23)
    rec = Recorder(tmp_path / "a.mkv")
    assert (rec.preset, rec.crf) == ("superfast", 24)
    assert Recorder(tmp_path / "b.mkv", preset="veryfast").crf == 23
    assert Recorder(tmp_path / "c.mkv", crf=18).crf == 18
    assert RunRequest.__dataclass_fields__["preset"].default == PRESET
    assert JobOptions.__dataclass_fields__["preset"].default == PRESET


def test_audio_is_copied_from_the_source(tmp_path):
    source = tmp_path / "with_audio.mp4"
    times = make_clip(source, frames=20, size=(64, 48), audio=True)
    path = tmp_path / "out.mkv"
    with Recorder(path, audio_from=source) as rec:
        for i, t in enumerate(times):
            rec.write_image(pattern(i, 64, 48), t)
    with av.open(str(path)) as c:
        assert len(c.streams.audio) == 1
        audio = sum(1 for _ in c.decode(audio=0))
    assert audio > 5
    assert decode_times(path) == pytest.approx(times, abs=1e-3)


def test_context_manager_finalizes_after_an_error(tmp_path):
    path = tmp_path / "err.mkv"
    with pytest.raises(RuntimeError):
        with Recorder(path) as rec:
            rec.write_image(pattern(0, 32, 32), 0.0)
            raise RuntimeError("boom")
    assert rec.closed and path.exists() and len(decode_times(path)) == 1
    with pytest.raises(OutputError, match="closed"):
        rec.write_image(pattern(1, 32, 32), 0.1)


def test_nothing_recorded_leaves_no_file(tmp_path):
    with Recorder(tmp_path / "none.mkv") as rec:
        pass
    assert not list(tmp_path.iterdir()) and rec.frames_written == 0


@pytest.mark.parametrize("name, message", [
    ("missing/out.mkv", "does not exist"),
    ("out.avi", ".mkv"),
    (".", "folder"),
])
def test_unwritable_output_is_an_output_error(tmp_path, name, message):
    with pytest.raises(OutputError, match=message):
        Recorder(tmp_path / name if name != "." else tmp_path)


_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from camvideo.video.recorder import Recorder
    rec = Recorder(sys.argv[1], fps_hint=30)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    i = 0
    while True:
        rec.write_image(np.roll(base, i, axis=1), i / 30)
        i += 1
        print(i, flush=True)
""")


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_sigkill_keeps_all_but_the_last_keyframe_intervals(tmp_path, suffix):
    path = tmp_path / f"killed{suffix}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        written = 0
        while written < 100:
            line = proc.stdout.readline()
            assert line, "the writer died"
            written = int(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = partial_path(path)
    assert partial.exists() and not path.exists()
    keyframe_interval = 30
    assert len(decode_times(partial)) >= written - 2 * keyframe_interval
    with av.open(str(partial)) as container:  # the tag came with the header: a killed recording has it
        assert made_by_camvideo(container.metadata)


_FULL = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from camvideo.errors import OutputError
    from camvideo.video.recorder import Recorder
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # a disk that fills at 200 kB
    rng = np.random.default_rng(0)
    try:
        with Recorder(sys.argv[1]) as rec:
            for i in range(1000):
                rec.write_image(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), i / 30)
    except OutputError as exc:
        print("OutputError:", exc)
        sys.exit(2)
""")


def test_full_disk_is_an_output_error(tmp_path):
    path = tmp_path / "full.mkv"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", _FULL, str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.startswith("OutputError: cannot write") and "Traceback" not in proc.stderr


def test_add_audio_comes_before_the_first_frame_once(tmp_path):
    source = tmp_path / "with_audio.mp4"
    make_clip(source, frames=20, size=(64, 48), audio=True)
    with Recorder(tmp_path / "out.mkv") as rec:
        with pytest.raises(ValueError):
            rec.add_audio(source, -1.0)
        rec.add_audio(source, 0.2)
        with pytest.raises(RuntimeError):
            rec.add_audio(source, 0.2)
        rec.write_image(pattern(0, 64, 48), 0.0)
        rec.end_audio()
        rec.write_image(pattern(1, 64, 48), 0.1)
    assert decode_times(tmp_path / "out.mkv") == pytest.approx([0.0, 0.1], abs=1e-3)


def test_pictures_converted_by_its_pool_record_the_same_frames(tmp_path):
    """``ProcessedFrame.i420`` from the recorder's ``i420_pool`` (the pipeline's writer
    converts there) records what the recorder's own conversion does; each buffer comes
    back to the pool; another pool's picture, and a picture the recorder must resize
    (the source's size changed), are converted again."""
    from camvideo.frames import ProcessedFrame
    from camvideo.video.reader import Frame
    from camvideo.video.yuv import I420Pool

    sizes = [(64, 48)] * 5 + [(32, 24)]

    def record(name, pooled):
        with Recorder(tmp_path / name, crf=12) as rec:
            for i, (width, height) in enumerate(sizes):
                image = pattern(i, width, height)
                pool = rec.i420_pool if pooled == "own" else I420Pool()
                picture = pool.convert(image) if pooled else None
                rec.write(ProcessedFrame(Frame(image, i, i / 30), image, None, picture))
        with av.open(str(tmp_path / name)) as c:
            return rec, [f.to_ndarray() for f in c.decode(video=0)]

    _, plain = record("plain.mkv", None)
    rec, pooled = record("pooled.mkv", "own")
    assert [p.size for p in rec.i420_pool._free] == [(24, 32)]  # given back after each frame (one size kept)
    _, other = record("other.mkv", "other")
    for got in (pooled, other):
        assert len(got) == len(plain) == len(sizes) and all(np.array_equal(a, b) for a, b in zip(got, plain))


class HoldingStream:
    """An encoder that keeps each frame by reference and encodes it at a later call,
    as NVENC does with a frame it has no free surface for (EAGAIN in its receive_packet)."""

    def __init__(self, name: str) -> None:
        self.codec_context = type("Context", (), {"name": name, "options": {}, "open": lambda self: None})()
        self.held = []

    def encode(self, frame):
        if frame is not None:
            self.held.append(frame)
        return []


@pytest.mark.parametrize("codec", ["h264_nvenc", "libx264"])
def test_a_frame_the_encoder_holds_keeps_its_picture_when_the_next_one_comes(tmp_path, codec):
    """libx264 copies the picture in while encode runs (the reused buffer is safe:
    test_yuv); NVENC may hold a frame by reference, so it gets a frame of its own."""
    import cv2

    recorder = Recorder(tmp_path / "out.mkv", codec=codec)
    stream = HoldingStream(codec)
    real = recorder._container
    recorder._container = type("Container", (), {"add_stream": lambda self, name, rate: stream,
                                                 "mux": lambda self, packet: real.mux(packet),
                                                 "close": lambda self: real.close()})()
    images = [pattern(i, 64, 48) for i in range(3)]
    for i, image in enumerate(images):
        recorder.write_image(image, i / 30)
    pictures = [frame.to_ndarray() for frame in stream.held]
    expected = [cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420) for image in images]
    if codec == "h264_nvenc":
        assert all(np.array_equal(p, e) for p, e in zip(pictures, expected, strict=True))
    else:  # one reused frame: what libx264 copied in was each picture, what is held now the last
        assert all(frame is stream.held[0] for frame in stream.held)
    recorder.abandon()  # nothing was encoded: the partial file is left, and no final name
    recorder.close()
    assert not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize("fps, expected", [(25.0, 25.0), (0.0, 30.0), (-1.0, 30.0), (float("nan"), 30.0),
                                           (float("inf"), 30.0)])
def test_a_rate_that_is_no_rate_falls_back_to_30(tmp_path, fps, expected):
    from camvideo.video.recorder import _checked_fps

    assert _checked_fps(tmp_path / "a.mkv", "auto", fps, "superfast", 1.0) == expected


@pytest.mark.parametrize("codec, preset, keyframes, message", [
    ("vp9", "superfast", 1.0, "codec must be one of"),
    ("auto", "placebo", 1.0, "preset must be one of"),
    ("auto", "superfast", 0.0, "keyframe_interval_s must be > 0"),
])
def test_bad_recorder_arguments_are_value_errors_before_any_file(tmp_path, codec, preset, keyframes, message):
    with pytest.raises(ValueError, match=message):
        Recorder(tmp_path / "a.mkv", codec=codec, preset=preset, keyframe_interval_s=keyframes)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("platform, files, absent", [
    ("linux", set(), True),
    ("linux", {"/dev/nvidiactl"}, False),
    ("linux", {"/dev/dxg"}, False),  # WSL2: the GPU is there, only the encoder can tell
    ("win32", set(), False),
])
def test_nvenc_is_surely_absent_only_on_linux_without_a_gpu_device(monkeypatch, platform, files, absent):
    from camvideo.video import recorder

    monkeypatch.setattr(recorder.sys, "platform", platform)
    monkeypatch.setattr(recorder.os.path, "exists", lambda path: path in files)
    assert recorder.nvenc_surely_absent() is absent
