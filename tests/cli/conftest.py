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


@pytest.fixture(autouse=True)
def _no_kept_model_list(monkeypatch):
    """A command's failed model load keeps the model list in the user's cache
    (``camvideo.cli.inputs.keep_model_names``): not from a test (its own tests call it)."""
    from camvideo.cli import inputs

    monkeypatch.setattr(inputs, "keep_model_names", lambda: None)
