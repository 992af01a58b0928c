"""One running view: source -> pipeline -> window (+ a recording), and the model.

``Session`` is the window's only door to the core. It lives on the GUI thread;
the pipeline's threads and the model loader reach it only through queued
signals. Frames travel through a newest-frame slot: the writer thread builds the
QImage, stores it and signals only when the previous one has been taken, so the
event queue never holds more than one frame and a slow GUI skips frames instead
of falling behind.

torch (1.5 s to import on two cores, with timm and torchvision more) is never
imported on the GUI thread before the window shows: the first model loader
imports the core, then ``core_ready()`` comes on the GUI thread, before that
load's result. From then on the core's modules may be imported on the GUI thread
at no cost (``ControlPanel.localize_settings`` does). ``models_listed(names)``
follows once: listing every model imports torchvision (~1.2 s), which lite0 does
not need, so for lite0 it waits for ``request_model_list`` (the model box opens).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from camvideo.errors import CamvideoError, OutputError, describe
from camvideo.qt.convert import bgr_to_qimage
from camvideo.qt.labels import DisplayAnnotator
from camvideo.qt.opener import SourceOpener
from camvideo.qt.view import ShownFrame
from camvideo.settings import OverlaySettings  # numpy + cv2, no torch
from camvideo.video.spec import SourceSpec

# A jump in source time larger than this while recording is a seek, not late frames.
MAX_RECORDED_GAP_S = 1.0

log = logging.getLogger(__name__)

LOADER_JOIN_S = 60.0  # a model load cannot be interrupted; closing waits for it


class ViewSink:
    """The window's pipeline sink (runs in the pipeline's writer thread).

    Writes the frame to the recording when one runs, then publishes it. Both
    happen under one lock with recording start/stop, and while recording a frame
    waits until the window has taken the previous recorded one (the pipeline
    then drops at its source, never here): "frames shown while recording" and
    "frames in the file" are the same frames. A recording that fails (disk full)
    is closed, keeping what it has, and reported; the view goes on.

    The frame arrives without labels (the view paints them at screen
    resolution); a frame that is recorded gets them burned in by ``burn_labels``
    after its QImage is made, so the file holds what ``camvideo process`` writes
    and only recorded frames pay for it.
    """

    def __init__(self, publish, on_record_error, wait_shown=lambda: None,
                 burn_labels=lambda annotated, result: annotated) -> None:
        self._publish = publish
        self._burn_labels = burn_labels
        self._wait_shown = wait_shown
        self._on_record_error = on_record_error
        self._lock = threading.Lock()
        self._recorder = None
        self._t0: float | None = None
        self._last_time = 0.0
        self.recorded = 0  # frames written to the current (or last) recording
        self.delivered = 0  # frames handed to the window

    @property
    def recorder(self):
        return self._recorder

    def start_recording(self, recorder) -> None:
        with self._lock:
            if self._recorder is not None:
                raise RuntimeError("a recording is already running")
            self._recorder, self._t0, self.recorded = recorder, None, 0

    def stop_recording(self):
        """Detach and finalize the recording; returns it (None when none ran)."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.close()  # may raise OutputError: the caller reports it
        return recorder

    def write(self, frame, annotated: np.ndarray, result) -> None:
        image = bgr_to_qimage(annotated)
        if self._recorder is not None:
            self._wait_shown()  # outside the lock: the GUI may stop the recording meanwhile
        failed = None
        with self._lock:  # record and publish together: see the class doc
            recorder = self._recorder
            recorded = burned = False
            if recorder is not None:
                try:
                    if self._t0 is None:
                        self._t0 = frame.time  # the recording starts at 0 s
                    elif not 0.0 < frame.time - self._last_time <= MAX_RECORDED_GAP_S:
                        # A seek or a replay while recording: the recording goes on
                        # one frame later instead of jumping back or freezing.
                        self._t0 += frame.time - self._last_time - 1.0 / recorder.fps_hint
                    self._last_time = frame.time
                    # In place: the QImage above has its own copy.
                    annotated, burned = self._burn_labels(annotated, result), True
                    recorder.write_image(annotated, frame.time - self._t0)
                    self.recorded += 1
                    recorded = True
                except Exception as exc:  # noqa: BLE001 - keep the view running
                    self._recorder, failed = None, (recorder, exc)
            self.delivered += 1
            self._publish(ShownFrame(image, frame.index, frame.time, frame.captured, result, annotated, recorded,
                                     burned, frame.image))
        if failed is not None:
            recorder, exc = failed
            try:
                recorder.close()
            except Exception as close_exc:  # noqa: BLE001
                log.debug("closing the failed recording: %s", close_exc)
            self._on_record_error(recorder, exc)

    def close(self) -> None:
        self.stop_recording()


