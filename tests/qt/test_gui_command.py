"""``camvideo gui``: checks before a window opens; the demo clip is found."""

from __future__ import annotations

import av

from camvideo.cli import main
from camvideo.qt.resources import demo_clip_path


def test_bad_model_device_or_weights_fail_before_a_window(capsys, tmp_path):
    assert main(["gui", "--model", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["gui", "--weights", str(tmp_path / "missing.pt")]) == 2
    assert "missing.pt does not exist" in capsys.readouterr().err
    assert main(["gui", "--device", "tpu"]) == 2
    assert "device must be" in capsys.readouterr().err


def test_the_demo_clip_ships_small_and_playable():
    path = demo_clip_path()
    assert path.stat().st_size < 2 * 1024 * 1024
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (640, 360)
        assert stream.codec_context.name == "h264"
        times = [float(f.pts * f.time_base) for f in container.decode(stream)]
    assert 8.0 <= times[-1] <= 12.0 and len(times) == 300


def test_no_display_is_a_clear_error_not_a_qt_abort(capsys, monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["gui"]) == 2
    err = capsys.readouterr().err
    assert "no display" in err and "QT_QPA_PLATFORM=offscreen" in err
    assert len(err.strip().splitlines()) == 1
