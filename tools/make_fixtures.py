#!/usr/bin/env python3
"""Regenerate the PyTorch/Captum reference fixtures in xai-cli/tests/fixtures/.

Usage (from the repository root; needs torch, captum, safetensors, numpy)::

    python tools/make_fixtures.py [--out xai-cli/tests/fixtures]

For each model (``mlp``, ``lenet``, ``cnn_misc``; random weights, seeded) it writes
into ``<out>/<name>/``:

* ``model.json`` + ``model.safetensors``  (via ``export_pytorch.export``)
* ``input.npy``             f32 [4, *input_shape], N(0, 1)
* ``logits.npy``            f32 [4, K], model in eval mode
* ``saliency.npy``          f32, captum ``Saliency(model).attribute(x, target=argmax, abs=False)``
* ``saliency_target1.npy``  f32, the same with target class 1 for every example

and ``<out>/README.md``. It then reloads every exported model into a fresh torch
model and checks that it reproduces the logits and saliency maps. The output is
deterministic: running the script twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_pytorch import export, load  # noqa: E402

BATCH = 4
SEED = 0


def build_mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))


def build_lenet() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def build_cnn_misc() -> nn.Sequential:
    # [3,12,12] -conv s2 p1-> [4,6,6] -avgpool-> [4,3,3] -conv (2,3) p(1,0)-> [5,4,1]
    # -adaptive (2,2)-> [5,2,2] (width 1 -> 2: both output columns read the single input column)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1),
        nn.BatchNorm2d(4),
        nn.LeakyReLU(0.1),
        nn.AvgPool2d(2, 2),
        nn.Conv2d(4, 5, (2, 3), padding=(1, 0), bias=False),
        nn.Sigmoid(),
        nn.AdaptiveAvgPool2d((2, 2)),
        nn.Flatten(),
        nn.Linear(20, 8),
        nn.Softplus(),
        nn.Dropout(0.3),
        nn.Linear(8, 3),
    )
    bn = model[1]
    with torch.no_grad():  # non-trivial batch-norm statistics and affine parameters
        bn.running_mean.copy_(torch.randn(4) * 0.5)
        bn.running_var.copy_(torch.rand(4) * 1.5 + 0.5)
        bn.weight.copy_(torch.rand(4) + 0.5)
        bn.bias.copy_(torch.randn(4) * 0.5)
    return model


MODELS: Dict[str, Tuple[Callable[[], nn.Sequential], List[int]]] = {
    "mlp": (build_mlp, [30]),
    "lenet": (build_lenet, [1, 28, 28]),
    "cnn_misc": (build_cnn_misc, [3, 12, 12]),
}


def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    from captum.attr import Saliency

    return Saliency(model).attribute(x.clone().requires_grad_(True), target=target, abs=False).detach()


def save_npy(path: Path, array: torch.Tensor) -> None:
    a = np.ascontiguousarray(array.detach().cpu().numpy().astype("<f4"))
    np.save(path, a, allow_pickle=False)


def make_one(name: str, out_dir: Path) -> None:
    build, input_shape = MODELS[name]
    torch.manual_seed(SEED)  # per model, so models do not depend on each other
    model = build().float().eval()
    x = torch.randn([BATCH] + input_shape, dtype=torch.float32)

    with torch.no_grad():
        logits = model(x)
    target = logits.argmax(dim=1)
    sal = saliency(model, x, target)
    sal1 = saliency(model, x, torch.ones(BATCH, dtype=torch.long))

    d = out_dir / name
    d.mkdir(parents=True, exist_ok=True)
    export(model, input_shape, d / "model.json")
    save_npy(d / "input.npy", x)
    save_npy(d / "logits.npy", logits)
    save_npy(d / "saliency.npy", sal)
    save_npy(d / "saliency_target1.npy", sal1)

    # ---- self-check: fresh model from the exported files reproduces everything
    fresh = load(d / "model.json")
    x2 = torch.from_numpy(np.load(d / "input.npy"))
    assert torch.equal(x2, x), name
    with torch.no_grad():
        logits2 = fresh(x2)
    np_logits = torch.from_numpy(np.load(d / "logits.npy"))
    assert torch.allclose(logits2, np_logits, rtol=1e-6, atol=1e-6), (name, (logits2 - np_logits).abs().max())
    assert torch.equal(logits2.argmax(1), target), name
    for fname, tgt in (("saliency.npy", target), ("saliency_target1.npy", torch.ones(BATCH, dtype=torch.long))):
        ref = torch.from_numpy(np.load(d / fname))
        assert ref.shape == x.shape, (name, fname, ref.shape)
        again = saliency(fresh, x2, tgt)
        assert torch.allclose(again, ref, rtol=1e-5, atol=1e-7), (name, fname, (again - ref).abs().max())
        # Saliency is the plain input gradient: cross-check without captum.
        xg = x2.clone().requires_grad_(True)
        fresh(xg).gather(1, tgt[:, None]).sum().backward()
        assert torch.allclose(xg.grad, ref, rtol=1e-5, atol=1e-7), (name, fname)
    print(f"{name}: logits {list(logits.shape)}, argmax {target.tolist()}, self-check ok")


def write_readme(out_dir: Path) -> None:
    import captum
    import safetensors

    lines = [
        "# Reference fixtures (PyTorch / Captum)",
        "",
        "Generated by `tools/make_fixtures.py` (run from the repository root:",
        "`python tools/make_fixtures.py`); do not edit by hand. Models have random",
        f"weights (`torch.manual_seed({SEED})` before building each model, float32,",
        "`torch.use_deterministic_algorithms(True)`, CPU) and are exported with",
        "`tools/export_pytorch.py`.",
        "",
        "| dir | input_shape | layers |",
        "| --- | --- | --- |",
        "| `mlp` | [30] | Linear(30,64), ReLU, Linear(64,64), Tanh, Linear(64,2) |",
        "| `lenet` | [1,28,28] | Conv2d(1,6,5,p2), ReLU, MaxPool2d(2,2), Conv2d(6,16,5), ReLU, MaxPool2d(2,2),"
        " Flatten, Linear(400,120), ReLU, Linear(120,84), ReLU, Linear(84,10) |",
        "| `cnn_misc` | [3,12,12] | Conv2d(3,4,3,s2,p1), BatchNorm2d(4) (random running stats/affine), LeakyReLU(0.1),"
        " AvgPool2d(2,2), Conv2d(4,5,(2,3),p(1,0),bias=False), Sigmoid, AdaptiveAvgPool2d((2,2)) (from 4x1),"
        " Flatten, Linear(20,8), Softplus, Dropout(0.3), Linear(8,3) |",
        "",
        "Each directory holds:",
        "",
        "- `model.json`, `model.safetensors`: the model in the xai format.",
        f"- `input.npy`: f32 `[{BATCH}, *input_shape]`, N(0,1) samples drawn right after the weights.",
        f"- `logits.npy`: f32 `[{BATCH}, K]`, the model's output in eval mode.",
        "- `saliency.npy`: f32, same shape as the input: the raw (signed) gradient of each example's argmax",
        "  logit with respect to its input, `captum.attr.Saliency(model).attribute(x, target=argmax, abs=False)`.",
        "- `saliency_target1.npy`: the same with target class 1 for every example.",
        "",
        "The script reloads every exported model into a fresh torch model and checks that it",
        "reproduces the logits and both saliency maps (also against a plain `backward()`).",
        "",
        "Generated with:",
        "",
        f"- Python {platform.python_version()}",
        f"- torch {torch.__version__}",
        f"- captum {captum.__version__}",
        f"- numpy {np.__version__}",
        f"- safetensors {safetensors.__version__}",
        "",
    ]
    (out_dir / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=root / "xai-cli" / "tests" / "fixtures",
                        help="output directory (default: xai-cli/tests/fixtures)")
    args = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # fixed reduction order for the reference numbers
    torch.set_default_dtype(torch.float32)

    args.out.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        make_one(name, args.out)
    write_readme(args.out)

    total = 0
    for p in sorted(args.out.rglob("*")):
        if p.is_file():
            total += p.stat().st_size
            digest = hashlib.sha256(p.read_bytes()).hexdigest()[:12]
            print(f"  {p.relative_to(args.out)}  {p.stat().st_size} B  sha256:{digest}")
    print(f"total {total} B ({total / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
