"""One running view: source -> pipeline -> window (+ a recording), and the model.

``Session`` is the window's only door to the core: it orchestrates three parts
that each own one job, and talks to the widgets only through signals.

- ``ModelLoader`` (``loader``): models load and list in the background; the
  stream keeps its model until the new one is ready.
- ``SourceOpener`` (``opener``): sources open in the background; the newest
  request wins.
- ``ViewSink`` and ``FrameSlot`` (``sink``): the pipeline's frames to the view and
  the recording, newest first.
- ``Preview`` (``preview``): until a pipeline can start (torch and the model load
  for seconds), the source's frames play as they are, without a heat map; the
  pipeline takes the source over where the preview leaves it. ``player`` is the
  one that plays (the pipeline, else the preview): pause, step and seek work on it.

Playback (``session_playback``) and recording and snapshots
(``session_recording``) are the session's too, in their own modules.

A camvideo recording (its container says so: ``video.recorder.made_by_camvideo``)
plays as it is, ``plain``: its labels are burned in, and a second set would stack
under them. ``analyse(True)`` runs the model on it all the same.

What ran stops off the GUI thread (``_stop_pipeline``: the recording is detached
at once, then a stop task finalizes it, joins the pipeline's threads and closes
the source, which takes up to seconds); a source that opens meanwhile waits,
opened, until every stop in flight has finished (``_incoming``), so it never plays
before the old recording is final, and a camera opens only after the old one is
closed. Stop in the Record box finalizes in a save task too (``stop_recording``).
Both tasks are ``always``: one whose thread had not got to it when the window
closed still runs (``Tasks``). Closing the window stops what plays on the GUI
thread and waits (bounded) for the stops and saves in flight; what they finish
after that reaches the window no more (``Tasks.post`` posts nothing once closed).

It lives on the GUI thread; every thread reaches it through ``Tasks.post``
(``tasks``). Settings may be set at any time, before the model has loaded too:
``set_localize`` keeps them and the localizer made at the load starts with them.
"""

from __future__ import annotations

import logging
import time
from functools import partial

from PyQt6.QtCore import QObject, pyqtSignal

from camvideo.app.failure import MODEL, SOURCE, failure, failure_kind
from camvideo.app.held import HeldFrame
from camvideo.app.preview import Preview
from camvideo.app.session_playback import SessionPlayback
from camvideo.app.session_recording import SessionRecording
from camvideo.app.shown import ShownFrame
from camvideo.app.sink import FrameSlot, ViewSink
from camvideo.app.source_events import SourceWarnings
from camvideo.app.wording import window_text
from camvideo.errors import CamvideoError
from camvideo.qt.convert import bgr_to_qimage
from camvideo.qt.labels import DisplayAnnotator
from camvideo.qt.loader import ModelLoader
from camvideo.qt.opener import SourceOpener
from camvideo.qt.tasks import Tasks
from camvideo.runtime.plain import NoAnnotator, NoLocalizer  # numpy only
from camvideo.settings import LocalizeSettings, OverlaySettings
from camvideo.video.recorder import made_by_camvideo
from camvideo.video.spec import SourceSpec

log = logging.getLogger(__name__)

HELD_LANE = "held"  # the frame on screen, localized again: the newest settings win
# How long closing the window waits for the session's threads: a held frame's forward
# pass (well under a second) and stops still in flight (a pipeline's joins are bounded
# by 10 s a thread, a source's by 5 s; they are not daemon threads: the process's exit
# waits for them too, so a recording is finalized whatever this bound).
CLOSE_JOIN_S = 30.0
# Forwarded frames a file's pipeline queues for its writer (the core's default is 4, for
# throughput): a person watches, so a frame that waits is latency, and frames already
# read still come after a Pause. Measured on clip600 on 2 busy cores: capture to sinks
# p50 about halved (687 -> 341 ms), fps within the noise (docs/measuring.md, session 17).
VIEW_QUEUE_SIZE = 1
AFTER_LAST_S = 1e-3  # a seek this far after a frame's time starts after that frame


