"""Sources over the network, on a loopback server stopped by each test: a file on an
http server is a file (issue 17, item 8), a live MJPEG stream is live, and a
stream that does not open says what the server did (item 9)."""

from __future__ import annotations

import contextlib
import http.server
import logging
import os
import socket
import socketserver
import threading
import time

import cv2
import pytest
from clips import make_clip, pattern

from camvideo.errors import InputError
from camvideo.video.live import open_stream
from camvideo.video.sources import StreamSource, VideoFileSource, open_source

pytestmark = pytest.mark.timeout(120)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FileServer:
    """Serves one folder on 127.0.0.1 (with Range requests, as a web server does)
    and ``/live.mjpg``, an endless MJPEG stream; counts the bytes it sent."""

    def __init__(self, folder, bad_every: int = 0) -> None:
        self.folder, self.bad_every = folder, bad_every
        self.sent = 0
        self.requests: list[str] = []
        self._stop = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                owner.requests.append(self.path)
                if self.path == "/live.mjpg":
                    return self._mjpeg()
                path = owner.folder / self.path.lstrip("/")
                if not path.is_file():
                    return self.send_error(404)
                data = path.read_bytes()
                first, last = 0, len(data) - 1
                ranged = self.headers.get("Range", "")
                if ranged.startswith("bytes="):
                    a, _, b = ranged[6:].partition("-")
                    first, last = int(a or 0), int(b) if b else len(data) - 1
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "video/mp4" if path.suffix == ".mp4" else "video/x-matroska")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(last - first + 1))
                self.end_headers()
                try:
                    self.wfile.write(data[first: last + 1])
                    owner.sent += last - first + 1
                except OSError:
                    pass  # the client closed the connection (a seek)

            def _mjpeg(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace;boundary=frame")
                self.end_headers()
                i = 0
                try:
                    while not owner._stop.is_set():
                        jpeg = cv2.imencode(".jpg", pattern(i, 64, 48))[1].tobytes()
                        if owner.bad_every and i % owner.bad_every == owner.bad_every - 1:
                            jpeg = jpeg[:2] + os.urandom(len(jpeg) - 2)  # a picture that cannot be decoded
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                         + f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                        i += 1
                        time.sleep(0.02)
                except OSError:
                    pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_a_file_on_an_http_server_is_read_once_every_frame_then_ends(tmp_path, ext, caplog):
    clip = tmp_path / f"clip.{ext}"
    make_clip(clip, frames=90, size=(96, 64), fps=30)
    with FileServer(tmp_path) as server, caplog.at_level(logging.WARNING):
        began = time.monotonic()
        with open_source(server.url(clip.name)) as src:
            assert isinstance(src, VideoFileSource) and not src.live and src.policy.name == "block"
            assert src.path is None and src.url == server.url(clip.name)  # nothing on disk: no audio copy
            frames = list(src)
        elapsed = time.monotonic() - began
        assert [f.index for f in frames] == list(range(90)) and src.dropped == 0
        assert src.read(timeout=1) is None  # it ended, and stays ended
        size = clip.stat().st_size
        print(f"\n{ext} over http: 90 of 90 frames in {elapsed:.2f} s, {server.sent} bytes sent for a "
              f"{size}-byte file, {len(server.requests)} requests")
        assert server.sent <= 2 * size  # read once (an MP4's index at its end costs a seek, not a download)
    assert "reopening" not in caplog.text
    with FileServer(tmp_path) as server, open_source(server.url(clip.name), realtime=True) as src:
        assert src.policy.name == "paced" and src.read(timeout=10).index == 0  # the window plays it in real time


def test_a_live_mjpeg_stream_is_live_and_a_bad_picture_is_skipped(tmp_path, caplog):
    with FileServer(tmp_path, bad_every=5) as server, caplog.at_level(logging.WARNING):
        with open_source(server.url("live.mjpg")) as src:
            assert isinstance(src, StreamSource) and src.live and src.policy.name == "latest"
            got = []
            deadline = time.monotonic() + 30
            while len(got) < 12 and time.monotonic() < deadline:
                got.append(src.read(timeout=10))
            assert len(got) == 12 and all(f.image.shape == (48, 64, 3) for f in got)
            assert src.skipped >= 1  # a picture that cannot be decoded is skipped ...
        assert "reopening" not in caplog.text  # ... not a reason to reconnect


class _Speaker:
    """A TCP server on 127.0.0.1 that answers every connection with ``reply(request)``
    (None: silence) and then keeps sending ``garbage`` bytes until stopped."""

    def __init__(self, reply=None, garbage: bool = False) -> None:
        self.reply, self.garbage = reply, garbage
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.2)
            try:
                request = conn.recv(4096)
            except OSError:
                request = b""
            try:
                if self.reply is not None:
                    conn.sendall(self.reply(request))
                while self.garbage and not self.stop.is_set():
                    conn.sendall(os.urandom(512))
                    time.sleep(0.01)
                self.stop.wait(10)
            except OSError:
                pass

    def __enter__(self) -> _Speaker:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)
        for thread in self.threads:
            thread.join(5)
        self.sock.close()
        assert not self.thread.is_alive() and not any(t.is_alive() for t in self.threads)


