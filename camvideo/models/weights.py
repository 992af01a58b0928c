"""Pretrained weights of torchvision and timm models: caches first, downloads that
fail fast and clearly.

Weights of torchvision and timm models are downloaded once into a cache. With no
network, torch.hub waits for the OS connect timeout and huggingface_hub retries
for about 23 s per file (timm asks for two): a user would wait most of a minute
for an error. So: use a cached file without touching the network, and before a
download check within seconds that the server (or the proxy) answers at all.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from camvideo.errors import Hint, ModelLoadError, describe
from camvideo.models.names import BUILTIN, parse_name, unknown_model

log = logging.getLogger(__name__)

# The remedy for weights that cannot be downloaded: a file the user got elsewhere.
WEIGHTS_FILE = Hint("weights", "PATH", "pass it with")

REACH_TIMEOUT_S = 3.0  # a slow but working network connects well within this


@dataclass(frozen=True)
class WeightsSource:
    """Where the default pretrained weights of a model come from: downloaded from
    ``url`` into ``cache_dir`` (by huggingface_hub when ``hf_hub``, else by
    torch.hub); ``cached`` is the file there, None until downloaded."""

    url: str
    cache_dir: Path
    cached: Path | None
    hf_hub: bool = False


def _torch_hub_source(url: str) -> WeightsSource:
    """torch.hub keeps a download as ``<hub dir>/checkpoints/<file name in the URL>``."""
    cache_dir = Path(torch.hub.get_dir()) / "checkpoints"
    path = cache_dir / Path(urllib.parse.urlsplit(url).path).name
    return WeightsSource(url, cache_dir, path if path.is_file() else None)


def _hf_hub_source(hub_id: str, filename: str | None) -> WeightsSource:
    """The file timm would take from the Hugging Face hub repo ``hub_id``: the
    safetensors alternative of ``filename`` (default ``pytorch_model.bin``) if
    cached, else ``filename`` itself."""
    from huggingface_hub import constants, try_to_load_from_cache

    repo, _, revision = hub_id.partition("@")
    filename = filename or "pytorch_model.bin"
    candidates = [*_safetensors_names(filename), filename]

    def url(file: str) -> str:
        return f"{constants.ENDPOINT}/{repo}/resolve/{revision or 'main'}/{file}"

    for candidate in candidates:
        hit = try_to_load_from_cache(repo, candidate, revision=revision or None)
        if isinstance(hit, str):
            return WeightsSource(url(candidate), Path(constants.HF_HUB_CACHE), Path(hit), hf_hub=True)
    return WeightsSource(url(candidates[0]), Path(constants.HF_HUB_CACHE), None, hf_hub=True)


def _safetensors_names(filename: str) -> list[str]:
    """The safetensors files timm prefers to ``filename`` when the hub has them:
    timm's own list where this timm version has it (a private helper), else the
    same naming rules."""
    try:
        from timm.models._hub import _get_safe_alternatives

        return list(_get_safe_alternatives(filename))
    except (ImportError, TypeError, AttributeError):
        pass
    if filename == "pytorch_model.bin":
        return ["model.safetensors"]
    if filename == "open_clip_pytorch_model.bin":
        return ["open_clip_model.safetensors"]
    return [filename[: -len(".bin")] + ".safetensors"] if filename.endswith(".bin") else []


def check_timm_tag(arch: str) -> None:
    """A one-line error for ``NAME.TAG`` whose tag timm does not know (timm's own
    is a RuntimeError, which would surface as a traceback)."""
    import timm

    try:
        timm.models.get_pretrained_cfg(arch)
    except RuntimeError as exc:
        raise ModelLoadError(f"timm:{arch}: {exc} See ", Hint("timm", "PATTERN", command="models"), " for the tags.") from None


def weights_source(name: str) -> WeightsSource | None:
    """Where the default weights of the torchvision or timm model ``name`` come
    from; None for the built-in ``lite0``, ``lite1``, ``lite2`` (embedded) and for
    timm models without pretrained weights."""
    family, arch = parse_name(name)
    if family == "lite":
        return None
    if family == "torchvision":
        from torchvision.models import get_model_weights

        try:
            return _torch_hub_source(get_model_weights(arch).DEFAULT.url)
        except (KeyError, ValueError, AttributeError) as exc:  # not a torchvision model
            raise unknown_model(name) from exc
    import timm

    check_timm_tag(arch)
    cfg = timm.models.get_pretrained_cfg(arch)
    if cfg is None:
        raise ModelLoadError(f"unknown timm model {arch!r}; see ", Hint("timm", "PATTERN", command="models"))
    if cfg.hf_hub_id:
        return _hf_hub_source(cfg.hf_hub_id, cfg.hf_hub_filename)
    if cfg.url:  # a few timm models still download from a release URL through torch.hub
        return _torch_hub_source(cfg.url)
    return None


def cached_weights(name: str) -> str | None:
    """Where the default weights of ``name`` are on this machine, or None.
    ``"embedded"`` for the built-in ``lite0``, ``lite1``, ``lite2``."""
    if parse_name(name)[0] == "lite":
        return "embedded"
    try:
        source = weights_source(name)
    except Exception:  # an unknown name or a broken cache has no weights here
        return None
    return str(source.cached) if source is not None and source.cached is not None else None


def network_problem(url: str, timeout: float = REACH_TIMEOUT_S) -> str | None:
    """Why the server of ``url`` cannot be reached now, or None when a TCP
    connection to it (or to the proxy the environment names for it) opens within
    ``timeout`` seconds. Only a connection: no request is sent."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    proxies = urllib.request.getproxies()  # http(s)_proxy, all_proxy, as urllib and httpx read them
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    via = ""
    if proxy and not urllib.request.proxy_bypass(host):  # no_proxy
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        default_port = {"https": 443, "socks5": 1080, "socks5h": 1080, "socks4": 1080}.get(p.scheme, 80)
        host, port, via = p.hostname or "", p.port or default_port, " (the proxy)"
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except socket.gaierror:
            outcome.append(f"cannot resolve {host}{via}")
        except ConnectionRefusedError:
            outcome.append(f"{host}:{port}{via} refused the connection")
        except TimeoutError:
            outcome.append(f"no answer from {host}:{port}{via} within {timeout:g} s")
        except OSError as exc:
            outcome.append(f"cannot connect to {host}:{port}{via}: {exc.strerror or exc}")

    # The name lookup (getaddrinfo) takes no timeout and can hang on a dead DNS
    # server: wait for the thread at most `timeout`. A thread left behind holds
    # nothing but its lookup and ends when the resolver gives up.
    thread = threading.Thread(target=connect, name="camvideo-network-check", daemon=True)
    thread.start()
    # The lookup and the connect share this wait, and a host with an IPv6 and an
    # IPv4 address may take ``timeout`` on each: give the thread twice as long.
    thread.join(2 * timeout)
    return outcome[0] if outcome else f"no answer from {host}{via} within {2 * timeout:g} s"


