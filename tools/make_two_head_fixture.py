#!/usr/bin/env python3
"""A two-head model (encoder → decoder reconstruction head + classifier head) and one training
step of the weighted objective 20·CE(logits, y) + 1·MSE(reconstruction, x) in PyTorch, for
``xai-nn/tests/two_head.rs``.

Usage (from the repository root; needs torch, safetensors, numpy)::

    python tools/make_two_head_fixture.py [--out xai-nn/tests/fixtures/two_head]

Writes ``model.json`` + ``model.safetensors`` (model format version 2, exported by
``tools/export_pytorch.py``: the model returns a dict ``{"logits", "reconstruction"}``, logits
the default output), ``x.npy`` (f32 [16, 12]), ``y.npy`` (int64 [16]) and, after one step on the
whole batch, ``sgd.safetensors`` (SGD, lr 0.1) and ``adam.safetensors`` (after 3 Adam steps, lr
0.01), the updated parameters under their state-dict names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_pytorch import export  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class TwoHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(12, 8)
        self.act = nn.Tanh()
        self.dec = nn.Linear(8, 12)
        self.cls = nn.Linear(8, 3)

    def forward(self, x):
        z = self.act(self.enc(x))
        return {"logits": self.cls(z), "reconstruction": self.dec(z)}


def objective(model, x, y):
    out = model(x)
    return 20 * F.cross_entropy(out["logits"], y) + F.mse_loss(out["reconstruction"], x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "xai-nn" / "tests" / "fixtures" / "two_head")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = TwoHead()
    x = torch.randn(16, 12)
    y = torch.randint(0, 3, (16,))
    export(model, [12], args.out / "model.json", output="logits")
    np.save(args.out / "x.npy", x.numpy())
    np.save(args.out / "y.npy", y.numpy())
    from safetensors.torch import save_file

    state = {k: v.clone() for k, v in model.state_dict().items()}
    for name, make, steps in [("sgd", lambda p: torch.optim.SGD(p, lr=0.1), 1),
                              ("adam", lambda p: torch.optim.Adam(p, lr=0.01), 3)]:
        model.load_state_dict(state)
        opt = make(model.parameters())
        for _ in range(steps):
            opt.zero_grad()
            objective(model, x, y).backward()
            opt.step()
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
                  str(args.out / f"{name}.safetensors"))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
