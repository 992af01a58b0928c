"""``camvideo bench --quick``: the report has every figure, and they are positive.
(Timings are never asserted: speed is what the bench itself reports.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from camvideo.cli import main
from camvideo.tools import benchmark


@pytest.fixture
def keep_threads():
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_bench_quick_json(tmp_path, capsys, keep_threads):
    out = tmp_path / "bench.json"
    # torch alone here (the OpenVINO contestants: test_bench_openvino_contestants)
    assert main(["bench", "--quick", "--no-peers", "--no-openvino", "--threads", "1", "--soak", "3",
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| floor |" in table and "camvideo 640x480" in table and "end to end" in table
    report = json.loads(out.read_text())
    assert {"date", "machine", "config", "floor_ms", "results", "stages_ms", "end_to_end", "live", "soak"} <= set(report)
    assert report["config"]["threads"] == 1 and report["config"]["topk"] == 3
    results = report["results"]
    assert set(results) == {"floor", "floor (channels_last)", "camvideo's forward pass", "camvideo 640x480", "camvideo 1280x720",
                            "camvideo 640x480 [fast]", "camvideo 640x480 [best]"}
    presets = report["presets"]  # the default preset is "camvideo 640x480"
    assert set(presets) == {"fast", "balanced", "best"} and presets["balanced"]["contestant"] == "camvideo 640x480"
    assert presets["fast"]["ratio_fast"] == 1.0 and all(p["median_ms"] > 0 and p["ratio_fast"] > 0 for p in presets.values())
    assert "quality presets, inference stage at 640x480: " in table
    for entry in results.values():
        assert entry["median_ms"] > 0 and entry["fps"] > 0 and entry["ratio"] > 0 and entry["n"] >= 2
    assert results["floor"]["ratio"] == 1.0 and results["floor (channels_last)"]["ratio_channels_last_floor"] == 1.0
    assert results["camvideo's forward pass"]["ratio_own_forward"] == 1.0
    assert report["folded_norms"] == 49  # lite0: every conv -> batch norm pair
    assert "batch norms folded" in results["camvideo's forward pass"]["note"]
    for stages in report["stages_ms"].values():
        assert {"preprocess", "forward", "boxes", "annotate"} <= set(stages)
        assert all(v > 0 for v in stages.values())
    e2e = report["end_to_end"]
    assert e2e["frames_per_run"] == 2 and e2e["fps"] > 0 and e2e["fps_vs_floor"] > 0 and e2e["fps_vs_own_forward"] > 0
    live = report["live"]
    assert live["frames"] >= 2 and 0 < live["p50_ms"] <= live["p95_ms"]
    # where the mean latency goes: the worker's stages, the rest is waiting and hand-offs
    assert set(live["parts_ms"]) == {"preprocess", "forward", "boxes", "annotate"}
    assert all(v > 0 for v in live["parts_ms"].values())
    assert live["waited_ms"] == pytest.approx(live["mean_ms"] - sum(live["parts_ms"].values()), abs=0.01)
    assert "the rest (the frame waiting for the worker, hand-offs)" in table
    soak = report["soak"]
    assert soak["frames"] == 3 and soak["rss_start_mb"] > 0 and soak["rss_end_mb"] > 0
    # the limit: decode, the forward half and x264, each alone on one thread, against end to end
    limit = report["limit"]["torch"]
    assert set(limit["parts_ms"]) == {"decode", "forward", "encode"} and all(v > 0 for v in limit["parts_ms"].values())
    total = sum(limit["parts_ms"].values())
    assert limit["limit_fps"] == pytest.approx(limit["cores"] * 1000.0 / total, rel=0.01)
    assert limit["end_to_end_fps"] == e2e["fps"] and limit["fraction"] == pytest.approx(e2e["fps"] / limit["limit_fps"], abs=0.01)
    assert "| the limit, 640x480 file" in table and "| torch |" in table


def test_bench_openvino_contestants(tmp_path, capsys, keep_threads, openvino_lite0):
    """The OpenVINO forward pass (a floor), the stage, end to end and live on
    OpenVINO, and every ratio against the fastest forward pass of the run."""
    out = tmp_path / "bench.json"
    # 4 frames: the medians of --quick's 2 put a stage under a floor on the busy machine
    assert main(["bench", "--quick", "--frames", "4", "--no-peers", "--threads", "1", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "floor (OpenVINO)" in table and "OpenVINO (decode" in table and "fastest forward pass" in table
    report = json.loads(out.read_text())
    results = report["results"]
    ov = {"floor (OpenVINO)", "camvideo 640x480 (OpenVINO)", "camvideo 1280x720 (OpenVINO)",
          "forward for 640x480 (OpenVINO)"}
    assert ov <= set(results) and report["openvino_missing"] is None
    assert "OpenVINO" in results["floor (OpenVINO)"]["note"]
    assert results["floor (OpenVINO)"]["note"].endswith(("f32", "bf16"))  # auto's precision, said
    # the stage's own forward pass alone: the input size the default preset feeds 640x480, the run's precision
    assert "288x224 input" in results["forward for 640x480 (OpenVINO)"]["note"]
    alone = report["stage_x_forward_alone"]
    assert set(alone) == {"640x480 (OpenVINO)"} and alone["640x480 (OpenVINO)"] == pytest.approx(
        results["camvideo 640x480 (OpenVINO)"]["median_ms"] / results["forward for 640x480 (OpenVINO)"]["median_ms"],
        abs=0.002)
    assert "its forward pass alone" in table
    fastest = report["fastest_forward"]
    assert fastest["name"] in {"floor", "floor (channels_last)", "camvideo's forward pass", "floor (OpenVINO)"}
    assert results[fastest["name"]]["ratio_fastest_forward"] == 1.0
    # the fastest of the floors (by construction; another contestant may beat it on 4 frames of a busy machine)
    floors = {"floor", "floor (channels_last)", "camvideo's forward pass", "floor (OpenVINO)"}
    assert all(results[n]["ratio_fastest_forward"] >= 1.0 for n in floors)
    for size in ("640x480 (OpenVINO)", "1280x720 (OpenVINO)"):
        assert {"preprocess", "forward", "boxes", "annotate", "outside the parts"} <= set(report["stages_ms"][size])
        assert report["stage_x_forward"][size] > 0 and f"stages at {size} (ms): " in table
    e2e, live = report["end_to_end_openvino"], report["live_openvino"]
    assert e2e["frames_per_run"] == 2 and e2e["fps"] > 0 and e2e["fps_vs_fastest_forward"] > 0
    # the stage as a stream (a file run's, frames in memory) against its forward pass alone as a stream
    stream = report["stream_openvino"]
    assert stream["frames_per_run"] == 2 and stream["rounds"] == 1 and stream["workers"] >= 1
    assert stream["stage_ms"] > 0 and stream["forward_ms"] > 0
    assert stream["ratio"] == pytest.approx(stream["stage_ms"] / stream["forward_ms"], abs=0.002)
    assert stream["one_frame_ratio"] == alone["640x480 (OpenVINO)"]
    assert stream["stage_cpu_ms"] > 0 and stream["forward_cpu_ms"] > 0 and stream["cpu_ratio"] > 0
    assert {"preprocess", "forward", "boxes", "annotate"} <= set(stream["parts_ms"])
    # ... and over a video's frames (pans and cuts), against the same forward pass alone
    assert stream["video_stage_cpu_ms"] > 0
    assert stream["video_cpu_ratio"] == pytest.approx(stream["video_stage_cpu_ms"] / stream["forward_cpu_ms"], abs=0.002)
    assert "as a stream over a video's frames" in table
    # OpenVINO's limit measured again each round beside its end-to-end run: one fraction a round
    paired = report["limit"]["openvino"]
    assert len(paired["round_fractions"]) == 1 and paired["paired_fraction"] == paired["round_fractions"][0] > 0
    assert set(paired["round_parts_ms"]) == {"decode", "forward", "encode"}
    assert "openvino: the limit measured again each round" in table
    assert "one frame at a time (latency mode" in table and "as a stream (a file run's" in table
    assert live["frames"] >= 2 and 0 < live["p50_ms"] <= live["p95_ms"]
    assert report["config"]["precision"] == "auto"
    assert report["config"]["smooth"] is True and ", smoothing on, " in table  # camvideo process's video default


def test_bench_openvino_at_bf16(tmp_path, capsys, keep_threads, openvino_lite0):
    """``--precision bf16``: the OpenVINO contestants compiled for bf16, said in the report."""
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--no-peers", "--no-e2e", "--no-live", "--no-presets", "--threads", "1",
                 "--precision", "bf16", "--no-smooth", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["config"]["precision"] == "bf16" and "floor (OpenVINO)" in report["results"]
    assert report["config"]["smooth"] is False  # each frame on its own, as sessions up to 17 measured
    assert "each frame on its own (no smoothing)" in benchmark.format_table(report)


def test_bench_bad_arguments_are_one_line_errors(capsys):
    assert main(["bench", "--frames", "0", "--no-peers"]) == 2
    err = capsys.readouterr().err
    assert "frames must be at least 1" in err and "Traceback" not in err


@pytest.mark.parametrize("where", ["folder", "missing folder"])
def test_a_json_file_that_cannot_be_written_is_said_before_the_bench_runs(capsys, monkeypatch, tmp_path, where):
    def ran(*args, **kwargs):
        raise AssertionError("the bench ran")

    monkeypatch.setattr(benchmark, "run_bench", ran)
    out = tmp_path if where == "folder" else tmp_path / "missing" / "bench.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"camvideo: error: cannot write {out}: ")
    assert ("it is a folder" if where == "folder" else "does not exist") in line


def test_a_precision_without_the_openvino_contestants_is_refused(capsys):
    assert main(["bench", "--quick", "--no-openvino", "--precision", "bf16"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == ("camvideo: error: --precision bf16 is the OpenVINO contestants' arithmetic, and "
                    "--no-openvino leaves them out: give one of them")


def test_a_topk_beyond_the_models_classes_is_one_line(capsys):
    assert main(["bench", "--quick", "--no-peers", "--topk", "1001"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == "camvideo: error: --topk must be at most 1000, the classes of lite0, got 1001"


def test_frames_move_and_keep_their_size():
    frames = benchmark.make_frames(320, 180, 4)
    assert all(f.shape == (180, 320, 3) and f.dtype == np.uint8 and f.flags.c_contiguous for f in frames)
    assert np.abs(frames[0].astype(int) - frames[3].astype(int)).mean() > 1.0


def test_config_checks_arguments():
    with pytest.raises(ValueError, match="soak"):
        benchmark.BenchConfig(soak=-1)
    with pytest.raises(ValueError, match="rounds"):
        benchmark.BenchConfig(rounds=0)
    with pytest.raises(ValueError, match="precision must be one of auto, f32, bf16, int8, got 'fp8'"):
        benchmark.BenchConfig(precision="fp8")


def test_video_frames_move_smoothly_with_cuts():
    frames = benchmark.video_frames(160, 120, 30)
    assert all(f.shape == (120, 160, 3) and f.dtype == np.uint8 for f in frames)
    steps = [np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(frames, frames[1:])]
    median = sorted(steps)[len(steps) // 2]
    cuts = [i for i, step in enumerate(steps) if step > 2 * median]
    assert cuts == [9, 19]  # a pan over each of the 3 photos, a cut between them


@pytest.mark.timeout(240)
def test_ctrl_c_ends_a_bench_at_once_without_a_crash():
    """The bench's pipelines run threads inside torch and FFmpeg: Ctrl-C ends it with
    130, never with a KeyboardInterrupt raised under them (SIGABRT, SIGSEGV)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "camvideo", "bench", "--no-peers", "--threads", "1", "--rounds", "50",
                             "--frames", "4", "--e2e-frames", "30"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(root), PYTHONUNBUFFERED="1"))
    try:
        seen = []
        while not any("round 2/" in line for line in seen):  # in the rounds: pipelines are running
            line = proc.stderr.readline()
            assert line, f"the bench ended early ({proc.poll()}): {''.join(seen)}"
            seen.append(line)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "bench interrupted (SIGINT); no report" in err and "Traceback" not in err


