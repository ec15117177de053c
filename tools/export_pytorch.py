#!/usr/bin/env python3
"""Export a PyTorch model to the xai model format: an ``nn.Sequential`` as version 1 (a
chain), any other ``nn.Module`` that ``torch.fx`` can trace as version 2 (a graph).

The xai format is a small JSON file describing the layers in order plus a
safetensors file holding the weights under their PyTorch ``state_dict`` names
(``{name}.weight``, ``{name}.bias``, and for batch norm also
``{name}.running_mean`` / ``{name}.running_var``), all float32.

``model.json`` looks like::

    {"format": "xai-model", "version": 1, "input_shape": [1, 28, 28],
     "weights": "model.safetensors",
     "layers": [{"name": "0", "op": "conv2d", "in_channels": 1, ...}, ...]}

``input_shape`` is the shape of one example, without the batch dimension, and
``weights`` is relative to the JSON file. An optional
``"normalize": {"mean": [...], "std": [...]}`` entry (one value per input
channel, i.e. per ``input_shape[0]``) records the input normalisation the model
expects; it is informational for the consumer and not applied here.

Supported layers: nn.Linear, nn.Conv2d (dilation 1, groups 1, zero padding),
nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Softplus (beta 1, threshold 20),
nn.MaxPool2d / nn.AvgPool2d (no padding, no ceil_mode), nn.AdaptiveAvgPool2d,
nn.Flatten (start_dim 1, end_dim -1), nn.Dropout, nn.BatchNorm1d,
nn.BatchNorm2d. Anything else raises ``ExportError``.

Graphs (version 2): the model is traced by ``torch.fx`` down to the modules above (and
nn.Identity, nn.Softmax, nn.LogSoftmax); each node becomes one entry of ``"layers"`` in the
traced (topological) order, with ``"inputs"`` naming the nodes it takes (``"input"`` is the model
input). A module's node is named by its module path (``block1.conv1``, as in the
``state_dict``); a functional node by its fx name (``add``, ``add_1``, ``cat``). Functional ops:
``x + y`` / ``torch.add``, ``x * y`` / ``torch.mul`` (two tensors), ``torch.cat(dim)``,
``F.relu``/``torch.relu``/``.relu()``, ``torch.sigmoid``, ``torch.tanh``, ``F.leaky_relu``,
``F.softplus``, ``F.softmax``/``F.log_softmax``, ``torch.flatten(x, 1)`` and ``view``/``reshape``
to ``[N, -1]``, ``x.mean((2, 3))`` (global average pooling), ``F.adaptive_avg_pool2d``,
``F.max_pool2d``/``F.avg_pool2d``. A model returning a tuple or dict of tensors gets one named
output per entry (``"outputs"``), the first (or ``output=``) the default. Anything else raises
``ExportError`` naming the first unsupported node.

Library use (run from ``tools/`` or with ``tools/`` on ``sys.path``)::

    import torch.nn as nn
    from export_pytorch import export, load

    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    # ... train ...
    export(model, [4], "out/model.json")            # also writes out/model.safetensors
    export(model, [4], "out/model.json",
           normalize={"mean": [5.8, 3.0, 3.8, 1.2], "std": [0.8, 0.4, 1.8, 0.8]})

    again = load("out/model.json")                  # rebuilds an nn.Sequential

Command line use: see ``python tools/export_pytorch.py --help``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

FORMAT = "xai-model"
VERSION = 1
GRAPH_VERSION = 2

__all__ = ["export", "load", "layer_spec", "ExportError", "FORMAT", "VERSION"]


class ExportError(ValueError):
    """Raised when a model (or one of its layers) cannot be expressed in the xai format."""


# --------------------------------------------------------------------------- helpers


def _pair(value: Any, what: str, layer: str) -> List[int]:
    if isinstance(value, int):
        return [value, value]
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [int(value[0]), int(value[1])]
    raise ExportError(f"layer {layer!r}: unsupported {what} {value!r} (expected an int or a pair of ints)")


def _is_zero(value: Any) -> bool:
    if isinstance(value, int):
        return value == 0
    if isinstance(value, (tuple, list)):
        return all(v == 0 for v in value)
    return False


def _is_one(value: Any) -> bool:
    if isinstance(value, int):
        return value == 1
    if isinstance(value, (tuple, list)):
        return all(v == 1 for v in value)
    return False


def _f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(device="cpu", dtype=torch.float32).contiguous().clone()


def _out_hw(h: int, w: int, k: Sequence[int], s: Sequence[int], p: Sequence[int]) -> Tuple[int, int]:
    return (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1


# --------------------------------------------------------------------------- per-layer export


def layer_spec(
    name: str, module: nn.Module, in_shape: Optional[Sequence[int]] = None
) -> Tuple[Dict[str, Any], Dict[str, torch.Tensor]]:
    """Describe one layer: returns (JSON entry, tensors keyed by full state_dict name).

    ``in_shape`` (per-example shape entering the layer) is only needed to resolve
    ``None`` entries of an ``nn.AdaptiveAvgPool2d`` output size.
    """
    spec: Dict[str, Any] = {"name": name}
    tensors: Dict[str, torch.Tensor] = {}
    m = module
    kind = type(m).__name__

    # Exact type checks: subclasses (e.g. LazyLinear before materialisation,
    # quantised or parametrised variants) may behave differently.
    if type(m) is nn.Linear:
        spec.update(op="linear", in_features=int(m.in_features), out_features=int(m.out_features))
        tensors[f"{name}.weight"] = _f32(m.weight)
        if m.bias is not None:
            tensors[f"{name}.bias"] = _f32(m.bias)
        else:
            spec["bias"] = False  # a missing bias tensor is an error otherwise

    elif type(m) is nn.Conv2d:
        if not _is_one(m.dilation):
            raise ExportError(f"layer {name!r}: Conv2d with dilation {m.dilation} is not supported (only 1)")
        if m.groups != 1:
            raise ExportError(f"layer {name!r}: Conv2d with groups={m.groups} is not supported (only 1)")
        if m.padding_mode != "zeros":
            raise ExportError(
                f"layer {name!r}: Conv2d padding_mode={m.padding_mode!r} is not supported (only 'zeros')"
            )
        kernel = _pair(m.kernel_size, "kernel_size", name)
        stride = _pair(m.stride, "stride", name)
        if isinstance(m.padding, str):
            if m.padding == "valid":
                padding = [0, 0]
            elif m.padding == "same":
                if any(k % 2 == 0 for k in kernel):
                    raise ExportError(
                        f"layer {name!r}: Conv2d padding='same' with an even kernel {kernel} pads "
                        "asymmetrically, which the xai format cannot express"
                    )
                padding = [kernel[0] // 2, kernel[1] // 2]
            else:
                raise ExportError(f"layer {name!r}: unsupported Conv2d padding {m.padding!r}")
        else:
            padding = _pair(m.padding, "padding", name)
        spec.update(
            op="conv2d",
            in_channels=int(m.in_channels),
            out_channels=int(m.out_channels),
            kernel_size=kernel,
            stride=stride,
            padding=padding,
        )
        tensors[f"{name}.weight"] = _f32(m.weight)
        if m.bias is not None:
            tensors[f"{name}.bias"] = _f32(m.bias)
        else:
            spec["bias"] = False  # a missing bias tensor is an error otherwise

    elif type(m) is nn.ConvTranspose2d:
        if m.groups != 1 or m.padding_mode != "zeros":
            raise ExportError(f"layer {name!r}: ConvTranspose2d with groups={m.groups}, padding_mode={m.padding_mode!r} is not supported")
        spec.update(
            op="conv_transpose2d",
            in_channels=int(m.in_channels),
            out_channels=int(m.out_channels),
            kernel_size=_pair(m.kernel_size, "kernel_size", name),
            stride=_pair(m.stride, "stride", name),
            padding=_pair(m.padding, "padding", name),
            output_padding=_pair(m.output_padding, "output_padding", name),
            dilation=_pair(m.dilation, "dilation", name),
        )
        tensors[f"{name}.weight"] = _f32(m.weight)
        if m.bias is not None:
            tensors[f"{name}.bias"] = _f32(m.bias)
        else:
            spec["bias"] = False  # a missing bias tensor is an error otherwise

    elif type(m) is nn.Upsample:
        spec.update(_upsample_spec(name, m.size, m.scale_factor, m.mode, m.align_corners))

    elif type(m) is nn.ReLU:
        spec["op"] = "relu"
    elif type(m) is nn.LeakyReLU:
        spec.update(op="leaky_relu", negative_slope=float(m.negative_slope))
    elif type(m) is nn.Sigmoid:
        spec["op"] = "sigmoid"
    elif type(m) is nn.Tanh:
        spec["op"] = "tanh"
    elif type(m) is nn.Softplus:
        if m.beta != 1 or m.threshold != 20:
            raise ExportError(
                f"layer {name!r}: Softplus(beta={m.beta}, threshold={m.threshold}) is not supported "
                "(only beta=1, threshold=20, the defaults)"
            )
        spec["op"] = "softplus"

    elif type(m) in (nn.MaxPool2d, nn.AvgPool2d):
        is_max = type(m) is nn.MaxPool2d
        if not _is_zero(m.padding):
            raise ExportError(f"layer {name!r}: {kind} with padding {m.padding} is not supported (only 0)")
        if m.ceil_mode:
            raise ExportError(f"layer {name!r}: {kind} with ceil_mode=True is not supported")
        if is_max:
            if not _is_one(m.dilation):
                raise ExportError(f"layer {name!r}: MaxPool2d with dilation {m.dilation} is not supported")
            if m.return_indices:
                raise ExportError(f"layer {name!r}: MaxPool2d with return_indices=True is not supported")
        elif m.divisor_override is not None:
            raise ExportError(f"layer {name!r}: AvgPool2d with divisor_override is not supported")
        kernel = _pair(m.kernel_size, "kernel_size", name)
        # nn.MaxPool2d/AvgPool2d store stride=kernel_size when given stride=None;
        # handle None (or an empty tuple) anyway.
        stride = kernel if m.stride is None or m.stride == () else _pair(m.stride, "stride", name)
        spec.update(op="maxpool2d" if is_max else "avgpool2d", kernel_size=kernel, stride=stride)

    elif type(m) is nn.AdaptiveAvgPool2d:
        size = m.output_size
        if isinstance(size, int):
            size = (size, size)
        size = list(size)
        if len(size) != 2:
            raise ExportError(f"layer {name!r}: unsupported AdaptiveAvgPool2d output_size {m.output_size!r}")
        for i in range(2):
            if size[i] is None:
                if in_shape is None or len(in_shape) != 3:
                    raise ExportError(
                        f"layer {name!r}: AdaptiveAvgPool2d output_size {m.output_size!r} contains None "
                        "and the input shape is unknown"
                    )
                size[i] = int(in_shape[1 + i])
        spec.update(op="adaptive_avgpool2d", output_size=[int(size[0]), int(size[1])])

    elif type(m) is nn.Flatten:
        if m.start_dim != 1 or m.end_dim != -1:
            raise ExportError(
                f"layer {name!r}: Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}) is not supported "
                "(only start_dim=1, end_dim=-1)"
            )
        spec["op"] = "flatten"
    elif type(m) is nn.Dropout:
        spec.update(op="dropout", p=float(m.p))

    elif type(m) in (nn.BatchNorm1d, nn.BatchNorm2d):
        if not m.track_running_stats or m.running_mean is None or m.running_var is None:
            raise ExportError(
                f"layer {name!r}: {kind} without running statistics (track_running_stats=False) "
                "uses batch statistics at inference and is not supported"
            )
        spec.update(
            op="batchnorm1d" if type(m) is nn.BatchNorm1d else "batchnorm2d",
            num_features=int(m.num_features),
            eps=float(m.eps),
        )
        n = int(m.num_features)
        # affine=False (or, in newer torch, bias=False): write the identity scale / zero
        # shift so the consumer always sees the same four tensors.
        weight = getattr(m, "weight", None)
        bias = getattr(m, "bias", None)
        tensors[f"{name}.weight"] = _f32(weight) if weight is not None else torch.ones(n, dtype=torch.float32)
        tensors[f"{name}.bias"] = _f32(bias) if bias is not None else torch.zeros(n, dtype=torch.float32)
        tensors[f"{name}.running_mean"] = _f32(m.running_mean)
        tensors[f"{name}.running_var"] = _f32(m.running_var)

    else:
        raise ExportError(
            f"layer {name!r}: unsupported module {kind} ({type(m).__module__}.{kind}); supported: "
            "Linear, Conv2d, ReLU, LeakyReLU, Sigmoid, Tanh, Softplus, MaxPool2d, AvgPool2d, "
            "AdaptiveAvgPool2d, Flatten, Dropout, BatchNorm1d, BatchNorm2d"
        )

    for key, t in tensors.items():
        if not torch.isfinite(t).all():
            raise ExportError(f"tensor {key!r} contains NaN or infinite values")
    return spec, tensors


def _upsample_spec(name, size, scale, mode, align_corners) -> Dict[str, Any]:
    if mode not in ("nearest", "bilinear"):
        raise ExportError(f"layer {name!r}: upsampling mode {mode!r} is not supported (nearest, bilinear)")
    spec: Dict[str, Any] = {"op": f"upsample_{mode}2d"}
    if size is not None:
        spec["size"] = _pair(size, "size", name)
    else:
        sc = [scale, scale] if isinstance(scale, (int, float)) else list(scale)
        spec["scale_factor"] = [float(v) for v in sc]
    if mode == "bilinear":
        spec["align_corners"] = bool(align_corners)
    return spec


# --------------------------------------------------------------------------- model export


def _check_normalize(normalize: Any, input_shape: List[int]) -> Optional[Dict[str, List[float]]]:
    if normalize is None:
        return None
    if isinstance(normalize, dict):
        if set(normalize) != {"mean", "std"}:
            raise ExportError(f"normalize must have exactly the keys 'mean' and 'std', got {sorted(normalize)}")
        mean, std = normalize["mean"], normalize["std"]
    elif isinstance(normalize, (tuple, list)) and len(normalize) == 2:
        mean, std = normalize
    else:
        raise ExportError("normalize must be {'mean': [...], 'std': [...]} or a (mean, std) pair")
    mean = [float(v) for v in (mean.tolist() if hasattr(mean, "tolist") else mean)]
    std = [float(v) for v in (std.tolist() if hasattr(std, "tolist") else std)]
    channels = input_shape[0]
    if len(mean) != channels or len(std) != channels:
        raise ExportError(
            f"normalize mean/std need one value per input channel ({channels} = input_shape[0]), "
            f"got {len(mean)} and {len(std)}"
        )
    if not all(math.isfinite(v) for v in mean) or not all(math.isfinite(v) and v > 0 for v in std):
        raise ExportError("normalize mean must be finite and std finite and > 0")
    return {"mean": mean, "std": std}


# Per-example input rank each op accepts in the xai format (others: any rank).
_INPUT_RANK = {
    "linear": 1, "batchnorm1d": 1,
    "conv2d": 3, "maxpool2d": 3, "avgpool2d": 3, "adaptive_avgpool2d": 3, "batchnorm2d": 3,
}


def _dumps(doc: Dict[str, Any]) -> str:
    """JSON with one line per top-level entry and one line per layer."""
    parts = []
    for key, value in doc.items():
        if key == "layers":
            body = ",\n".join("    " + json.dumps(layer) for layer in value)
            parts.append(f'  "layers": [\n{body}\n  ]')
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def export(
    model: nn.Module,
    input_shape: Sequence[int],
    json_path: Union[str, os.PathLike],
    normalize: Optional[Union[Dict[str, Sequence[float]], Tuple[Sequence[float], Sequence[float]]]] = None,
    output: Optional[str] = None,
) -> Dict[str, Any]:
    """Write ``json_path`` and ``<stem>.safetensors`` beside it; return the JSON document.

    ``input_shape`` is the per-example input shape without the batch dimension
    (e.g. ``[1, 28, 28]`` or ``[30]``). An ``nn.Sequential`` is written as version 1;
    any other module is traced with ``torch.fx`` and written as version 2 (a graph;
    ``output`` names the default head of a model with several outputs). The model
    is run once on zeros (in eval mode, without gradients; its train/eval mode is
    restored afterwards) to check that the shapes are consistent. Both files are
    written to temporary files and renamed into place, the weights first.
    """
    shape = [int(d) for d in input_shape]
    if not shape or any(d <= 0 for d in shape) or list(input_shape) != shape:
        raise ExportError(f"input_shape must be a non-empty list of positive ints, got {input_shape!r}")
    norm = _check_normalize(normalize, shape)

    json_path = Path(json_path)
    weights_path = json_path.with_name(json_path.stem + ".safetensors")
    if weights_path == json_path:
        raise ExportError(f"json_path {json_path} must not end in .safetensors")
    if not isinstance(model, nn.Sequential):
        doc, tensors = _graph_doc(model, shape, output)
        return _write(doc, tensors, norm, json_path, weights_path)

    layers: List[Dict[str, Any]] = []
    tensors: Dict[str, torch.Tensor] = {}
    was_training = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        param = next(model.parameters(), None)
        x = torch.zeros([1] + shape, dtype=param.dtype if param is not None else torch.float32,
                        device=param.device if param is not None else "cpu")
        with torch.no_grad():
            for name, child in model.named_children():
                in_shape = list(x.shape[1:])
                spec, ts = layer_spec(name, child, in_shape)
                need = _INPUT_RANK.get(spec["op"])
                if need is not None and len(in_shape) != need:
                    raise ExportError(
                        f"layer {name!r} ({spec['op']}) needs a per-example input of rank {need} "
                        f"({'[features]' if need == 1 else '[C, H, W]'}), got shape {in_shape}"
                    )
                try:
                    x = child(x)
                except Exception as e:  # shape mismatch etc.
                    raise ExportError(
                        f"layer {name!r} ({type(child).__name__}) fails on input of shape {in_shape}: {e}"
                    ) from e
                layers.append(spec)
                tensors.update(ts)
    finally:
        for m, t in was_training:
            m.train(t)
    if not layers:
        raise ExportError("model has no layers")
    if x.dim() != 2:
        raise ExportError(f"model output has per-example shape {list(x.shape[1:])}; expected a vector of logits")

    doc: Dict[str, Any] = {"format": FORMAT, "version": VERSION, "input_shape": shape, "layers": layers}
    return _write(doc, tensors, norm, json_path, weights_path)


def _write(doc, tensors, norm, json_path: Path, weights_path: Path) -> Dict[str, Any]:
    """Completes ``doc`` (normalisation, weights name) and writes both files atomically."""
    from safetensors.torch import save_file

    head = {k: doc[k] for k in ("format", "version", "input_shape")}
    if norm is not None:
        head["normalize"] = norm
    head["weights"] = weights_path.name
    doc = {**head, **{k: v for k, v in doc.items() if k not in head}}
    _atomic_write(weights_path, lambda tmp: save_file(tensors, tmp))
    text = _dumps(doc)

    def write_json(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    _atomic_write(json_path, write_json)
    return doc


# --------------------------------------------------------------------------- graphs (torch.fx)

# Modules the tracer keeps whole (leaves): the layers of ``layer_spec`` plus these.
_LEAVES = (
    nn.Linear, nn.Conv2d, nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.MaxPool2d,
    nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Dropout, nn.BatchNorm1d, nn.BatchNorm2d,
    nn.Identity, nn.Softmax, nn.LogSoftmax, nn.ConvTranspose2d, nn.Upsample,
)


def _graph_module_spec(name: str, m: nn.Module, in_shape: List[int], rank: int) -> Tuple[Dict[str, Any], Dict[str, torch.Tensor]]:
    """``layer_spec`` plus the modules only a graph has."""
    if type(m) is nn.Identity:
        return {"name": name, "op": "identity"}, {}
    if type(m) in (nn.Softmax, nn.LogSoftmax):
        dim = _dim(m.dim if m.dim is not None else 1, rank, name)
        return {"name": name, "op": "softmax" if type(m) is nn.Softmax else "log_softmax", "dim": dim}, {}
    return layer_spec(name, m, in_shape)


def _dim(d: int, rank: int, name: str) -> int:
    """A PyTorch ``dim`` (negative counts from the end) as a non-negative axis of the batch tensor."""
    d = int(d)
    if d < 0:
        d += rank
    if not 1 <= d < rank:
        raise ExportError(f"node {name!r}: dim {d} is the batch axis or beyond a tensor of rank {rank}")
    return d


def _graph_doc(model: nn.Module, shape: List[int], output: Optional[str]):
    """Traces ``model`` and returns (the version-2 document without weights name, tensors)."""
    import operator

    import torch.fx as fx
    import torch.nn.functional as F
    from torch.fx.passes.shape_prop import ShapeProp

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return type(m) in _LEAVES

    try:
        graph = Tracer().trace(model)
    except Exception as e:
        raise ExportError(f"torch.fx cannot trace {type(model).__name__}: {e}") from e
    gm = fx.GraphModule(model, graph)
    gm.graph.eliminate_dead_code()
    gm.recompile()
    param = next(model.parameters(), None)
    x = torch.zeros([2] + shape, dtype=param.dtype if param is not None else torch.float32,
                    device=param.device if param is not None else "cpu")
    was_training = [(m, m.training) for m in model.modules()]
    model.eval()
    gm.eval()
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(x)
    except Exception as e:
        raise ExportError(f"{type(model).__name__} fails on an input of shape {shape}: {e}") from e
    finally:
        for m, t in was_training:
            m.train(t)

    modules = dict(gm.named_modules())
    names: Dict[fx.Node, str] = {}   # fx node -> xai node name (or "input")
    layers: List[Dict[str, Any]] = []
    tensors: Dict[str, torch.Tensor] = {}
    used_modules: Dict[str, int] = {}
    taken: set = {"input"}
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise ExportError(f"the model takes {len(placeholders)} inputs; the xai format has one")

    def meta_shape(n: fx.Node) -> Optional[List[int]]:
        tm = n.meta.get("tensor_meta")
        return list(tm.shape) if tm is not None and hasattr(tm, "shape") else None

    def tensor_input(n: fx.Node, a: Any) -> str:
        if not isinstance(a, fx.Node) or a not in names:
            raise ExportError(f"node {n.name!r} ({_describe(n)}): argument {a!r} is not a tensor of the graph")
        return names[a]

    def unique(name: str) -> str:
        base, k = name, 1
        while name in taken:
            name = f"{base}_{k}"
            k += 1
        taken.add(name)
        return name

    def add(n: fx.Node, spec: Dict[str, Any], inputs: List[str]) -> None:
        spec = {"name": spec["name"], "op": spec["op"], "inputs": inputs,
                **{k: v for k, v in spec.items() if k not in ("name", "op")}}
        layers.append(spec)
        names[n] = spec["name"]

    def arg(n: fx.Node, i: int, key: str, default: Any = None) -> Any:
        if len(n.args) > i:
            return n.args[i]
        return n.kwargs.get(key, default)

    output_node = None
    for n in gm.graph.nodes:
        out_shape = meta_shape(n)
        if n.op == "placeholder":
            names[n] = "input"
            continue
        if n.op == "output":
            output_node = n
            continue
        if n.op == "get_attr":
            raise ExportError(f"node {n.name!r}: a tensor attribute ({n.target}) used in the forward is not supported")
        if out_shape is None:
            # Not a tensor (x.size(0) and the like): fine as an argument of a reshape only.
            continue
        first = n.args[0] if n.args else None
        in_shape = meta_shape(first) if isinstance(first, fx.Node) else None
        rank = len(out_shape)
        if n.op == "call_module":
            m = modules[n.target]
            count = used_modules.get(n.target, 0)
            if count and any(True for _ in m.parameters()):
                raise ExportError(f"node {n.name!r}: module {n.target!r} with parameters is called twice (shared weights are not supported)")
            used_modules[n.target] = count + 1
            name = unique(n.target)
            spec, ts = _graph_module_spec(name, m, in_shape[1:] if in_shape else None, rank)
            tensors.update(ts)
            add(n, spec, [tensor_input(n, first)])
            continue
        fn = n.target
        method = n.op == "call_method"
        spec: Optional[Dict[str, Any]] = None
        inputs = None
        if fn in (operator.add, torch.add, operator.iadd) or (method and fn in ("add", "add_")):
            spec, inputs = {"op": "add"}, [tensor_input(n, a) for a in n.args[:2]]
        elif fn in (operator.mul, torch.mul, operator.imul) or (method and fn in ("mul", "mul_")):
            spec, inputs = {"op": "mul"}, [tensor_input(n, a) for a in n.args[:2]]
        elif fn is torch.cat:
            parts = arg(n, 0, "tensors")
            spec = {"op": "concat", "dim": _dim(arg(n, 1, "dim", 0), rank, n.name)}
            inputs = [tensor_input(n, a) for a in parts]
        elif fn in (F.relu, torch.relu) or (method and fn in ("relu", "relu_")):
            spec = {"op": "relu"}
        elif fn in (torch.sigmoid, F.sigmoid) or (method and fn == "sigmoid"):
            spec = {"op": "sigmoid"}
        elif fn in (torch.tanh, F.tanh) or (method and fn == "tanh"):
            spec = {"op": "tanh"}
        elif fn is F.leaky_relu:
            spec = {"op": "leaky_relu", "negative_slope": float(arg(n, 1, "negative_slope", 0.01))}
        elif fn is F.softplus and arg(n, 1, "beta", 1) == 1 and arg(n, 2, "threshold", 20) == 20:
            spec = {"op": "softplus"}
        elif fn in (F.softmax, F.log_softmax, torch.softmax, torch.log_softmax) or (method and fn in ("softmax", "log_softmax")):
            log = fn in (F.log_softmax, torch.log_softmax, "log_softmax")
            spec = {"op": "log_softmax" if log else "softmax", "dim": _dim(arg(n, 1, "dim"), rank, n.name)}
        elif (fn is torch.flatten or (method and fn in ("flatten", "view", "reshape"))) and in_shape is not None \
                and len(out_shape) == 2 and out_shape[0] == in_shape[0] and out_shape[1] == math.prod(in_shape[1:]):
            spec = {"op": "flatten"}
        elif (method and fn == "mean" or fn is torch.mean) and in_shape is not None and len(in_shape) == 4 \
                and sorted(d % 4 for d in (arg(n, 1, "dim") or ())) == [2, 3] and not arg(n, 2, "keepdim", False):
            spec = {"op": "global_avgpool2d"}
        elif fn is F.adaptive_avg_pool2d:
            size = arg(n, 1, "output_size")
            size = [size, size] if isinstance(size, int) else list(size)
            spec = {"op": "adaptive_avgpool2d", "output_size": size}
        elif fn in (F.max_pool2d, F.avg_pool2d):
            k = _pair(arg(n, 1, "kernel_size"), "kernel_size", n.name)
            st = arg(n, 2, "stride")
            st = k if st is None or st == () else _pair(st, "stride", n.name)
            if not _is_zero(arg(n, 3, "padding", 0)) or arg(n, 5 if fn is F.max_pool2d else 4, "ceil_mode", False):
                raise ExportError(f"node {n.name!r}: pooling with padding or ceil_mode is not supported")
            spec = {"op": "maxpool2d" if fn is F.max_pool2d else "avgpool2d", "kernel_size": k, "stride": st}
        elif fn is F.interpolate:
            spec = _upsample_spec(n.name, arg(n, 1, "size"), arg(n, 2, "scale_factor"),
                                  arg(n, 3, "mode", "nearest"), arg(n, 4, "align_corners"))
        elif fn is F.dropout:
            spec = {"op": "dropout", "p": float(arg(n, 1, "p", 0.5))}
        if spec is None:
            raise ExportError(f"node {n.name!r} ({_describe(n)}) is not supported; see the module docs for the ops a graph may use")
        add(n, {"name": unique(n.name), **spec}, inputs if inputs is not None else [tensor_input(n, first)])

    result = output_node.args[0]
    if isinstance(result, fx.Node):
        heads = {"output": result}
    elif isinstance(result, (tuple, list)):
        heads = {f"output{i}": r for i, r in enumerate(result)}
    elif isinstance(result, dict):
        heads = dict(result)
    else:
        raise ExportError(f"the model returns {type(result).__name__}; expected a tensor, a tuple or a dict of tensors")
    for h, r in heads.items():
        if not isinstance(r, fx.Node) or r not in names or names[r] == "input":
            raise ExportError(f"output {h!r} is not a node of the graph")
        shp = meta_shape(r)
        if shp is None or len(shp) < 2:
            raise ExportError(f"output {h!r} has shape {shp}; expected a batch of examples")
    if output is not None and output not in heads:
        raise ExportError(f"output={output!r} is not an output of the model (outputs: {', '.join(heads)})")
    doc: Dict[str, Any] = {"format": FORMAT, "version": GRAPH_VERSION, "input_shape": shape, "layers": layers}
    single = len(heads) == 1 and names[next(iter(heads.values()))] == layers[-1]["name"]
    if not single:
        doc["outputs"] = {h: names[r] for h, r in heads.items()}
        doc["output"] = output or next(iter(heads))
    return doc, tensors


def _describe(n) -> str:
    target = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", repr(n.target))
    return f"{n.op} {target}"


# --------------------------------------------------------------------------- loading (round trip)


def _build_layer(spec: Dict[str, Any]) -> nn.Module:
    op = spec["op"]
    if op == "linear":
        return nn.Linear(spec["in_features"], spec["out_features"])
    if op == "conv2d":
        return nn.Conv2d(spec["in_channels"], spec["out_channels"], tuple(spec["kernel_size"]),
                         stride=tuple(spec["stride"]), padding=tuple(spec["padding"]))
    if op == "conv_transpose2d":
        return nn.ConvTranspose2d(spec["in_channels"], spec["out_channels"], tuple(spec["kernel_size"]),
                                  stride=tuple(spec["stride"]), padding=tuple(spec["padding"]),
                                  output_padding=tuple(spec["output_padding"]), dilation=tuple(spec["dilation"]))
    if op in ("upsample_nearest2d", "upsample_bilinear2d"):
        mode = op[len("upsample_"):-2]
        size = tuple(spec["size"]) if "size" in spec else None
        scale = tuple(spec["scale_factor"]) if "scale_factor" in spec else None
        return nn.Upsample(size=size, scale_factor=scale, mode=mode,
                           align_corners=spec.get("align_corners") if mode == "bilinear" else None)
    if op == "relu":
        return nn.ReLU()
    if op == "leaky_relu":
        return nn.LeakyReLU(spec["negative_slope"])
    if op == "sigmoid":
        return nn.Sigmoid()
    if op == "tanh":
        return nn.Tanh()
    if op == "softplus":
        return nn.Softplus()
    if op == "maxpool2d":
        return nn.MaxPool2d(tuple(spec["kernel_size"]), tuple(spec["stride"]))
    if op == "avgpool2d":
        return nn.AvgPool2d(tuple(spec["kernel_size"]), tuple(spec["stride"]))
    if op == "adaptive_avgpool2d":
        return nn.AdaptiveAvgPool2d(tuple(spec["output_size"]))
    if op == "flatten":
        return nn.Flatten()
    if op == "dropout":
        return nn.Dropout(spec["p"])
    if op == "batchnorm1d":
        return nn.BatchNorm1d(spec["num_features"], eps=spec["eps"])
    if op == "batchnorm2d":
        return nn.BatchNorm2d(spec["num_features"], eps=spec["eps"])
    raise ExportError(f"layer {spec.get('name')!r}: unknown op {op!r}")


class GraphModel(nn.Module):
    """A version-2 model rebuilt in PyTorch: runs the nodes in order. Returns the default
    output, or with ``heads=True`` a dict of every output."""

    _MERGES = {"add", "mul", "concat", "identity", "global_avgpool2d", "softmax", "log_softmax"}

    def __init__(self, doc: Dict[str, Any]):
        super().__init__()
        self.specs = doc["layers"]
        self.mods = nn.ModuleDict({
            _key(spec["name"]): _build_layer(spec) for spec in self.specs if spec["op"] not in self._MERGES
        })
        last = self.specs[-1]["name"]
        self.outputs = doc.get("outputs") or {"output": last}
        self.default = doc.get("output") or next(iter(self.outputs))

    def forward(self, x: torch.Tensor, heads: bool = False):
        values = {"input": x}
        prev = "input"
        for spec in self.specs:
            ins = [values[i] for i in spec.get("inputs", [prev])]
            op = spec["op"]
            if op == "add":
                y = ins[0]
                for t in ins[1:]:
                    y = y + t
            elif op == "mul":
                y = ins[0]
                for t in ins[1:]:
                    y = y * t
            elif op == "concat":
                y = torch.cat(ins, spec.get("dim", 1))
            elif op == "identity":
                y = ins[0]
            elif op == "global_avgpool2d":
                y = ins[0].mean((2, 3))
            elif op in ("softmax", "log_softmax"):
                f = torch.softmax if op == "softmax" else torch.log_softmax
                y = f(ins[0], spec.get("dim", 1))
            else:
                y = self.mods[_key(spec["name"])](ins[0])
            values[spec["name"]] = y
            prev = spec["name"]
        if heads:
            return {h: values[n] for h, n in self.outputs.items()}
        return values[self.outputs[self.default]]


def _key(name: str) -> str:
    """A node name as a ModuleDict key (which cannot hold dots)."""
    return name.replace(".", "__")


def load(json_path: Union[str, os.PathLike]) -> nn.Module:
    """Rebuild a fresh model (eval mode) from an exported model.json + safetensors: an
    ``nn.Sequential`` for version 1, a ``GraphModel`` for version 2."""
    from collections import OrderedDict

    from safetensors.torch import load_file

    json_path = Path(json_path)
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT or doc.get("version") not in (VERSION, GRAPH_VERSION):
        raise ExportError(f"{json_path}: not an {FORMAT} v{VERSION} or v{GRAPH_VERSION} file")
    state = load_file(str(json_path.parent / doc["weights"]))
    if doc["version"] == GRAPH_VERSION:
        model = GraphModel(doc)
        prefix = {spec["name"]: "mods." + _key(spec["name"]) for spec in doc["layers"]}
        renamed = {}
        for k, v in state.items():
            node, _, suffix = k.rpartition(".")
            if node not in prefix:
                raise ExportError(f"{json_path}: tensor {k!r} belongs to no node")
            renamed[f"{prefix[node]}.{suffix}"] = v
        state = renamed
        children = {prefix[s["name"]]: model.mods[_key(s["name"])] for s in doc["layers"] if _key(s["name"]) in model.mods}
    else:
        seq: "OrderedDict[str, nn.Module]" = OrderedDict()
        for spec in doc["layers"]:
            seq[spec["name"]] = _build_layer(spec)
        model = nn.Sequential(seq)
        children = dict(model.named_children())
    # Conv/linear without bias in the file: drop the bias parameter.
    for name, child in children.items():
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) and f"{name}.bias" not in state:
            child.bias = None
    expected = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    if expected != set(state):
        raise ExportError(
            f"{json_path}: weight names differ; missing {sorted(expected - set(state))}, "
            f"unexpected {sorted(set(state) - expected)}"
        )
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    return model.eval()


# --------------------------------------------------------------------------- CLI


def _load_factory(ref: str):
    if ":" not in ref:
        raise SystemExit(f"--model {ref!r}: expected FILE.py:FUNCTION or package.module:FUNCTION")
    target, attr = ref.rsplit(":", 1)
    if target.endswith(".py"):
        path = Path(target).resolve()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.parent))
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    obj = getattr(module, attr)
    return obj() if callable(obj) and not isinstance(obj, nn.Module) else obj


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="export_pytorch.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Export a PyTorch nn.Sequential to the xai format (model.json + model.safetensors).",
        epilog="""\
