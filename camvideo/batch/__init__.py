"""Many videos in one run: ``camvideo process vids/ --output-dir out/``.

``plan`` turns the command's inputs (files, folders, recursive globs, a list
file) into one ``Job`` per video (or folder of images), each with its output
paths under the output folder, mirroring the input tree, and decides which jobs
a rerun can skip. ``job`` runs one job in the process it is given (the same
pipeline as a single ``camvideo process``: ``Pipeline``, ``FrameLocalizer``,
``Recorder``, an exporter), with the model loaded once per process. ``local``
runs jobs in a pool of worker processes, ``ray`` on the actors of a Ray cluster;
both report to the same callbacks. ``segments`` cuts a long video into
stretches run as jobs of their own where workers would otherwise idle, and
``stitch`` joins them into the file's one recording and data file. ``dataset``
writes the per-frame data of a run as one Parquet dataset. ``summary`` writes ``camvideo-run.jsonl``
(one line per file as it finishes) and the closing table, ``progress`` the
progress bars. Nothing here imports Qt; torch is imported only in the processes
that run jobs.

A job's failure (bad input, a decoder crash, an out-of-memory kill of its
process) is one failed file in the summary, never a dead batch. See
docs/architecture.md for where this sits in the whole.
"""

# what each file's per-frame data can be (``--export-format``); here, where the
# parser can read it without importing the machinery (cv2, PyAV)
EXPORT_FORMATS = ("jsonl", "csv", "none")

# ``--segment-seconds``'s default: a long file is cut into stretches of about this
# length when workers would otherwise idle (camvideo.batch.segments)
DEFAULT_SEGMENT_S = 120.0
