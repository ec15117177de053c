#!/usr/bin/env python3
"""A convolutional decoder (conv, ReLU, transposed conv with output padding, bilinear and
nearest upsampling, a concat with the input) exported by ``tools/export_pytorch.py`` (torch.fx,
model format version 2), its output and the input gradient of ⟨out, r⟩ for a fixed ``r``, for
``xai-nn/tests/decoder.rs``.

Usage (from the repository root; needs torch, safetensors, numpy)::

    python tools/make_decoder_fixture.py [--out xai-nn/tests/fixtures/decoder]
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
from export_pytorch import export, load  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(2, 4, 3, stride=2, padding=1)
        self.relu = nn.ReLU()
        self.up = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)
        self.smooth = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x):
        y = self.smooth(self.up(self.relu(self.down(x))))          # [3, 14, 14]
        y = F.interpolate(y, size=(7, 7), mode="nearest")          # [3, 7, 7]
        return torch.cat([y, x], dim=1)                            # [5, 7, 7]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "xai-nn" / "tests" / "fixtures" / "decoder")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = Decoder().eval()
    x = torch.randn(3, 2, 7, 7, requires_grad=True)
    export(model, [2, 7, 7], args.out / "model.json")
    y = model(x)
    r = torch.randn_like(y)
    (gx,) = torch.autograd.grad((y * r).sum(), x)
    again = load(args.out / "model.json")
    assert torch.allclose(again(x), y)
    for name, t in [("x", x), ("y", y), ("r", r), ("gx", gx)]:
        np.save(args.out / f"{name}.npy", t.detach().numpy().astype(np.float32))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
