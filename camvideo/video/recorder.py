"""Annotated recordings that survive a crash: H.264 through PyAV.

A plain .mp4 killed mid-write keeps nothing (its index is written at the end).
``Recorder`` writes Matroska (.mkv, the default) with short clusters, or a
fragmented .mp4 when the path asks for .mp4, flushes packets as they come and
puts a keyframe about every second: a process killed with SIGKILL leaves a file
that decodes up to its last fragment. It writes ``NAME.partial.EXT`` and renames
it to ``NAME.EXT`` on close, once everything is written and synced, so a finished
name means a closed, complete, playable file. After a write error (a full disk)
the final name is left alone, an earlier recording there stays whole, and
``close`` raises the error naming the ``.partial`` file, which keeps what was
written before it. Frames keep the source's timestamps (.mkv in milliseconds, Matroska's
own; .mp4 in ticks that divide the frame rate evenly, ``mp4_time_base``, so a 30 fps
source makes a 30 fps file, not 29.999; a fragmented .mp4 starts its clock at the first
frame, .mkv keeps them as they are); odd sizes are
padded to even (yuv420p needs it); audio of a source file can be copied along.
The container says who made it (``RECORDING_TAG``: ``comment=camvideo VERSION``,
written with the header, so a killed recording has it too): the window plays
such a file as it is instead of analysing it again (``made_by_camvideo``).
"""

from __future__ import annotations

import logging
import math
import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from camvideo import __version__
from camvideo.errors import OutputError, reason
from camvideo.frames import ProcessedFrame
from camvideo.video.outputs import CheckedFile, kept_note, partial_path
from camvideo.video.yuv import I420Frames, I420Picture, I420Pool, yuv420p_frame  # noqa: F401 - yuv420p_frame: the recorder's conversion, for the bench

if TYPE_CHECKING:  # cv2 and numpy load with the first frame: a batch driver names outputs without them
    import numpy as np

log = logging.getLogger(__name__)

CONTAINERS = {
    ".mkv": ("matroska", {"cluster_time_limit": "1000", "flush_packets": "1"}),
    ".mp4": ("mp4", {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}),
}
CODECS = ("auto", "libx264", "h264_nvenc")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
# The same speed/size trade-off on NVENC (p1 fastest ... p7 best); veryfast -> p4, as before.
NVENC_PRESETS = dict(zip(X264_PRESETS, ("p1", "p2", "p4", "p5", "p5", "p6", "p7")))
# The default x264 preset and its CRF, from bench/encoder.py on a 640x480 clip (zerolatency,
# docs/measuring.md): superfast at CRF 24 makes veryfast-at-23's bytes (+2%) and PSNR
# (-0.06 dB) at 0.56x its CPU time. Any other preset keeps CRF 23.
PRESET = "superfast"
CRF = {"superfast": 24}


def crf_for(preset: str) -> int:
    """x264's CRF for ``preset``: 24 for the default superfast, 23 otherwise."""
    return CRF.get(preset, 23)


TIME_BASE = Fraction(1, 1000)  # milliseconds: Matroska's own, and exact for source times


def mp4_time_base(fps: float) -> Fraction:
    """An .mp4's time base for a ``fps`` source: whole ticks per frame (30 fps: 1/1020 s,
    34 ticks a frame; 30000/1001: 1/30000, 1001 a frame) and at least 1000 ticks a
    second (a variable frame rate keeps its times to the millisecond). Milliseconds
    would give 33 and 34 ms frames, which players read as 29.999 fps."""
    rate = Fraction(fps).limit_denominator(1001)
    return Fraction(1, rate.numerator * math.ceil(1000 / rate.numerator))
# Container metadata naming camvideo: a tag both muxers keep (Matroska: COMMENT, MP4:
# ©cmt); "encoder" would not do, the muxers overwrite it with their own name.
RECORDING_TAG = ("comment", f"camvideo {__version__}")


