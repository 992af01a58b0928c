"""The bench's report: per-contestant medians and ratios to the floors, the
end-to-end and live figures (a dict, written as JSON by ``--json``), and the same
as a plain-text table (Markdown-compatible)."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict

import cv2
import numpy as np
import torch

from camvideo.tools.benchmark.contestants import FLOOR_CL, OWN_FORWARD


def _stats(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "median_ms": round(float(np.median(arr)), 3),
        "p95_ms": round(float(np.percentile(arr, 95)), 3),
        "n": int(arr.size),
    }


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def build_report(config, contestants, times: dict[str, list[float]], e2e_runs: list[dict], live_runs: list[dict],
                 folded_norms: int, peers_missing: list[str], e2e_openvino: list[dict] = (),
                 live_openvino: list[dict] = (), openvino_missing: str | None = None) -> dict:
    """The report of one run: ``times`` holds each contestant's per-frame
    milliseconds over all rounds, ``e2e_runs`` and ``live_runs`` one entry a round
    (``*_openvino``: the same on OpenVINO). Every ratio is to a floor of the same
    run, the fastest forward pass of the run (``fastest_forward``) among them."""
    results = {}
    floor_ms = float(np.median(times["floor"]))
    floor_cl_ms = float(np.median(times[FLOOR_CL])) if FLOOR_CL in times else None
    own_ms = float(np.median(times[OWN_FORWARD]))
    floors = [n for n in times if n.startswith("floor") or n == OWN_FORWARD]
    fastest, fastest_ms = min(((n, float(np.median(times[n]))) for n in floors), key=lambda item: item[1])
    for c in contestants:
        entry = _stats(times[c.name])
        entry["ratio"] = round(entry["median_ms"] / floor_ms, 3)
        if floor_cl_ms:
            entry["ratio_channels_last_floor"] = round(entry["median_ms"] / floor_cl_ms, 3)
        entry["ratio_own_forward"] = round(entry["median_ms"] / own_ms, 3)
        entry["ratio_fastest_forward"] = round(entry["median_ms"] / fastest_ms, 3)
        entry["fps"] = round(1000.0 / entry["median_ms"], 2)
        entry["note"] = c.note
        results[c.name] = entry
    report: dict = {
        "presets": _presets(results),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "config": asdict(config),
        "floor_ms": round(floor_ms, 3),
        "floor_channels_last_ms": round(floor_cl_ms, 3) if floor_cl_ms else None,
        "own_forward_ms": round(own_ms, 3),
        "fastest_forward": {"name": fastest, "ms": round(fastest_ms, 3)},
        "openvino_missing": openvino_missing,
        "folded_norms": folded_norms,
        "results": results,
        # Medians of the camvideo contestants' own stage timings, taken in the rounds.
        "stages_ms": {
            c.name.removeprefix("camvideo "): {k: round(float(np.median(v)), 3) for k, v in c.stages.items()}
            for c in contestants
            if getattr(c, "stages", None)
        },
        "peers_missing": peers_missing,
    }
    report["stage_x_forward"] = stage_x_forward(results, report["stages_ms"])
    report["stage_x_forward_alone"] = stage_x_forward_alone(results)
    for key, runs in (("end_to_end", e2e_runs), ("end_to_end_openvino", e2e_openvino)):
        if runs:
            report[key] = _e2e_summary(runs, config, floor_ms, floor_cl_ms, own_ms, fastest_ms)
    for key, runs in (("live", live_runs), ("live_openvino", live_openvino)):
        if runs:
            report[key] = _live_summary(runs, config, floor_ms)
    return report


def stage_x_forward(results: dict, stages_ms: dict) -> dict:
    """Each camvideo contestant's whole stage (its median per frame) as a multiple of
    its own "forward" part (the forward passes at the stage's input size and
    precision, the head and the maps): issue 24's target is <= 1.3x at 640x480."""
    out = {}
    for size, stages in stages_ms.items():
        whole = results.get(f"camvideo {size}", {}).get("median_ms")
        if whole and stages.get("forward"):
            out[size] = round(whole / stages["forward"], 3)
    return out


