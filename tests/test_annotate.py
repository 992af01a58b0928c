import numpy as np
import pytest

from camvideo.annotate import BoxAnnotator, FrameAnnotator, HeatmapAnnotator, LabelAnnotator, shown_heatmap_rank
from camvideo.class_colours import PALETTE
from camvideo.results import ClassMaps, Detection, FrameResult
from camvideo.settings import OverlaySettings


def result(width=320, height=240, box=(40, 30, 200, 180), heat=None):
    if heat is None:
        heat = np.zeros((1, 7, 7), np.float32)
        heat[0, 1:5, 1:5] = 1.0
    dets = (Detection(1, 285, "Egyptian cat", 0.79, box), Detection(2, 282, "tiger cat", 0.1, None))
    return FrameResult(0, 0.0, width, height, dets, ClassMaps((285, 282)[: len(heat)], heat))


def test_overlay_returns_a_new_frame_and_leaves_the_input_alone():
    frame = np.full((240, 320, 3), 128, np.uint8)
    before = frame.copy()
    out = FrameAnnotator().annotate(frame, result())
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(frame, before)
    assert not np.array_equal(out, frame)
    # with everything off, the frame comes back unchanged (as a copy)
    plain = FrameAnnotator(OverlaySettings(heatmap=False, boxes=False, labels=False)).annotate(frame, result())
    assert np.array_equal(plain, frame) and plain is not frame


def test_heatmap_is_hot_where_the_map_is_high():
    frame = np.full((240, 320, 3), 128, np.uint8)
    out = HeatmapAnnotator(alpha=0.6, colormap="jet").annotate(frame, result())
    hot = out[100, 100].astype(int)  # inside the hot cells -> red in jet (BGR: high R)
    cold = out[230, 310].astype(int)  # outside -> blue in jet (high B)
    assert hot[2] > hot[0] and cold[0] > cold[2]


def test_box_is_drawn_at_its_pixels_in_its_class_colour():
    frame = np.zeros((240, 320, 3), np.uint8)
    BoxAnnotator(thickness=2).annotate(frame, result())
    assert tuple(frame[30, 120].tolist()) == PALETTE[285 % len(PALETTE)]  # top edge, the Egyptian cat's own colour
    assert frame[100, 120].tolist() == [0, 0, 0]  # inside stays untouched


def test_a_class_keeps_its_colour_whatever_its_rank_and_whatever_came_before():
    """The command line's recordings colour a class as the window does: by the class,
    with no state (a segment of a long file draws as the whole file's run would)."""
    frame = np.zeros((240, 320, 3), np.uint8)
    boxes = FrameAnnotator(OverlaySettings(heatmap=False, labels=False))
    first = boxes.annotate(frame, result())
    swapped = FrameResult(1, 0.0, 320, 240, (Detection(1, 282, "tiger cat", 0.5, None),
                                              Detection(2, 285, "Egyptian cat", 0.4, (40, 30, 200, 180))))
    second = boxes.annotate(frame, swapped)
    assert tuple(second[30, 120].tolist()) == tuple(first[30, 120].tolist()) == PALETTE[285 % len(PALETTE)]
    assert np.array_equal(boxes.annotate(frame, result()), first)  # the same frame: the same pixels


@pytest.mark.parametrize("background", [0, 255])
def test_label_reads_on_any_background(background):
    frame = np.full((240, 320, 3), background, np.uint8)
    LabelAnnotator().annotate(frame, result())
    tag = frame[31:45, 41:120].reshape(-1, 3)
    # the tag has both its fill (its class's colour) and contrasting ink, whatever the background
    fill = PALETTE[285 % len(PALETTE)]
    assert (tag == fill).all(axis=1).mean() > 0.5
    luma = tag @ np.array([0.114, 0.587, 0.299])
    assert np.abs(luma - luma[(tag == fill).all(axis=1)][0]).max() > 100
    # the class without a box is listed in the top-left corner
    assert (frame[0:12, 0:40] != background).any()


@pytest.mark.parametrize("kwargs", [{"alpha": 1.5}, {"colormap": "rainbowish"}])
def test_bad_heatmap_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        HeatmapAnnotator(**kwargs)


def two_maps() -> FrameResult:
    """Rank 1 hot at the top-left, rank 2 at the bottom-right."""
    heat = np.zeros((2, 7, 7), np.float32)
    heat[0, 0:3, 0:3] = 1.0
    heat[1, 4:7, 4:7] = 1.0
    return result(heat=heat)


