"""Running the model on a stream of frames: the inference stage and the engine.

``localizer`` is the inference stage (frames -> FrameResults: preprocess, forward
pass, maps, smoothing, boxes); ``workers`` runs forward passes in parallel threads;
``pipeline`` wires a source through the localizer and the annotator to sinks, in
frame order, with bounded queues; ``camvideo.timing`` times the stages (``StageTimer``);
``allocator`` tunes glibc's malloc for torch; ``runtimes`` and ``openvino`` run
exact CAM's forward pass on OpenVINO (``--runtime``).
The window and the command line both run this engine; it never imports Qt.
"""