def stage_x_forward_alone(results: dict) -> dict:
    """The OpenVINO stage (its median per frame, overlay included) as a multiple of
    OpenVINO's forward pass alone at the stage's input size and precision (image ->
    maps and logits, the ``forward for WxH (OpenVINO)`` contestant of the same
    rounds): issue 24's "<= 1.3x the forward pass alone", strictly."""
    from camvideo.tools.benchmark.openvino import stage_floor_name

    out = {}
    for name, entry in results.items():
        if name.startswith("camvideo ") and name.endswith(" (OpenVINO)"):
            width, height = (int(v) for v in name.split()[1].split("x"))
            floor = results.get(stage_floor_name(width, height), {}).get("median_ms")
            if floor:
                out[name.removeprefix("camvideo ")] = round(entry["median_ms"] / floor, 3)
    return out


def stream_summary(runs: list[dict], report: dict) -> dict:
    """The 640x480 OpenVINO stage as a stream (a file run's, ``openvino.run_streams``)
    against its forward pass alone as a stream on the same compiled model and pool:
    medians over the rounds of each one's ms a frame, their ratio (issue 24's target,
    read on this figure: docs/measuring.md), the median of the rounds' own ratios
    (each pair measured back to back), and beside it the one-frame-at-a-time ratio
    of the same run (``stage_x_forward_alone``)."""
    from camvideo.tools.benchmark.frames import SIZES

    stage = float(np.median([r["stage"]["ms_per_frame"] for r in runs]))
    forward = float(np.median([r["forward"]["ms_per_frame"] for r in runs]))
    stage_cpu = float(np.median([r["stage"]["cpu_ms_per_frame"] for r in runs]))
    forward_cpu = float(np.median([r["forward"]["cpu_ms_per_frame"] for r in runs]))
    size = f"{SIZES[0][0]}x{SIZES[0][1]}"
    parts = runs[-1]["stage"]["stages"]
    return {
        "size": size,
        "frames_per_run": runs[0]["stage"]["frames"],
        "rounds": len(runs),
        "workers": runs[0]["workers"],
        "streams": runs[0]["streams"],
        "precision": runs[0]["precision"],
        "stage_ms": round(stage, 3),
        "forward_ms": round(forward, 3),
        "ratio": round(stage / forward, 3),
        "round_ratios": [round(r["stage"]["ms_per_frame"] / r["forward"]["ms_per_frame"], 3) for r in runs],
        # CPU ms a frame of the whole process: on a machine shared with other jobs, the steadier figure
        "stage_cpu_ms": round(stage_cpu, 3),
        "forward_cpu_ms": round(forward_cpu, 3),
        "cpu_ratio": round(stage_cpu / forward_cpu, 3),
        "parts_ms": {k: round(v, 3) for k, v in parts.items() if k in ("preprocess", "forward", "boxes", "annotate")},
        **_video_stream(runs, forward_cpu),
        "one_frame_ratio": (report.get("stage_x_forward_alone") or {}).get(f"{size} (OpenVINO)"),
    }


def _video_stream(runs: list[dict], forward_cpu: float) -> dict:
    """The stage as a stream over a video's frames (``stage_video``, where the rounds
    ran it): its CPU ms a frame and that over the forward pass alone's."""
    video = [r["stage_video"]["cpu_ms_per_frame"] for r in runs if "stage_video" in r]
    if not video:
        return {}
    cpu = float(np.median(video))
    return {"video_stage_cpu_ms": round(cpu, 3), "video_cpu_ratio": round(cpu / forward_cpu, 3)}


def _e2e_summary(runs: list[dict], config, floor_ms: float, floor_cl_ms: float | None, own_ms: float,
                 fastest_ms: float) -> dict:
    ms = float(np.median([run["ms_per_frame"] for run in runs]))
    return {
        "size": "640x480",
        "frames_per_run": runs[0]["frames"],
        "batch": runs[0].get("batch", config.batch),
        "workers": config.workers or "auto",
        "median_ms_per_frame": round(ms, 3),
        "fps": round(1000.0 / ms, 2),
        "fps_vs_floor": round(floor_ms / ms, 3),
        "fps_vs_floor_channels_last": round(floor_cl_ms / ms, 3) if floor_cl_ms else None,
        "fps_vs_own_forward": round(own_ms / ms, 3),
        "fps_vs_fastest_forward": round(fastest_ms / ms, 3),
        "stages_ms": {k: round(v, 3) for k, v in runs[-1]["stages"].items()},
        **_steady(runs),
    }