def test_stage_x_forward_is_the_whole_stage_over_its_forward_part():
    from camvideo.tools.benchmark.report import stage_x_forward

    results = {"camvideo 640x480 (OpenVINO)": {"median_ms": 15.6}, "floor": {"median_ms": 9.0}}
    stages = {"640x480 (OpenVINO)": {"preprocess": 0.9, "forward": 12.0, "boxes": 0.7, "annotate": 1.1},
              "1280x720": {"preprocess": 1.0}}  # no forward part: no ratio
    assert stage_x_forward(results, stages) == {"640x480 (OpenVINO)": 1.3}


def test_stage_x_forward_alone_is_the_stage_over_openvinos_pass_at_its_size():
    from camvideo.tools.benchmark.report import stage_x_forward_alone

    results = {"camvideo 640x480 (OpenVINO)": {"median_ms": 13.0}, "forward for 640x480 (OpenVINO)": {"median_ms": 10.0},
               "camvideo 1280x720 (OpenVINO)": {"median_ms": 14.0},  # no forward pass alone at its size: no ratio
               "camvideo 640x480": {"median_ms": 20.0}}
    assert stage_x_forward_alone(results) == {"640x480 (OpenVINO)": 1.3}


def test_the_limit_encodes_as_the_recorder_does(tmp_path):
    """The limit's encode part: the recorder's yuv420p conversion and preset on one
    thread; what it writes decodes to every frame, close to the picture."""
    import av
    import cv2

    from camvideo.tools.benchmark.limit import encode_ms

    frames = benchmark.video_frames(160, 120, 8)
    assert encode_ms(frames, "superfast", tmp_path / "limit.mkv") > 0
    with av.open(str(tmp_path / "limit.mkv")) as container:
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(container.streams.video[0])]
    assert len(decoded) == len(frames)
    psnr = cv2.PSNR(decoded[-1], frames[-1])
    assert psnr > 25 and psnr > cv2.PSNR(decoded[-1], np.ascontiguousarray(frames[-1][..., ::-1])) + 3  # BGR kept


