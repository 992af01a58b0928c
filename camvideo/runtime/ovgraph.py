"""The compiled-model cache of exported graphs (``.onnx``, OpenVINO IR).

An exported graph needs no conversion (the file is the graph: the cut that gives
its feature maps is made in milliseconds, ``camvideo.models.exported``), so its
cache entry holds only OpenVINO's compiled models, under the torch models' rules
(``camvideo.runtime.ovcache.kept_compiled``/``keep_compiled``): one blob per
input size, device and configuration, beside its own SHA-256 (written last),
imported the next time; a blob that does not match its digest, or that OpenVINO
will not import, is compiled again and replaced. The entry's key is the SHA-256
of the graph's files (the ``.onnx`` and any external data files it names, or
the ``.xml`` and its ``.bin``) and of how it was cut (feature layer, layouts,
``--bgr``), the input size and the OpenVINO version: an edited or replaced file is a new entry, never an old blob. A file
changed after it was read has no digest (``GraphSource.digest``): that run
compiles without the cache.

Kept only when it pays: a compile that took under ``KEEP_S`` is not kept. On
this 2-core CPU the cut of resnet18 compiles in 0.14-0.27 s and lite0's in
0.32-0.63 s, where reading, checking and importing the kept blob took 0.26-0.52 s
(resnet18's blob is 45 MB: its weights), plus 0.13 s for the graph's digest; a
GPU or NPU compiles its kernels for seconds. The digest is taken only when an
entry of a graph of that name is there, or when a compile is to be kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from camvideo.runtime.ovcache import CacheEntry, cache_root, keep_compiled, kept_compiled

log = logging.getLogger("camvideo.runtime.openvino")

FORMAT = 1  # bump when what an exported graph's entry holds changes
KEEP_S = 1.0  # a compile quicker than this is not kept (importing its blob is no quicker: the module)


def graph_entry(features, size: tuple[int, int], cache: Path | None = None) -> CacheEntry | None:
    """Where the compiled models of ``features`` (a ``GraphFeatures``) at input
    ``size`` (height, width) live, or None when the graph has no digest."""
    import openvino as ov

    digest = features.digest()
    if digest is None:
        return None
    fields = {"format": FORMAT, "kind": "exported", "graph": digest,
              "files": [p.name for p in features.source.files], "layer": features.layer,
              "input": [int(size[0]), int(size[1])], "openvino": ov.get_version()}
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:20]
    root = Path(cache) if cache is not None else cache_root() / "openvino"
    return CacheEntry(key, root / f"exported-{_safe(features.source.files[0].stem)}-{key}", fields)


def compiled_graph(core, features, size: tuple[int, int], device: str, config: dict, cache: Path | None = None,
                   keep_s: float | None = None):
    """``features``' cut at ``size`` compiled for ``device``: imported from the
    cache when a matching blob is there, else compiled, and the blob kept when
    compiling took ``keep_s`` (default ``KEEP_S``) or more."""
    keep_s = KEEP_S if keep_s is None else keep_s
    source = features.source
    if source is None:
        return features.compile(core, size, device, config)
    root = Path(cache) if cache is not None else cache_root() / "openvino"
    entry = None
    if any(root.glob(f"exported-{_safe(source.files[0].stem)}-*")):
        entry = graph_entry(features, size, cache)
        compiled = kept_compiled(core, entry, device, config) if entry is not None else None
        if compiled is not None:
            log.debug("OpenVINO: %s at %dx%d from the cache (%s)", source.files[0].name, size[1], size[0],
                      entry.folder)
            return compiled
    start = time.perf_counter()
    compiled = features.compile(core, size, device, config)
    if time.perf_counter() - start >= keep_s:
        entry = entry or graph_entry(features, size, cache)
        if entry is not None:
            try:
                entry.folder.mkdir(parents=True, exist_ok=True)
                keep_compiled(entry, compiled, device, config)
            except OSError as exc:
                log.info("OpenVINO: the compiled model is not kept (%s)", exc)
    return compiled


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
