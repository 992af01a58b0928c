"""camvideo: real-time video localization with Class Activation Maps."""

__version__ = "0.1.0"
