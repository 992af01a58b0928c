"""Sources open in the background: the window keeps playing, Cancel/Esc, the newest
open wins, late results are closed unseen, closing never waits (offscreen)."""

from __future__ import annotations

import http.server
import socket
import threading
from functools import partial

import cv2
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFileDialog
from qt_helpers import DATA, WAIT_MS, make_cat_clip, open_and_wait, wait_frames

from camvideo.qt import dialogs
from camvideo.qt.sources_ui import NO_CAMERA_HINT


class SilentServer:
    """A TCP server that accepts connections and never says a word (a camera that
    hangs, a firewall that swallows RTSP): FFmpeg waits for its timeout."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-server")
        self._thread.start()

    def url(self, path: str = "x") -> str:
        return f"rtsp://127.0.0.1:{self.port}/{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(conn)

    def close(self) -> None:
        """Hang up: an open still waiting on this server fails at once."""
        self._stop.set()
        self._thread.join(5)
        for conn in self.connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._sock.close()


class GatedClipServer:
    """An HTTP server that sends a small clip only once ``gate`` is set: an open
    that succeeds as late as the test wants."""

    def __init__(self, clip) -> None:
        data = clip.read_bytes()
        self.gate = threading.Event()
        gate = self.gate

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                gate.wait(WAIT_MS / 1000)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "video/x-matroska")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client hung up: it was closed as a late result

            def log_message(self, *args) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.block_on_close = True  # close() joins the request threads
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/{clip.name}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="gated-server")
        self._thread.start()

    def close(self) -> None:
        self.gate.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def gated(tmp_path):
    server = GatedClipServer(make_cat_clip(tmp_path / "late.mkv", frames=10, size=(64, 48)))
    yield server
    server.close()


def _wait_no_open_thread(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.session._opener.threads, timeout=WAIT_MS)


def test_the_window_keeps_painting_while_a_silent_stream_opens_and_cancel_stops_it(
        qtbot, open_window, fast_models, cat_clip, silent, monkeypatch):
    from camvideo.video import live, sources

    # FFmpeg waits for the silent server longer than the test waits for frames (its 5 s
    # would race a loaded machine's frames); the server's hang-up below ends it at once
    monkeypatch.setattr(sources, "open_stream", partial(live.open_stream, stall_s=4 * WAIT_MS / 1000))
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    url = silent.url()
    w.open(url)  # returns at once: FFmpeg waits in its own thread
    assert w.session.opening_spec == url and w.opening_bar.isVisibleTo(w)
    assert w.opening_label.text().startswith(f"Opening {url}…")  # said once: in the bar, over what plays
    assert w.statusBar().currentMessage() == ""
    painted = w.view.painted
    qtbot.waitUntil(lambda: bool(silent.connections), timeout=WAIT_MS)  # FFmpeg is connected, waiting for an answer
    # the clip goes on, painted (30 fps when the machine is quiet: 5 frames in ~0.2 s; under load, later)...
    qtbot.waitUntil(lambda: w.view.painted - painted >= 5, timeout=WAIT_MS)
    assert w.session.opening_spec == url and w.session._opener.threads  # ...while the open still waits
    assert w.session.source.name == str(cat_clip)
    with qtbot.waitSignal(w.opened, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(w.cancel_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [url, False]
    assert not w.opening_bar.isVisibleTo(w) and w.session.opening_spec is None
    assert w.statusBar().currentMessage() == f"cancelled opening {url}"
    assert w.session._opener.threads  # the open itself cannot be interrupted: it runs on, dropped
    silent.close()  # the server hangs up: that open fails now...
    _wait_no_open_thread(qtbot, w)
    wait_frames(qtbot, w, 2)
    assert not w.errors and not w.banner.isVisible()  # ...and says nothing: it was cancelled
    assert w.session.source.name == str(cat_clip)


def test_an_open_with_nothing_on_screen_is_named_once_in_the_middle_of_the_view(qtbot, open_window, fast_models,
                                                                               silent):
    w = open_window(silent.url(), loop=True)
    qtbot.waitUntil(lambda: w.session.opening_spec == silent.url(), timeout=WAIT_MS)  # start-up opens it
    assert w.session.source is None
    assert w.view.message == f"Opening {silent.url()}…"  # where one looks while nothing is shown
    assert w.opening_bar.isVisibleTo(w) and w.opening_label.text() == ""  # the bar keeps Cancel only
    assert w.statusBar().currentMessage() == ""
    w._update_status()
    assert w.fps_label.text() == "opening"  # the status field says what the stream does
    with qtbot.waitSignal(w.opened, timeout=WAIT_MS):
        w.cancel_open()
    assert w.view.message.startswith("No source")
    silent.close()
    _wait_no_open_thread(qtbot, w)


def test_esc_cancels_an_open(qtbot, open_window, fast_models, cat_clip, silent):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 1)
    w.open(silent.url())
    assert w.session.opening_spec is not None
    with qtbot.waitSignal(w.opened, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(w.view, Qt.Key.Key_Escape)
    assert blocker.args == [silent.url(), False] and w.session.opening_spec is None
    w.show_error("an earlier error")
    w.open(silent.url("again"))  # a new attempt: the old error goes, the bar says what happens now
    assert not w.banner.isVisibleTo(w) and w.opening_bar.isVisibleTo(w)
    w.cancel_open()
    wait_frames(qtbot, w, 2)


def test_a_newer_open_supersedes_and_the_late_result_is_closed_unseen(qtbot, open_window, fast_models, cat_clip,
                                                                      gated, tmp_path):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 1)
    names, widths = [], []
    w.session.source_changed.connect(lambda name, _live: names.append(name))
    w.session.frame_shown.connect(lambda shown: widths.append(shown.image.width()))
    w.open(gated.url)  # waits for the gate
    assert w.session.opening_spec == gated.url
    other = make_cat_clip(tmp_path / "other.mp4", frames=20, size=(96, 64))
    assert open_and_wait(qtbot, w, other, loop=True)  # supersedes it
    assert w.session.source.name == str(other) and not w.opening_bar.isVisibleTo(w)
    gated.gate.set()  # the first open now succeeds, late
    _wait_no_open_thread(qtbot, w)
    assert w.session._opener.discarded == 1  # opened, closed, never shown
    wait_frames(qtbot, w, 3)
    assert names == [str(other)] and 64 not in widths
    assert w.session.source.name == str(other) and not w.errors


def test_closing_the_window_while_an_open_is_in_flight_does_not_wait(qtbot, open_window, fast_models, cat_clip,
                                                                     gated):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 1)
    w.open(gated.url)
    opener = w.session._opener
    assert opener.threads
    w.close()  # returns although the open has not
    assert opener.threads and w.session.pipeline is None and w.session.source is None
    gated.gate.set()  # it opens after the window closed: closed in its thread
    qtbot.waitUntil(lambda: not opener.threads, timeout=WAIT_MS)
    assert opener.discarded == 1


def test_a_camera_that_is_not_there_stops_the_old_source_first_and_says_so(qtbot, open_window, fast_models,
                                                                           cat_clip):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 1)
    with qtbot.waitSignal(w.opened, timeout=WAIT_MS) as blocker:
        w.open("5")
        # a camera may not open twice: the old source stops before it opens
        assert w.session.source is None and w.view.message == "Opening camera 5…"
        assert w.panel.source_label.text() == "no source"
    assert blocker.args == ["5", False]
    assert "camera 5" in w.error_label.text() and w.banner.isVisible()
    assert w.view.message.startswith("No source") and not w.opening_bar.isVisibleTo(w)


def test_images_opens_a_folder_of_images(qtbot, open_window, fast_models, cat_clip, tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(("chelsea", "coffee", "astronaut")):
        cv2.imwrite(str(folder / f"{i}.png"), cv2.resize(cv2.imread(str(DATA / f"{name}.png")), (80, 60)))
    asked = []

    def pick(parent, caption, start):
        asked.append(caption)
        return str(folder)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(pick))
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 1)
    with qtbot.waitSignal(w.opened, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(w.panel.images_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [str(folder), True] and asked == ["Open a folder of images"]
    assert w.session.source.name == str(folder) and w.panel.source_label.text() == "photos"
    qtbot.waitUntil(lambda: w.session.last_shown.image.width() == 80, timeout=WAIT_MS)
    assert w.settings.value("last_dir") == str(folder)


def test_start_up_with_no_camera_falls_back_to_the_demo_clip(qtbot, open_window, fast_models, monkeypatch):
    import glob

    real_glob = glob.glob
    monkeypatch.setattr(glob, "glob",
                        lambda p, *a, **k: ["/dev/video0"] if p == "/dev/video*" else real_glob(p, *a, **k))
    w = open_window()  # "/dev/video0" seems to be there, but camera 0 does not open
    qtbot.waitUntil(lambda: w.session.source is not None, timeout=WAIT_MS)
    assert w.session.source.name.endswith("demo.mp4") and not w.errors  # quietly: no camera is no error
    wait_frames(qtbot, w, 1)
    assert hint_shown(w)  # but why this clip, and how to open one's own


def hint_shown(w) -> bool:
    """The status bar says NO_CAMERA_HINT, whole or cut to the small test window's bar."""
    shown = w.statusBar().currentMessage()
    return shown.startswith("No camera found: the demo clip plays") and NO_CAMERA_HINT.startswith(shown.rstrip("…"))