def test_steady_rate_leaves_out_the_filling_and_needs_enough_frames():
    from camvideo.tools.benchmark.runs import steady_ms

    # the first tenth (2 of 20) left out: 0.5 s of start-up before 18 frames 10 ms apart
    times = [0.0, 0.5] + [0.5 + 0.01 * k for k in range(1, 19)]
    assert steady_ms(times) == pytest.approx(10.0)
    assert steady_ms(times[:9]) is None  # too few frames for a steady rate


def test_end_to_end_gives_the_whole_run_and_its_steady_rate(tmp_path):
    """A real file through ``run_source`` (no model: ``NoLocalizer``): the steady rate
    leaves the start-up out, so it is faster than the whole run's and the fixed cost is
    a real, positive one."""
    from camvideo.runtime.plain import NoAnnotator, NoLocalizer
    from camvideo.tools.benchmark.frames import video_frames, write_clip
    from camvideo.tools.benchmark.runs import run_end_to_end

    clip = write_clip(tmp_path / "in.mp4", video_frames(160, 120, 40))
    run = run_end_to_end(NoLocalizer(), NoAnnotator(), clip, tmp_path)
    assert run["frames"] == 40 and run["steady_ms_per_frame"] > 0 and run["fixed_ms"] is not None
    assert run["steady_ms_per_frame"] < run["ms_per_frame"] and run["fixed_ms"] > 0
    assert (tmp_path / "bench_out.mkv").stat().st_size > 0