def check_download(name: str, source: WeightsSource) -> None:
    """Raise a one-line ModelLoadError at once when ``source`` cannot be
    downloaded now, instead of letting the download wait and retry."""
    problem = None
    if source.hf_hub:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:  # the hub would not even try
            problem = "HF_HUB_OFFLINE is set"
    problem = problem or network_problem(source.url)
    if problem is None:
        return
    where = "the Hugging Face hub" if source.hf_hub else urllib.parse.urlsplit(source.url).hostname
    raise ModelLoadError(
        f"{name}: its pretrained weights are not on this machine and cannot be downloaded from {where} "
        f"({problem}); on a connected machine run ", Hint("fetch", name, command="models"),
        f" and copy {source.cache_dir} to this one, or download {source.url} and ", WEIGHTS_FILE,
        f", or use {embedded_models()}"
    )


def embedded_models() -> str:
    """The built-in models for a message (``BUILTIN``): "one of the embedded models
    lite0, lite1 or lite2" (one name: "the embedded model NAME")."""
    *rest, last = BUILTIN
    if not rest:
        return f"the embedded model {last}"
    return f"one of the embedded models {', '.join(rest)} or {last}"


def download_torchvision_weights(name: str) -> dict[str, torch.Tensor]:
    from torchvision.models import get_model_weights

    default = get_model_weights(name).DEFAULT
    source = _torch_hub_source(default.url)
    if source.cached is None:
        check_download(name, source)
    try:
        # torch.hub writes "Downloading: ..." to stdout even with progress=False;
        # the log says it instead, and a failure becomes one clear line.
        log.info("getting %s weights from %s (cache: %s)", name, default.url, source.cache_dir)
        with contextlib.redirect_stdout(io.StringIO()):
            return default.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # urllib, socket, SSL and hash errors all mean the same here
        why = describe(exc)
        raise ModelLoadError(
            f"could not get the ImageNet weights of {name} ({why}); "
            f"with no network, download {default.url} elsewhere and ", WEIGHTS_FILE,
            f" (or put {Path(default.url).name} in {source.cache_dir})"
        ) from None


def timm_pretrained(arch: str) -> nn.Module:
    import timm

    name = f"timm:{arch}"
    source = weights_source(name)
    if source is None:
        raise ModelLoadError(
            f"{name} has no pretrained weights in timm {timm.__version__}: ",
            Hint("weights", "PATH", "pass a weights file with"), " or ",
            Hint("checkpoint", action="your own classifier with"), " (see ", Hint("timm", "PATTERN", command="models"), ")"
        )
    kwargs = {}
    if source.cached is not None:
        # Load the cached file itself: timm would first ask the hub whether it is
        # still current, a connection that may wait up to 13 s where none answers.
        log.info("%s: weights from %s", name, source.cached)
        kwargs["pretrained_cfg_overlay"] = {"file": str(source.cached)}
    else:
        check_download(name, source)
    try:
        return timm.create_model(arch, pretrained=True, **kwargs)
    except Exception as exc:
        why = describe(exc)
        raise ModelLoadError(
            f"could not get the pretrained weights of {name} ({why[:200]}); "
            f"with no network, download {source.url} elsewhere and ", WEIGHTS_FILE
        ) from None
