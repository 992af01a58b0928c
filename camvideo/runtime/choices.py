"""The errors for ``--device``, ``--runtime`` and ``--precision`` that no model runs
together, in one place: the command line says them before torch loads
(``cli.inputs.check_runtime_choice``) and the runtime choice after the load
(``runtime.runtimes.choose_runtime``), in the same words. Imports no torch."""

from __future__ import annotations

from camvideo.errors import CamvideoError, Hint


def openvino_with_torch(device: str) -> CamvideoError:
    """An OpenVINO ``device`` (``openvino:GPU``) asked for with ``--runtime torch``."""
    return CamvideoError(Hint("device", device), " runs OpenVINO; it cannot go with ", Hint("runtime", "torch"))


def precision_with_torch(precision: str) -> CamvideoError:
    """A ``precision`` other than f32 (OpenVINO's) asked for with ``--runtime torch``."""
    return CamvideoError(Hint("precision", precision, subject=True), "runs on OpenVINO; it cannot go with ",
                         Hint("runtime", "torch"))


def openvino_off_cpu(device: object) -> CamvideoError:
    """``--runtime openvino`` asked for a model on a GPU of torch's (``device``)."""
    return CamvideoError(Hint("runtime", "openvino"), f" takes a model on the CPU, not {device}; ",
                         Hint("device", "cpu", "use"), " or openvino:GPU")


def int8_of_exported(name: str) -> CamvideoError:
    """``--precision int8`` asked for an exported graph (``name``: its file): camvideo
    quantizes only the models it converts itself; the graph's own arithmetic runs."""
    return CamvideoError(Hint("precision", "int8", subject=True),
                         f"camvideo quantizes the models it converts, not an exported graph ({name}); quantize the "
                         "graph itself (NNCF) and pass that file, or choose ", Hint("precision", "f32"))


def torch_of_exported(name: str) -> CamvideoError:
    """``--runtime torch`` asked for an exported graph (``name``: its file), which
    OpenVINO reads and runs whatever the runtime says."""
    return CamvideoError(Hint("runtime", "torch", subject=True),
                         f"an exported graph ({name}) runs on OpenVINO, which reads it; ",
                         Hint("runtime", "auto", "use"), " or openvino")
