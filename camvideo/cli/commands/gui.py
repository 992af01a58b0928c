"""``camvideo gui [SOURCE]``: the desktop app (``python main.py`` runs it too)."""

from __future__ import annotations

import argparse
import re

from camvideo.cli import options as cli


def register(sub) -> None:
    p = sub.add_parser(
        "gui",
        help="the desktop app: live heat maps, labels and boxes; record and snapshot",
        description="Open the window on SOURCE: a camera index, a video file, a folder of images or "
        "a stream URL. With no SOURCE: camera 0 when one opens, else the demo clip (looping). Without "
        "--model, the model chosen in the window last time (the first time lite0).",
        epilog="exit status: 0 the window was closed; 2 a problem with an option or a file given "
        "(one line on stderr, before the window opens: a SOURCE path that does not exist, too; a source "
        "or model that fails later is said in "
        "the window, which stays up); 128+N when signal N closed it (130 Ctrl-C, 143 SIGTERM: a "
        "recording is finished first, as on closing).",
    )
    p.add_argument("source", nargs="?", metavar="SOURCE", type=cli.path_argument, help="camera index, video file, folder or URL")
    p.add_argument("--loop", action="store_true", help="play a file again from the start when it ends")
    cli.add_model_options(p, precision=False)  # the window's forward pass runs f32
    p.set_defaults(func=run, model=None)  # no --model: the model the window remembers (the first time lite0)


def run(args: argparse.Namespace) -> int:
    """Check what can be checked before a window opens, then run the app. The
    window shows first: torch (1.5 s), the model list and the model load in the
    background, so the usual start (the built-in model, a plain device name)
    imports no torch here. A model name other than the built-in one is checked
    first (``checked_model``): a typo fails at once."""

    from camvideo.errors import CamvideoError

    check_source(args.source)
    if args.model is None and cli.model_options(args):
        args.model = cli.DEFAULT_MODEL  # no --model: the model options go with the built-in model
    if args.model is not None:
        args.model = checked_model(args.model)
    options = cli.model_options(args)  # the model options and their files: checked by cli.main, before torch
    device, runtime = window_device(args.device), args.runtime
    if device != args.device:  # openvino:CPU: the model on the CPU, its forward pass on OpenVINO
        runtime = "openvino"
    if not PLAIN_DEVICE.fullmatch(device):
        from camvideo.models import resolve_device

        try:
            device = str(resolve_device(device))
        except ValueError as exc:
            raise CamvideoError(str(exc)) from None
    # (whether a named CUDA device exists is known once torch is imported: the
    # model load says so in the window, as for any model that cannot load)
    check_display()
    from camvideo.qt.app import run as run_app

    # the model options are the command line's model's: the window's first load uses them, a
    # model chosen later in the window loads as it comes (a checkpoint belongs to its model)
    status = run_app(args.source, model=args.model, device=device, loop=args.loop, model_options=options,
                     runtime=None if runtime == "auto" else runtime)  # auto: the Runtime box's remembered choice
    # The window has closed: recording final, settings synced, threads joined (bounded waits).
    # The interpreter's teardown has nothing left to do but harm: a thread still in torch's,
    # OpenVINO's or OpenCV's native code then ends in std::terminate (exit status 134) when it
    # takes the GIL back (docs/app.md). A thread past its bounded wait does not hold the exit;
    # a recording's save or a source's stop, marked by ``qt.tasks``, does (``camvideo.exiting``).
    from camvideo import exiting
    from camvideo.cli.exit import allow_quick_exit

    exiting.waited_for()
    allow_quick_exit()
    return status


def checked_model(name: str) -> str:
    """``--model``'s name as the window takes it: an exported graph by its absolute
    path (the name the window remembers), its files checked; a registry name other
    than the built-in one checked against the window's kept list of names
    (``camvideo.cli.inputs``: no torch; with none kept, torchvision's registry): a
    typo fails at once."""
    from pathlib import Path

    from camvideo.app.models import is_exported
    from camvideo.cli.inputs import check_graph_files, check_model_name, kept_model_names

    if is_exported(name):  # an exported graph: the file is the model (its graph is read by the load)
        check_graph_files(Path(name))
        return str(Path(name).absolute())
    if name != cli.DEFAULT_MODEL and not name.startswith("timm:"):
        names = kept_model_names()
        if names is None:  # none kept yet: torchvision's registry (imports torch)
            from camvideo.models import available_models

            names = set(available_models())
        check_model_name(name, names)
    return name


