"""camvideo: real-time video localization with Class Activation Maps."""

__version__ = "0.1.0"

# The embedded default model. Here, in the one module everything imports anyway,
# so that the parser and the window can name it without importing torch.
DEFAULT_MODEL = "lite0"
