"""The JSONL line made on the writer or on the sinks thread, batch by batch in one real run.

    PYTHONPATH=. python bench/jsonl_toggle.py CLIP [-- PROCESS-OPTIONS]

Runs ``camvideo process CLIP -o OUT.mkv --export OUT.jsonl --quality balanced`` in this
process with the pipeline's writer making each result's line (``FrameResult.json_line``)
for every other batch only, and prints, for the two kinds of batch, the writer's thread
CPU for making the lines and the sinks thread's for the export's write (the line made
there when the writer did not), in µs a frame. One run compares both ways on the same
machine load (the rounds of ``bench/thread_cpu.py`` swing more than the ~50 µs here).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    from camvideo.cli.parser import main as camvideo
    from camvideo.runtime import pipeline
    from camvideo.video import export

    writer = {True: [], False: []}
    sinks = {True: [], False: []}

    def made_here(frame: int) -> bool:
        return (frame // 4) % 2 == 0  # batches of 4 frames (camvideo process's)

    def finish(self, item):
        batch = item.frames
        results = item.localizer.finish(item.evidence.result(), [f.index for f in batch], [f.time for f in batch])
        for result in results:
            start = time.thread_time()
            if made_here(result.frame):
                _ = result.json_line
            writer[made_here(result.frame)].append(time.thread_time() - start)
        for ready in self._annotate(batch, results, self._recording_pool()):
            if not self._sinks_thread.put(ready):
                return False
        return True

    write_result = export._FileSink.write_result

    def timed_write(self, result):
        start = time.thread_time()
        write_result(self, result)
        sinks[made_here(result.frame)].append(time.thread_time() - start)

    pipeline.Pipeline._finish = finish
    export._FileSink.write_result = timed_write
    clip, extra = sys.argv[1], sys.argv[3:] if sys.argv[2:3] == ["--"] else sys.argv[2:]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        camvideo(["process", clip, "-o", str(out / "run.mkv"), "--export", str(out / "run.jsonl"), "--device", "cpu",
                  "--quality", "balanced", *extra])
    for here, name in ((True, "made on the writer"), (False, "made on the sinks thread")):
        print(f"line {name:24s}: writer {statistics.mean(writer[here]) * 1e6:6.1f} µs (median "
              f"{statistics.median(writer[here]) * 1e6:5.1f}), sinks export {statistics.mean(sinks[here]) * 1e6:6.1f} µs "
              f"(median {statistics.median(sinks[here]) * 1e6:5.1f}), {len(sinks[here])} frames")


if __name__ == "__main__":
    main()