def test_heatmap_rank_draws_that_rank_s_map():
    frame = np.full((240, 320, 3), 128, np.uint8)
    settings = OverlaySettings(boxes=False, labels=False)
    first = FrameAnnotator(settings).annotate(frame, two_maps())
    second = FrameAnnotator(OverlaySettings(boxes=False, labels=False, heatmap_rank=2)).annotate(frame, two_maps())
    assert np.array_equal(second, HeatmapAnnotator(rank=2).annotate(frame, two_maps()))
    assert np.array_equal(first, HeatmapAnnotator(rank=1).annotate(frame, two_maps()))
    assert not np.array_equal(first, second)
    # jet: red where the map is hot, blue where it is cold (BGR)
    assert first[20, 20, 2] > first[20, 20, 0] and second[20, 20, 0] > second[20, 20, 2]
    assert second[220, 300, 2] > second[220, 300, 0] and first[220, 300, 0] > first[220, 300, 2]
    # with boxes and labels too, only the heat map differs from rank 1's overlay
    full1 = FrameAnnotator(OverlaySettings()).annotate(frame, two_maps())
    full2 = FrameAnnotator(OverlaySettings(heatmap_rank=2)).annotate(frame, two_maps())
    assert np.array_equal(full2, LabelAnnotator().annotate(BoxAnnotator().annotate(second.copy(), two_maps()),
                                                           two_maps()))
    assert not np.array_equal(full1, full2)


def test_a_result_with_fewer_maps_falls_back_to_the_top_class_map():
    frame = np.full((240, 320, 3), 128, np.uint8)
    one = result()  # one map
    third = FrameAnnotator(OverlaySettings(heatmap_rank=3)).annotate(frame, one)
    assert np.array_equal(third, FrameAnnotator(OverlaySettings()).annotate(frame, one))
    assert shown_heatmap_rank(OverlaySettings(heatmap_rank=3), one) == 1
    assert shown_heatmap_rank(OverlaySettings(heatmap_rank=2), two_maps()) == 2
    assert shown_heatmap_rank(OverlaySettings(heatmap=False, heatmap_rank=2), two_maps()) is None
    assert shown_heatmap_rank(OverlaySettings(), result(heat=np.zeros((0, 1, 1), np.float32))) is None


@pytest.mark.parametrize("rank, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError),
                                         (True, TypeError)])
def test_bad_heatmap_ranks_are_refused(rank, error):
    with pytest.raises(error, match="heatmap_rank"):
        OverlaySettings(heatmap_rank=rank)
    with pytest.raises(error, match="rank"):
        HeatmapAnnotator(rank=rank)


@pytest.mark.parametrize("argv, message", [
    (["--heatmap-rank", "0"], "at least 1"),
    (["--topk", "2", "--heatmap-rank", "3"], "--topk 3 or more"),
    (["--heatmap-rank", "2"], "--topk 2 or more"),
    (["--class", "281", "--heatmap-rank", "2"], "one map per --class"),
])
def test_the_command_line_refuses_a_rank_without_its_map(argv, message):
    from camvideo.cli import build_parser, overlay_settings_from_args
    from camvideo.errors import CamvideoError

    args = build_parser().parse_args(["process", "clip.mp4", *argv])
    with pytest.raises(CamvideoError, match=message):
        overlay_settings_from_args(args)


def test_the_command_line_passes_the_rank_on():
    from camvideo.cli import build_parser, overlay_settings_from_args

    args = build_parser().parse_args(["process", "clip.mp4", "--topk", "3", "--heatmap-rank", "2"])
    assert overlay_settings_from_args(args).heatmap_rank == 2
    args = build_parser().parse_args(["image", "a.png", "--class", "281", "--class", "285", "--heatmap-rank", "2"])
    assert overlay_settings_from_args(args).heatmap_rank == 2
    assert overlay_settings_from_args(build_parser().parse_args(["image", "a.png"])).heatmap_rank == 1


@pytest.mark.parametrize("colormap", ["jet", "turbo", "inferno", "viridis", "hot"])
def test_the_colour_table_gives_the_named_maps_pixels(colormap):
    import cv2

    from camvideo.annotate import COLORMAPS, colormap_lut

    heat = np.random.default_rng(3).integers(0, 256, (48, 64), np.uint8)
    assert np.array_equal(cv2.applyColorMap(heat, colormap_lut(colormap)), cv2.applyColorMap(heat, COLORMAPS[colormap]))
    assert colormap_lut(colormap) is colormap_lut(colormap)  # made once