def _steady(runs: list[dict]) -> dict:
    """The runs' median steady rate (frame to frame, the pipeline full) and the median
    fixed cost of a run beyond it (start-up, filling, teardown); {} on clips too short."""
    steady = [run["steady_ms_per_frame"] for run in runs if run.get("steady_ms_per_frame")]
    if not steady:
        return {}
    ms = float(np.median(steady))
    return {"steady_ms_per_frame": round(ms, 3), "steady_fps": round(1000.0 / ms, 2),
            "fixed_ms": round(float(np.median([run["fixed_ms"] for run in runs if run.get("fixed_ms") is not None])), 1)}


LIVE_PARTS = ("preprocess", "forward", "boxes", "annotate")  # the worker's work on a frame, in order


def _live_summary(runs: list[dict], config, floor_ms: float) -> dict:
    """Latency percentiles, and where the mean goes: the worker's stages (mean ms)
    and the rest (``waited_ms``: the frame waiting for the worker, the hand-offs)."""
    lat = [v for run in runs for v in run["latencies_ms"]]
    p50, p95 = (float(np.percentile(lat, q)) for q in (50, 95))
    parts = {k: float(np.mean([run["stages"].get(k, 0.0) for run in runs if "stages" in run] or [0.0]))
             for k in LIVE_PARTS}
    return {
        "mean_ms": round(float(np.mean(lat)), 3),
        "parts_ms": {k: round(v, 3) for k, v in parts.items()},
        "waited_ms": round(float(np.mean(lat)) - sum(parts.values()), 3),
        "size": "640x480",
        "source_fps": config.live_fps,
        "frames": len(lat),
        "dropped": int(sum(run["dropped"] for run in runs)),
        "p50_ms": round(p50, 3),
        "p95_ms": round(p95, 3),
        "target_p95_ms": round(floor_ms + 1000.0 / 30.0, 3),
    }


def _presets(results: dict) -> dict:
    """Each quality preset's inference stage at the first size and its cost against
    "fast" (plain CAM): the default preset is "camvideo WxH", the others "... [name]"."""
    from camvideo.presets import DEFAULT_QUALITY, QUALITY_PRESETS
    from camvideo.tools.benchmark.frames import SIZES

    base = f"camvideo {SIZES[0][0]}x{SIZES[0][1]}"
    names = {q: base if q == DEFAULT_QUALITY else f"{base} [{q}]" for q in QUALITY_PRESETS}
    names = {q: n for q, n in names.items() if n in results}
    fast = results[names["fast"]]["median_ms"] if "fast" in names else None
    return {q: {"contestant": n, "median_ms": results[n]["median_ms"],
                "ratio_fast": round(results[n]["median_ms"] / fast, 3) if fast else None} for q, n in names.items()}


def format_table(report: dict) -> str:
    """The report as a plain-text table (Markdown-compatible)."""
    lines = _table_lines(report) + [""] + _live_lines(report)
    lines += _limit_lines(report.get("limit") or {})
    fastest = report.get("fastest_forward")
    if fastest:
        lines.append(f"fastest forward pass of the run: {fastest['name']}, {fastest['ms']:.2f} ms; "
                     + ", ".join(f"{n} {r['ratio_fastest_forward']:.3f}x" for n, r in report["results"].items()
                                 if "ratio_fastest_forward" in r))
    if report.get("openvino_missing"):
        lines.append(f"OpenVINO not measured: {report['openvino_missing']}")
    lines.append("")
    presets = report.get("presets") or {}
    if len(presets) > 1:
        lines.append("quality presets, inference stage at 640x480: " + ", ".join(
            f"{q} {p['median_ms']:.2f} ms" + (f" ({p['ratio_fast']:.2f}x fast)" if p.get("ratio_fast") else "")
            for q, p in presets.items()))
        lines.append("")
    lines += _stage_lines(report) + _stream_lines(report)
    soak = report.get("soak")
    if soak:
        lines.append(
            f"soak: {soak['frames']} frames, RSS {soak['rss_start_mb']} -> {soak['rss_end_mb']} MiB "
            f"(max {soak['rss_max_mb']}), growth {soak['growth_pct']:+.2f}%"
        )
    if report.get("peers_missing"):
        lines.append(f"peers not installed (pip install camvideo[bench]): {', '.join(report['peers_missing'])}")
    return "\n".join(lines)


