"""camvideo: real-time video localization with Class Activation Maps."""

import sys

__version__ = "0.1.0"

# The embedded default model. Here, in the one module everything imports anyway,
# so that the parser and the window can name it without importing torch.
DEFAULT_MODEL = "lite0"

EXPORTED_SUFFIXES = (".onnx", ".xml")  # the exported graphs a --model file may be (camvideo.models.exported)


def is_exported(name) -> bool:
    """Whether a model name is an exported graph's file (``.onnx`` or ``.xml``)."""
    return str(name).lower().endswith(EXPORTED_SUFFIXES)


# OpenVINO sends usage events (Google Analytics) when it is imported and when it
# converts a model, unless the user opted out with its own tool; camvideo imports
# it on its users' behalf without asking them, from several packages (models for
# exported graphs, runtime). A package that cannot be imported makes OpenVINO use
# its own no-op stand-in (camvideo.runtime.ovcache also swaps it in while
# converting, for an OpenVINO imported before camvideo).
sys.modules.setdefault("openvino_telemetry", None)
