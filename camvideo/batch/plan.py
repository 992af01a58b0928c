"""From the command's inputs to jobs: which files, and where their outputs go.

Inputs are files, folders, recursive globs (``'archive/**/*.mp4'``) and the lines
of a list file (``--from-list``, one path a line; blank lines and ``#`` comments
skipped; relative paths are relative to the current folder, like arguments).

- A **video** (``VIDEO_SUFFIXES``, or any file named on its own) is one job.
- A **folder** is walked recursively (hidden names skipped). In each folder its
  videos are jobs; a folder that holds images and no video is one image-sequence
  job (its images in name order, as ``camvideo process frames/`` plays them). A
  folder that holds both processes its videos, not its images, and the plan says
  so in a note (how many images, and the glob that would process them): the rule
  is one, and never silent.
- A **glob** expands the same way: the videos it matches are jobs; the images it
  matches are one sequence when it matches no video, else noted and left out.
- A path that does not exist is a job that fails ("no such file") while the
  others run. A camera or a stream cannot be part of a batch.

Outputs mirror the input tree under the output folder: ``DIR/<rel>_cam.mkv`` and
``DIR/<rel>.jsonl`` (or ``.csv``), where ``<rel>`` is the source's path relative to
the common folder of the inputs, without its suffix. Two sources whose names
would collide (``a.mp4`` and ``a.mov``) keep their suffix in the name
(``a_mp4_cam.mkv``). Names that a path would collapse (``..mp4``, ``...mp4``)
become plain names (``_``, ``__``, numbered when taken), and every output is
checked to resolve inside the output folder, no two jobs sharing one. The output
folder itself is never taken as input.

What a rerun can skip is ``camvideo.batch.resume``.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from camvideo.batch import EXPORT_FORMATS
from camvideo.batch.globs import glob_root as _glob_root
from camvideo.batch.globs import has_magic as _has_magic
from camvideo.batch.globs import matching as _glob
from camvideo.errors import CamvideoError, InputError, OutputError, reason
from camvideo.video.recorder import made_by_camvideo, partial_path
from camvideo.video.spec import IMAGE_SUFFIXES, SourceSpec

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
                  ".flv", ".wmv", ".3gp", ".ogv")
SUMMARY_NAME = "camvideo-run.jsonl"
KINDS = ("video", "images", "missing")


@dataclass(frozen=True)
class Segment:
    """A stretch of one video file run as a job of its own (``camvideo.batch.segments``):
    frames ``first`` up to ``end`` (exclusive; None: to the file's end) of the file's own
    numbering, decoded from frame ``warm_from`` (the frames before ``first`` only warm
    the smoothing up and are not written), reached by a seek to ``seek_s`` seconds."""

    number: int  # 0-based, in file order
    count: int  # segments of the file
    first: int
    end: int | None
    warm_from: int
    seek_s: float
    parent: int  # the index of the file's own job

    def __post_init__(self) -> None:
        if not 0 <= self.warm_from <= self.first or (self.end is not None and self.end <= self.first):
            raise ValueError(f"a segment needs 0 <= warm_from <= first < end, got {self}")


@dataclass(frozen=True)
class Job:
    """One source to process and the final paths of its outputs (absolute)."""

    index: int  # position in the plan
    source: str  # absolute path: a video, a folder of images, or an absolute glob of images
    rel: str  # path relative to the inputs' common folder (posix): the job's key in the summary
    kind: str  # "video", "images" or "missing"
    recording: str | None  # DIR/<rel>_cam.mkv, or None (no recording)
    export: str | None  # DIR/<rel>.jsonl|.csv, or None
    size: int | None = None  # bytes (all the images for a sequence); None when missing
    mtime_ns: int | None = None  # modification time (the newest image for a sequence)
    segment: Segment | None = None  # a stretch of the file (its outputs are the segment's own)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(p for p in (self.recording, self.export) if p)


@dataclass(frozen=True)
class Plan:
    """Every job of a run, the output folder and what the user must be told."""

    jobs: tuple[Job, ...]
    output_dir: str
    notes: tuple[str, ...] = ()  # e.g. images left out of a folder of videos

    @property
    def summary_path(self) -> Path:
        return Path(self.output_dir) / SUMMARY_NAME


@dataclass(frozen=True)
class _Entry:
    """A source found in the inputs, before it has output paths."""

    path: str  # absolute
    kind: str
    root: str  # the folder its relative path is counted from (the mirror's base is their common path)
    images: tuple[str, ...] = ()  # for a sequence: its image files


def _suffix(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def _inside(path: str, folder: str | None) -> bool:
    if folder is None:
        return False
    try:
        return os.path.commonpath([os.path.realpath(path), folder]) == folder
    except ValueError:  # different drives
        return False


def _shown(path: str) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _walk(folder: str, exclude: str | None, notes: list[str]) -> list[_Entry]:
    """Videos and image folders under ``folder``, in name order."""
    entries: list[_Entry] = []
    ignored, ignored_dirs, linked, recordings = 0, 0, [], []
    example = ""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and not _inside(os.path.join(dirpath, d), exclude))
        linked += [os.path.join(dirpath, d) for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        names = sorted(f for f in filenames if not f.startswith("."))
        videos = [f for f in names if _suffix(f) in VIDEO_SUFFIXES and os.path.isfile(os.path.join(dirpath, f))]
        recordings += [os.path.join(dirpath, f) for f in videos if is_camvideo_recording(os.path.join(dirpath, f))]
        videos = [f for f in videos if os.path.join(dirpath, f) not in recordings]
        images = [f for f in names if _suffix(f) in IMAGE_SUFFIXES and os.path.isfile(os.path.join(dirpath, f))]
        entries += [_Entry(os.path.join(dirpath, f), "video", folder) for f in videos]
        if videos and images:
            ignored, ignored_dirs = ignored + len(images), ignored_dirs + 1
            common = max(sorted({_suffix(f) for f in images}), key=[_suffix(f) for f in images].count)
            example = example or os.path.join(_shown(dirpath), "*" + common)  # the images' usual kind
        elif images:
            entries.append(_Entry(dirpath, "images", folder, tuple(os.path.join(dirpath, f) for f in images)))
    if ignored:
        where = "a folder that also holds" if ignored_dirs == 1 else f"{ignored_dirs} folders that also hold"
        notes.append(f"{_shown(folder)}: {ignored} image{'s' * (ignored > 1)} in {where} videos "
                     f"not processed (a folder with videos is processed as videos; to process the images "
                     f"as a sequence: camvideo process '{example}')")
    if linked:
        notes.append(f"{_shown(folder)}: {len(linked)} linked folder{'s' * (len(linked) > 1)} not followed "
                     f"({_shown(linked[0])}{', ...' * (len(linked) > 1)}; a link may loop): give "
                     f"{'them' if len(linked) > 1 else 'it'} as a source to process what is inside")
    if recordings:
        notes.append(f"{_shown(folder)}: {len(recordings)} camvideo recording{'s' * (len(recordings) > 1)} "
                     f"not analysed again ({_shown(recordings[0])}{', ...' * (len(recordings) > 1)}: its labels "
                     "are burned in); give one by name to analyse it anyway")
    return entries


def is_camvideo_recording(path: str) -> bool:
    """A ``*_cam.mkv`` whose container says camvideo recorded it (``made_by_camvideo``)."""
    if not path.endswith("_cam.mkv"):
        return False
    import av

    try:
        with av.open(path) as container:
            return made_by_camvideo(container.metadata)
    except (av.FFmpegError, OSError, ValueError):
        return False


def _expand_one(spec: str, exclude: str | None, notes: list[str]) -> list[_Entry]:
    parsed = SourceSpec.parse(spec)
    if parsed.live:
        raise CamvideoError(f"{spec}: a camera or a stream cannot be part of a batch of files; "
                            "process it on its own (camvideo process SOURCE)")
    if parsed.kind == "folder":
        folder = os.path.abspath(parsed.path)
        if os.path.realpath(folder) == exclude:
            raise CamvideoError(f"--output-dir {folder} is the input folder itself: give another folder "
                                "(one inside it is fine: it is never read as input)")
        # an input inside the output folder is read whole (the outputs go beside it, not into it)
        said = len(notes)
        found = _walk(folder, None if _inside(folder, exclude) else exclude, notes)
        if not found:  # what the walk left out (camvideo's recordings, linked folders) is the why
            why = "; ".join(note[len(_shown(folder)) + 2:] for note in notes[said:])
            raise InputError(f"{spec}: no videos or images in this folder to process: {why}" if why else
                             f"{spec}: no videos or images in this folder "
                             f"(videos: {', '.join(VIDEO_SUFFIXES)}; images: {', '.join(IMAGE_SUFFIXES)})")
        return found
    if parsed.kind in ("image", "file"):
        text = os.path.abspath(parsed.path)
        if parsed.kind == "image":
            return [_Entry(text, "images", os.path.dirname(text), (text,))]
        return [_Entry(text, "video" if parsed.path.exists() else "missing", os.path.dirname(text))]
    text = os.path.abspath(parsed.pattern)
    root = _glob_root(text)
    matches = sorted(p for p in _glob(text) if not _inside(p, exclude))
    found: list[_Entry] = []
    videos = [p for p in matches if os.path.isfile(p) and _suffix(p) in VIDEO_SUFFIXES]
    images = [p for p in matches if os.path.isfile(p) and _suffix(p) in IMAGE_SUFFIXES]
    found += [_Entry(p, "video", root) for p in videos]
    for folder in (p for p in matches if os.path.isdir(p)):
        found += _walk(folder, exclude, notes)
    if images and videos:
        notes.append(f"{spec}: {len(images)} image{'s' * (len(images) > 1)} matched among videos not processed "
                     "(a pattern that matches videos is processed as videos; give a pattern of images alone "
                     "to process them as a sequence)")
    elif images:
        found.append(_Entry(text, "images", root, tuple(images)))
    if not found:
        raise InputError(f"{spec}: no videos or images match this pattern")
    return found


def read_list(path: str | Path) -> list[str]:
    """The sources of a ``--from-list`` file: one a line, blank lines and ``#`` comments skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--from-list {path}: cannot read it ({reason(exc)})") from None
    except UnicodeDecodeError:
        raise InputError(f"--from-list {path}: not a text file (one path a line)") from None
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _stat(entry: _Entry) -> tuple[int | None, int | None]:
    files = entry.images if entry.kind == "images" else (entry.path,) if entry.kind == "video" else ()
    try:
        stats = [os.stat(f) for f in files]
    except OSError:
        return None, None
    if not stats:
        return None, None
    return sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats)


