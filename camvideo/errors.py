"""Errors that reach a user: each carries a message that says what was wrong and what to do."""


class CamvideoError(Exception):
    """A problem the user can fix (bad input, missing weights, no camera).

    The command line prints its message on one line and exits non-zero; the window
    shows it and keeps running. Programming errors are not CamvideoError.
    """


class ModelLoadError(CamvideoError):
    """A model name, weights file or download that cannot give a working model."""


class InputError(CamvideoError):
    """An image, video, camera or stream that cannot be read."""


class OutputError(CamvideoError):
    """A place that cannot be written (missing folder, no permission, full disk, codec)."""
