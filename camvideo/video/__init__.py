"""Frames in and frames out: sources, their buffer policies, recordings, exports.

``sources`` opens cameras, files, streams and folders of images (``open_source``;
``spec`` reads what a spec names), each read in a thread of its own (``reader``)
that hands frames to a buffer policy (``policies``: newest frame for live sources,
a blocking queue for files; ``pacing``: a file at its own speed for the window),
which also holds the one pause. ``files`` and ``live`` are the sources, ``decoding``
decodes packet by packet and names what was damaged, ``netcheck`` says what a
stream's server sent; ``recorder`` writes crash-safe annotated recordings with
PyAV; ``export`` writes the per-frame JSON Lines / CSV contract. Nothing here
imports torch or Qt.
"""
