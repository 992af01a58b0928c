"""The command-line tests run lite0 on OpenVINO (``--runtime auto`` on the CPU):
convert it once, before the first command, so that no command's timing includes
the conversion."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _openvino_converted(request):
    try:
        import openvino  # noqa: F401
    except ImportError:
        return
    request.getfixturevalue("openvino_lite0")