def window_device(device: str) -> str:
    """``--device`` for the window: ``openvino:CPU`` is the CPU (the window runs
    OpenVINO there); another OpenVINO device is one line, exit 2, before a window
    opens: one OpenVINO lacks lists those it has, one it has says the window cannot
    use it. Any other device is returned as it is (and no torch imported for it:
    the window shows first)."""
    if not device.lower().startswith("openvino:"):
        return device
    from camvideo.errors import CamvideoError, Hint
    from camvideo.runtime.runtimes import check_openvino_device, parse_device

    try:
        choice = parse_device(device)
    except ValueError as exc:
        raise CamvideoError(Hint("device", subject=True), str(exc)) from None
    check_openvino_device(choice.openvino)
    if choice.openvino.split(".")[0] != "CPU":
        raise CamvideoError(Hint("device", device, subject=True), "the window runs OpenVINO on the CPU only (",
                            Hint("device", "openvino:CPU", "use"), "); `camvideo process` takes this device")
    return "cpu"


def check_source(source: str | None) -> None:
    """A SOURCE path that names nothing (a typo) fails before the window opens, as a
    missing --weights does; a camera, a URL, a glob or a file that cannot be decoded
    is tried by the window, which says what went wrong and stays up."""
    from camvideo.errors import InputError
    from camvideo.video.spec import SourceSpec

    spec = SourceSpec.parse(source) if source is not None else None
    if spec is not None and spec.kind == "file" and not spec.path.exists():
        raise InputError(f"{source}: no such file or folder (a camera is its number: 0, 1, ...; "
                         "a stream its URL: rtsp://...)")


# Device names whose spelling is right without asking torch (``resolve_device``
# checks anything else, and the CUDA ones again when the model loads).
PLAIN_DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")


XCB_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 "
    "libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0"
)


def check_display() -> None:
    """On Linux, say what is missing before Qt aborts the process with its own
    message: no display at all, or the xcb plugin's system libraries."""
    import ctypes.util
    import os
    import sys

    from camvideo.errors import CamvideoError

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise CamvideoError(
            "no display to open the window on (DISPLAY is not set): run it in a desktop session, "
            "under Xvfb (xvfb-run camvideo gui), or headless with QT_QPA_PLATFORM=offscreen; "
            "`camvideo process` needs no display"
        )
    if os.environ.get("WAYLAND_DISPLAY"):
        return
    missing = missing_xcb_libraries()
    if missing is None:  # no ldd to ask: the one library most systems lack
        missing = [] if ctypes.util.find_library("xcb-cursor") is not None else ["libxcb-cursor.so.0"]
    if missing:
        raise CamvideoError(
            f"Qt's xcb platform plugin needs system libraries that are missing ({', '.join(missing)}); "
            f"on Debian/Ubuntu: sudo apt-get install {' '.join(debian_package(name) for name in missing)} "
            f"(all it may need: {XCB_PACKAGES})"
        )


def missing_xcb_libraries() -> list[str] | None:
    """The shared libraries Qt's xcb plugin (and what it links) cannot find here,
    as ``ldd`` reports them; None when there is no plugin or no ``ldd`` to ask."""
    import importlib.util
    import shutil
    import subprocess
    from pathlib import Path

    spec = importlib.util.find_spec("PyQt6")
    ldd = shutil.which("ldd")
    if spec is None or not spec.submodule_search_locations or ldd is None:
        return None
    plugin = Path(spec.submodule_search_locations[0]) / "Qt6" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return None
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return not_found(out)


def not_found(ldd_output: str) -> list[str]:
    """``libxcb-icccm.so.4 => not found`` lines of ``ldd``'s output -> the names, in order, once each."""
    names = [line.split("=>")[0].strip() for line in ldd_output.splitlines() if "=> not found" in line]
    return list(dict.fromkeys(names))


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package of a library: ``libxcb-icccm.so.4`` -> ``libxcb-icccm4``,
    ``libxkbcommon-x11.so.0`` -> ``libxkbcommon-x11-0`` (a version after a digit takes a dash;
    lower case: ``libGL.so.1`` -> ``libgl1``)."""
    base, _, version = soname.partition(".so.")
    version = version.split(".")[0]
    if not version:
        return base
    return (f"{base}-{version}" if base[-1].isdigit() else f"{base}{version}").lower()