class Session(QObject):
    """Source, model, pipeline and recording of one window."""

    frame_shown = pyqtSignal(object)  # ShownFrame, on the GUI thread
    error = pyqtSignal(str)  # anything that went wrong, one line
    finished = pyqtSignal()  # a file ended (or the pipeline stopped on an error)
    source_changed = pyqtSignal(str, bool)  # name, live
    model_loading = pyqtSignal(str)  # model name
    model_ready = pyqtSignal(str, str)  # model name, device
    model_failed = pyqtSignal(str, str)  # model name, message
    recording_changed = pyqtSignal(bool, str)  # running, path
    opening = pyqtSignal(str)  # spec: an open started (in the background)
    opened = pyqtSignal(str, bool)  # spec, ok: the open in flight ended (False: failed or cancelled)
    core_ready = pyqtSignal()  # torch and the core are imported (once)
    models_listed = pyqtSignal(list)  # every model name (once)

    # internal: worker threads -> GUI thread (queued)
    _frame_waiting = pyqtSignal()
    _core_imported = pyqtSignal()
    _names = pyqtSignal(list)
    _loaded = pyqtSignal(int, str, object)
    _load_failed = pyqtSignal(int, str, str)
    _pipeline_error = pyqtSignal(object, str)
    _pipeline_finished = pyqtSignal(object)
    _record_failed = pyqtSignal(str, str)

    def __init__(self, device: str = "auto", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device = device
        self.model = None
        self.model_name: str | None = None
        self.localizer = None  # a FrameLocalizer once a model is loaded
        self.localize_settings = None  # LocalizeSettings; None: the core's defaults
        self.core_loaded = False  # core_ready came: the core's modules are imported
        self._models_listed = False  # a loader thread listed the model names already
        self._list_lock = threading.Lock()
        # Heat map and boxes into the frame; labels painted by the view, burned in
        # only for recordings and snapshots (see labels.py).
        self.annotator = DisplayAnnotator(OverlaySettings())
        self.source = None
        self.pipeline = None
        self.sink: ViewSink | None = None
        self.last_shown: ShownFrame | None = None
        self.replaced = 0  # frames replaced in the slot before the GUI took them
        self.last_error = ""
        self._slot: ShownFrame | None = None
        self._slot_lock = threading.Condition()
        self._notified = False
        self._generation = 0
        self._loaders: list[threading.Thread] = []
        self._closed = False
        self._frame_waiting.connect(self._deliver)
        self._core_imported.connect(self._on_core_imported)
        self._names.connect(self._on_names)
        self._loaded.connect(self._on_loaded)
        self._load_failed.connect(self._on_load_failed)
        self._pipeline_error.connect(self._on_pipeline_error)
        self._pipeline_finished.connect(self._on_pipeline_finished)
        self._record_failed.connect(self._on_record_failed)
        self._opener = SourceOpener(parent=self)
        self._opener.done.connect(self._on_open_done)

    # -- model ------------------------------------------------------------------------
    def load_model(self, name: str, weights: str | None = None) -> None:
        """Load ``name`` (from a local ``weights`` file when given) in a background
        thread; the stream keeps its current model until the new one is ready (a
        stale load is discarded)."""
        self._generation += 1
        generation = self._generation
        self._loaders = [t for t in self._loaders if t.is_alive()]
        thread = threading.Thread(target=self._load, args=(name, generation, weights), name=f"camvideo-load:{name}")
        self._loaders.append(thread)
        self.model_loading.emit(name)
        thread.start()

    def _load(self, name: str, generation: int, weights: str | None) -> None:
        models = None
        try:
            from camvideo import models  # torch, off the GUI thread
            from camvideo.runtime.localizer import FrameLocalizer

            if name != models.DEFAULT_MODEL:  # it imports torchvision anyway: list first
                self._list_models(models)
            self._core_imported.emit()
            if weights:
                model = models.load_model(name, weights=weights, device=self.device)
            else:
                model = models.load_model(name, device=self.device)
            # One pass here, off the stream: the first frames are not slow.
            FrameLocalizer(model)([np.zeros((64, 64, 3), np.uint8)])
        except Exception as exc:  # noqa: BLE001 - any failure becomes a message
            log.debug("loading %s failed", name, exc_info=True)
            self._load_failed.emit(generation, name, describe(exc))
            if models is not None:
                self._list_models(models)  # the user will want another model
        else:
            self._loaded.emit(generation, name, model)

    def request_model_list(self) -> None:
        """List every model in the background, once (the model box's list opens).
        Not right after lite0 loads: torchvision's import then costs the first
        second of playback ~20 dropped frames on two cores."""
        if self._models_listed or self._closed:
            return
        self._loaders = [t for t in self._loaders if t.is_alive()]

        def run() -> None:
            from camvideo import models

            self._list_models(models)

        thread = threading.Thread(target=run, name="camvideo-list-models")
        self._loaders.append(thread)
        thread.start()

    def _list_models(self, models) -> None:
        """Every model name, once per session (in a loader thread; not after close,
        which would wait for torchvision's import)."""
        with self._list_lock:
            if self._models_listed or self._closed:
                return
            self._models_listed = True
        try:
            names = models.available_models()  # imports torchvision
        except Exception:  # noqa: BLE001 - the list is a convenience: the panel keeps its names
            log.warning("could not list the models", exc_info=True)
            return
        self._names.emit(names)

    def _on_core_imported(self) -> None:
        if not self.core_loaded and not self._closed:
            self.core_loaded = True
            self.core_ready.emit()

    def _on_names(self, names: list) -> None:
        if not self._closed:
            self.models_listed.emit(names)

    def _on_loaded(self, generation: int, name: str, model) -> None:
        if generation != self._generation or self._closed:
            return  # a newer request won
        from camvideo.runtime.localizer import FrameLocalizer  # imported by the loader already
        from camvideo.settings import LocalizeSettings

        self.model, self.model_name = model, name
        self.localizer = FrameLocalizer(model, self.localize_settings or LocalizeSettings())
        if self.pipeline is not None and not self.pipeline.finished:
            self.pipeline.localizer = self.localizer
        else:
            self._start_pipeline()
        self.model_ready.emit(name, str(model.device))

    def _on_load_failed(self, generation: int, name: str, message: str) -> None:
        if generation != self._generation or self._closed:
            return
        self.last_error = message
        self.model_failed.emit(name, message)

    @property
    def loading(self) -> bool:
        return any(t.is_alive() for t in self._loaders)

    # -- settings -----------------------------------------------------------------------
    def set_localize(self, settings) -> None:
        """Takes effect on the next frame."""
        self.localize_settings = settings
        if self.localizer is not None:
            self.localizer.settings = settings

    def set_overlay(self, settings: OverlaySettings) -> None:
        """Takes effect on the next frame; while paused (or at the end of a file)
        the frame on screen is annotated again at once (a click on a label there
        shows its class's heat map without stepping)."""
        self.annotator = DisplayAnnotator(settings)
        if self.pipeline is not None:
            self.pipeline.annotator = self.annotator
            if self.paused or self.pipeline.finished:
                self._annotate_again()

    def _annotate_again(self) -> None:
        """Show the frame on screen again with the current overlay (GUI thread:
        no frame is coming; one that comes replaces it, as always)."""
        shown = self.last_shown
        if shown is None or shown.frame is None:
            return
        with self._slot_lock:
            if self._slot is not None:  # a newer frame waits: it is annotated with the new settings soon enough
                return
        annotated = self.annotator.annotate(shown.frame, shown.result)
        again = ShownFrame(bgr_to_qimage(annotated), shown.index, shown.time, time.monotonic(), shown.result,
                           annotated, frame=shown.frame)
        self.last_shown = again
        self.frame_shown.emit(again)

    # -- source and pipeline ---------------------------------------------------------
    def open(self, spec, *, loop: bool = False, report: bool = True) -> None:
        """Open ``spec`` in the background (``opening``, then ``opened``); when it
        opens, stop what ran (finalizing a recording) and show it. A file or stream
        that does not open leaves what was playing running (the message goes to
        ``error`` unless ``report`` is False); a camera is opened after the old
        source is stopped (a camera may not open twice). A newer ``open`` or
        ``cancel_open`` drops the request in flight: its late result is closed,
        never shown."""
        if self._closed:
            return
        if SourceSpec.parse(spec, probe=False).kind == "camera":
            self._stop_pipeline()
        request = self._opener.start(spec, loop=loop, report=report)
        self.opening.emit(request.spec)

    @property
    def opening_spec(self) -> str | None:
        """What is being opened now (None when nothing is)."""
        request = self._opener.current
        return request.spec if request is not None else None

    def cancel_open(self) -> str | None:
        """Drop the open in flight (what plays goes on); its spec, or None."""
        request = self._opener.cancel()
        if request is None:
            return None
        self.opened.emit(request.spec, False)
        return request.spec

    def _on_open_done(self, request, source, message: str) -> None:
        if self._closed:
            if source is not None:
                source.close()
            return
        if source is None:
            if request.report:
                self._report(message)
            else:
                log.info("%s", message)
            self.opened.emit(request.spec, False)
            return
        self._stop_pipeline()
        self.source = source  # a file plays in real time: the opener opened it so (Paced)
        self.source_changed.emit(source.name, source.live)
        self._start_pipeline()
        self.opened.emit(request.spec, True)

    def _start_pipeline(self) -> None:
        if self._closed or self.source is None or self.localizer is None or self.pipeline is not None:
            return
        from camvideo.runtime.pipeline import Pipeline  # torch: imported by now (a localizer exists)

        self.localizer.reset()  # a new source: nothing carried over from the last one
        self.sink = ViewSink(self._publish, self._record_error_from_worker, self._wait_recorded_shown,
                             lambda annotated, result: self.annotator.burn_labels(annotated, result))
        pipeline = Pipeline(self.source, self.localizer, self.annotator, [self.sink])
        pipeline.on_error = lambda exc, p=pipeline: self._pipeline_error.emit(p, describe(exc))
        pipeline.on_finished = lambda p=pipeline: self._pipeline_finished.emit(p)
        self.pipeline = pipeline
        pipeline.start()

    def _stop_pipeline(self) -> None:
        pipeline, source, sink = self.pipeline, self.source, self.sink
        self.pipeline, self.source = None, None
        recording = sink.recorder if sink is not None else None
        try:
            if recording is not None:
                sink.stop_recording()  # first, so the writer never waits on this thread
                self._flush_recorded()
            if pipeline is not None:
                pipeline.stop()  # joins the threads, closes the source and the sinks
            elif source is not None:
                source.close()
        except CamvideoError as exc:
            self._report(describe(exc))
        finally:
            self._flush_recorded()
            with self._slot_lock:
                self._slot, self._notified = None, False
            if recording is not None:
                self.recording_changed.emit(False, str(recording.path))

    def _on_pipeline_error(self, pipeline, message: str) -> None:
        if pipeline is self.pipeline:
            self._report(message)

    def _on_pipeline_finished(self, pipeline) -> None:
        if pipeline is self.pipeline:
            self.finished.emit()

    def _report(self, message: str) -> None:
        self.last_error = message
        log.warning("%s", message)
        self.error.emit(message)

    # -- playback (files) -------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self.source is not None and self.source.live

    @property
    def paused(self) -> bool:
        return self.pipeline is not None and self.pipeline.paused

    def pause(self) -> None:
        if self.pipeline is not None:
            self.pipeline.pause()

    def resume(self) -> None:
        if self.pipeline is not None:
            self.pipeline.resume()

    def step(self) -> None:
        """One frame forward (files): pauses first."""
        if self.pipeline is not None and not self.live:
            self.pause()
            self.pipeline.step()

    def seek(self, seconds: float) -> None:
        """Continue at ``seconds`` (files); while paused, shows the frame there."""
        if self.pipeline is not None and not self.live:
            self.pipeline.seek(max(0.0, seconds))

    @property
    def duration_hint(self) -> float | None:
        """Seconds in the file, from its metadata (a hint)."""
        source = self.source
        rate = getattr(source, "rate", None)
        if source is None or source.live or not rate or not source.frame_count_hint:
            return None
        return source.frame_count_hint / rate

    # -- frames ---------------------------------------------------------------------------
    def _publish(self, shown: ShownFrame) -> None:
        """Writer thread: keep only the newest frame; signal once per take."""
        with self._slot_lock:
            if self._slot is not None:
                self.replaced += 1
                if self._slot.recorded and not shown.recorded:
                    return  # a recorded frame is never replaced: the file holds what was shown
            self._slot = shown
            notify = not self._notified
            self._notified = True
        if notify:
            self._frame_waiting.emit()

    def _wait_recorded_shown(self, timeout: float = 1.0) -> None:
        """Writer thread: wait until the window took the recorded frame waiting in
        the slot (a GUI stuck longer than ``timeout`` gets the frame replaced)."""
        deadline = time.monotonic() + timeout
        with self._slot_lock:
            while self._slot is not None and self._slot.recorded and self.recording:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._slot_lock.wait(min(left, 0.05))

    def _flush_recorded(self) -> None:
        """Show now a recorded frame still waiting in the slot: every frame in the
        file is a frame that was shown."""
        with self._slot_lock:
            waiting = self._slot is not None and self._slot.recorded
        if waiting:
            self._deliver()

    def _deliver(self) -> None:
        with self._slot_lock:
            shown, self._slot, self._notified = self._slot, None, False
            self._slot_lock.notify_all()
        if shown is not None:
            self.last_shown = shown
            self.frame_shown.emit(shown)

    # -- recording and snapshots ----------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.sink is not None and self.sink.recorder is not None

    def start_recording(self, path: Path) -> Path:
        from camvideo.video.recorder import Recorder

        if self.pipeline is None or self.sink is None:
            raise CamvideoError("nothing to record yet: open a source and wait for the model")
        if self.recording:
            return Path(self.sink.recorder.path)
        recorder = Recorder(path, fps_hint=getattr(self.source, "rate", None) or 30.0)
        self.sink.start_recording(recorder)
        self.recording_changed.emit(True, str(path))
        return Path(path)

    def stop_recording(self) -> Path | None:
        """Finalize the recording (the file becomes playable); its path, or None."""
        if self.sink is None:
            return None
        try:
            recorder = self.sink.stop_recording()
        except CamvideoError as exc:
            self._report(describe(exc))
            self.recording_changed.emit(False, "")
            return None
        self._flush_recorded()
        if recorder is None:
            return None
        self.recording_changed.emit(False, str(recorder.path))
        return Path(recorder.path)

    def _record_error_from_worker(self, recorder, exc: BaseException) -> None:
        self._record_failed.emit(str(recorder.path), describe(exc))

    def _on_record_failed(self, path: str, message: str) -> None:
        self._report(f"recording stopped: {message} (frames so far kept in {path})")
        self.recording_changed.emit(False, path)

    def snapshot(self, folder: Path) -> tuple[Path, Path]:
        """The frame on screen as an annotated PNG (labels burned in, as in a
        recording) and its JSON object."""
        import cv2

        shown = self.last_shown
        if shown is None:
            raise CamvideoError("no frame on screen yet to save")
        stem = f"camvideo-{time.strftime('%Y%m%d-%H%M%S')}-f{shown.index:06d}"
        png, js = Path(folder) / f"{stem}.png", Path(folder) / f"{stem}.json"
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            image = shown.annotated
            if not shown.labels_burned:
                image = self.annotator.burn_labels(image.copy(), shown.result)
            if not cv2.imwrite(str(png), image):
                raise OSError(f"cannot encode {png.name}")
            js.write_text(json.dumps(shown.result.to_dict()) + "\n")
        except OSError as exc:
            raise OutputError(f"cannot save the snapshot in {folder}: {exc.strerror or exc}") from None
        return png, js

    # -- shutdown ---------------------------------------------------------------------------
    def close(self) -> None:
        """Finalize a recording, stop every thread (pipeline, reader, model loaders).
        An open in flight is dropped, not waited for (see ``opener``)."""
        if self._closed:
            return
        self._closed = True
        self._generation += 1  # results of loads still running are discarded
        self._opener.close()  # an open in flight is not waited for: its thread closes what it opens
        self._stop_pipeline()
        for thread in self._loaders:
            thread.join(LOADER_JOIN_S)
            if thread.is_alive():
                log.error("%s did not finish within %.0f s", thread.name, LOADER_JOIN_S)
        self._loaders.clear()
