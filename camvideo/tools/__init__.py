"""Measuring camvideo: ``evaluate`` (localization quality on annotated images and
clips, ``camvideo eval``) and ``benchmark`` (speed against the network's own
forward pass and against peer libraries, ``camvideo bench``)."""