def test_a_new_user_without_a_camera_is_told_why_the_demo_plays_and_how_to_open_a_video(
        qtbot, open_window, fast_models, cat_clip, monkeypatch):
    """Before, the demo clip just played: nothing said that no camera was found or
    what to do next. A source asked for gets no such line."""
    monkeypatch.setattr(dialogs, "list_cameras", lambda: [])
    w = open_window()
    qtbot.waitUntil(lambda: w.session.source is not None, timeout=WAIT_MS)
    wait_frames(qtbot, w, 1)
    assert w.session.source.name.endswith("demo.mp4")
    assert hint_shown(w) and "Ctrl+O" in NO_CAMERA_HINT
    other = open_window(cat_clip)
    wait_frames(qtbot, other, 1)
    assert other.statusBar().currentMessage() == ""


def test_a_stream_that_does_not_open_offers_retry_with_the_same_url(qtbot, open_window, fast_models, cat_clip):
    with socket.socket() as sock:  # a port where nothing listens: refused at once
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/live.mjpg"
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 1)
    assert not open_and_wait(qtbot, w, url)
    assert w.banner.isVisible() and w.top_bars.retry_button.isVisible()
    opening = []
    w.session.opening.connect(opening.append)
    with qtbot.waitSignal(w.opened, timeout=WAIT_MS):
        qtbot.mouseClick(w.top_bars.retry_button, Qt.MouseButton.LeftButton)
    assert opening == [url] and w.top_bars.retry_button.isVisible()  # failed again: Retry again
    w.session.cancel_open()
    w.show_error("something else")
    assert not w.top_bars.retry_button.isVisible()