def _rel(entry: _Entry, base: str) -> str:
    """The entry's path relative to ``base`` (posix); a pattern of images counts from its folder."""
    path = entry.root if entry.kind == "images" and _has_magic(entry.path) else entry.path
    rel = os.path.relpath(path, base)
    return Path(rel).as_posix() if rel != "." else (os.path.basename(base.rstrip(os.sep)) or "frames")


def _stems(entries: Sequence[_Entry], rels: Sequence[str]) -> list[str]:
    """The output stem of each entry (posix, relative to the output folder): its
    relative path without the suffix; names that would collide keep their suffix
    (``a_mp4``, ``a_mov``), and are numbered if even that is not enough."""
    files = [entry.kind != "images" or os.path.isfile(entry.path) for entry in entries]  # not a folder or pattern
    stems = [_safe(_without_suffix(rel) if is_file else rel) for is_file, rel in zip(files, rels)]
    reserved = {Path(SUMMARY_NAME).stem}
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem.lower()] = counts.get(stem.lower(), 0) + 1
    for i, rel in enumerate(rels):
        suffix = _suffix(rel)
        if (counts[stems[i].lower()] > 1 or stems[i].lower() in reserved) and suffix and files[i]:
            stems[i] = f"{stems[i]}_{suffix.lstrip('.')}"
    seen: dict[str, int] = {}
    for i, stem in enumerate(stems):
        key = stem.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1 or key in reserved:
            stems[i] = f"{stem}_{seen[key]}"
    return stems