@pytest.mark.parametrize("colormap", ["jet", "turbo", "inferno", "viridis", "hot"])
@pytest.mark.parametrize("shape", [(48, 64), (240, 320), (7, 9), (1, 1)])
def test_the_paired_table_colours_each_value_two_pixels_wide(colormap, shape):
    import cv2

    from camvideo.annotate import COLORMAPS, colour_cells, paired_lut

    heat = np.random.default_rng(5).integers(0, 256, shape, np.uint8)
    heat.flat[:256 if heat.size >= 256 else heat.size] = np.arange(min(256, heat.size))  # every grey level
    colored = colour_cells(heat, paired_lut(colormap), *shape)  # at the map's own size: no resizing
    assert colored.shape == (shape[0], 2 * shape[1], 3) and colored.dtype == np.uint8 and colored.flags.c_contiguous
    assert np.array_equal(colored, np.repeat(cv2.applyColorMap(heat, COLORMAPS[colormap]), 2, axis=1))
    table = paired_lut(colormap)
    assert paired_lut(colormap) is table  # made once
    assert np.all(np.isfinite(table)) and np.all(np.abs(table) >= np.finfo(np.float64).tiny)  # normal doubles


def test_remembered_tag_sizes_are_opencvs():
    import cv2

    from camvideo.annotate import text_size

    for text, scale, thickness in [("tabby 0.79", 0.5, 1), ("Egyptian cat 0.71 held", 1.1, 2), ("Ag", 0.4, 1)]:
        want = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        assert text_size(text, scale, thickness) == want == text_size(text, scale, thickness)