class DroppingMjpeg:
    """``/live.mjpg`` on 127.0.0.1: the first ``drops`` connections each send 60
    pictures (2 s) and hang up (a camera rebooting), the next streams until closed."""

    def __init__(self, drops: int = 2) -> None:
        ok, jpeg = cv2.imencode(".jpg", cv2.imread(str(DATA / "chelsea.png")))
        picture = jpeg.tobytes()
        self.connections = 0
        self._stop = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                owner.connections += 1
                count = 60 if owner.connections <= drops else 3000  # 2 s a drop (a busy test sees each); 100 s at most
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for _ in range(count):
                    if owner._stop.is_set():
                        return
                    try:
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(picture) + picture + b"\r\n")
                    except OSError:
                        return
                    owner._stop.wait(1 / 30)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/live.mjpg"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="dropping-mjpeg")
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


@pytest.mark.slow
def test_a_stream_that_drops_says_so_each_time_and_the_banner_goes_when_it_is_back(qtbot, open_window, fast_models):
    """Before, "…; reopening" stayed in the banner over the stream playing again, and
    a second drop with the same reason was not told at all (told once, as a looping
    file's damage)."""
    server = DroppingMjpeg(drops=2)
    try:
        w = open_window(server.url)
        wait_frames(qtbot, w, 1)

        def reopening() -> list[str]:
            return [m for m in w.errors if m.endswith("; reopening")]

        for drop in (1, 2):
            qtbot.waitUntil(lambda drop=drop: len(reopening()) >= drop and w.banner.isVisible(), timeout=WAIT_MS)
            assert w.error_label.text() == reopening()[-1]
            w._update_status()
            assert w.fps_label.text() == "reopening" and w.latency_label.text() == "latency –"  # not a stale rate
            qtbot.waitUntil(lambda: not w.banner.isVisible(), timeout=WAIT_MS)  # frames again: old news
            assert w.statusBar().currentMessage().endswith(": the stream is back")
        assert server.connections >= 3  # (a drop reads "the stream ended" or "Input/output error")
        outage = f"{server.url}: Connection refused; reopening"  # each failed attempt says it again
        w.sources.on_warned(outage)
        w.sources.on_warned(outage)
        assert reopening().count(outage) == 1  # once an outage: × hides it for good
    finally:
        w.close()
        server.close()
