"""Where frames come from: ``open_source`` and the public names of the sources.

``open_source(spec)`` reads ``spec`` with ``SourceSpec.parse`` (a number is a
camera index, an ``rtsp://`` / ``http(s)://`` URL a stream, a folder the images in
it (sorted), a pattern with ``*?[`` the matching images, anything else a video
file) and opens it. Bad input raises ``InputError`` at open time, with a message
that says what to do.

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
pause), ``files`` (video files, image sequences), ``live`` (cameras, streams).
"""

from __future__ import annotations

import glob as globlib
from pathlib import Path

from camvideo.errors import InputError
from camvideo.video.files import IMAGE_FPS, ImageSequenceSource, VideoFileSource, read_image
from camvideo.video.live import CameraSource, StreamSource
from camvideo.video.pacing import Paced
from camvideo.video.policies import BlockingQueue, BufferPolicy, LatestFrame
from camvideo.video.reader import Frame, IterableSource, Source, policy_for
from camvideo.video.spec import IMAGE_SUFFIXES, STREAM_PREFIXES, SourceSpec

__all__ = [
    "IMAGE_FPS", "IMAGE_SUFFIXES", "STREAM_PREFIXES", "BlockingQueue", "BufferPolicy", "CameraSource", "Frame",
    "ImageSequenceSource", "IterableSource", "LatestFrame", "Paced", "Source", "SourceSpec", "StreamSource",
    "VideoFileSource", "open_source", "policy_for", "read_image",
]


def open_source(spec: str | int | Path | SourceSpec, *, loop: bool = False, realtime: bool = False) -> Source:
    """Open a camera (``0``), stream (``rtsp://...``), folder, glob or video file.

    ``loop`` plays a file or folder again from the start when it ends; ``realtime``
    plays it at its own speed (the ``Paced`` policy, for a person watching)
    instead of as fast as the consumer takes it. Raises ``InputError`` with a
    clear message when it cannot be opened.
    """
    spec = SourceSpec.parse(spec)
    if spec.kind == "camera":
        return CameraSource(spec.camera)
    if spec.kind == "stream":
        return StreamSource(spec.url)
    policy = policy_for(live=False, realtime=realtime)
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