def _drawn_tag(frame, text, origin, color, scale):
    """A tag drawn as ``_draw_tag`` drew each one before tags were remembered."""
    import cv2

    from camvideo.annotate import ink_color, text_size

    thickness = 1 if scale < 0.7 else 2
    (tw, th), base = text_size(text, scale, thickness)
    height, width = frame.shape[:2]
    w, h = tw + 6, th + base + 6
    x = int(min(max(origin[0], 0), max(0, width - w)))
    y = int(min(max(origin[1], 0), max(0, height - h)))
    cv2.rectangle(frame, (x, y), (x + w, y + h), color, cv2.FILLED)
    cv2.putText(frame, text, (x + 3, y + th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, ink_color(color), thickness,
                cv2.LINE_AA)


@pytest.mark.parametrize("size", [(240, 320), (480, 640), (18, 40)])
def test_a_remembered_tag_is_the_drawn_one(size):
    """Tags seen before are pasted: the same pixels as drawing them, at the frame's
    edges and corners too (a tag's last row and column may lie outside)."""
    from camvideo.annotate import _draw_tag

    rng = np.random.default_rng(sum(size))
    height, width = size
    texts = ["tabby 0.79", "Egyptian cat 0.71 held", "jay 0.05 Grad-CAM", "Ag", "", "30.1 fps | forward 5 ms"]
    origins = [(0, 0), (width, height), (width - 1, 0), (0, height - 1), (-5, -5), (width // 2, height // 3)]
    background = rng.integers(0, 256, (height, width, 3), np.uint8)
    for text in texts:
        for scale in (0.4, 0.53, 0.67, 0.8, 1.2):
            for origin in origins:
                color = PALETTE[int(rng.integers(len(PALETTE)))] if rng.random() < 0.8 else (32, 32, 32)
                want = background.copy()
                _drawn_tag(want, text, origin, color, scale)
                for _ in range(3):  # first sighting drawn, then made and remembered, then pasted
                    frame = background.copy()
                    _draw_tag(frame, text, origin, color, scale)
                    assert np.array_equal(frame, want), (text, scale, origin)


def test_tags_are_remembered_after_their_second_sighting_and_forgotten_when_many():
    from camvideo import annotate

    size = annotate.text_size("lynx 0.50", 0.5, 1)
    annotate._TAGS.clear()
    annotate._SEEN.clear()
    assert annotate.tag_image("lynx 0.50", 0.5, 1, (0, 255, 0), size) is None
    tag = annotate.tag_image("lynx 0.50", 0.5, 1, (0, 255, 0), size)
    assert tag is not None and tag.pixels.shape[:2] == (size[0][1] + size[1] + 7, size[0][0] + 7)
    assert annotate.tag_image("lynx 0.50", 0.5, 1, (0, 255, 0), size) is tag
    for k in range(2 * annotate.TAG_IMAGES):
        for _ in range(2):
            annotate.tag_image(f"lynx {k}", 0.5, 1, (0, 255, 0), size)
    assert len(annotate._TAGS) <= annotate.TAG_IMAGES and len(annotate._SEEN) <= annotate.TAG_IMAGES


def cell_colours(heat8, name, shape, rows=2):
    """What blend_colormap blends: the map resized to one value a cell of rows x 2 pixels
    (the cell's centre), coloured by OpenCV, each value repeated over its cell."""
    import cv2

    from camvideo.annotate import COLORMAPS

    cells = cv2.resize(heat8, (-(-shape[1] // 2), -(-shape[0] // rows)), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(cells, COLORMAPS[name])
    return np.ascontiguousarray(np.repeat(np.repeat(colours, rows, axis=0), 2, axis=1)[:shape[0], :shape[1]])


@pytest.mark.parametrize("shape", [(480, 640), (720, 1280), (37, 3001), (1, 1), (5, 7), (1081, 1919)])
@pytest.mark.parametrize("alpha", [0.45, 1.0, 0.0123, 0.999])
def test_the_blend_is_addweighted_over_the_cells_colours(shape, alpha):
    import cv2

    from camvideo.annotate import blend_colormap, paired_lut

    rng = np.random.default_rng(shape[0] + shape[1])
    frame = rng.integers(0, 256, (*shape, 3), np.uint8)
    heat8 = rng.integers(0, 256, (7, 9), np.uint8)
    for name in ("jet", "turbo"):
        want = cv2.addWeighted(frame, 1.0 - alpha, cell_colours(heat8, name, shape), alpha, 0.0)
        got = blend_colormap(frame, heat8, paired_lut(name), alpha)
        assert got.flags.c_contiguous and got is not frame and np.array_equal(got, want)
    wide = rng.integers(0, 256, (shape[0], shape[1] + 3, 3), np.uint8)  # a view, not contiguous
    view = wide[:, 2:-1]
    want = cv2.addWeighted(view, 1.0 - alpha, cell_colours(heat8, "turbo", shape), alpha, 0.0)
    assert np.array_equal(blend_colormap(view, heat8, paired_lut("turbo"), alpha), want)
    for rows in (1, 3):  # cells of other heights: 1 colours every row
        want = cv2.addWeighted(frame, 1.0 - alpha, cell_colours(heat8, "jet", shape, rows), alpha, 0.0)
        assert np.array_equal(blend_colormap(frame, heat8, paired_lut("jet"), alpha, rows), want)


def test_the_cells_stay_within_a_few_levels_of_the_map_coloured_at_every_pixel():
    import cv2

    from camvideo.annotate import COLORMAPS, blend_colormap, paired_lut

    rng = np.random.default_rng(11)
    frame = rng.integers(0, 256, (480, 640, 3), np.uint8)
    heat8 = np.clip(rng.random((7, 9)) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    grey = cv2.resize(heat8, (640, 480), interpolation=cv2.INTER_LINEAR)
    exact = cv2.addWeighted(frame, 0.55, cv2.applyColorMap(grey, COLORMAPS["jet"]), 0.45, 0.0)
    diff = blend_colormap(frame, heat8, paired_lut("jet"), 0.45).astype(np.float64) - exact
    assert 10 * np.log10(255 ** 2 / np.mean(diff ** 2)) > 40  # PSNR, dB


def test_the_heatmap_is_the_blend_of_the_map_s_cell_colours():
    import cv2

    rng = np.random.default_rng(9)
    frame = rng.integers(0, 256, (480, 640, 3), np.uint8)
    heat = rng.random((1, 7, 9), dtype=np.float32)
    r = FrameResult(0, 0.0, 640, 480, (Detection(1, 285, "Egyptian cat", 0.79, None),), ClassMaps((285,), heat, (0.7,)))
    alpha = 0.45 * 0.7
    heat8 = np.clip(heat[0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    want = cv2.addWeighted(frame, 1.0 - alpha, cell_colours(heat8, "jet", (480, 640)), alpha, 0.0)
    assert np.array_equal(HeatmapAnnotator(0.45, "jet").annotate(frame, r), want)


def test_both_outlines_at_once_are_opencv_s_two_rectangles():
    """``outlines``: BoxAnnotator's black and coloured rectangles over any picture (every
    box of a small frame; nothing outside them written)."""
    import itertools

    import cv2

    from camvideo.annotate import outlines

    height, width = 11, 14
    rng = np.random.default_rng(2)
    for (x1, x2), (y1, y2) in itertools.product(itertools.combinations_with_replacement(range(width), 2),
                                                itertools.combinations_with_replacement(range(height), 2)):
        want = rng.integers(0, 256, (height, width, 3), np.uint8)
        got = want.copy()
        cv2.rectangle(want, (x1, y1), (x2, y2), (0, 0, 0), 4, cv2.LINE_8)
        cv2.rectangle(want, (x1, y1), (x2, y2), (1, 2, 3), 2, cv2.LINE_8)
        outlines(got.reshape(height, 3 * width), x1, y1, x2, y2, (1, 2, 3))
        assert np.array_equal(got, want), (x1, y1, x2, y2)


def test_boxes_are_opencv_s_rectangles_on_any_frame():
    import cv2

    rng = np.random.default_rng(5)
    boxes = [(0, 0, 640, 480), (600, 1, 640, 3), (5, 400, 6, 480), *[tuple(int(v) for v in
             (*np.sort(rng.integers(0, 641, 2)), *np.sort(rng.integers(0, 481, 2)))) for _ in range(20)]]
    boxes = [b for b in boxes if b[0] < b[2] and b[1] < b[3]]
    dets = tuple(Detection(i + 1, i, f"c{i}", 0.5, b) for i, b in enumerate(boxes))
    r = FrameResult(0, 0.0, 640, 480, dets, ClassMaps())
    colors = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in dets]
    frame = rng.integers(0, 256, (480, 640, 3), np.uint8)
    want = frame.copy()
    for det, color in reversed(list(zip(dets, colors))):
        x1, y1, x2, y2 = det.box
        for c, t in (((0, 0, 0), 4), (color, 2)):
            cv2.rectangle(want, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), c, t, cv2.LINE_8)
    annotator = BoxAnnotator(colors=lambda _: colors)
    assert np.array_equal(annotator.annotate(frame.copy(), r), want)
    view = np.zeros((480, 650, 3), np.uint8)[:, 5:645]  # not contiguous: drawn by OpenCV, the same pixels
    view[:] = frame
    assert np.array_equal(annotator.annotate(view, r), want)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int32])
def test_boxes_of_numpy_integers_are_opencv_s_rectangles(dtype):
    """Corners given as NumPy integers (unsigned ones too, whose ``x - 2`` wraps) draw
    the same pixels as ``cv2.rectangle``, which takes them."""
    import cv2

    boxes = [(0, 0, 20, 20), (1, 2, 30, 40), (10, 10, 64, 48), (0, 5, 3, 9)]
    dets = tuple(Detection(i + 1, i, f"c{i}", 0.5, tuple(dtype(v) for v in b)) for i, b in enumerate(boxes))
    frame = np.random.default_rng(4).integers(0, 256, (48, 64, 3), np.uint8)
    want = frame.copy()
    for x1, y1, x2, y2 in reversed(boxes):
        for c, t in (((0, 0, 0), 4), ((1, 2, 3), 2)):
            cv2.rectangle(want, (x1, y1), (max(x1, x2 - 1), max(y1, y2 - 1)), c, t, cv2.LINE_8)
    got = BoxAnnotator(colors=lambda r: [(1, 2, 3)] * len(r.detections)).annotate(
        frame, FrameResult(0, 0.0, 64, 48, dets, ClassMaps()))
    assert np.array_equal(got, want)


def test_a_single_number_colour_is_drawn_as_opencv_draws_it():
    """A colour given as one number (OpenCV takes it: that value, then zeros) goes to
    ``cv2.rectangle`` as before, not to the row slices."""
    import cv2

    dets = (Detection(1, 0, "c0", 0.5, (4, 5, 40, 30)),)
    frame = np.random.default_rng(6).integers(0, 256, (48, 64, 3), np.uint8)
    want = frame.copy()
    cv2.rectangle(want, (4, 5), (39, 29), (0, 0, 0), 4, cv2.LINE_8)
    cv2.rectangle(want, (4, 5), (39, 29), 200, 2, cv2.LINE_8)
    got = BoxAnnotator(colors=lambda _: [200]).annotate(frame.copy(), FrameResult(0, 0.0, 64, 48, dets, ClassMaps()))
    assert np.array_equal(got, want)
