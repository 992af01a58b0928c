"""Weights files and checkpoints: read, checked, loaded into a network.

Every failure is a ``ModelLoadError`` with one line that names the file and what
is wrong with it (never torch's unpickling advice, which does not apply here).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from camvideo.errors import Hint, ModelLoadError, not_a_file
from camvideo.errors import reason as reason_of


def _load_by_position(target: nn.Module, source: dict[str, torch.Tensor], origin: str,
                      kind: str = "EfficientNet-Lite0", *, assign: bool = False) -> None:
    """Copy tensors in order, checking each shape: the lukemelas EfficientNet keys
    and timm's name the same tensors differently but list them in the same order.
    ``kind``: the network's name in the error; ``assign``: the tensors become the
    module's (``_assigned``), not copied."""
    target_sd = _without_batch_counts(target.state_dict())
    if len(source) != len(target_sd):
        raise ModelLoadError(
            f"weights file {origin} has {len(source)} tensors, the model needs {len(target_sd)}: "
            f"it is not an {kind} checkpoint"
        )
    mapped = {}
    for (name, tensor), (src_name, src) in zip(target_sd.items(), source.items()):
        if tuple(tensor.shape) != tuple(src.shape):
            raise ModelLoadError(
                f"weights file {origin}: tensor {src_name} has shape {tuple(src.shape)}, "
                f"the model's {name} needs {tuple(tensor.shape)}"
            )
        mapped[name] = src
    if assign:
        mapped = _assigned(mapped, target_sd)
    target.load_state_dict(mapped, strict=False, assign=assign)  # only the batch counters may be missing