def _table_lines(report: dict) -> list[str]:
    """The machine and the run's settings in a line, then the table: a row a contestant
    and a row an end-to-end run (torch's, OpenVINO's)."""
    m = report["machine"]
    cfg = report["config"]
    lines = [
        f"camvideo bench, {report['date']}: {m['cpu_count']} CPU cores, "
        f"{'GPU ' + m['cuda'] if m['cuda'] else 'no GPU'}, device {cfg['device']}, "
        f"{cfg['threads']} threads, model {cfg['model']}, top-{cfg['topk']}, "
        f"{'smoothing on' if cfg.get('smooth', False) else 'each frame on its own (no smoothing)'}, "
        f"{cfg['frames']} frames x {cfg['rounds']} interleaved rounds",
        "",
        "| contestant | per frame (median) | p95 | fps | x floor | x floor (channels_last) | x camvideo's forward |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in report["results"].items():
        cl, own = r.get("ratio_channels_last_floor"), r.get("ratio_own_forward")
        lines.append(
            f"| {name} | {r['median_ms']:.2f} ms | {r['p95_ms']:.2f} ms | {r['fps']:.1f} | {r['ratio']:.3f} | "
            f"{_fmt(cl, '{:.3f}')} | {_fmt(own, '{:.3f}')} |"
        )
    for key, runtime in (("end_to_end", ""), ("end_to_end_openvino", ", OpenVINO")):
        e2e = report.get(key)
        if not e2e:
            continue
        lines.append(
            f"| end to end {e2e['size']}{runtime} (decode -> ... -> H.264, batch {e2e['batch']}, "
            f"workers {e2e.get('workers', 1)}) | "
            f"{e2e['median_ms_per_frame']:.2f} ms | | {e2e['fps']:.1f} | fps {e2e['fps_vs_floor']:.3f}x | "
            f"{_fmt(e2e.get('fps_vs_floor_channels_last'), 'fps {:.3f}x')} | {_fmt(e2e.get('fps_vs_own_forward'), 'fps {:.3f}x')} |"
        )
    return lines


def _live_lines(report: dict) -> list[str]:
    """The live runs (torch's, OpenVINO's): latency, drops, and where the time went."""
    lines = []
    for key, runtime in (("live", ""), ("live_openvino", ", OpenVINO")):
        live = report.get(key)
        if not live:
            continue
        lines.append(
            f"live {live['size']}{runtime}, source {live['source_fps']:.0f} fps: capture-to-annotated latency "
            f"p50 {live['p50_ms']:.1f} ms, p95 {live['p95_ms']:.1f} ms "
            f"(target p95 <= floor + 33 ms = {live['target_p95_ms']:.1f} ms), {live['dropped']} frames dropped"
        )
        if "parts_ms" in live:
            parts = ", ".join(f"{k} {v:.1f}" for k, v in live["parts_ms"].items())
            lines.append(f"  mean {live['mean_ms']:.1f} ms: {parts} ms; the rest (the frame waiting for the "
                         f"worker, hand-offs) {live['waited_ms']:.1f} ms")
    return lines


def _stage_lines(report: dict) -> list[str]:
    """Each size's stages (ms), and the stage against its forward pass."""
    lines = []
    for size, stages in report["stages_ms"].items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
        ratio = (report.get("stage_x_forward") or {}).get(size)
        alone = (report.get("stage_x_forward_alone") or {}).get(size)
        lines.append(f"stages at {size} (ms): {parts}" + (f"; the stage {ratio:.2f}x its forward" if ratio else "")
                     + (f", {alone:.2f}x its forward pass alone" if alone else ""))
    return lines


def _stream_lines(report: dict) -> list[str]:
    """The OpenVINO stage against its forward pass alone, one frame at a time and as
    a stream (a file run's), each ratio from this run."""
    stream = report.get("stream_openvino")
    if not stream:
        return []
    size = stream["size"]
    one = report["results"].get(f"camvideo {size} (OpenVINO)", {}).get("median_ms")
    alone = next((r["median_ms"] for n, r in report["results"].items() if n.startswith(f"forward for {size}")), None)
    lines = [f"the inference stage at {size} (OpenVINO, {stream['precision']}) against its forward pass alone:"]
    if one and alone:
        lines.append(f"  one frame at a time (latency mode, {report['config']['threads']} threads): {one:.2f} / "
                     f"{alone:.2f} ms = {one / alone:.2f}x")
    parts = ", ".join(f"{k} {v:.2f}" for k, v in stream["parts_ms"].items())
    lines.append(f"  as a stream (a file run's: the forward half on {stream['workers']} workers, "
                 f"{stream['streams']} throughput streams; the in-order half and overlay on the writer; "
                 f"{stream['frames_per_run']} frames in memory, no decode, no encode): {stream['stage_ms']:.2f} / "
                 f"{stream['forward_ms']:.2f} ms a frame = {stream['ratio']:.2f}x (rounds: "
                 + ", ".join(f"{v:.2f}" for v in stream["round_ratios"]) + f"); its parts (ms, wall): {parts}")
    lines.append(f"  as a stream, CPU ms a frame (the whole process, every thread): {stream['stage_cpu_ms']:.2f} / "
                 f"{stream['forward_cpu_ms']:.2f} = {stream['cpu_ratio']:.2f}x")
    if "video_cpu_ratio" in stream:
        lines.append(f"  as a stream over a video's frames (pans and cuts, the end-to-end clip's; the bench's frames "
                     f"above are each a cut), CPU ms a frame: {stream['video_stage_cpu_ms']:.2f} / "
                     f"{stream['forward_cpu_ms']:.2f} = {stream['video_cpu_ratio']:.2f}x")
    return lines


def _limit_lines(limit: dict) -> list[str]:
    """The limit table: each unavoidable part alone (CPU ms a frame, one thread), the
    fps they allow on the machine's cores, and end to end as a fraction of it."""
    if not limit:
        return []
    lines = ["", "| the limit, 640x480 file (CPU ms a frame, each alone on one thread) | decode | forward half (preprocess + passes; 1 frame a pass or the run's batch, the cheaper) | "
             "encode (x264) | limit on the cores | end to end, steady | fraction of the limit | whole run: fps, "
             "fixed cost (start-up, teardown) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for runtime, row in limit.items():
        parts = row["parts_ms"]
        e2e = row.get("end_to_end_fps")
        whole = row.get("whole_run_fps")
        lines.append(f"| {runtime} | {parts['decode']:.2f} | {parts['forward']:.2f} | {parts['encode']:.2f} | "
                     f"{row['limit_fps']:.1f} fps ({row['cores']} cores) | {_fmt(e2e, '{:.1f} fps')} | "
                     f"{_fmt(row.get('fraction'), '{:.2f}')} | {_fmt(whole, '{:.1f} fps')}"
                     f"{_fmt(row.get('fixed_ms'), ', {:.0f} ms')} |")
    for runtime, row in limit.items():
        if row.get("round_fractions"):
            parts = ", ".join(f"{k} {v:.2f}" for k, v in row["round_parts_ms"].items())
            lines.append(f"{runtime}: the limit measured again each round right after its end-to-end run (the forward "
                         f"half over one pass): fraction {row['paired_fraction']:.2f} (median; rounds: "
                         + ", ".join(f"{v:.2f}" for v in row["round_fractions"]) + f"); parts' medians {parts}")
    lines.append("")
    return lines


def _fmt(value, pattern: str) -> str:
    return "" if value is None else pattern.format(value)
