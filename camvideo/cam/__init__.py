"""From the model's input to maps and boxes: the CAM engine.

``preprocess`` turns BGR frames into the model's input batch; ``methods`` makes
the class maps of chosen classes (exact CAM from a GAP -> Linear head, Grad-CAM
for any other head) from one forward pass; ``boxes`` turns a map into boxes in
source-frame pixels; ``smoothing`` keeps maps, labels and boxes steady across the
frames of a video. Everything here works on tensors and arrays, never on frames
from a source or on Qt.
"""
