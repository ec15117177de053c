#!/usr/bin/env python3
"""Reference attributions from Captum for `xai-cli/tests/explain_perturbation.rs`.

Rebuilds the fixture models `xai-cli/tests/fixtures/{mlp,lenet}` with `export_pytorch.load()`
and writes f32 .npy files to `xai-cli/tests/fixtures/perturbation/` (targets: the argmax
class, as `xai explain --target argmax`):

    /work/pyenv/bin/python tools/make_perturbation_fixtures.py   # needs torch + captum

- occlusion_lenet_6x6_s2: Occlusion, sliding_window_shapes=(1, 6, 6), strides=(1, 2, 2),
  baselines=0 (xai: --window 6x6 --stride 2x2).
- occlusion_lenet_5x5_s3_c01: window (1, 5, 5), strides (1, 3, 3), baselines=0.1 (the last
  window on each axis is clipped at the border, as in Captum).
- ablation_mlp: FeatureAblation per feature, baselines=0.
- ablation_lenet_grid4: FeatureAblation with feature_mask = a 4×4 grid of 7×7 cells
  (`mask_lenet_grid4.npy`, also `--segments grid:4`), baselines=0.
"""

import sys
from pathlib import Path

import numpy as np
import torch
from captum.attr import FeatureAblation, Occlusion

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from export_pytorch import load  # noqa: E402

FIX = ROOT / "xai-cli" / "tests" / "fixtures"
OUT = FIX / "perturbation"


def save(name, t):
    OUT.mkdir(parents=True, exist_ok=True)
    a = t.detach().cpu().numpy() if torch.is_tensor(t) else t
    np.save(OUT / f"{name}.npy", a.astype(np.float32))
    print(f"{name}: {list(a.shape)}")


def model(name):
    m = load(FIX / name / "model.json").eval().double()
    x = torch.from_numpy(np.load(FIX / name / "input.npy")).double()
    return m, x, m(x).argmax(1)


def main():
    torch.manual_seed(0)
    with torch.no_grad():
        m, x, t = model("lenet")
        occ = Occlusion(m)
        save("occlusion_lenet_6x6_s2", occ.attribute(x, (1, 6, 6), strides=(1, 2, 2), target=t, baselines=0.0))
        save(
            "occlusion_lenet_5x5_s3_c01",
            occ.attribute(x, (1, 5, 5), strides=(1, 3, 3), target=t, baselines=0.1),
        )
        yy, xx = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
        grid = ((yy * 4 // 28) * 4 + xx * 4 // 28).reshape(1, 28, 28)
        save("mask_lenet_grid4", grid)
        fm = torch.from_numpy(grid).long().unsqueeze(0)
        save("ablation_lenet_grid4", FeatureAblation(m).attribute(x, target=t, baselines=0.0, feature_mask=fm))
        m, x, t = model("mlp")
        save("ablation_mlp", FeatureAblation(m).attribute(x, target=t, baselines=0.0))


if __name__ == "__main__":
    main()
