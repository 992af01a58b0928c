"""From the model's input to maps and boxes: the CAM engine.

``preprocess`` turns BGR frames into the model's input batch; ``methods`` makes
the class maps of chosen classes from one forward pass (``ExactCam`` for a GAP ->
Linear head, ``GradCam`` for any other; ``cam_method`` picks one for a model);
``forward`` is exact CAM's replaceable forward pass (torch by default: where
another inference runtime plugs in); ``boxes`` turns a map into boxes in
source-frame pixels; ``smoothing`` keeps maps, labels and boxes steady across the
frames of a video. Everything here works on tensors and arrays, never on frames
from a source or on Qt.
"""
