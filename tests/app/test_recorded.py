"""The recording bar's words: the button names what it will do (issue 23, finding 8)."""

from __future__ import annotations

from camvideo.app.recorded import recording_bar


def test_the_button_names_the_other_way_to_play():
    plain, analysed = recording_bar(True, True), recording_bar(True, False)
    assert plain.shown and analysed.shown
    assert plain.button == "Analyse anyway" and not plain.analysed
    assert analysed.button == "Play as recorded" and analysed.analysed
    assert "played as recorded" in plain.text and "analysed again" in analysed.text
    assert plain.tip != analysed.tip


def test_the_bar_hides_for_any_other_source():
    for plain in (True, False):
        bar = recording_bar(False, plain)
        assert not bar.shown and not bar.analysed and bar.text == ""
