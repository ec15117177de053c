#!/usr/bin/env python3
"""PyTorch references for conv_transpose2d and nearest/bilinear upsampling (xai-autodiff tests).

Usage (from the repository root; needs torch)::

    python3 tools/make_upsample_fixtures.py [--out xai-autodiff/tests/data/torch_upsample.json]

Writes one JSON file with two lists of cases. Every array is ``{"shape": [...], "data": [...]}``
(row-major, float64 written with ``repr``, so exactly).

* ``conv_transpose2d``: ``F.conv_transpose2d(x, w, b, stride, padding, output_padding,
  dilation=dilation)`` in float64, with ``x``, ``w``, ``b``, the output ``y``, a fixed upstream
  ``gy`` and the gradients ``dx``, ``dw``, ``db`` of ``(y * gy).sum()``; ``y32``: the output
  of the same inputs rounded to float32, computed in float32.
* ``upsample``: ``F.interpolate(x, size=..., scale_factor=..., mode=..., align_corners=...)``
  (``mode`` ``nearest`` or ``bilinear``; ``size`` or ``scale_factor`` null), with ``x``, ``y``,
  ``gy``, ``dx`` in float64 and ``y32`` in float32, as above.

Inputs come from ``torch.Generator`` seeded per case; the output is deterministic. The Rust test
(``xai-autodiff/tests/torch_upsample.rs``) reads the file; building and testing never run Python.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

CONV_TRANSPOSE = [
    # name, x shape, w shape [C_in, C_out, kh, kw], stride, padding, output_padding, dilation
    ("plain", [1, 2, 3, 4], [2, 3, 2, 2], [1, 1], [0, 0], [0, 0], [1, 1]),
    ("s2_p1_op1_d2", [2, 3, 4, 5], [3, 2, 3, 3], [2, 2], [1, 1], [1, 1], [2, 2]),
    ("op_below_dilation", [1, 2, 5, 4], [2, 3, 2, 3], [1, 2], [0, 1], [1, 1], [2, 1]),
    ("s3_p2_op2", [2, 2, 3, 3], [2, 4, 3, 2], [3, 2], [2, 0], [2, 1], [1, 1]),
]

UPSAMPLE = [
    # name, x shape, mode, align_corners, size, scale_factor
    ("nearest_scale2", [2, 3, 4, 5], "nearest", None, None, [2.0, 2.0]),
    ("nearest_5_to_7", [1, 2, 5, 5], "nearest", None, [7, 7], None),
    ("nearest_scale_1p5_1p7", [1, 2, 5, 4], "nearest", None, None, [1.5, 1.7]),
    ("nearest_down_7x9_to_3x4", [1, 1, 7, 9], "nearest", None, [3, 4], None),
    ("bilinear_scale2", [2, 3, 4, 5], "bilinear", False, None, [2.0, 2.0]),
    ("bilinear_5_to_7", [1, 2, 5, 5], "bilinear", False, [7, 7], None),
    ("bilinear_scale_1p5_1p7", [1, 2, 5, 4], "bilinear", False, None, [1.5, 1.7]),
    ("bilinear_down_7x9_to_3x4", [1, 1, 7, 9], "bilinear", False, [3, 4], None),
    ("bilinear_ac_scale2", [2, 3, 4, 5], "bilinear", True, None, [2.0, 2.0]),
    ("bilinear_ac_5_to_7", [1, 2, 5, 5], "bilinear", True, [7, 7], None),
    ("bilinear_ac_3x4_to_1x6", [1, 2, 3, 4], "bilinear", True, [1, 6], None),
]


def array(t: torch.Tensor) -> dict:
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.flatten().tolist()]}


def randn(gen: torch.Generator, shape: list[int]) -> torch.Tensor:
    return torch.randn(shape, generator=gen, dtype=torch.float64)


def conv_transpose_case(seed: int, name, xs, ws, stride, padding, output_padding, dilation):
    gen = torch.Generator().manual_seed(seed)
    x = randn(gen, xs).requires_grad_()
    w = randn(gen, ws).requires_grad_()
    b = randn(gen, [ws[1]]).requires_grad_()

    def run(x, w, b):
        return F.conv_transpose2d(
            x, w, b, stride=stride, padding=padding, output_padding=output_padding,
            dilation=dilation,
        )

    y = run(x, w, b)
    gy = randn(gen, list(y.shape))
    (y * gy).sum().backward()
    y32 = run(x.detach().float(), w.detach().float(), b.detach().float())
    return {
        "name": name, "stride": stride, "padding": padding,
        "output_padding": output_padding, "dilation": dilation,
        "x": array(x), "w": array(w), "b": array(b), "y": array(y), "gy": array(gy),
        "dx": array(x.grad), "dw": array(w.grad), "db": array(b.grad), "y32": array(y32),
    }


def upsample_case(seed: int, name, xs, mode, align_corners, size, scale_factor):
    gen = torch.Generator().manual_seed(seed)
    x = randn(gen, xs).requires_grad_()

    def run(x):
        return F.interpolate(
            x, size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners
        )

    y = run(x)
    gy = randn(gen, list(y.shape))
    (y * gy).sum().backward()
    return {
        "name": name, "mode": mode, "align_corners": align_corners, "size": size,
        "scale_factor": scale_factor,
        "x": array(x), "y": array(y), "gy": array(gy), "dx": array(x.grad),
        "y32": array(run(x.detach().float())),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="xai-autodiff/tests/data/torch_upsample.json")
    out = Path(ap.parse_args().out)
    torch.use_deterministic_algorithms(True)
    fixtures = {
        "generator": "tools/make_upsample_fixtures.py",
        "torch": torch.__version__,
        "conv_transpose2d": [conv_transpose_case(100 + i, *c) for i, c in enumerate(CONV_TRANSPOSE)],
        "upsample": [upsample_case(200 + i, *c) for i, c in enumerate(UPSAMPLE)],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fixtures, separators=(",", ":")) + "\n")
    n = len(fixtures["conv_transpose2d"]) + len(fixtures["upsample"])
    print(f"wrote {n} cases to {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
