"""The dependency direction of the package: settings/results -> models, cam, video ->
runtime -> cli, batch, qt, nothing pointing back (docs/architecture.md). Read from
the source with ast: every import, at the top of a module or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "camvideo"

# what each part of the core must never import (front ends, or a later layer)
FORBIDDEN = {
    "batch": ("cli", "qt"),
    "video": ("runtime", "cli", "batch", "qt"),
    "models": ("runtime", "cli", "batch", "qt"),
    "cam": ("runtime", "cli", "batch", "qt"),
    "settings": ("runtime", "cli", "batch", "qt", "models", "cam", "video"),
    "presets": ("runtime", "cli", "batch", "qt", "models", "cam", "video"),
    "results": ("runtime", "cli", "batch", "qt"),
    "errors": ("runtime", "cli", "batch", "qt", "models", "cam", "video", "settings"),
    "timing": ("runtime", "cli", "batch", "qt", "models", "cam", "video"),
    "progress": ("runtime", "cli", "batch", "qt"),
    "runtime": ("cli", "batch", "qt"),
    "frames": ("runtime", "cli", "batch", "qt"),
    "annotate": ("runtime", "cli", "batch", "qt"),
    "classnames": ("runtime", "cli", "batch", "qt", "models", "cam", "video", "settings"),
    "class_colours": ("runtime", "cli", "batch", "qt", "models", "cam", "video", "settings"),
    "labels_layout": ("runtime", "cli", "batch", "qt", "models", "cam", "video"),
    "tools": ("cli", "batch", "qt"),
    "app": ("cli", "batch", "qt"),  # the window's state, without Qt (tests/app/)
    "qt": ("cli", "batch", "tools"),  # the window: the core and app/, never the command line
    "exiting": ("settings", "results", "errors", "runtime", "cli", "batch", "qt", "models", "cam", "video", "app"),
}


def imported(path: Path) -> set[str]:
    """The camvideo modules ``path`` imports, as dotted names."""
    found = set()
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "camvideo" or name.startswith("camvideo.")}


def part_of(name: str) -> str:
    """``camvideo.runtime.loading`` -> ``runtime``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def modules(part: str) -> list[Path]:
    folder = PACKAGE / part
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{part}.py"]


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_nothing_points_back(part):
    wrong = []
    for path in modules(part):
        for name in imported(path):
            if part_of(name) in FORBIDDEN[part]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_reader_finds_imports_of_every_kind(tmp_path):
    """The check itself: top-level, from-imports, imports inside functions."""
    path = PACKAGE / "batch" / "job.py"
    names = imported(path)
    assert "camvideo.runtime.loading" in names  # inside JobRunner.load
    assert "camvideo.batch.plan" in names and "camvideo.settings" in names


def test_the_core_words_no_error_for_one_front_end():
    """No core module writes a flag into an error's text: it gives a Hint instead
    (camvideo.errors). A string that starts an error message with "--" or says
    "use --"/"with --" is a flag written in."""
    wrong = []
    for part in ("models", "cam", "video", "runtime", "settings", "results", "annotate"):
        for path in modules(part):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and getattr(node.func, "id", "").endswith(("Error", "Unsupported"))):
                    continue
                for arg in node.args:
                    for text in _texts(arg):
                        if " --" in text or text.startswith("--") or "`camvideo " in text:
                            wrong.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {text!r}")
    assert not wrong, "\n".join(wrong)


def _texts(node) -> list[str]:
    """The literal text pieces of a string or f-string argument."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    return []


def test_qt_holds_only_modules_that_import_qt():
    """Issue 23: what needs no Qt lives in ``camvideo.app`` (or the core), unit-tested
    without a window; every module of ``camvideo.qt`` imports PyQt6 itself."""
    without = []
    for path in modules("qt"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        if path.name != "__init__.py" and not any(n == "PyQt6" or n.startswith("PyQt6.") for n in names):
            without.append(str(path.relative_to(PACKAGE.parent)))
    assert not without, "no Qt in: " + ", ".join(without)


@pytest.mark.parametrize("name", ["session.py", "window.py"])
def test_the_window_and_its_session_import_few_siblings(name):
    """Issue 23: ``Session`` and ``MainWindow`` each import fewer than 10 modules of ``camvideo.qt``."""
    names = imported(PACKAGE / "qt" / name)
    siblings = {n.split(".")[2] for n in names
                if n.startswith("camvideo.qt.") and (PACKAGE / "qt" / f"{n.split('.')[2]}.py").exists()}
    if "camvideo.qt" in names:
        siblings.add("__init__")  # the package itself (app_settings)
    assert len(siblings) < 10, sorted(siblings)
