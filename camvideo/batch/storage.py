"""Archives in object storage: inputs and ``--output-dir`` as URLs (``s3://bucket/prefix``,
``gs://``, ``az://``: any fsspec filesystem; ``pip install 'camvideo[s3]'`` for S3).

- **Inputs**: a URL names an object (a video), a prefix (every video under it,
  recursively; hidden names skipped) or a pattern (``s3://b/cams/**/*.mp4``). Its
  size and modification time (the store's ``LastModified``) are what a rerun
  compares, as a file's are on disk. Each job fetches its source to a local
  temporary file in the worker (``run_staged``) and removes it after the job.
- **Outputs** under a URL are written to a local temporary folder of the worker,
  as on disk (``.partial`` names, renamed when complete), then uploaded: an object
  appears under its final key only when its upload completes (a PUT, or a multipart
  upload completed at its end, is atomic), so a final key never holds part of an
  output; a failed upload fails the file and leaves the earlier object as it was.
- **Credentials and endpoint** come from the filesystem library's own standard
  configuration (for S3: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
  ``AWS_PROFILE`` and ``~/.aws``, ``AWS_ENDPOINT_URL`` for an S3-compatible store,
  an instance role); camvideo never reads, passes or prints them. On a cluster,
  every node needs them (its environment or its role).
- Inputs on disk and in a store cannot be mixed in one run; segments
  (``--segment-seconds``) and ``--dataset`` need local files (a store's files
  run whole).

The lock and the summary in the bucket: ``camvideo.batch.bucket``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import posixpath
import re
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime

from camvideo.errors import CamvideoError, InputError, OutputError, reason

SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory")  # object stores (http:// is a stream)
_SCHEME = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://")
_MAGIC = re.compile(r"[*?\[]")


def is_url(text: object) -> bool:
    """Is ``text`` an object-store URL (``s3://...``)?"""
    match = _SCHEME.match(str(text))
    return bool(match) and match["scheme"].lower() in SCHEMES


def filesystem(url: str):
    """(the fsspec filesystem of ``url``, its path without the scheme); one clear
    ``CamvideoError`` when the library it needs is not installed."""
    scheme = _SCHEME.match(url)["scheme"].lower()
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise CamvideoError(f"{url}: object storage needs fsspec: pip install 'camvideo[s3]'") from None
    try:
        return url_to_fs(url)
    except ImportError:
        package = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs"}.get(scheme, "adlfs")
        extra = " (pip install 'camvideo[s3]')" if package == "s3fs" else ""
        raise CamvideoError(f"{url}: {scheme}:// URLs need the {package} package: pip install {package}{extra}") \
            from None


def join(url: str, *parts: str) -> str:
    return "/".join([url.rstrip("/"), *(p.strip("/") for p in parts)])


def _full(fs, path: str) -> str:
    """A filesystem's path back as a URL."""
    protocol = fs.protocol[0] if isinstance(fs.protocol, tuple | list) else fs.protocol
    return f"{protocol}://{path}"


@contextlib.contextmanager
def errors(url: str, doing: str, error: type[CamvideoError] = OutputError):
    """Any failure of the store while ``doing`` becomes one line: a missing bucket,
    refused credentials, an endpoint that does not answer (never the credentials)."""
    try:
        yield
    except CamvideoError:
        raise
    except FileNotFoundError as exc:
        raise error(f"{url}: {doing}: no such bucket or object ({reason(exc)})") from None
    except PermissionError as exc:
        raise error(f"{url}: {doing}: access denied ({reason(exc)}); check the credentials (AWS_ACCESS_KEY_ID "
                    "and AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and AWS_ENDPOINT_URL") from None
    except Exception as exc:  # noqa: BLE001 - botocore's and aiohttp's own errors: one line, exit 2
        raise error(f"{url}: {doing}: {type(exc).__name__}: {reason(exc)}") from None


def check_bucket(url: str) -> None:
    """``OutputError`` unless the bucket of ``url`` exists and the credentials open it."""
    fs, path = filesystem(url)
    bucket = path.split("/", 1)[0]
    with errors(url, f"cannot open the bucket {bucket}"):
        fs.info(bucket)


def _mtime_ns(info: dict) -> int | None:
    moment = info.get("LastModified") or info.get("mtime") or info.get("updated") or info.get("last_modified")
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if isinstance(moment, datetime):
        return int(moment.timestamp() * 1_000_000) * 1000
    return int(float(moment) * 1e9) if isinstance(moment, int | float) else None


def list_videos(spec: str, suffixes: Sequence[str]) -> tuple[str, list[tuple[str, int, int | None]], list[str]]:
    """(the prefix relative paths count from, [(url, size, mtime_ns)] of the videos
    ``spec`` names: an object, every video under a prefix, or a pattern's matches,
    [the urls of camvideo's own recordings under a prefix, left out]), as a folder
    walk on disk leaves them out (``plan.is_camvideo_recording``)."""
    fs, path = filesystem(spec)
    pattern = bool(_MAGIC.search(path))
    with errors(spec, "cannot list it", InputError):
        if pattern:
            root = path[: _MAGIC.search(path).start()].rsplit("/", 1)[0]
            found = fs.glob(path, detail=True)
        elif fs.isfile(path):
            return _full(fs, posixpath.dirname(path)), [(spec, fs.info(path)["size"], _mtime_ns(fs.info(path)))], []
        else:
            root, found = path.rstrip("/"), fs.find(path, detail=True)
    videos, recordings = [], []
    for name, info in sorted(found.items()):
        rel = posixpath.relpath(name, root)
        if info.get("type") == "file" and os.path.splitext(name)[1].lower() in suffixes \
                and not any(part.startswith(".") for part in rel.split("/")):
            if not pattern and _camvideo_recording(fs, name):
                recordings.append(name)
            else:
                videos.append((_full(fs, name), int(info["size"]), _mtime_ns(info)))
    if not videos and recordings:
        raise InputError(f"{spec}: no videos there but camvideo's own recordings ({_full(fs, recordings[0])}"
                         f"{', ...' * (len(recordings) > 1)}: their labels are burned in); give one by name "
                         "to analyse it anyway")
    if not videos:
        raise InputError(f"{spec}: no videos there (videos: {', '.join(suffixes)})")
    return _full(fs, root), videos, [_full(fs, name) for name in recordings]


def _camvideo_recording(fs, name: str) -> bool:
    """An object ``*_cam.mkv`` whose container says camvideo recorded it (its header read,
    not the whole object)."""
    if not name.endswith("_cam.mkv"):
        return False
    import av

    from camvideo.video.recorder import made_by_camvideo

    try:
        with fs.open(name, "rb", block_size=1 << 16) as file, av.open(file) as container:
            return made_by_camvideo(container.metadata)
    except (av.FFmpegError, OSError, ValueError):
        return False


def sizes_under(url: str) -> dict[str, int]:
    """Every object under ``url`` and its size: what a rerun checks outputs against."""
    fs, path = filesystem(url)
    with errors(url, "cannot list it"):
        if not fs.exists(path):
            return {}
        return {_full(fs, name): int(info["size"]) for name, info in fs.find(path, detail=True).items()}


def make_plan(specs: Sequence[str], output_dir: str, *, recording: bool, export_format: str):
    """The plan of a run whose inputs or output folder are in a store (``camvideo.batch.plan``'s
    rules: outputs mirror the inputs, colliding names keep their suffix)."""
    from camvideo.batch import plan as local

    remote = [is_url(s) for s in specs]
    if any(remote) and not all(remote):
        raise CamvideoError("inputs in object storage and on disk cannot be mixed in one run: run them separately")
    out_url = is_url(output_dir)
    out = output_dir.rstrip("/") if out_url else os.path.abspath(os.path.expanduser(output_dir))
    if not any(remote):  # local inputs: the local plan, on a stand-in folder, then its outputs moved to the URL
        stand_in = os.path.join(tempfile.gettempdir(), f".camvideo-stand-in-{os.getpid()}")
        plan = local.make_plan(specs, stand_in, recording=recording, export_format=export_format)
        moved = {p: join(out, os.path.relpath(p, stand_in).replace(os.sep, "/"))
                 for job in plan.jobs for p in job.outputs}
        jobs = tuple(dataclasses.replace(job, recording=moved.get(job.recording), export=moved.get(job.export))
                     for job in plan.jobs)
        return local.Plan(jobs, out, plan.notes)
    entries, seen, notes = [], set(), []
    for spec in specs:
        root, videos, recordings = list_videos(spec, local.VIDEO_SUFFIXES)
        if recordings:
            notes.append(f"{spec}: {len(recordings)} camvideo recording{'s' * (len(recordings) > 1)} not analysed "
                         f"again ({recordings[0]}{', ...' * (len(recordings) > 1)}: its labels are burned in); "
                         "give one by name to analyse it anyway")
        for url, size, mtime in videos:
            if url not in seen and not (out_url and url.startswith(out + "/")):
                seen.add(url)
                entries.append((local._Entry(url, "video", root), size, mtime))
    if not entries:
        raise InputError(f"{specs[0]}: no videos there but the output folder's")
    roots = {e.root.split("://", 1)[1] for e, _, _ in entries}
    base = posixpath.commonpath(list(roots)) if len(entries) > 1 else entries[0][0].root.split("://", 1)[1]
    rels = [posixpath.relpath(e.path.split("://", 1)[1], base) for e, _, _ in entries]
    stems = local._stems([e for e, _, _ in entries], rels)
    jobs = []
    for index, ((entry, size, mtime), rel, stem) in enumerate(zip(entries, rels, stems)):
        stem_path = join(out, stem) if out_url else os.path.join(out, stem)
        jobs.append(local.Job(index=index, source=entry.path, rel=rel, kind="video",
                              recording=f"{stem_path}_cam.mkv" if recording else None,
                              export=f"{stem_path}.{export_format}" if export_format != "none" else None,
                              size=size, mtime_ns=mtime))
    if not out_url:
        local._check_outputs_inside(jobs, out)
    return local.Plan(tuple(jobs), out, tuple(notes))


def remote(job) -> bool:
    return is_url(job.source) or any(is_url(p) for p in job.outputs)


def run_staged(run: Callable, job, should_stop, on_progress):
    """``run(job)`` on local files: the source fetched to a temporary file, the
    outputs under URLs written to a temporary folder and uploaded when complete
    (``run``'s result, its outputs the final URLs and their sizes)."""
    from camvideo.batch.job import failed, worker_name

    with tempfile.TemporaryDirectory(prefix="camvideo-job-") as tmp:
        staged = {p: os.path.join(tmp, f"{n}-{posixpath.basename(p)}") if is_url(p) else p
                  for n, p in enumerate(job.outputs)}
        source = job.source
        try:
            if is_url(job.source):
                source = os.path.join(tmp, "source" + os.path.splitext(job.source)[1])
                fs, path = filesystem(job.source)
                with errors(job.source, "cannot fetch it", InputError):
                    fs.get_file(path, source)
        except CamvideoError as exc:
            return failed(job, str(exc), worker=worker_name())
        local_job = dataclasses.replace(job, source=source, recording=staged.get(job.recording),
                                        export=staged.get(job.export))
        result = run(local_job, should_stop, on_progress)
        final = {v: k for k, v in staged.items()}
        outputs, sizes, why = [], [], result.reason
        for path in result.outputs:
            try:
                size = os.path.getsize(path)
                if is_url(final[path]):
                    fs, key = filesystem(final[path])
                    with errors(final[path], "cannot upload it"):
                        fs.put_file(path, key)  # the object appears whole, when its upload completes
            except (CamvideoError, OSError) as exc:
                why = why or str(exc)
                continue
            outputs.append(final[path])
            sizes.append(size)
        status = "failed" if why and result.status == "done" else result.status
        return dataclasses.replace(result, job=job, status=status, reason=why, outputs=tuple(outputs),
                                   sizes=tuple(sizes))
