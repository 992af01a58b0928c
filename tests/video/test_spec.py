"""SourceSpec.parse: the one reading of a source spec."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from clips import make_clip, pattern

from camvideo.errors import InputError
from camvideo.video.sources import SourceSpec, open_source


@pytest.mark.parametrize("spec, camera, text", [(0, 0, "0"), ("2", 2, "2"), (" 1 ", 1, "1"), ("01", 1, "01")])
def test_a_number_is_a_camera(spec, camera, text):
    parsed = SourceSpec.parse(spec)
    assert (parsed.kind, parsed.camera, parsed.text, parsed.live) == ("camera", camera, text, True)
    assert SourceSpec.parse(spec, probe=False) == parsed


@pytest.mark.parametrize("url", ["rtsp://host/cam", "RTSP://host/cam", "http://127.0.0.1:8080/v.mjpg",
                                 "https://x/y.m3u8", "rtmp://a/b", "udp://@:1234", "tcp://h:1", "rtsps://h/s"])
def test_a_url_is_a_stream(url):
    parsed = SourceSpec.parse(url)
    assert (parsed.kind, parsed.url, parsed.text, parsed.live) == ("stream", url, url, True)


def test_an_unsupported_scheme_is_said_and_a_file_url_is_its_path(tmp_path):
    parsed = SourceSpec.parse("ftp://host/dir/clip.mp4")
    assert (parsed.kind, parsed.url, parsed.live) == ("url", "ftp://host/dir/clip.mp4", False)
    with pytest.raises(InputError, match=r"^ftp://host/dir/clip.mp4: ftp:// is not a scheme camvideo reads; "
                                         r"use rtsp://, .*, tcp:// or a file, folder or glob$"):
        open_source("ftp://host/dir/clip.mp4")
    clip = tmp_path / "a clip.mkv"
    make_clip(clip, frames=2, size=(16, 16))
    url = clip.as_uri()  # file:///.../a%20clip.mkv
    parsed = SourceSpec.parse(url)
    assert (parsed.kind, parsed.path, parsed.text) == ("file", clip, url)
    assert SourceSpec.parse("C://videos/a.mp4", probe=False).kind == "path"  # a drive letter, no scheme
    with open_source(url) as src:
        assert len(list(src)) == 2


def test_paths_by_what_is_on_disk(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    image = folder / "a.png"
    cv2.imwrite(str(image), pattern(0, 16, 16))
    video = tmp_path / "clip[1].mkv"  # glob characters in a real file's name: the file
    make_clip(video, frames=2, size=(16, 16))
    cases = {
        str(folder): ("folder", folder, None),
        str(image): ("image", image, None),
        str(video): ("file", video, None),
        str(tmp_path / "missing.mp4"): ("file", tmp_path / "missing.mp4", None),
        str(folder / "*.png"): ("glob", None, str(folder / "*.png")),
    }
    for text, (kind, path, pattern_) in cases.items():
        parsed = SourceSpec.parse(text)
        assert (parsed.kind, parsed.path, parsed.pattern, parsed.text, parsed.live) == (kind, path, pattern_, text, False)
        unprobed = SourceSpec.parse(text, probe=False)
        assert (unprobed.kind, unprobed.path) == ("path", Path(text))
        assert SourceSpec.parse(unprobed) == parsed  # probed when asked
    assert SourceSpec.parse(folder).kind == "folder"  # a Path
    assert SourceSpec.parse(Path("3")).kind == "file"  # a Path named 3 is no camera index
    with open_source(str(video)) as src:
        assert len(list(src)) == 2


def test_home_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pics").mkdir()
    parsed = SourceSpec.parse("~/pics")
    assert (parsed.kind, parsed.path, parsed.text) == ("folder", tmp_path / "pics", "~/pics")
    assert SourceSpec.parse("~/pics/*.jpg").pattern == str(tmp_path / "pics" / "*.jpg")


@pytest.mark.parametrize("bad", [None, 1.5, True, b"0", ["0"]])
def test_anything_else_is_a_type_error(bad):
    with pytest.raises(TypeError, match=r"spec must be a camera index, URL, path or glob, got "):
        SourceSpec.parse(bad)
    with pytest.raises(TypeError, match="spec must be"):
        open_source(bad)


def test_the_parsed_spec_is_frozen():
    parsed = SourceSpec.parse("rtsp://h/s")
    with pytest.raises(AttributeError):
        parsed.kind = "file"