def made_by_camvideo(metadata) -> bool:
    """True when a container's ``metadata`` (a mapping, any key case) says a camvideo
    recording: its labels and heat maps are burned into the picture."""
    key, value = RECORDING_TAG
    for name, text in dict(metadata or {}).items():
        if str(name).lower() == key and str(text).startswith(value.split(" ")[0] + " "):
            return True
    return False


SKIP = object()  # an audio packet not to copy


def nvenc_present() -> bool:
    """Has this machine an NVIDIA GPU's device files (what NVENC needs; ``auto`` tries it)?"""
    return os.path.exists("/dev/nvidia0") or os.path.exists("/dev/nvidiactl")


def nvenc_surely_absent() -> bool:
    """Can NVENC surely not open here: Linux with neither NVIDIA's device files nor
    WSL2's GPU (``/dev/dxg``)? Elsewhere (Windows, WSL2) only the encoder can tell."""
    return sys.platform.startswith("linux") and not nvenc_present() and not os.path.exists("/dev/dxg")


def _checked_fps(path: Path, codec: str, fps_hint: float, preset: str, keyframe_interval_s: float) -> float:
    """A recorder's arguments checked (``OutputError`` for the path, ``ValueError`` for the
    rest); ``fps_hint``, or 30 where it is no positive finite rate."""
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name ending in .mkv or .mp4")
    if path.suffix.lower() not in CONTAINERS:
        raise OutputError(f"{path}: a recording must be .mkv (default) or .mp4 (fragmented); got {path.suffix or 'no suffix'!r}")
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")
    if not fps_hint or fps_hint <= 0 or not math.isfinite(fps_hint):
        fps_hint = 30.0
    if preset not in X264_PRESETS:
        raise ValueError(f"preset must be one of {', '.join(X264_PRESETS)}, got {preset!r}")
    if keyframe_interval_s <= 0:
        raise ValueError(f"keyframe_interval_s must be > 0, got {keyframe_interval_s}")
    return fps_hint


