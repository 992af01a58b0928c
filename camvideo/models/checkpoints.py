"""Weights files and checkpoints: read, checked, loaded into a network.

Every failure is a ``ModelLoadError`` with one line that names the file and what
is wrong with it (never torch's unpickling advice, which does not apply here).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from camvideo.errors import ModelLoadError
from camvideo.errors import reason as reason_of


def _load_by_position(target: nn.Module, source: dict[str, torch.Tensor], origin: str) -> None:
    """Copy tensors in order, checking each shape: the lukemelas EfficientNet keys
    and timm's name the same tensors differently but list them in the same order."""
    target_sd = _without_batch_counts(target.state_dict())
    if len(source) != len(target_sd):
        raise ModelLoadError(
            f"weights file {origin} has {len(source)} tensors, the model needs {len(target_sd)}: "
            "it is not an EfficientNet-Lite0 checkpoint"
        )
    mapped = {}
    for (name, tensor), (src_name, src) in zip(target_sd.items(), source.items()):
        if tuple(tensor.shape) != tuple(src.shape):
            raise ModelLoadError(
                f"weights file {origin}: tensor {src_name} has shape {tuple(src.shape)}, "
                f"the model's {name} needs {tuple(tensor.shape)}"
            )
        mapped[name] = src
    target.load_state_dict(mapped, strict=False)  # only the batch counters may be missing


def _without_batch_counts(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict without batch norms' ``num_batches_tracked`` counters (used only
    in training; many tools strip them from saved weights)."""
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a ``torch.save`` file (also nested under ``state_dict``,
    ``model_state_dict`` or ``model``) or a ``.safetensors`` file."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = reason_of(exc)
        if "weights_only" in str(exc):  # torch's advice to unpickle code does not apply to a weights file
            reason = "not a weights file written by torch.save (a state dict of tensors)"
        raise ModelLoadError(f"cannot read weights file {path}: {reason}") from None
    return _as_state_dict(obj, path)


def _as_state_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(f"{path} does not hold a model or a state dict of tensors")
    return obj


def _load_into(net: nn.Module, state: dict[str, torch.Tensor], name: str, origin: str) -> None:
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:2]
        raise ModelLoadError(f"weights from {origin} do not fit {name}: {' '.join(first)}") from None


def _read_checkpoint(path: Path) -> nn.Module | dict[str, torch.Tensor]:
    """A pickled ``nn.Module`` or a state dict from ``torch.save`` (or .safetensors)."""
    if not path.is_file():
        raise ModelLoadError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        return _read_state_dict(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # A whole pickled model: weights_only refuses classes. Unpickling runs the
        # file's code: this is the user's own checkpoint, asked for by path.
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except (AttributeError, ModuleNotFoundError) as exc:
            raise ModelLoadError(
                f"cannot read checkpoint {path}: the pickled model's code is not importable here ({exc}); "
                "save a state dict (torch.save(model.state_dict(), ...)) and give its architecture with --model"
            ) from None
        except Exception as exc:
            raise ModelLoadError(_unreadable(path, exc)) from None
    except Exception as exc:
        raise ModelLoadError(_unreadable(path, exc)) from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), nn.Module):
        obj = obj["model"]
    if isinstance(obj, nn.Module):
        return obj
    return _as_state_dict(obj, path)


def _unreadable(path: Path, exc: Exception) -> str:
    return f"cannot read checkpoint {path} ({reason_of(exc, limit=160)}): it is not a file written by torch.save"


def _classes_in_state(state: dict[str, torch.Tensor]) -> tuple[str, int] | None:
    """The last 2-D weight of a state dict (the classifier, in every architecture
    here) and its number of rows."""
    last = [(k, v) for k, v in state.items() if k.endswith("weight") and v.ndim == 2]
    return (last[-1][0], int(last[-1][1].shape[0])) if last else None

