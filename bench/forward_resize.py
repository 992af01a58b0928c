"""Ways to the model's 224x288 input from a 640x480 frame, against today's
(``preprocess.resize_for_model``: OpenCV bilinear to twice the size, then INTER_AREA
by 2, into the pixels model of ``ovbuild.with_pixels``), in one process.

``--part resize``: the resize alone, one thread, CPU ms a frame
(``time.process_time``) and the distance of its pixels to today's (mean and max
grey levels). ``--part graph``: OpenVINO's compiled model at a static batch of 4
on 2 calling threads (the file run's forward pool), throughput mode, ``--precision``
(auto: bf16 on this CPU), rounds interleaved, CPU ms a frame of the whole process
(the resize in Python included where there is one), and each variant's features
against today's (largest difference over their largest value, top-1 the same):

- ``today``: OpenCV's resize, then the pixels model;
- ``ppp_linear``: the 640x480 uint8 frames into the graph, ``PrePostProcessor``'s
  ``RESIZE_LINEAR`` (aliases: a bound on the cost);
- ``blockmm``: the 640x480 frames into the graph, today's resize as two banded
  matrix products (its 4-tap filters per axis, OpenCV's float weights: blocks of
  15 rows -> 7 and 20 columns -> 9 with their halo), no rounding between the steps;
- ``nonorm``: today's but the graph only converts the pixels to float (wrong
  outputs: a bound on what the normalization costs in the graph);
- ``fold``: today's with the normalization and the channel order folded into the
  first convolution's weights (the mean subtracted first, so that its zero padding
  stays the normalized zero).

    PYTHONPATH=. python bench/forward_resize.py [--part resize|graph] [--rounds 6] [--clip FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import numpy as np

SIZE = (224, 288)  # (height, width): the default preset's input for 640x480
BATCH = 4  # a file run's batch on OpenVINO's throughput mode


def frames(clip: str | None, count: int) -> list[np.ndarray]:
    if clip is None:
        from camvideo.tools.benchmark.frames import video_frames

        return list(video_frames(640, 480, count))
    import cv2

    cap, out = cv2.VideoCapture(clip), []
    while len(out) < count:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    return out


def resize_variants() -> dict:
    import cv2
    import torch
    import torch.nn.functional as F

    from camvideo.cam.preprocess import resize_for_model

    h, w = SIZE
    lin, area = cv2.INTER_LINEAR, cv2.INTER_AREA
    sx, sy = 640 / w, 480 / h  # a 2x2 blur centres its sum half a pixel up-left: sample half a pixel on
    centred = np.array([[sx, 0, sx / 2], [0, sy, sy / 2]], np.float64)

    def torch_aa(f):
        x = torch.from_numpy(f).permute(2, 0, 1)[None]
        return F.interpolate(x, size=SIZE, mode="bilinear", antialias=True)[0].permute(1, 2, 0).contiguous().numpy()

    return {
        "today": lambda f: resize_for_model(f, w, h),
        "bilinear_exact_2x_then_area2": lambda f: cv2.resize(cv2.resize(f, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR_EXACT),
                                                             (w, h), interpolation=area),
        "area_direct": lambda f: cv2.resize(f, (w, h), interpolation=area),
        "area2_then_bilinear": lambda f: cv2.resize(cv2.resize(f, (320, 240), interpolation=area), (w, h), interpolation=lin),
        "pyrdown_then_bilinear": lambda f: cv2.resize(cv2.pyrDown(f), (w, h), interpolation=lin),
        "decimated_then_area": lambda f: cv2.resize(f[::2, ::2], (w, h), interpolation=area),
        "area_rows_as_1ch_then_area": lambda f: cv2.resize(
            cv2.resize(f.reshape(480, 1920), (1920, h), interpolation=area).reshape(h, 640, 3), (w, h), interpolation=area),
        "torch_bilinear_antialias": torch_aa,
        "area2_then_bicubic": lambda f: cv2.resize(cv2.resize(f, (320, 240), interpolation=area), (w, h),
                                                   interpolation=cv2.INTER_CUBIC),
        "nearest_exact_2x_then_area2": lambda f: cv2.resize(cv2.resize(f, (2 * w, 2 * h), interpolation=cv2.INTER_NEAREST_EXACT),
                                                            (w, h), interpolation=area),
        "blur2_then_centred_warp": lambda f: cv2.warpAffine(cv2.blur(f, (2, 2)), centred, (w, h), borderMode=cv2.BORDER_REPLICATE,
                                                            flags=lin | cv2.WARP_INVERSE_MAP),
    }


def part_resize(images: list[np.ndarray], rounds: int) -> dict:
    import torch

    torch.set_num_threads(1)
    variants = resize_variants()
    ref = [variants["today"](f).astype(np.int16) for f in images]
    times: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(rounds):
        for name in (list(variants) if r % 2 == 0 else list(variants)[::-1]):
            start = time.process_time()
            for f in images:
                variants[name](f)
            times[name].append(1000 * (time.process_time() - start) / len(images))
    out = {}
    for name, fn in variants.items():
        diff = [np.abs(fn(f).astype(np.int16) - r) for f, r in zip(images, ref)]
        out[name] = {"cpu_ms": round(statistics.median(times[name]), 3),
                     "mean_diff": round(float(np.mean([d.mean() for d in diff])), 3),
                     "max_diff": int(max(d.max() for d in diff))}
    return out


def axis_matrix(n_in: int, n_mid: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): bilinear n_in -> n_mid then INTER_AREA by 2, OpenCV's float weights."""
    import cv2

    eye = np.eye(n_in, dtype=np.float32)
    mid = cv2.resize(eye, (n_mid, n_in), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(mid, (n_out, n_in), interpolation=cv2.INTER_AREA).T.copy()


def block(matrix: np.ndarray, step_in: int, step_out: int, halo: int) -> np.ndarray:
    """The weights (step_out, step_in + 2 * halo) every interior block shares (checked)."""
    first = matrix[step_out:2 * step_out, step_in - halo:2 * step_in + halo]
    for b in range(1, matrix.shape[0] // step_out - 1):
        rows = matrix[b * step_out:(b + 1) * step_out]
        assert np.allclose(rows[:, b * step_in - halo:(b + 1) * step_in + halo], first, atol=1e-6)
        assert np.allclose(rows[:, b * step_in - halo:(b + 1) * step_in + halo].sum(1), rows.sum(1), atol=1e-6)
    return first


def _windows(ops, x, axis: int, pad: tuple[int, int], step: int, blocks: int, shape: list[int]):
    """``x`` edge-padded along ``axis``, as blocks of 2 * ``step`` (two shifted reshapes, concatenated)."""
    rank = len(x.get_output_partial_shape(0))
    begin, end = [0] * rank, [0] * rank
    begin[axis], end[axis] = pad
    xp = ops.pad(x, ops.constant(np.array(begin, np.int64)), ops.constant(np.array(end, np.int64)), "edge")
    parts = []
    for start in (0, step):
        part = ops.slice(xp, ops.constant(np.array([start])), ops.constant(np.array([start + blocks * step])),
                         ops.constant(np.array([1])), ops.constant(np.array([axis])))
        parts.append(ops.reshape(part, ops.constant(np.array(shape, np.int64)), False))
    return ops.concat(parts, axis + 1)


def blockmm_front(ops, param, mean, std):
    """uint8 (B, 480, 640, 3) BGR -> normalized float (B, 3, 224, 288) RGB by banded products."""
    import openvino as ov

    wv = block(axis_matrix(480, 448, 224), 15, 7, 7)  # (7, 29)
    wh = block(axis_matrix(640, 576, 288), 20, 9, 10)  # (9, 40)
    x = ops.reshape(ops.convert(param, ov.Type.f32), ops.constant(np.array([BATCH, 480, 1920], np.int64)), False)
    win = _windows(ops, x, 1, (7, 8), 15, 32, [BATCH, 32, 15, 1920])  # (B, 32, 30, 1920)
    y = ops.matmul(ops.constant(np.concatenate([wv, np.zeros((7, 1), np.float32)], 1)), win, False, False)
    y = ops.transpose(ops.reshape(y, ops.constant(np.array([BATCH, 224, 640, 3], np.int64)), False),
                      ops.constant(np.array([0, 3, 1, 2], np.int64)))
    win = _windows(ops, y, 3, (10, 10), 20, 32, [BATCH, 3, 224, 32, 20])  # (B, 3, 224, 32, 40)
    z = ops.reshape(ops.matmul(win, ops.constant(wh.T.copy()), False, False),
                    ops.constant(np.array([BATCH, 3, *SIZE], np.int64)), False)
    z = ops.gather(z, ops.constant(np.array([2, 1, 0], np.int64)), ops.constant(np.array(1, np.int64)))
    m = np.array([255.0 * v for v in mean], np.float32).reshape(1, 3, 1, 1)
    s = np.array([255.0 * v for v in std], np.float32).reshape(1, 3, 1, 1)
    return ops.multiply(ops.subtract(z, ops.constant(m)), ops.constant(1.0 / s))


def graph_variants(forward, model) -> dict:
    """name -> (openvino.Model, whether it takes the 640x480 frames)."""
    import openvino as ov
    import openvino.opset13 as ops
    from openvino.preprocess import ColorFormat, PrePostProcessor, ResizeAlgorithm

    from camvideo.runtime import ovbuild

    xml = forward._ir(forward.entry) or forward.entry.xml
    mean, std = tuple(model.preprocessing.mean), tuple(model.preprocessing.std)

    def base():
        network = forward._core.read_model(str(xml))
        network.reshape({network.inputs[0]: [BATCH, 3, *SIZE]})
        return network

    def replaced(network, param, out):
        old = network.get_parameters()[0]
        for target in old.output(0).get_target_inputs():
            target.replace_source_output(out.output(0))
        return ov.Model(network.get_results(), [param], "variant")

    def ppp(resize: bool, norm: bool):
        p = PrePostProcessor(base())
        tensor = p.input(0).tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC"))
        if resize:
            tensor.set_spatial_static_shape(480, 640)
        p.input(0).model().set_layout(ov.Layout("NCHW"))
        steps = p.input(0).preprocess().convert_element_type(ov.Type.f32)
        if resize:
            steps.resize(ResizeAlgorithm.RESIZE_LINEAR)
        if norm:
            tensor.set_color_format(ColorFormat.BGR)
            steps.convert_color(ColorFormat.RGB).mean([255.0 * m for m in mean]).scale([255.0 * s for s in std])
        return p.build()

    def fold():
        network = base()
        conv = next(op for op in network.get_ordered_ops() if op.get_type_name() == "Convolution")
        weights = conv.input_value(1).get_node()
        w = weights.get_data().astype(np.float32) / (255.0 * np.array(std, np.float32).reshape(1, 3, 1, 1))
        for target in weights.output(0).get_target_inputs():
            target.replace_source_output(ops.constant(w[:, ::-1].copy()).output(0))
        param = ops.parameter([BATCH, *SIZE, 3], ov.Type.u8, name="pixels")
        x = ops.transpose(ops.convert(param, ov.Type.f32), ops.constant(np.array([0, 3, 1, 2], np.int64)))
        bgr_mean = np.array([255.0 * v for v in mean[::-1]], np.float32).reshape(1, 3, 1, 1)
        return replaced(network, param, ops.subtract(x, ops.constant(bgr_mean)))

    def blockmm():
        param = ops.parameter([BATCH, 480, 640, 3], ov.Type.u8, name="frames")
        return replaced(base(), param, blockmm_front(ops, param, mean, std))

    return {"today": (ovbuild.with_pixels(base(), mean, std), False), "ppp_linear": (ppp(True, True), True),
            "blockmm": (blockmm(), True), "nonorm": (ppp(False, False), False), "fold": (fold(), False)}


def part_graph(images: list[np.ndarray], rounds: int, precision: str) -> dict:
    import torch

    from camvideo.cam.preprocess import at_size, pixels
    from camvideo.models import load_model
    from camvideo.runtime.openvino import OpenVINOForward, _Runner

    torch.set_num_threads(1)
    model = load_model("lite0", device="cpu").eval()
    forward = OpenVINOForward(model, mode="throughput", sizes=[SIZE], precision=precision)
    sized = at_size(model, SIZE)
    runners = {name: (_Runner(forward._core.compile_model(network, "CPU", forward._config), "throughput"), raw)
               for name, (network, raw) in graph_variants(forward, model).items()}
    batches = [images[i:i + BATCH] for i in range(0, len(images) - BATCH + 1, BATCH)]

    def run(name: str, batch) -> list[np.ndarray]:
        runner, raw = runners[name]
        outs = [np.empty((BATCH, *shape), np.float32) for shape in runner.outputs]
        runner.run(np.stack(batch) if raw else pixels(batch, sized).numpy(), outs)
        return outs

    def timed(name: str) -> float:
        threads = [threading.Thread(target=lambda h=h: [run(name, b) for b in batches[h::2]]) for h in range(2)]
        start = time.process_time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return 1000 * (time.process_time() - start) / (len(batches) * BATCH)

    ref = [run("today", b) for b in batches]
    out = {"precision": forward.precision}
    for name in runners:
        got = [run(name, b) for b in batches]
        timed(name)
        out[name] = {"feature_diff": round(max(float(np.abs(g[0] - r[0]).max() / np.abs(r[0]).max())
                                               for g, r in zip(got, ref)), 4),
                     "top1_same": float(np.mean([(g[1].argmax(1) == r[1].argmax(1)).mean() for g, r in zip(got, ref)])),
                     "cpu_ms": []}
    for r in range(rounds):
        for name in (list(runners) if r % 2 == 0 else list(runners)[::-1]):
            out[name]["cpu_ms"].append(round(timed(name), 3))
    for name in runners:
        out[name]["median_cpu_ms"] = round(statistics.median(out[name]["cpu_ms"]), 3)
    forward.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", default="resize", choices=("resize", "graph"))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--clip", default=None, help="a 640x480 video (default: the bench's frames)")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "f32"))
    args = parser.parse_args()
    images = frames(args.clip, args.frames)
    out = part_resize(images, args.rounds) if args.part == "resize" else part_graph(images, args.rounds, args.precision)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