def _without_suffix(rel: str) -> str:
    """``sub/a.mp4`` -> ``sub/a``; ``..mp4`` -> ``.`` (made safe by ``_safe``)."""
    folder, name = posixpath.split(rel)
    stem = name[: -len(_suffix(name))] if _suffix(name) else name
    return posixpath.join(folder, stem) if folder else stem


def _safe(stem: str) -> str:
    """A stem whose every part is a plain name: the parts a path would collapse
    (``""``, ``.``, ``..``: a file named ``..mp4`` or ``...mp4``) become ``_``s of
    their length (``.`` -> ``_``, ``..`` -> ``__``); the numbering of ``_stems``
    keeps them distinct from a real ``_``."""
    parts = stem.split("/")
    return "/".join(part if part.strip(".") else "_" * max(1, len(part)) for part in parts)


def _unique(specs: Sequence[str], exclude: str, notes: list[str]) -> list[_Entry]:
    """What ``specs`` expand to, each video once: one given twice, or reached again
    through a link, is one job, and a note says how many names were dropped so."""
    entries: list[_Entry] = []
    seen: dict[str, str] = {}
    again: list[tuple[str, str]] = []  # (the name dropped, its key in seen)
    for spec in specs:
        for entry in _expand_one(spec, exclude, notes):
            key = os.path.realpath(entry.path) if entry.kind == "video" else entry.path
            if key in seen:
                again.append((entry.path, key))
                continue
            seen[key] = entry.path
            entries.append(entry)
    if again:
        first, job = _shown(again[0][0]), _shown(seen[again[0][1]])
        example = first if first == job else f"{first} is {job}"
        notes.append(f"{len(again)} more name{'s' * (len(again) > 1)} of videos already in the run (given twice, "
                     f"or a link) processed once: {example}{', ...' * (len(again) > 1)}")
    return entries


