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