class Session(SessionPlayback, SessionRecording, QObject):
    """Source, model, pipeline and recording of one window."""

    frame_shown = pyqtSignal(object)  # ShownFrame, on the GUI thread
    error = pyqtSignal(str)  # anything that went wrong, one line
    finished = pyqtSignal()  # a file ended (or the pipeline stopped on an error): once for each end
    warned = pyqtSignal(str)  # what the source on screen reported (a damaged file), once each
    source_changed = pyqtSignal(str, bool)  # name, live
    model_loading = pyqtSignal(str)  # model name
    model_ready = pyqtSignal(str, str)  # model name, device
    model_failed = pyqtSignal(str, str)  # model name, message
    recording_changed = pyqtSignal(bool, str)  # running, path (stopped: its file final, or kept after a failure; "" when saving it failed)
    recording_saving = pyqtSignal(str)  # path: the recording stopped, its file is being finalized
    recording_empty = pyqtSignal(str)  # path: the recording stopped before any frame went in: no file
    opening = pyqtSignal(str)  # spec: an open started (in the background); again when it waits for a stop
    opened = pyqtSignal(str, bool)  # spec, ok: the open in flight ended (False: failed or cancelled)
    core_ready = pyqtSignal()  # torch and the core are imported (once)
    models_listed = pyqtSignal(list, list)  # every model name, those ready offline (once)
    plain_changed = pyqtSignal(bool)  # the source on screen plays as it is (a camvideo recording), or not
    source_failed = pyqtSignal(str)  # the spec of the live source on screen, which failed (after ``error``; not the model)

    def __init__(self, device: str = "auto", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device = device
        self.model = None
        self.model_name: str | None = None
        self.localizer = None  # a FrameLocalizer once a model is loaded
        self.localize_settings = LocalizeSettings()  # what set_localize last said
        # Heat map and boxes into the frame; labels painted by the view, burned in
        # only for recordings and snapshots (see labels.py). A class's colour (boxes,
        # tags, the timeline) is camvideo.class_colours's, as on the command line.
        self.annotator = DisplayAnnotator(OverlaySettings())
        self.source = None
        self.source_spec: str | None = None  # what the source on screen was opened from (``open``'s spec)
        self.looping = False  # the source on screen loops (opened with loop=True)
        self.recording_source = False  # the source on screen is a camvideo recording (its metadata says)
        self.plain = False  # ... and plays as it is (not analysed): ``analyse``
        self.pipeline = None
        self.preview: Preview | None = None  # the source's frames as they are, until the pipeline starts
        self.sink: ViewSink | None = None
        self._dropped_base = (0, 0)  # the slot's replaced and the source's dropped when the pipeline took over
        self.last_shown: ShownFrame | None = None
        self.last_error = ""
        self._end_told = False  # ``finished`` came for the source's end, and no frame has been shown since
        self._closed = False
        self._stopping: dict[object, object] = {}  # stops in flight (their Tasks), by a key of their own
        self._incoming = None  # (OpenRequest, Source): opened, waiting for the stops in flight to finish
        self._tasks = Tasks(parent=self)  # threads -> this (GUI) thread; the held frame's task
        self._held: HeldFrame | None = None  # the frame on screen localized again (paused)
        self._warnings: SourceWarnings | None = None  # what the source on screen reports (damage)
        self._slot = FrameSlot(lambda: self._tasks.post(self._deliver))
        self._loader = ModelLoader(device, parent=self)
        self._loader.loading.connect(self.model_loading)
        self._loader.loaded.connect(self._on_loaded)
        self._loader.failed.connect(self._on_load_failed)
        self._loader.core_ready.connect(self.core_ready)
        self._loader.core_ready.connect(self._start_pipeline)  # a plain recording needs no model
        self._loader.models_listed.connect(self.models_listed)
        self._opener = SourceOpener(parent=self)
        self._opener.done.connect(self._on_open_done)

    def post(self, fn, *args) -> bool:
        """``fn(*args)`` on the GUI thread soon, from any thread (``Tasks.post``)."""
        return self._tasks.post(fn, *args)

    # -- model ------------------------------------------------------------------------
    def load_model(self, name: str, weights: str | None = None, **options) -> None:
        """Load ``name`` (from a local ``weights`` file when given; ``options``: the
        rest of ``load_model``'s, e.g. ``checkpoint``, ``input_size``) in a background
        thread; the stream keeps its current model until the new one is ready (a
        stale load is discarded)."""
        self._loader.load(name, weights, **options)

    def request_model_list(self, urgent: bool = True) -> None:
        """List every model in the background, once: ``urgent`` when the model box's
        list opens, else at the lowest CPU priority (``ModelLoader.request_list``)."""
        self._loader.request_list(urgent)

    @property
    def core_loaded(self) -> bool:
        """torch and the core are imported (``core_ready`` came)."""
        return self._loader.core_loaded

    @property
    def loading(self) -> bool:
        return self._loader.busy

    def _on_loaded(self, name: str, model) -> None:
        if self._closed:
            return
        from camvideo.runtime.localizer import FrameLocalizer  # torch: the loader imported it already

        self.model, self.model_name = model, name
        self.localizer = FrameLocalizer(model, self.localize_settings)
        self._tasks.drop(HELD_LANE)
        self._held = HeldFrame(model)
        if self.pipeline is not None:  # playing, paused or ended: Play, Step and seek run the new model
            self._engage()
            if not self.plain and (self.paused or self.pipeline.finished):
                self._localize_again()  # the frame on screen, by the new model (as a settings change)
        else:
            self._start_pipeline()
        self.model_ready.emit(name, str(model.device))

    def _on_load_failed(self, name: str, message: str) -> None:
        if self._closed:
            return
        self.last_error = message
        log.warning("model %s could not load: %s", name, message)  # on stderr, as the other errors
        self.model_failed.emit(name, message)

    # -- settings -----------------------------------------------------------------------
    def set_localize(self, settings: LocalizeSettings) -> None:
        """Takes effect on the next frame (before a model is loaded: on its first)."""
        if not isinstance(settings, LocalizeSettings):
            raise TypeError(f"settings must be a LocalizeSettings, got {type(settings).__name__}")
        self.localize_settings = settings
        if self.localizer is not None:
            self.localizer.settings = settings
        if self.pipeline is not None and not self.plain and (self.paused or self.pipeline.finished):
            self._localize_again()

    def _localize_again(self) -> None:
        """Paused (or ended): run the model on the frame on screen with the new
        settings, in the background, and show it (``held``). A frame that comes
        meanwhile (Step, Play) wins: the late result is dropped."""
        shown, held = self.last_shown, self._held
        if shown is None or shown.frame is None or held is None:
            return
        settings, frame = self.localize_settings, shown.frame

        def show(result) -> None:
            current = self.last_shown
            if self._closed or current is None or current.frame is not frame or self._slot.waiting:
                return  # another frame is on screen (or on its way) by now
            self._show_again(current, result)

        self._tasks.start(lambda: held.localize(frame, shown.index, shown.time, settings),
                          name="camvideo-held-frame", lane=HELD_LANE, done=show, failed=self._report)

    def set_overlay(self, settings: OverlaySettings) -> None:
        """Takes effect on the next frame; while paused (or at the end of a file)
        the frame on screen is annotated again at once (a click on a label there
        shows its class's heat map without stepping)."""
        self.annotator = DisplayAnnotator(settings)
        if self.pipeline is not None and not self.plain:
            self.pipeline.annotators = (self.annotator,)
            if self.paused or self.pipeline.finished:
                self._annotate_again()

    def analyse(self, on: bool) -> None:
        """A camvideo recording: run the model on it after all (``on``), or play it
        as it is again; from the next frame (at once while paused)."""
        plain = self.recording_source and not on
        if plain == self.plain:
            return
        self.plain = plain
        self._engage()
        self.plain_changed.emit(plain)
        if self.pipeline is not None and (self.paused or self.pipeline.finished):
            if plain:
                self._show_plain()  # the analysis overlay goes with it, at once
            else:
                self._localize_again()

    def _show_plain(self) -> None:
        """The frame on screen again as it is: no heat map, no boxes, no labels."""
        shown = self.last_shown
        if shown is None or shown.frame is None or self._slot.waiting:
            return
        empty = NoLocalizer()([shown.frame], [shown.index], [shown.time])[0]
        annotated = shown.frame.copy()
        again = ShownFrame(bgr_to_qimage(annotated), shown.index, shown.time, time.monotonic(), empty,
                           annotated, frame=shown.frame)
        self.last_shown = again
        self.frame_shown.emit(again)

    def _engage(self) -> None:
        """The running pipeline gets the model and the overlay, or (plain) nothing of them."""
        pipeline = self.pipeline
        if pipeline is None:
            return
        if self.plain:
            pipeline.localizer, pipeline.annotators = NoLocalizer(), (NoAnnotator(),)
        elif self.localizer is not None:
            self.localizer.reset()  # smoothing starts afresh: the last frames it saw may be long ago
            pipeline.localizer, pipeline.annotators = self.localizer, (self.annotator,)

    def _annotate_again(self) -> None:
        """Show the frame on screen again with the current overlay (GUI thread:
        no frame is coming; one that comes replaces it, as always)."""
        shown = self.last_shown
        if shown is None or shown.frame is None:
            return
        if self._slot.waiting:  # a newer frame waits: it is annotated with the new settings soon enough
            return
        self._show_again(shown, shown.result)

    def _show_again(self, shown: ShownFrame, result) -> None:
        """``shown``'s frame with ``result`` and the current overlay, on screen now."""
        annotated = self.annotator.annotate(shown.frame, result)
        again = ShownFrame(bgr_to_qimage(annotated), shown.index, shown.time, time.monotonic(), result,
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
        self._drop_incoming()  # the newest request wins
        after = []
        if SourceSpec.parse(spec, probe=False).kind == "camera":
            self._stop_pipeline()
            after = [task.thread for task in self._stopping.values()]  # the old camera closed first
        request = self._opener.start(spec, loop=loop, report=report, after=after)
        self.opening.emit(request.spec)

    @property
    def opening_spec(self) -> str | None:
        """What is being opened now, or opened and waiting for the old source to
        stop (None when nothing is)."""
        request = self._opener.current
        if request is None and self._incoming is not None:
            request = self._incoming[0]
        return request.spec if request is not None else None

    def cancel_open(self) -> str | None:
        """Drop the open in flight (what plays goes on), or a source opened and
        waiting for the old one to stop (closed unshown); its spec, or None."""
        request = self._opener.cancel()
        if request is None:
            request = self._drop_incoming(tell=False)
        if request is None:
            return None
        self.opened.emit(request.spec, False)
        return request.spec

    def _drop_incoming(self, tell: bool = True):
        """Close the source waiting for a stop, unshown (``opened`` False when ``tell``); its request, or None."""
        incoming, self._incoming = self._incoming, None
        if incoming is None:
            return None
        request, source = incoming
        if self._closed:
            source.close()  # opened, never started: no thread to join
        else:
            self._stop_in_background(None, source, None)
        if tell:
            self.opened.emit(request.spec, False)
        return request

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
        self._drop_incoming()
        self._incoming = (request, source)
        if not self._stopping:
            self._take_incoming()
        else:  # nothing on screen plays now: the window says what comes, as for a camera
            self.opening.emit(request.spec)

    def _take_incoming(self) -> None:
        """The source that opened plays now (every stop before it has finished)."""
        (request, source), self._incoming = self._incoming, None
        self._warnings = SourceWarnings(source, lambda message, s=source: self._tasks.post(
            self._on_source_warning, s, message))
        self.source, self.source_spec = source, request.spec  # a file plays in real time: opened so (Paced)
        self.looping = request.loop  # a file played again and again: ← / → wrap round
        self.recording_source = self.plain = made_by_camvideo(source.info.metadata)
        self.source_changed.emit(source.name, source.live)
        self.plain_changed.emit(self.plain)
        self._start_pipeline()
        self.opened.emit(request.spec, True)

    @property
    def player(self):
        """What plays the source on screen: the pipeline, else the preview (None: neither)."""
        return self.pipeline if self.pipeline is not None else self.preview

    def _start_preview(self) -> None:
        """The source's frames as they are until the pipeline starts (a slideshow
        opens paused on its first image)."""
        if self.preview is not None or self.source is None:
            return
        preview = Preview(self.source, ViewSink(self._slot.publish, lambda recorder, exc: None, to_image=bgr_to_qimage),
                          on_error=lambda exc: self._tasks.post(self._on_preview_error, preview, exc),
                          on_finished=lambda: self._tasks.post(self._on_preview_finished, preview))
        self.preview = preview
        if self.images:
            self.show_image(0)
        preview.start()

    def _stop_preview(self, read_on: bool = False) -> tuple[bool, float | None, bool]:
        """End the preview, if one plays: (whether one did, the seek it had still to
        do, whether it had reached the end). ``read_on`` (a pipeline takes the source
        over): a source it read to its end (or to a failure) reads on from after its
        last frame; started again it would read the file again from its start."""
        preview, self.preview = self.preview, None
        if preview is None:
            return False, None, False
        seek_to = preview.stop()
        if read_on and seek_to is None and preview.finished and preview.last_time is not None and not self.live:
            self.source.seek(preview.last_time + AFTER_LAST_S)  # no frame there: the end at once
        return True, seek_to, preview.finished

    def _on_preview_error(self, preview: Preview, exc: BaseException) -> None:
        if preview is self.preview:
            self._tell_failure(exc, None)

    def _tell_failure(self, exc: BaseException, model: str | None) -> None:
        """The player on screen failed (``model``: the model that ran on its frames):
        the banner says what failed (``app.failure``); ``source_failed`` (Retry) for a
        live source's own failure only: nothing reads on from it (a camera unplugged,
        a stream given up), opening it again can help. A model's failure says so, no Retry."""
        told = failure(exc, model)
        self._report(told.message)
        if told.retry and self.live and self.source_spec is not None:
            self.source_failed.emit(self.source_spec)

    @property
    def ended_on(self) -> str | None:
        """The player on screen has ended on an error: its kind (``app.failure``: SOURCE,
        MODEL, ...), else None."""
        player = self.player
        if player is None or not player.finished or player.error is None:
            return None
        return failure_kind(player.error, self.model_name if runs_model(player) else None)

    @property
    def source_dead(self) -> bool:
        """The live source on screen failed: its player has ended on the source's error."""
        return self.live and self.ended_on == SOURCE

    @property
    def model_dead(self) -> bool:
        """The player on screen has ended on the model's error (a forward pass that raised)."""
        return self.ended_on == MODEL

    def _on_preview_finished(self, preview: Preview) -> None:
        if preview is self.preview:
            self._tell_end()

    def _tell_end(self) -> None:
        """``finished``, once for one end: a pipeline that took over from a preview
        that had ended reads that end again (no frame shown between), and says nothing."""
        if not self._end_told:
            self._end_told = True
            self.finished.emit()

    def _start_pipeline(self) -> None:
        if self._closed or self.source is None or self.pipeline is not None:
            return
        if self.localizer is None and not (self.plain and self.core_loaded):
            self._start_preview()  # the pipeline starts when the model has loaded (a plain recording: torch)
            return
        if self.source_dead:
            return  # the preview's live source failed: a pipeline would only read its end (Retry opens it again)
        from camvideo.runtime.pipeline import Pipeline  # torch: imported by now

        previewed, seek_to, ended = self._stop_preview(read_on=True)  # the pipeline reads on where the preview left off
        if self.localizer is not None:
            self.localizer.reset()  # a new source: nothing carried over from the last one
        self.sink = ViewSink(self._slot.publish, self._record_error_from_worker,
                             self._slot.wait_recorded_taken,  # while that sink records: its own recording
                             lambda annotated, result: self.annotator.burn_labels(annotated, result), bgr_to_qimage)
        plain = self.plain or self.localizer is None
        pipeline = Pipeline(self.source, NoLocalizer() if plain else self.localizer,
                            (NoAnnotator() if plain else self.annotator,), [self.sink], queue_size=VIEW_QUEUE_SIZE)
        pipeline.on_error = lambda exc, p=pipeline: self._tasks.post(self._on_pipeline_error, p, exc, runs_model(p))
        pipeline.on_finished = lambda p=pipeline: self._tasks.post(self._on_pipeline_finished, p)
        self.pipeline = pipeline
        self._dropped_base = (self._slot.replaced, self.source.dropped)  # the preview's frames are not counted
        if self.images and not previewed:  # a slideshow: it starts paused on the first image (the window plays it)
            self.show_image(0)
        pipeline.start()
        if seek_to is not None:
            pipeline.seek(seek_to)
        elif previewed and (self.paused or ended) and not plain:
            self._localize_again()  # the paused (or last) frame on screen gets its heat map now

    @property
    def source_warnings(self) -> list[str]:
        """What the source on screen reported (a damaged file: why it ended)."""
        return list(self._warnings.messages) if self._warnings is not None else []

    @property
    def lost_frames(self) -> set[int]:
        """The source's frames (a slideshow's images) that could not be read so far."""
        return set(self._warnings.lost) if self._warnings is not None else set()

    @property
    def damage(self) -> tuple:
        """The stretches of the source on screen that could not be decoded so far (``Damage``s)."""
        return self._warnings.damage if self._warnings is not None else ()

    def _on_source_warning(self, source, message: str) -> None:
        if source is self.source:
            self.warned.emit(message)

    def _stop_pipeline(self) -> None:
        """Detach what plays (the session has no source from here on) and stop it:
        in a stop task while the window is open (the GUI thread never waits for its
        joins), here when it closes. ``recording_changed`` comes when the recording is final."""
        self._stop_preview()
        pipeline, source, sink = self.pipeline, self.source, self.sink
        self.pipeline, self.source, self.source_spec, self._end_told = None, None, None, False
        if self._warnings is not None:
            self._warnings.detach()
            self._warnings = None
        if pipeline is None and source is None:
            return
        recorder = sink.detach_recording() if sink is not None else None  # not recording from here on
        if recorder is not None:
            self._flush_recorded()  # its last frame on screen, as every frame in the file
        if not self._closed:
            self._stop_in_background(pipeline, source, recorder)
            return
        self._stopped(None, recorder, stop_run(pipeline, source, recorder))

    def _stop_in_background(self, pipeline, source, recorder) -> None:
        """``stop_run`` in a stop task: ``recording_saving`` now,
        ``recording_changed`` as soon as the recording is final, ``_stopped`` when
        everything has stopped."""
        key = object()
        if recorder is not None:
            self.recording_saving.emit(str(recorder.path))
        saved = partial(self._tasks.post, self._recording_saved, recorder) if recorder is not None else None
        self._stopping[key] = self._tasks.start(
            partial(stop_run, pipeline, source, recorder, saved), name="camvideo-stop", always=True,
            done=lambda messages: self._stopped(key, None, messages),
            failed=lambda message: self._stopped(key, None, [message]))

    def _recording_saved(self, recorder) -> None:
        """GUI thread: the recording of what is stopping is final (or failed: said later)."""
        self._flush_recorded()
        self._announce_saved(recorder)

    def _stopped(self, key, recorder, messages: list[str]) -> None:
        """GUI thread, after a stop: its failures said, the recording announced
        final; a source that opened meanwhile plays once no stop is left."""
        self._stopping.pop(key, None)
        for message in messages:
            self._report(message)
        if self.pipeline is None:  # no newer pipeline publishes into the slot
            self._flush_recorded()
            self._slot.clear()
        if recorder is not None:
            self._announce_saved(recorder)
        if not self._stopping and self._incoming is not None and not self._closed:
            self._take_incoming()

    def _on_pipeline_error(self, pipeline, exc: BaseException, model_ran: bool) -> None:
        """``exc`` from ``pipeline`` (``model_ran``: a model ran on its frames then)."""
        if pipeline is self.pipeline:
            self._tell_failure(exc, self.model_name if model_ran else None)

    def _on_pipeline_finished(self, pipeline) -> None:
        if pipeline is self.pipeline:
            self._tell_end()

    def _report(self, message: str) -> None:
        self.last_error = message
        log.warning("%s", message)
        self.error.emit(message)

    # -- frames ---------------------------------------------------------------------------
    @property
    def replaced(self) -> int:
        """Frames replaced in the slot before the window took them (dropped on screen)."""
        return self._slot.replaced

    @replaced.setter
    def replaced(self, value: int) -> None:
        self._slot.replaced = value

    @property
    def dropped(self) -> int:
        """Frames dropped since the pipeline took the source on screen over: let go
        by the source (a camera's or a paced file's newest-frame slot) and replaced
        in the slot before the window took them. 0 while the preview plays: it
        shows at most ``PREVIEW_FPS`` frames a second by design, and what the
        source lets go while the model loads is not the model's doing."""
        if self.pipeline is None or self.source is None:
            return 0
        replaced, dropped = self._dropped_base
        return self._slot.replaced - replaced + self.source.dropped - dropped

    def _flush_recorded(self) -> None:
        """Show now a recorded frame still waiting in the slot: every frame in the
        file is a frame that was shown."""
        if self._slot.recorded_waiting:
            self._deliver()

    def _deliver(self) -> None:
        """The frame in the slot to the screen. While what played stops (no source
        on screen) its last frames are taken and dropped, except a recorded one:
        every frame in a recording is a frame that was shown."""
        shown = self._slot.take()
        if shown is not None and self.source is None and not shown.recorded:
            return
        if shown is not None:
            self._end_told = False  # a frame after the end (a seek, a step): the next end is told
            self.last_shown = shown
            self.frame_shown.emit(shown)

    # -- shutdown ---------------------------------------------------------------------------
    def close(self) -> None:
        """Finalize a recording, stop every thread (pipeline, reader, model loaders).
        An open in flight is dropped, not waited for (see ``opener``)."""
        if self._closed:
            return
        self._closed = True
        self._opener.close()  # an open in flight is not waited for: its thread closes what it opens
        self._drop_incoming(tell=False)
        self._stop_pipeline()  # here: the window is closing
        self._tasks.close()
        self._tasks.join(CLOSE_JOIN_S)  # stops and saves in flight (``always``: dropped ones run too), a held frame
        self._loader.close()  # results still to come are dropped; waits (bounded) for the threads


def runs_model(player) -> bool:
    """A model runs on ``player``'s frames (a pipeline not playing its source as it is)."""
    return not isinstance(getattr(player, "localizer", None), (NoLocalizer, type(None)))


def stop_run(pipeline, source, recorder, saved=None) -> list[str]:
    """Finalize ``recorder`` (when given, detached from its sink: first, then
    ``saved()``), then stop ``pipeline`` (its threads joined, the source and the
    sinks closed), or close ``source`` when no pipeline ran; both are tried. What
    failed, in the window's words. Runs in a stop task (or, closing, on the GUI thread)."""
    messages = []
    steps = ((recorder.close, saved) if recorder is not None else (None, None),
             (pipeline.stop if pipeline is not None else source.close if source is not None else None, None))
    for step, then in steps:
        try:
            if step is not None:
                step()
        except CamvideoError as exc:
            messages.append(window_text(exc))
        finally:
            if then is not None:
                then()
    return messages