def make_plan(sources: Sequence[str], output_dir: str | Path, *, from_list: str | Path | None = None,
              recording: bool = True, export_format: str = "jsonl") -> Plan:
    """Expand ``sources`` (and the lines of ``from_list``) into jobs with output paths
    under ``output_dir``. Raises ``CamvideoError`` for input that can never run (a
    camera, a pattern or folder with nothing in it, a list file that cannot be read)."""
    if export_format not in EXPORT_FORMATS:
        raise ValueError(f"export_format must be one of {EXPORT_FORMATS}, got {export_format!r}")
    if not recording and export_format == "none":
        raise CamvideoError("nothing to write: --no-recording with --export-format none")
    specs = list(sources) + (read_list(from_list) if from_list is not None else [])
    if not specs:
        raise CamvideoError("no source: give files, folders or patterns, or --from-list FILE")
    output_dir = os.path.abspath(os.path.expanduser(str(output_dir)))
    exclude = os.path.realpath(output_dir)
    notes: list[str] = []
    entries = _unique(specs, exclude, notes)
    base = os.path.commonpath([e.root for e in entries]) if len(entries) > 1 else entries[0].root
    if len(entries) == 1 and entries[0].kind == "images" and not _has_magic(entries[0].path):
        base = os.path.dirname(entries[0].path)
    rels = [_rel(entry, base) for entry in entries]
    stems = _stems(entries, rels)
    jobs = []
    for index, (entry, rel, stem) in enumerate(zip(entries, rels, stems)):
        size, mtime = _stat(entry)
        out = Path(output_dir) / stem
        jobs.append(Job(
            index=index, source=entry.path, rel=rel, kind=entry.kind,
            recording=str(out.with_name(out.name + "_cam.mkv")) if recording else None,
            export=str(out.with_name(f"{out.name}.{export_format}")) if export_format != "none" else None,
            size=size, mtime_ns=mtime,
        ))
    _check_no_output_is_an_input(jobs)
    _check_outputs_inside(jobs, output_dir)
    return Plan(tuple(jobs), output_dir, tuple(notes))


def _check_outputs_inside(jobs: Sequence[Job], output_dir: str) -> None:
    """Every output resolves inside ``output_dir`` (links followed) and no two jobs
    share one: an ``OutputError`` otherwise (the naming rules make both impossible;
    this is the last word before anything is written)."""
    root = os.path.realpath(output_dir)
    owners: dict[str, str] = {}
    for job in jobs:
        for path in job.outputs:
            where = os.path.normcase(os.path.realpath(path))
            if not _inside(where, os.path.normcase(root)) or where == os.path.normcase(root):
                raise OutputError(f"{job.rel}: its output {path} would be outside --output-dir {output_dir}; "
                                  "rename the file or give another --output-dir")
            other = owners.setdefault(where.lower(), job.rel)
            if other != job.rel:
                raise OutputError(f"{job.rel} and {other} would both write {path}; rename one of them")


def _check_no_output_is_an_input(jobs: Sequence[Job]) -> None:
    """``OutputError`` when a job would write over a file the batch reads (``a.mp4``
    and ``a_cam.mkv`` given together, with ``--output-dir`` their own folder)."""
    inputs = {}
    for job in jobs:
        for path in (job.source,) if job.kind != "images" or os.path.isfile(job.source) else ():
            inputs[os.path.realpath(path)] = job.source
    for job in jobs:
        for path in job.outputs:
            for candidate in (path, str(partial_path(Path(path)))):
                source = inputs.get(os.path.realpath(candidate))
                if source is not None:
                    raise OutputError(f"{candidate}, an output of {job.rel}, is the input {source}: "
                                      "give another --output-dir")


def expands_to_videos(spec: str) -> bool:
    """True when one SOURCE argument means several jobs or a video archive: a folder
    or a pattern with videos in it (then ``camvideo process SOURCE`` is a batch; a
    folder or pattern of images alone stays one image sequence, as it always was)."""
    parsed = SourceSpec.parse(spec)
    if parsed.kind == "folder":
        for _dirpath, dirnames, filenames in os.walk(parsed.path):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            if any(_suffix(f) in VIDEO_SUFFIXES for f in filenames if not f.startswith(".")):
                return True
        return False
    if parsed.kind == "glob":
        return any(_suffix(p) in VIDEO_SUFFIXES or os.path.isdir(p) for p in _glob(parsed.pattern))
    return False


def prepare_output_dir(plan: Plan) -> None:
    """Make the output folder and every job's subfolder; ``OutputError`` when it
    cannot be written (checked with a real file, before any job starts)."""
    if os.path.exists(plan.output_dir) and not os.path.isdir(plan.output_dir):
        raise OutputError(f"--output-dir {plan.output_dir} is a file, not a folder: give a folder (made if missing)")
    try:
        os.makedirs(plan.output_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=plan.output_dir, prefix=".camvideo-check-"):
            pass
        for folder in sorted({os.path.dirname(p) for job in plan.jobs for p in job.outputs}):
            os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--output-dir {plan.output_dir}: cannot write there ({reason(exc)})") from None