class Recorder:
    """A crash-safe H.264 recording; a pipeline sink and a context manager.

    ``fps_hint`` sets the keyframe spacing (``keyframe_interval_s`` seconds of
    frames); the timestamps themselves come from each frame. ``codec="auto"``
    uses NVENC where an NVIDIA GPU is present and libx264 otherwise. ``preset``:
    x264's (default ``PRESET``), mapped to NVENC's p1-p7; ``crf``: x264's constant
    rate factor (default ``crf_for(preset)``).
    """

    def __init__(self, path: str | Path, *, fps_hint: float = 30.0, codec: str = "auto",
                 keyframe_interval_s: float = 1.0, audio_from: str | Path | None = None,
                 preset: str = PRESET, crf: int | None = None) -> None:
        path = Path(path)
        fps_hint = _checked_fps(path, codec, fps_hint, preset, keyframe_interval_s)
        self.path = path
        self.partial = partial_path(path)
        self.fps_hint = float(fps_hint)
        self.codec = codec
        self.keyframe_interval = max(1, int(round(fps_hint * keyframe_interval_s)))
        self.preset = preset
        self.crf = crf_for(preset) if crf is None else crf
        self.frames_written = 0
        self.size: tuple[int, int] | None = None  # (width, height) as encoded
        self.closed = False
        self.finalized = False  # renamed to its final name: complete and synced
        self._abandoned = False
        self._stream = None
        self._shares_frames = False  # the encoder copies a picture in during encode (libx264): set when it opens
        self._last_pts: int | None = None
        self._audio = None
        self._i420 = I420Frames()  # libx264's yuv420p frames, converted into one reused buffer
        self._pool = I420Pool()  # pictures converted by the pipeline's writer (``i420_pool``)
        fmt, options = CONTAINERS[path.suffix.lower()]
        self.time_base = mp4_time_base(self.fps_hint) if fmt == "mp4" else TIME_BASE  # the video's pts unit
        self._tick_s = float(self.time_base)  # its length in seconds, for the per-frame pts
        self._container = self._open_container(fmt, options)
        self._container.metadata[RECORDING_TAG[0]] = RECORDING_TAG[1]
        self._audio_offset = 0  # the source's audio time (its time base) that is this file's 0 s
        if audio_from is not None:
            self._open_audio(Path(audio_from))

    def _open_container(self, fmt: str, options: dict):
        """The container writing ``self.partial`` through our own file (``self._file``);
        ``OutputError`` when its folder is missing or the place is not writable."""
        import av

        if not self.path.parent.is_dir():
            raise OutputError(f"cannot write {self.path}: the folder {self.path.parent} does not exist")
        # Our own unbuffered file: it fails at open when the place is not writable, and
        # a full disk raises at the packet that does not fit (FFmpeg's own I/O would
        # only say so at the end), while every packet still reaches the OS at once.
        try:
            self._file = CheckedFile(self.partial)
        except OSError as exc:
            raise OutputError(f"cannot write {self.partial}: {exc.strerror}") from None
        try:
            return av.open(self._file, "w", format=fmt, container_options=dict(options))
        except (av.FFmpegError, OSError) as exc:
            self._file.close()
            raise OutputError(f"cannot write {self.partial}: {reason(exc)}") from None

    # -- audio ------------------------------------------------------------------
    def add_audio(self, source: str | Path, start_s: float = 0.0) -> None:
        """Copy ``source``'s sound from ``start_s`` (its seconds) on, as this file's 0 s:
        a recording that starts mid-file (the window's). Before the first frame only."""
        if self.frames_written or self._audio is not None:
            raise RuntimeError("add_audio comes before the first frame, once")
        if not start_s >= 0.0:
            raise ValueError(f"start_s must be >= 0, got {start_s}")
        self._open_audio(Path(source), start_s)

    def end_audio(self) -> None:
        """Copy no more sound (the frames left its timeline: a seek, a loop); the rest is silent."""
        self._close_audio()

    def _open_audio(self, source: Path, start_s: float = 0.0) -> None:
        import av

        try:
            container = av.open(str(source))
        except (av.FFmpegError, OSError):
            log.warning("%s: cannot read its audio; recording without sound", source)
            return
        if not container.streams.audio:
            container.close()
            return
        in_stream = container.streams.audio[0]
        try:
            out_stream = self._container.add_stream_from_template(in_stream)
        except (av.FFmpegError, ValueError) as exc:
            log.warning("%s: its audio (%s) cannot go into %s (%s); recording without sound",
                        source, in_stream.codec_context.name, self.path.suffix, reason(exc))
            container.close()
            return
        if start_s > 0.0:
            self._audio_offset = int(round(start_s / in_stream.time_base))
            try:
                container.seek(self._audio_offset, stream=in_stream, backward=True)
            except av.FFmpegError as exc:
                log.debug("%s: audio seek to %.2f s: %s (read from the start)", source, start_s, reason(exc))
        self._audio = (container, in_stream, out_stream, container.demux(in_stream))
        self._audio_pending = None  # one packet read ahead

    def _mux_audio(self, until: float | None) -> None:
        """Copy audio packets with presentation time up to ``until`` seconds (all if None)."""
        import av

        if self._audio is None:
            return
        container, in_stream, out_stream, packets = self._audio
        try:
            while True:
                packet = self._audio_pending
                self._audio_pending = None
                if packet is None:
                    packet = self._next_audio_packet(packets)
                    if packet is None:
                        self._close_audio()
                        return
                    if packet is SKIP:
                        continue
                if until is not None and packet.pts is not None and float(packet.pts * in_stream.time_base) > until:
                    self._audio_pending = packet
                    return
                packet.stream = out_stream
                self._container.mux(packet)
        except av.FFmpegError as exc:
            log.warning("audio copy stopped: %s", reason(exc))
            self._close_audio()

    def _next_audio_packet(self, packets):
        """The next packet to copy, on this file's timeline; ``SKIP`` for one not to
        copy (a flush packet, or one before this file's 0 s); None at the end."""
        packet = next(packets, None)
        if packet is None:
            return None
        if packet.dts is None and packet.size == 0:
            return SKIP  # demuxer's flush packet
        if packet.pts is not None and packet.pts < self._audio_offset:
            return SKIP  # before this file's 0 s (encoder priming, or before a mid-file start)
        if self._audio_offset and packet.pts is not None:
            packet.pts -= self._audio_offset
            if packet.dts is not None:
                packet.dts -= self._audio_offset
        return packet

    def _close_audio(self) -> None:
        if self._audio is not None:
            self._audio[0].close()
            self._audio = None

    # -- video ------------------------------------------------------------------
    def _open_video(self, width: int, height: int) -> None:
        import av

        names = [self.codec] if self.codec != "auto" else (["h264_nvenc", "libx264"] if nvenc_present() else ["libx264"])
        last_error = None
        for name in names:
            try:
                stream = self._container.add_stream(name, rate=Fraction(self.fps_hint).limit_denominator(1001))
                stream.width, stream.height = width, height
                stream.pix_fmt = "yuv420p"
                stream.time_base = self.time_base
                stream.codec_context.time_base = self.time_base
                stream.codec_context.gop_size = self.keyframe_interval
                if name == "libx264":
                    # The "zerolatency" tune: every frame leaves the encoder as it
                    # goes in, so a crash costs at most the last fragment. Lookahead
                    # rate control (no tune) was measured: ~10% smaller at the same
                    # PSNR (640x480, 120 frames: 316 KiB at 35.6 dB vs ~355 KiB), but
                    # ~10 more frames held back, lost in a crash on top of the fragment.
                    stream.codec_context.options = {
                        "preset": self.preset, "tune": "zerolatency", "crf": str(self.crf),
                        "x264-params": f"keyint={self.keyframe_interval}:min-keyint={self.keyframe_interval}:scenecut=0",
                    }
                else:
                    stream.codec_context.options = {"preset": NVENC_PRESETS[self.preset], "tune": "ll", "zerolatency": "1"}
                stream.codec_context.open()
                self._stream = stream
                self._shares_frames = name == "libx264"
                self.size = (width, height)
                log.info("recording %s with %s, %dx%d", self.path, name, width, height)
                return
            except (av.FFmpegError, ValueError) as exc:
                last_error = exc
                log.info("encoder %s unavailable: %s", name, exc)
        raise OutputError(f"cannot encode H.264 for {self.path}: {reason(last_error)}")

    def _fit(self, image: np.ndarray) -> np.ndarray:
        import cv2

        height, width = image.shape[:2]
        if self.size is None:
            self._open_video(width + width % 2, height + height % 2)
        tw, th = self.size
        if (width, height) != (tw, th):
            if width <= tw and height <= th and tw - width <= 1 and th - height <= 1:
                image = cv2.copyMakeBorder(image, 0, th - height, 0, tw - width, cv2.BORDER_REPLICATE)
            else:  # the source changed size mid-recording: keep the first size
                image = cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)
        return image

    def write_image(self, image: np.ndarray, time_s: float, picture: I420Picture | None = None) -> None:
        """Encode one BGR frame shown at ``time_s`` seconds (source timestamp);
        ``picture``: the same image already converted by ``i420_pool`` (given back
        here), used when the image needs no padding or resizing."""
        import av

        if self.closed:
            raise OutputError(f"{self.path}: the recording is already closed")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype.char != "B":  # "B": uint8
            raise ValueError(f"image must be HxWx3 uint8 BGR, got shape {image.shape} dtype {image.dtype}")
        frame = self._frame(image, picture)
        frame.pts = self._next_pts(time_s)
        frame.time_base = self.time_base
        try:
            if self._audio is not None:
                self._mux_audio(time_s)
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self._file.check()
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot write {self.partial}: {reason(exc)}") from None
        finally:
            if picture is not None:
                picture.pool.give(picture)  # encoded (the encoder copied it in) or failed: free again
        self.frames_written += 1

    def _frame(self, image: np.ndarray, picture: I420Picture | None):
        """The yuv420p frame to encode for ``image`` (both sides even: ``_fit``). libx264
        copies the picture in while encode runs: the same frame each time, or the
        writer's pooled ``picture`` of this very image. NVENC keeps by reference a frame
        it has no free surface for (EAGAIN) and uploads it at a later call: a frame of
        its own each time."""
        fitted = self._fit(image)
        if not self._shares_frames:
            return yuv420p_frame(fitted)
        if picture is not None and fitted is image and picture.size == image.shape[:2]:
            return picture.frame
        return self._i420.frame(fitted)

    def _next_pts(self, time_s: float) -> int:
        """``time_s`` in ticks of the time base, after the last frame's (a repeated or
        backwards time: a seek, a loop) so that frames stay in order."""
        pts = int(round(time_s / self._tick_s))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        return pts

    @property
    def i420_pool(self) -> I420Pool | None:
        """Where the pipeline's writer converts this recording's pictures
        (``ProcessedFrame.i420``); None once the encoder that opened keeps frames of
        its own (NVENC: ``write_image``), so that nothing converts them twice."""
        return self._pool if self._stream is None or self._shares_frames else None

    def write(self, item: ProcessedFrame) -> None:
        """Sink interface: record the annotated picture at the source frame's time
        (its I420 conversion, when the pipeline made one with ``i420_pool``)."""
        picture = item.i420
        if picture is not None and picture.pool is not self.i420_pool:
            picture = None
        self.write_image(item.annotated, item.frame.time, picture)

    def abandon(self) -> None:
        """Mark the recording incomplete (the run it belongs to failed elsewhere):
        ``close`` then keeps it as its ``.partial`` file and leaves the final name alone."""
        self._abandoned = True

    def close(self) -> None:
        """Flush the encoder and close the file; when everything was written (and
        synced), rename it to its final name. After a write error, or when
        ``abandon`` was called, the final name is left as it was (an earlier
        recording there stays whole) and what was written stays as the ``.partial``
        file, named in the ``OutputError`` raised for a write error."""
        if self.closed:
            return
        self.closed = True
        error = self._finish()
        if self.frames_written == 0:
            self.partial.unlink(missing_ok=True)
            log.info("%s: no frame recorded; nothing kept", self.path)
        elif error is None and not self._abandoned:
            try:
                os.replace(self.partial, self.path)
                self.finalized = True
            except OSError as exc:
                error = OutputError(f"cannot rename {self.partial} to {self.path.name}: {exc.strerror}")
        if error is not None:
            raise OutputError(f"{error}; {kept_note(self.partial, self.path)}")

    def _finish(self) -> OutputError | None:
        """Flush the encoder and the audio, close the container and sync the file:
        the first error on the way, None when the file is whole on disk."""
        import av

        error = None
        try:
            if self._stream is not None:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
            last = float(self._last_pts * self.time_base) if self._last_pts is not None else None
            if last is not None:
                self._mux_audio(last)
        except (av.FFmpegError, OSError) as exc:
            error = OutputError(f"cannot finish {self.partial}: {reason(exc)}")
        finally:
            self._close_audio()
            try:
                self._container.close()
                self._file.sync()
            except (av.FFmpegError, OSError) as exc:
                error = error or OutputError(f"cannot finish {self.partial}: {reason(exc)}")
            finally:
                self._file.close()
        if self._file.error is not None:  # the first write error is the real story
            error = OutputError(f"cannot write {self.partial}: {reason(self._file.error)}")
        return error

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.close()
        except OutputError as close_error:
            if exc_type is None:
                raise
            log.debug("%s", close_error)  # the error already on its way says more
