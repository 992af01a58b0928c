"""HeldFrame: a paused frame's Evidence kept and finished again for each new setting;
a new forward pass only when the kept evidence cannot make the maps asked for."""

from __future__ import annotations

import cv2
import torch

from camvideo.app.held import HeldFrame
from camvideo.models import load_model
from camvideo.runtime.localizer import FrameLocalizer
from camvideo.settings import LocalizeSettings, SmoothingSettings


def test_exact_cam_reuses_the_pass_for_any_class(lite0, photo):
    frame = photo("chelsea")
    held = HeldFrame(lite0)
    top1 = held.localize(frame, 7, 0.25, LocalizeSettings(smoothing=SmoothingSettings()))
    top3 = held.localize(frame, 7, 0.25, LocalizeSettings(topk=3, smoothing=SmoothingSettings()))
    fixed = held.localize(frame, 7, 0.25, LocalizeSettings(class_ids=(967,)))
    assert held.forwards == 1  # one pass served all three
    assert len(top1.maps) == 1 and len(top3.maps) == 3 and fixed.maps.class_ids == (967,)
    assert (top3.frame, top3.time) == (7, 0.25)
    # the frame stands alone: what a fresh localizer gives it
    alone = FrameLocalizer(lite0, LocalizeSettings(topk=3, smoothing=SmoothingSettings()))([frame], [7], [0.25])[0]
    assert top3.to_dict() == alone.to_dict()


def test_gradcam_runs_the_pass_again_for_classes_it_kept_no_gradients_of(photo):
    torch.manual_seed(0)
    mobilenet = load_model("mobilenet_v3_small", pretrained=False, input_size=64)
    frame = cv2.resize(photo("chelsea"), (160, 120), interpolation=cv2.INTER_AREA)
    held = HeldFrame(mobilenet)
    two = held.localize(frame, 0, 0.0, LocalizeSettings(topk=2))
    assert held.forwards == 1 and two.method == "gradcam"
    one = held.localize(frame, 0, 0.0, LocalizeSettings(topk=1))  # the top class's gradients are kept
    assert held.forwards == 1 and one.maps.class_ids == two.maps.class_ids[:1]
    other = next(c for c in range(1000) if c not in two.maps)
    fixed = held.localize(frame, 0, 0.0, LocalizeSettings(class_ids=(other,)))  # not kept: a new pass
    assert held.forwards == 2 and fixed.maps.class_ids == (other,)
