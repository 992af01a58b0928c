"""Frames in and frames out: sources, their buffer policies, recordings, exports.

``sources`` reads cameras, files, streams and folders of images in a thread each,
with a buffer policy per kind (newest frame for live sources, a blocking queue for
files); ``pacing`` plays a file at its own speed for the window; ``recorder``
writes crash-safe annotated recordings with PyAV; ``export`` writes the per-frame
JSON Lines / CSV contract. Nothing here imports torch or Qt.
"""
