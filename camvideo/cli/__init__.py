"""The command line: ``camvideo gui | image | process | eval | bench | models``.

``main`` parses and dispatches; ``options`` holds the options several commands
share and turns them into settings; ``commands/`` has one module per subcommand,
each importing torch only when it runs (``camvideo --help`` stays at ~0.1 s).
``signals`` guards the outputs of a run for an abort (the stop signals themselves:
``camvideo.runtime.signals``, which the window uses too).
"""

from camvideo.cli.exit import entry
from camvideo.cli.options import (
    add_box_options,
    add_localize_options,
    add_model_options,
    add_overlay_options,
    load_model_from_args,
    localize_settings_from_args,
    localizer_from_args,
    overlay_settings_from_args,
)
from camvideo.cli.parser import build_parser, main

__all__ = [
    "add_box_options",
    "add_localize_options",
    "add_model_options",
    "add_overlay_options",
    "build_parser",
    "entry",
    "load_model_from_args",
    "localize_settings_from_args",
    "localizer_from_args",
    "main",
    "overlay_settings_from_args",
]
