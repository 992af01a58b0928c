"""The Session's recording and snapshots: the frames on screen into a file.

A part of ``camvideo.qt.session.Session`` (a mixin: its methods use the
session's ``sink``, ``pipeline``, ``preview``, ``annotator`` and signals). The recording
runs in the view sink (``camvideo.app.sink.ViewSink``): the frames in the file
are the frames that were shown.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from camvideo.app.position import first_pass
from camvideo.app.sources import made_from
from camvideo.app.wording import window_text
from camvideo.errors import CamvideoError
from camvideo.video.export import write_snapshot
from camvideo.video.recorder import Recorder  # PyAV is imported when a recording starts


class SessionRecording:
    """Recording and snapshots of a ``Session``."""

    @property
    def recording(self) -> bool:
        return self.sink is not None and self.sink.recorder is not None

    def start_recording(self, path: Path) -> Path:
        if self.pipeline is None or self.sink is None:
            raise CamvideoError("nothing to record yet: open a source and wait for the model")
        if self.recording:
            return Path(self.sink.recorder.path)
        info = self.source.info
        recorder = Recorder(path, fps_hint=info.rate or 30.0)
        self.sink.start_recording(recorder, audio_from=info.path)  # a file's sound, as process keeps it
        self.recording_changed.emit(True, str(path))
        return Path(path)

    @property
    def recorded_seconds(self) -> float:
        """The running (or last) recording's length so far, from its frames."""
        return self.sink.recorded_seconds if self.sink is not None else 0.0

    def stop_recording(self) -> Path | None:
        """Stop recording now (no frame more goes in) and finalize the file in a save
        task, off the GUI thread (the encoder's flush takes a while on a long
        recording): ``recording_saving`` now, ``recording_changed(False, path)`` once
        the file is final and playable (a failure: reported, then
        ``recording_changed(False, "")``). The task is ``always``: closing the window
        before its thread got to it still finalizes the file there, and close waits
        for it (bounded; the process's exit too). The recording's path, or None when none ran."""
        recorder = self.sink.detach_recording() if self.sink is not None else None
        self._flush_recorded()  # a recorded frame still waiting: on screen, as every frame in the file
        if recorder is None:
            return None
        self.recording_saving.emit(str(recorder.path))
        self._tasks.start(recorder.close, name="camvideo-save", always=True,
                          done=lambda _none: self._saved(recorder, None),
                          failed=lambda message: self._saved(recorder, message))
        return Path(recorder.path)

    def _saved(self, recorder, message: str | None) -> None:
        """GUI thread: the save task of ``recorder`` ended (``message``: how it failed)."""
        if message is not None:
            self._report(message)
            self.recording_changed.emit(False, "")
        else:
            self._announce_saved(recorder)

    def _announce_saved(self, recorder) -> None:
        """``recording_changed(False, path)`` for a recording that is final; one that got
        no frame (started and stopped while paused) has no file (``Recorder.close`` keeps
        nothing): ``recording_changed(False, "")``, then ``recording_empty(path)``."""
        if getattr(recorder, "frames_written", None) == 0:
            self.recording_changed.emit(False, "")
            self.recording_empty.emit(str(recorder.path))
        else:
            self.recording_changed.emit(False, str(recorder.path))

    def _record_error_from_worker(self, recorder, exc: BaseException) -> None:
        self._tasks.post(self._on_record_failed, str(recorder.path), window_text(exc))

    def _on_record_failed(self, path: str, message: str) -> None:
        self._report(f"recording stopped: {message} (frames so far kept in {path})")
        self.recording_changed.emit(False, path)

    def snapshot(self, folder: Path) -> tuple[Path, Path]:
        """The frame on screen as an annotated PNG (labels burned in, as in a
        recording) and its JSON object, with the source and the model that made it
        (``made_from``), both or neither (``write_snapshot``); none while the
        preview plays (the S key reaches here though the button is greyed). A looping
        file's frame of a later round is named and numbered as the frame of the file
        on screen (``_frame_in_file``), as the Playback box shows it."""
        shown = self.last_shown
        if shown is None:
            raise CamvideoError("no frame on screen yet to save")
        if self.pipeline is None and self.preview is not None:  # the preview's frame: no model has seen it
            raise CamvideoError("nothing to save yet: wait for the model")
        image = shown.annotated
        if not shown.labels_burned:
            image = self.annotator.burn_labels(image.copy(), shown.result)
        index, result = self._frame_in_file(shown)
        stem = f"camvideo-{time.strftime('%Y%m%d-%H%M%S')}-f{index:06d}"
        source = self.source.name if self.source is not None else None
        return write_snapshot(Path(folder), stem, image, result, about=made_from(source, self.model_name))

    def _frame_in_file(self, shown):
        """The frame on screen's number and result in the file (``first_pass``, as the
        Playback box and the timeline place it): a looping file counts on round after
        round, its snapshot names and numbers the file's frame."""
        info = self.source.info if self.source is not None else None
        loop_frames = info.frame_count if self.looping and info is not None else None
        placed = first_pass(shown.index, shown.time, self.duration_hint, loop_frames)
        result = shown.result
        if placed != (result.frame, result.time):
            result = dataclasses.replace(result, frame=placed[0], time=placed[1])
        return placed[0], result