def test_the_stage_as_a_stream_runs_a_file_runs_path_on_frames_in_memory(keep_threads, openvino_lite0):
    """``run_stream``: real frames through the file run's pipeline (forward half on the
    pool, OpenVINO's throughput mode; in-order half and overlay in order) with no
    decode or encode; ``run_forward_stream``: the forward pass alone on the same pool."""
    from camvideo.annotate import FrameAnnotator
    from camvideo.models import load_model
    from camvideo.runtime.localizer import FrameLocalizer
    from camvideo.runtime.openvino import OpenVINOForward
    from camvideo.settings import LocalizeSettings
    from camvideo.tools.benchmark.frames import make_frames
    from camvideo.tools.benchmark.openvino import prepared
    from camvideo.tools.benchmark.runs import run_forward_stream, run_stream

    frames = make_frames(640, 480, 3)
    model = load_model("lite0", device="cpu").eval()
    forward = OpenVINOForward(model, mode="throughput", sizes=[(224, 288)])
    localizer = FrameLocalizer(model, LocalizeSettings(topk=3), forward=forward)
    stage = run_stream(localizer, FrameAnnotator(), frames, 3)
    assert stage["frames"] == 3 and stage["ms_per_frame"] > 0 and not stage["steady"]  # too short to be steady
    assert stage["cpu_ms_per_frame"] > 0
    assert {"preprocess", "forward", "boxes", "annotate"} <= set(stage["stages"])
    inputs = prepared(model, forward, frames, (224, 288))
    assert tuple(inputs[0].shape) == (1, 3, 224, 288)
    alone = run_forward_stream(forward.features_and_logits, inputs, 3, workers=2)
    assert alone["frames"] == 3 and alone["ms_per_frame"] > 0


def test_the_limits_forward_half_runs_the_frames_a_batch_at_a_time():
    from camvideo.tools.benchmark.limit import forward_ms

    class Counting:
        def __init__(self):
            self.sizes = []

        def forward(self, frames):
            self.sizes.append(len(frames))

    frames = [np.zeros((4, 4, 3), np.uint8)] * 10
    for batch, sizes in ((1, [1] + [1] * 20), (4, [4] + [4, 4] * 2)):  # a warm-up batch, then 2 rounds
        localizer = Counting()
        assert forward_ms(localizer, frames, rounds=2, batch=batch) >= 0.0
        assert localizer.sizes == sizes
