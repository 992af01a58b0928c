"""The ``camvideo`` command: ``gui | image | process | eval | bench | models``.

Each subcommand lives in ``camvideo/cli/commands/<name>.py`` with a
``register(subparsers)`` that adds its parser and sets ``func``. Options shared by
several commands are in ``camvideo.cli.options``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import re
import sys

from camvideo import __version__
from camvideo.errors import CamvideoError

SUBCOMMANDS = ("gui", "image", "process", "eval", "bench", "models")
ERROR_STATUS = "2 a problem with an input, an output or an option (one line on stderr)"
BATCH_STATUS = "1 a batch (several files) in which some files failed, the others done (its summary names each with why)"
STOP_STATUS = ("128+N stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), the outputs complete up to the last "
               "frame written (a file's part never replaces an earlier output of that name: it stays as the "
               ".partial file); a second signal aborts at once, with 128 + its number")


def exit_status(*, batch: bool = False, outputs: bool = False) -> str:
    """A command's --help note on its exit status: ``batch``, it runs batches (1);
    ``outputs``, a stop signal finishes its outputs (else Ctrl-C is 130 and no more)."""
    parts = ["0 done", *([BATCH_STATUS] if batch else []), ERROR_STATUS,
             STOP_STATUS if outputs else "130 interrupted by Ctrl-C (128+N by signal N), nothing more written"]
    return "exit status: " + "; ".join(parts)


EXIT_STATUS = ("exit status: 0 done; 1 `process` on several files (a batch): some failed, the others done; "
               f"{ERROR_STATUS}; 128+N stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP): `process` "
               "finishes its outputs up to the last frame written, and a second signal aborts at once, with 128 + "
               "its number; each command's --help says its own.")


class Parser(argparse.ArgumentParser):
    """argparse's parser, but a mistake on the command line is one line on stderr
    (exit 2, as every bad input): what was wrong and where the options are listed,
    not the whole usage of ``process`` (30 lines) above it."""

    commands: dict = {}  # the subcommands' parsers, by name (build_parser)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}{close_choice(message)} (`{self.prog} --help` lists the "
                  "options)\n")

    def parse_args(self, args=None, namespace=None):
        """argparse's, but an unknown option after a subcommand is that subcommand's
        error (its ``--help`` lists its options), not the top-level parser's, with the
        option it most looks like (``did_you_mean``)."""
        argv = list(sys.argv[1:] if args is None else args)
        namespace, extras = self.parse_known_args(argv, namespace)
        if hasattr(namespace, "verbose_after"):  # -v after the command adds to -v before it
            namespace.verbose = getattr(namespace, "verbose", 0) + namespace.__dict__.pop("verbose_after")
        if extras:
            command = getattr(namespace, "command", None)
            sub = self.commands.get(command)
            after = command in argv and extras[0] in argv and argv.index(command) < argv.index(extras[0])
            owner = sub if sub is not None and after else self
            owner.error(f"unrecognized arguments: {' '.join(extras)}{did_you_mean(owner, extras)}")
        return namespace


def close_choice(message: str) -> str:
    """``; did you mean balanced?`` for argparse's "invalid choice: 'balance' (choose from
    'fast', 'balanced', 'best')" when one choice is close to the value given (in any case);
    empty when none is."""
    found = re.search(r"invalid choice: (.*) \(choose from (.*)\)$", message)
    if found is None:
        return ""
    # Python 3.12.7-3.13 print the choices unquoted ("fast, balanced, best"), others quoted
    choices = [c.strip().strip("'") for c in found.group(2).split(", ")]
    given = found.group(1).strip("'")
    close = difflib.get_close_matches(given.lower(), choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def did_you_mean(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    """``; did you mean --export?`` for the first of ``extras`` that is a long option
    close to one of ``parser``'s (``--exprot``, ``--topk0``); empty when none is."""
    known = [name for action in parser._actions for name in action.option_strings if name.startswith("--")]
    for extra in (e.split("=", 1)[0] for e in extras if e.startswith("--")):
        close = difflib.get_close_matches(extra, known, n=1, cutoff=0.75)
        if close:
            return f"; did you mean {close[0]}?"
    return ""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="camvideo",
        description="Real-time video localization with Class Activation Maps: "
        "what a CNN sees in a video, and where.",
        epilog=EXIT_STATUS,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    parser.add_argument("--version", action="version", version=f"camvideo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__package__}.commands.{name}").register(sub)
    parser.commands = dict(sub.choices)
    for command in parser.commands.values():  # `camvideo process clip.mp4 -v` as well as `camvideo -v process ...`
        command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, dest="verbose_after",
                             help="log more (-vv for debug)")
    return parser


class LogLine(logging.Formatter):
    """A log record as the command's own lines: "camvideo: warning: ..." (with -v,
    the module that said it too: "camvideo: info: camvideo.runtime.openvino: ...")."""

    def format(self, record: logging.LogRecord) -> str:
        return f"camvideo: {record.levelname.lower()}: {super().format(record)}"


def _log_to_stderr(verbose: int) -> None:
    from camvideo.errors import RedactingFilter

    handler = logging.StreamHandler()
    handler.setFormatter(LogLine("%(name)s: %(message)s" if verbose else "%(message)s"))
    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), handlers=[handler])
    for handler in logging.getLogger().handlers:  # no stream password in a log line
        handler.addFilter(RedactingFilter())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _log_to_stderr(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from camvideo.runtime.allocator import tune_allocator

    tune_allocator()  # process-wide: activations stay in the heap (~30% faster forward on a CPU)
    try:
        from camvideo.cli.inputs import check_model_args
        from camvideo.cli.options import resolve_classes

        resolve_classes(args)  # --class NAME: the id, before any command uses it
        check_model_args(args)  # --device, --runtime, --precision, the model's files: before torch loads
        return int(args.func(args) or 0)
    except CamvideoError as exc:
        print(f"camvideo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("camvideo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `camvideo ... | head`: the reader left; say nothing more and exit quietly.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
