"""Shared fixtures: the real embedded model once per session, real photos, small frames."""

from __future__ import annotations

import ast
import functools
import os
import signal
from pathlib import Path

import pytest

import camvideo  # noqa: F401 - first: a test module's OpenVINO import then leaves its usage telemetry out

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# torch's OpenMP threads sleep while they wait for work instead of spinning (inherited by
# pytest-xdist's workers and by the commands the tests start): where the tests' processes
# share the cores, a spinning team burns the cores the others need (one test: 26 s of CPU
# spinning, 7 s sleeping, on 2 busy cores). The math is the same; only the waiting differs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DATA = Path(__file__).parent / "data"


def _short_worker_basetemp(config) -> None:
    """A pytest-xdist worker's temporary folders under BASETEMP/gw0, not BASETEMP/popen-gw0:
    the Ray tests' RAY_TMPDIR is a temporary folder, and Ray's socket paths under it must
    fit in 107 characters (popen-gw0 made them 108)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    basetemp = getattr(config.option, "basetemp", None)
    if worker and basetemp and Path(basetemp).name == f"popen-{worker}":
        config.option.basetemp = str(Path(basetemp).with_name(worker))


@pytest.hookimpl(tryfirst=True)  # before pytest's own, which makes the temporary folders' factory
def pytest_configure(config):
    _short_worker_basetemp(config)
    # A shell starts a background job with SIGINT ignored, and a child inherits that:
    # camvideo then (rightly) leaves Ctrl-C ignored, and the tests that send SIGINT to a
    # child would see it ignored. The tests' own children get the default disposition.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # camvideo's cache (OpenVINO conversions) goes to a folder of this run, not the
    # user's: subprocesses inherit it, so a conversion is made once per run (once per
    # pytest-xdist worker: a worker inherits the folder its controller made, and makes its own).
    ours = os.environ.get("CAMVIDEO_CACHE") == os.environ.get("CAMVIDEO_TEST_RUN_CACHE")
    if not os.environ.get("CAMVIDEO_CACHE") or (ours and os.environ.get("PYTEST_XDIST_WORKER")):
        import tempfile

        os.environ["CAMVIDEO_CACHE"] = config._camvideo_cache = tempfile.mkdtemp(prefix="camvideo-cache-")
        os.environ["CAMVIDEO_TEST_RUN_CACHE"] = config._camvideo_cache
    # tqdm (through huggingface_hub and timm) starts a monitor thread with its first
    # bar and never stops it; the GUI tests fail on a thread left running, and a
    # progress bar needs no monitor in a test.
    try:
        import tqdm
    except ImportError:
        return
    tqdm.tqdm.monitor_interval = 0


RAY_FILES = ("test_ray.py", "test_ray_faults.py")  # the files whose tests start Ray instances
RAY_GROUP = "ray"  # a test elsewhere that starts one: @pytest.mark.xdist_group("ray")
TESTS = Path(__file__).resolve().parent


@functools.cache
def grouped_tests(path: str, group: str = RAY_GROUP) -> frozenset[str]:
    """The test functions of the file ``path`` (relative to the root) marked
    ``@pytest.mark.xdist_group(group)``, read from its source (the scheduler sees node
    ids only, and pytest-xdist's own "@group" node ids need ``--dist loadgroup``). Only a
    decorator on a test function counts: a module's ``pytestmark`` or a
    ``pytest.param(marks=...)`` is not seen (tests/test_ray_group.py still finds a test
    that starts Ray outside the group)."""
    try:
        tree = ast.parse((TESTS.parent / path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    return frozenset(
        node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for mark in node.decorator_list
        if isinstance(mark, ast.Call) and ast.unparse(mark.func).endswith("xdist_group")
        and [ast.literal_eval(a) for a in mark.args if isinstance(a, ast.Constant)] == [group])


def scope_of(nodeid: str) -> str:
    """The unit ``make test`` hands to one worker: a test's file, or the Ray group (the
    Ray files, and the tests marked ``xdist_group("ray")``): one Ray test at a time."""
    path, _, rest = nodeid.partition("::")
    name = rest.rsplit("::", 1)[-1].split("[", 1)[0]
    if path.rsplit("/", 1)[-1] in RAY_FILES or name in grouped_tests(path):
        return RAY_GROUP
    return path


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pytest-xdist not installed: one process, no scheduler
    pass
else:

    class _FileScheduling(LoadScopeScheduling):
        """Whole test files to the workers (a file's module fixtures are made once), the
        tests that start Ray instances together (``scope_of``)."""

        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    def pytest_xdist_make_scheduler(config, log):
        """``make test`` runs the suite on pytest-xdist workers (``-n 2``): files to the workers."""
        return _FileScheduling(config, log)


def pytest_unconfigure(config):
    folder = getattr(config, "_camvideo_cache", None)
    if folder:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seeded():
    """torch's global generator seeded before every test: a test's random inputs are
    the same on every run (a check with a tolerance never meets a rare input in CI)."""
    import torch

    torch.manual_seed(0)


@pytest.fixture(scope="session")
def lite0():
    """The embedded default with its real ImageNet weights (offline)."""
    from camvideo.models import load_model

    return load_model("lite0", device="cpu")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def photo():
    """photo("chelsea") -> the BGR image of tests/data/chelsea.png."""
    from camvideo.video.sources import read_image

    return lambda name: read_image(DATA / f"{name}.png")


@pytest.fixture(scope="session")
def openvino_lite0():
    """The embedded model converted for OpenVINO once per run, in the run's cache
    folder: (a fresh unfolded lite0, its cache entry). Commands that load lite0
    with ``--runtime auto`` find it there."""
    pytest.importorskip("openvino")
    from camvideo.models import load_model
    from camvideo.runtime.openvino import convert

    model = load_model("lite0", device="cpu")
    return model, convert(model)