def _assigned(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state``'s tensors in the dtype and the contiguous layout of ``target``'s
    (what ``copy_`` into them would give), for ``load_state_dict(assign=True)``: a
    network built on the meta device takes the file's tensors as its own, no
    random initialisation and no copy (a copy only where the file's layout is not
    contiguous, as 50 of the packaged lite0's tensors are: made by NumPy, which
    takes 11 ms for them where torch's strided copy on 2 threads took 0.3 s)."""
    out = {}
    for name, tensor in state.items():
        like = target.get(name)
        tensor = tensor if like is None else tensor.to(dtype=like.dtype)
        if not tensor.is_contiguous() and tensor.device.type == "cpu" and tensor.dtype != torch.bfloat16:
            tensor = torch.from_numpy(np.ascontiguousarray(tensor.numpy()))
        out[name] = tensor.contiguous()
    return out


def _without_batch_counts(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict without batch norms' ``num_batches_tracked`` counters (used only
    in training; many tools strip them from saved weights)."""
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since torch 1.6: a zip archive
PICKLE_MAGIC = b"\x80"  # torch.save's legacy format (and a pickled module) starts with a pickle


def _check_file(path: Path, kind: str) -> bytes:
    """The first bytes of ``path``; a ``ModelLoadError`` naming what is wrong when
    it cannot be a weights file at all (missing, a folder, empty, text, not the
    safetensors layout), before torch is asked to read it."""
    if not path.exists():
        raise ModelLoadError(f"{kind} {path} does not exist")
    special = not_a_file(path.stat().st_mode)  # a named pipe would block the read below
    if special:
        raise ModelLoadError(f"cannot read {kind} {path}: it is {special}, not a file")
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {kind} {path}: {reason_of(exc)}") from None
    if not head:
        raise ModelLoadError(f"cannot read {kind} {path}: it is empty")
    if path.suffix == ".safetensors":
        # 8 bytes of header length, then the header itself: a JSON object
        if len(head) < 9 or head[8:9] != b"{":
            raise ModelLoadError(f"cannot read {kind} {path}: it is not a safetensors file (no header where one begins)")
    elif not head.startswith((ZIP_MAGIC, PICKLE_MAGIC)):
        raise ModelLoadError(f"cannot read {kind} {path}: it is {_what_it_is(head)}, "
                             "not one written by torch.save or a .safetensors file")
    elif head.startswith(ZIP_MAGIC) and _is_torchscript(path):
        raise ModelLoadError(f"{kind} {path} is a TorchScript archive (torch.jit.save), which camvideo does not "
                             "load: export the model to ONNX (torch.onnx.export) and pass that with ",
                             Hint("model", "FILE.onnx"), ", or save its state dict (torch.save(model.state_dict(), "
                             "...)) and give its architecture with ", Hint("model"))
    return head


def _is_torchscript(path: Path) -> bool:
    """Whether a zip archive is TorchScript's (its code is in the archive, under
    ``code/``; ``torch.save``'s holds ``data.pkl`` and tensors only)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.split("/")[1:2] == ["code"] for name in archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):  # a damaged archive: torch.load says so
        return False


def _what_it_is(head: bytes) -> str:
    if b"\0" not in head:
        try:
            head.decode("utf-8")
            return "a text file"
        except UnicodeDecodeError:
            pass
    return "some other kind of file"


def _load_failure(path: Path, kind: str, head: bytes, exc: Exception) -> ModelLoadError:
    """One line for a file that looked like weights but did not load."""
    if head.startswith(ZIP_MAGIC) and "zip archive" in str(exc):
        why = "it is truncated or damaged (the zip archive torch.save writes is incomplete)"
    elif isinstance(exc, EOFError | pickle.UnpicklingError) or "weights_only" in str(exc):
        # (torch's advice to unpickle code does not apply to a weights file)
        why = "it is truncated, damaged or not a state dict of tensors written by torch.save"
    else:
        why = reason_of(exc, limit=160)
    return ModelLoadError(f"cannot read {kind} {path}: {why}")


def _read_state_dict(path: Path, kind: str = "weights file") -> dict[str, torch.Tensor]:
    """A state dict from a ``torch.save`` file (also nested under ``state_dict``,
    ``model_state_dict`` or ``model``) or a ``.safetensors`` file."""
    path = Path(path)
    head = _check_file(path, kind)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise _load_failure(path, kind, head, exc) from None
    return _as_state_dict(obj, path)


def _as_state_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(f"{path} does not hold a model or a state dict of tensors")
    return obj


def _load_into(net: nn.Module, state: dict[str, torch.Tensor], name: str, origin: str, *,
               assign: bool = False) -> None:
    """``state`` loaded into ``net`` by name (``assign``: as ``_load_by_position``'s)."""
    try:
        if assign:
            state = _assigned(state, net.state_dict())
        net.load_state_dict(state, assign=assign)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:2]
        raise ModelLoadError(f"weights from {origin} do not fit {name}: {' '.join(first)}") from None


def _read_checkpoint(path: Path, *, trust: bool = False) -> nn.Module | dict[str, torch.Tensor]:
    """A pickled ``nn.Module`` or a state dict from ``torch.save`` (or .safetensors).

    The file is read with ``weights_only=True`` (tensors and plain containers, no
    code). A whole pickled model needs a full unpickling, which runs code stored in
    the file: only when ``trust`` (``--trust-checkpoint``), else a ``ModelLoadError``
    that says so."""
    if path.suffix == ".safetensors":
        return _read_state_dict(path, "checkpoint")
    head = _check_file(path, "checkpoint")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "unsupported global" not in str(exc).lower():  # not a refused class: a damaged file
            raise _load_failure(path, "checkpoint", head, exc) from None
        if not trust:
            raise ModelLoadError(
                f"checkpoint {path} is a pickled model, and loading one runs code stored in the file: if you "
                "trust where it came from, ", Hint("trust_checkpoint", action="add"),
                "; else save a state dict (torch.save(model.state_dict(), ...)) and ",
                Hint("model", action="give its architecture with")) from None
        obj = _read_pickled_model(path, head)
    except Exception as exc:
        raise _load_failure(path, "checkpoint", head, exc) from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), nn.Module):
        obj = obj["model"]
    if isinstance(obj, nn.Module):
        return obj
    return _as_state_dict(obj, path)



def _read_pickled_model(path: Path, head: bytes) -> object:
    """A whole pickled model (the user trusted the file: this runs its code)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (AttributeError, ModuleNotFoundError) as exc:
        raise ModelLoadError(
            f"cannot read checkpoint {path}: the pickled model's code is not importable here ({exc}); "
            "save a state dict (torch.save(model.state_dict(), ...)) and ",
            Hint("model", action="give its architecture with")
        ) from None
    except Exception as exc:
        raise _load_failure(path, "checkpoint", head, exc) from None


def _classes_in_state(state: dict[str, torch.Tensor]) -> tuple[str, int] | None:
    """The last 2-D weight of a state dict (the classifier, in every architecture
    here) and its number of rows."""
    last = [(k, v) for k, v in state.items() if k.endswith("weight") and v.ndim == 2]
    return (last[-1][0], int(last[-1][1].shape[0])) if last else None

