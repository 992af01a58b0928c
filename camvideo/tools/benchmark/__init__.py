"""``camvideo bench``: what a CAM video costs, against the floor and the peers.

The floor is the forward pass alone at the model's input size, on a batch that is
already preprocessed: nothing that computes a CAM can go below it. Every
contestant runs in one process, on the same frames (real photos, panned and
zoomed so consecutive frames differ), with the same thread count, in rounds
that visit the contestants in a rotating order, so drift on a busy machine hits
them all alike. Per-frame medians over all rounds, and ratios to the floor.

Contestants:

- ``floor``: the network's forward pass, image -> logits (features, pooling and
  the linear head), under ``inference_mode`` on a preprocessed 224x224 batch;
- ``camvideo WxH``: the inference stage as the pipeline runs it on a WxH frame:
  preprocess + forward + top-k CAMs + boxes + overlay (heat map, boxes, labels);
- ``torchcam`` / ``gradcam`` (when installed, ``pip install camvideo[bench]``):
  the same frames through torchcam's ``CAM`` + ``overlay_mask`` and
  pytorch-grad-cam's ``GradCAM`` + ``show_cam_on_image`` (top-1 map only, the way
  their READMEs use them, given our preprocessing: only CAM + overlay differ);
- ``end to end``: a 640x480 H.264 file through ``Pipeline``: decode -> all of the
  above -> H.264 encode, frames per second against the floor's;
- ``live``: a source that produces frames faster than inference (latest-frame
  policy) through ``Pipeline``: capture-to-annotated latency, p50 and p95;
- ``soak`` (opt-in): resident memory before and after N frames;
- on OpenVINO (``openvino``, when it can run the model): its forward pass (a
  floor), the stage, end to end and live; every ratio is also given against the
  fastest forward pass of the run (``fastest_forward``);
- the 640x480 OpenVINO stage *as a stream* (``openvino.run_streams``, once a round):
  the file run's own path over frames in memory (``runs.run_stream``) against its
  forward pass alone through the same pool and compiled model
  (``runs.run_forward_stream``), wall and CPU ms a frame, beside the one-frame ratio;
  and the stage over a video's frames (the end-to-end clip's: pans and cuts; the
  bench's own frames are each a cut), CPU ms a frame.

Modules: ``frames`` (the photos, panned and zoomed; the end-to-end clip),
``contestants``, ``runs`` (end to end, live, soak), ``runner`` (``BenchConfig``,
``run_bench``: the interleaved rounds), ``report`` (figures and table) and
``openvino`` (the OpenVINO contestants).
"""

from camvideo.tools.benchmark.contestants import FLOOR_CL, OWN_FORWARD, Contestant
from camvideo.tools.benchmark.frames import SIZES, load_photos, make_frames, video_frames, write_clip
from camvideo.tools.benchmark.report import format_table
from camvideo.tools.benchmark.runner import QUICK, BenchConfig, run_bench
from camvideo.tools.benchmark.runs import rss_mb, run_end_to_end, run_live, run_soak

__all__ = [
    "FLOOR_CL",
    "OWN_FORWARD",
    "QUICK",
    "SIZES",
    "BenchConfig",
    "Contestant",
    "format_table",
    "load_photos",
    "make_frames",
    "rss_mb",
    "run_bench",
    "run_end_to_end",
    "run_live",
    "run_soak",
    "video_frames",
    "write_clip",
]
