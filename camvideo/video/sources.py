"""Where frames come from: ``open_source`` and the public names of the sources.

``open_source(spec)`` reads ``spec`` with ``SourceSpec.parse`` (a number is a
camera index, an ``rtsp://`` / ``http(s)://`` URL a stream, a folder the images in
it (sorted), a pattern with ``*?[`` the matching images, anything else a video
file) and opens it; an http(s) URL whose container has a duration is a file, not
a stream. Bad input raises ``InputError`` at open time, with a message that says
what to do.

Each source runs its reader in its own thread and hands frames to a buffer policy
(``camvideo.video.policies``), chosen by its kind in one place (``policy_for``):

- ``"latest"`` (cameras, streams): only the newest frame is kept; older unread
  frames are dropped and counted in ``dropped``. Latency stays at about one
  consumer step however slow the consumer is.
- ``"block"`` (files, folders): a bounded queue; a fast reader waits for a slow
  consumer. Nothing is dropped, frames come in order.
- ``"paced"`` (files and folders with ``realtime=True``: the window): each frame
  when it is due on a wall clock, late ones dropped (``camvideo.video.pacing``).

Every ``Frame`` carries its 0-based index and its own presentation time: the
container's timestamps for video files (variable frame rate is real), the time
since opening for cameras. A frame count from metadata is only a progress hint.

The modules behind it: ``spec`` (parsing), ``reader`` (``Frame``, the ``Source``
base, ``IterableSource``), ``policies`` and ``pacing`` (buffer policies, the
pause), ``decoding`` (packet by packet, ``Damage``), ``files`` (video files,
image sequences), ``live`` (cameras, streams), ``netcheck`` (what a server said).
"""

from __future__ import annotations

import glob as globlib
from pathlib import Path

from camvideo.errors import InputError
from camvideo.video.decoding import Damage, describe_damage
from camvideo.video.files import IMAGE_FPS, ImageSequenceSource, VideoFileSource
from camvideo.video.images import read_image
from camvideo.video.live import STREAM_RETRIES, CameraSource, StreamSource, open_stream
from camvideo.video.pacing import Paced
from camvideo.video.policies import BlockingQueue, BufferPolicy, LatestFrame
from camvideo.video.reader import Frame, IterableSource, Source, policy_for
from camvideo.video.spec import IMAGE_SUFFIXES, STREAM_PREFIXES, SourceSpec

__all__ = [
    "IMAGE_FPS", "IMAGE_SUFFIXES", "STREAM_PREFIXES", "BlockingQueue", "BufferPolicy", "CameraSource", "Damage",
    "Frame", "describe_damage",
    "ImageSequenceSource", "IterableSource", "LatestFrame", "Paced", "Source", "SourceSpec", "StreamSource",
    "VideoFileSource", "open_source", "policy_for", "read_image",
]


def open_source(spec: str | int | Path | SourceSpec, *, loop: bool = False, realtime: bool = False,
                stream_retries: int | None = STREAM_RETRIES) -> Source:
    """Open a camera (``0``), stream (``rtsp://...``), folder, glob or video file.

    ``loop`` plays a file or folder again from the start when it ends; ``realtime``
    plays it at its own speed (the ``Paced`` policy, for a person watching)
    instead of as fast as the consumer takes it. A live stream that drops is
    reopened ``stream_retries`` times in a row (None: for as long as it runs).
    Raises ``InputError`` with a clear message when it cannot be opened.
    """
    spec = SourceSpec.parse(spec)
    if spec.kind == "camera":
        return CameraSource(spec.camera)
    if spec.kind == "url":
        scheme = spec.url.split("://", 1)[0]
        raise InputError(f"{spec.url}: {scheme}:// is not a scheme camvideo reads; use "
                         f"{', '.join(STREAM_PREFIXES)} or a file, folder or glob")
    policy = policy_for(live=False, realtime=realtime)
    if spec.kind == "stream":
        container = open_stream(spec.url)
        if _is_file(spec.url, container):
            try:
                return VideoFileSource(spec.url, loop=loop, policy=policy, container=container)
            except BaseException:
                container.close()
                raise
        return StreamSource(spec.url, container=container, max_retries=stream_retries)
    if spec.kind == "folder":
        path = spec.path
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise InputError(f"{path}: folder has no images ({', '.join(IMAGE_SUFFIXES)})")
        return ImageSequenceSource(images, str(path), loop=loop, policy=policy)
    if spec.kind == "glob":
        images = sorted(Path(p) for p in globlib.glob(spec.pattern)
                        if Path(p).suffix.lower() in IMAGE_SUFFIXES and Path(p).is_file())
        if not images:
            raise InputError(f"{spec.text}: no images match this pattern")
        return ImageSequenceSource(images, spec.text, loop=loop, policy=policy)
    if spec.kind == "image":
        return ImageSequenceSource([spec.path], str(spec.path), loop=loop, policy=policy)
    return VideoFileSource(spec.path, loop=loop, policy=policy)


def _is_file(url: str, container) -> bool:
    """A file on an http(s) server: its container has a duration. It is read once,
    every frame, and ends; a live stream (MJPEG, live HLS, a camera) has none and
    is read newest frame first, reopened when it drops."""
    return url.lower().startswith(("http://", "https://")) and bool(container.duration and container.duration > 0)