def test_a_server_that_sends_garbage_is_not_called_silent():
    with _Speaker(garbage=True) as server:
        url = f"rtsp://127.0.0.1:{server.port}/camera"
        began = time.monotonic()
        with pytest.raises(InputError) as caught:
            StreamSource(url, stall_s=1.0)
        assert time.monotonic() - began < 10
    message = str(caught.value)
    assert "no answer" not in message
    # FFmpeg gives up on random bytes at once or at the wait, by chance: both say what the server sent
    assert message.startswith((f"{url}: no video within 1 s: the server sent ", f"{url}: no video: the server sent "))
    assert "bytes that are not RTSP" in message


def test_an_http_server_that_answers_with_no_video_says_so():
    def ok(_request):
        return b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n\r\n"

    with _Speaker(reply=ok, garbage=True) as server:
        url = f"http://127.0.0.1:{server.port}/cam.mp4"
        with pytest.raises(InputError) as caught:
            open_stream(url, stall_s=1.0)
    message = str(caught.value)
    assert "no answer" not in message
    assert "the server answered HTTP 200 OK (video/mp4) but sent nothing FFmpeg can read as video" in message


def test_an_rtsp_server_that_refuses_the_request_says_its_status():
    def unauthorized(_request):
        return b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n"

    with _Speaker(reply=None) as silent, _Speaker(reply=unauthorized) as refusing:
        from camvideo.video.netcheck import server_answer

        assert server_answer(f"rtsp://127.0.0.1:{silent.port}/s", 0.5) is None
        assert server_answer(f"rtsp://127.0.0.1:{refusing.port}/s", 2.0) == "the server answered RTSP 401 Unauthorized"


def test_an_answer_ffmpeg_rejects_at_once_still_says_what_the_server_sent():
    # Blank lines make FFmpeg's RTSP client give up at once with "invalid data"
    # (random bytes do so only by chance: CI saw it once).
    with _Speaker(reply=lambda request: b"\n\n\n\n") as server:
        url = f"rtsp://127.0.0.1:{server.port}/camera"
        with pytest.raises(InputError) as caught:
            StreamSource(url, stall_s=3.0)
    message = str(caught.value)
    assert message.startswith(f"{url}: no video") and "4 bytes that are not RTSP" in message
    assert "Invalid data" not in message


class _Dropping(FileServer):
    """``/live.mjpg`` sends ``burst`` pictures and hangs up, then answers 503 to the
    next ``refusals`` connections (a camera rebooting), then streams again."""

    def __init__(self, folder, burst: int = 3, refusals: int = 7) -> None:
        super().__init__(folder)
        self.connections = 0
        handler = self.httpd.RequestHandlerClass
        mjpeg = handler._mjpeg
        owner = self

        def dropping(handler_self):
            owner.connections += 1
            n = owner.connections
            if 1 < n <= 1 + refusals:
                return handler_self.send_error(503)
            if n == 1:
                stop = threading.Timer(burst * 0.02 + 0.05, owner._hang_up)
                stop.start()
            return mjpeg(handler_self)

        handler._mjpeg = dropping

    def _hang_up(self):
        self._stop.set()  # the first connection's loop ends: the stream ends for the client
        time.sleep(0.1)
        self._stop.clear()


@pytest.mark.parametrize("retries", [None, 2])
def test_a_dropped_stream_is_reopened_for_as_long_as_asked(tmp_path, retries):
    with _Dropping(tmp_path) as server:
        src = StreamSource(server.url("live.mjpg"), stall_s=2.0, max_retries=retries, max_wait_s=0.05)
        got, failed, deadline = [], None, time.monotonic() + 30
        with src:
            while time.monotonic() < deadline and len(got) < 40:
                try:
                    frame = src.read(timeout=5)
                except InputError as exc:
                    failed = exc
                    break
                if frame is None:
                    break
                got.append(frame)
        if retries is None:  # 7 refusals in a row, more than the command line's 5: it came back
            assert len(got) == 40 and failed is None and server.connections >= 9
        else:
            assert len(got) < 40 and "after 2 reopen attempts" in str(failed)


class _Stalling(FileServer):
    """``/live.mjpg`` sends ``burst`` pictures, then holds every connection open, silent."""

    def __init__(self, folder, burst: int = 3) -> None:
        super().__init__(folder)
        handler = self.httpd.RequestHandlerClass
        owner = self

        def stalling(handler_self):
            handler_self.send_response(200)
            handler_self.send_header("Content-Type", "multipart/x-mixed-replace;boundary=frame")
            handler_self.end_headers()
            jpeg = cv2.imencode(".jpg", pattern(0, 64, 48))[1].tobytes()
            with contextlib.suppress(OSError):
                for _ in range(burst):
                    handler_self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                             + f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                handler_self.wfile.flush()
                owner._stop.wait(30)

        handler._mjpeg = stalling


def test_a_stream_that_goes_silent_is_reopened_saying_so_in_words(tmp_path, caplog):
    with _Stalling(tmp_path) as server, caplog.at_level(logging.WARNING):
        with StreamSource(server.url("live.mjpg"), stall_s=0.5, max_retries=1, max_wait_s=0.05) as src:
            got = [src.read(timeout=5) for _ in range(4)]  # more than one connection's 3 pictures
    assert all(frame is not None for frame in got)
    assert "nothing came for 0.5 s; reopening" in caplog.text
    assert "Immediate exit" not in caplog.text


def test_stream_retries_are_checked():
    with pytest.raises(ValueError, match="max_retries"):
        StreamSource("http://127.0.0.1:9/x", max_retries=-1)