examples:
  # my_model.py defines `def build(): return nn.Sequential(...)`; weights saved with
  # torch.save(model.state_dict(), "weights.pt")
  python tools/export_pytorch.py --model my_model.py:build --state-dict weights.pt \\
      --input-shape 1 28 28 --output out/model.json

  # a whole pickled model (torch.save(model, "model.pt")); only for files you trust
  python tools/export_pytorch.py --pickled-model model.pt --input-shape 30 --output out/model.json

  # with input normalisation (one mean/std per input channel)
  python tools/export_pytorch.py --model my_model.py:build --state-dict weights.pt \\
      --input-shape 1 28 28 --mean 0.1307 --std 0.3081 --output out/model.json

library use (tools/ on sys.path):
  from export_pytorch import export, load
  export(model, [1, 28, 28], "out/model.json")                      # + out/model.safetensors
  export(model, [1, 28, 28], "out/model.json", normalize={"mean": [0.1307], "std": [0.3081]})
  model2 = load("out/model.json")                                   # round trip back to torch

supported layers: Linear, Conv2d (dilation 1, groups 1), ReLU, LeakyReLU, Sigmoid, Tanh,
Softplus (defaults), MaxPool2d/AvgPool2d (no padding, no ceil_mode), AdaptiveAvgPool2d,
Flatten (start_dim 1), Dropout, BatchNorm1d, BatchNorm2d.
""",
    )
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", metavar="FILE.py:FUNC",
                     help="module file (or dotted module) and a function returning the nn.Sequential "
                          "(or the name of an nn.Sequential object)")
    src.add_argument("--pickled-model", metavar="PATH",
                     help="a whole model saved with torch.save(model, PATH) (unpickles: trusted files only)")
    parser.add_argument("--state-dict", metavar="PATH", help="state_dict to load into the model (torch.save)")
    parser.add_argument("--input-shape", type=int, nargs="+", required=True, metavar="D",
                        help="per-example input shape without the batch dimension, e.g. 1 28 28")
    parser.add_argument("--output", "-o", required=True, metavar="JSON",
                        help="path of the model JSON to write; weights go to <stem>.safetensors beside it")
    parser.add_argument("--mean", type=float, nargs="+", help="input normalisation mean, one per channel")
    parser.add_argument("--std", type=float, nargs="+", help="input normalisation std, one per channel")
    args = parser.parse_args(argv)

    if (args.mean is None) != (args.std is None):
        parser.error("--mean and --std go together")
    if args.model:
        model = _load_factory(args.model)
    else:
        model = torch.load(args.pickled_model, map_location="cpu", weights_only=False)
    if args.state_dict:
        state = torch.load(args.state_dict, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    normalize = {"mean": args.mean, "std": args.std} if args.mean is not None else None
    try:
        doc = export(model, args.input_shape, args.output, normalize=normalize)
    except ExportError as e:
        print(f"export_pytorch: error: {e}", file=sys.stderr)
        return 2
    weights = Path(args.output).with_name(doc["weights"])
    print(f"wrote {args.output} ({len(doc['layers'])} layers) and {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
