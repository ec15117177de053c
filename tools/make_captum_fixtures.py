#!/usr/bin/env python3
"""Reference attributions from Captum for `xai-cli/tests/explain_gradient.rs`.

Rebuilds each fixture model of `xai-cli/tests/fixtures/{mlp,lenet,cnn_misc}` with
`export_pytorch.load()` and writes small f32 .npy files to `xai-cli/tests/fixtures/captum/`
(every target is the argmax class, as `xai explain --target argmax`):

    python tools/make_captum_fixtures.py          # needs torch + captum

SmoothGrad and GradientShap are random (Captum's streams cannot be reproduced), so they have no
fixture. LayerIntegratedGradients interpolates the layer's activation, as xai's
`layer-integrated-gradients` does; checked on the MLP's first linear layer "0" and on its
ReLU "1" (where interpolating the input instead would differ).
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import (
    IntegratedGradients,
    LayerConductance,
    LayerGradCam,
    LayerIntegratedGradients,
    NeuronGradient,
    NeuronIntegratedGradients,
    LayerGradientXActivation,
    InputXGradient,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from export_pytorch import load  # noqa: E402

FIX = ROOT / "xai-cli" / "tests" / "fixtures"
OUT = FIX / "captum"


def save(name, t):
    OUT.mkdir(parents=True, exist_ok=True)
    a = t.detach().cpu().numpy().astype(np.float32)
    np.save(OUT / f"{name}.npy", a)
    print(f"{name}: {list(a.shape)}")


def main():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    models = {}
    for name in ["mlp", "lenet", "cnn_misc"]:
        m = load(FIX / name / "model.json").eval()
        x = torch.from_numpy(np.load(FIX / name / "input.npy"))
        t = m(x).argmax(1)
        models[name] = (m, x, t)

    m, x, t = models["mlp"]
    save("ig_mlp_gl", IntegratedGradients(m).attribute(x, target=t, n_steps=50, method="gausslegendre"))
    save(
        "ig_mlp_trapezoid_c05",
        IntegratedGradients(m).attribute(
            x, baselines=0.5, target=t, n_steps=32, method="riemann_trapezoid"
        ),
    )
    save("ixg_mlp", InputXGradient(m).attribute(x, target=t))
    save("layer_ig_mlp_0", LayerIntegratedGradients(m, m[0]).attribute(x, target=t, n_steps=50))
    save("layer_ig_mlp_1", LayerIntegratedGradients(m, m[1]).attribute(x, target=t, n_steps=50))
    save("layer_cond_mlp_1", LayerConductance(m, m[1]).attribute(x, target=t, n_steps=50))
    save("layer_gxa_mlp_3", LayerGradientXActivation(m, m[3]).attribute(x, target=t))
    save("neuron_grad_mlp_1_5", NeuronGradient(m, m[1]).attribute(x, neuron_selector=5))
    save(
        "neuron_ig_mlp_3_7",
        NeuronIntegratedGradients(m, m[3]).attribute(x, neuron_selector=7, n_steps=50),
    )

    m, x, t = models["lenet"]
    save("ig_lenet_gl", IntegratedGradients(m).attribute(x, target=t, n_steps=50))
    gc = LayerGradCam(m, m[3]).attribute(x, target=t, relu_attributions=True)
    save("gradcam_lenet_3", gc[:, 0])
    save("gradcam_lenet_3_up", LayerGradCam.interpolate(gc, (28, 28), "bilinear"))
    save("layer_cond_lenet_2", LayerConductance(m, m[2]).attribute(x, target=t, n_steps=20))

    m, x, t = models["cnn_misc"]
    gc = LayerGradCam(m, m[1]).attribute(x, target=t, relu_attributions=True)
    up = F.interpolate(gc, (12, 12), mode="bilinear", align_corners=False)
    save("gradcam_cnn_misc_1_up", up.expand(-1, 3, -1, -1))
    save("ig_cnn_misc_gl", IntegratedGradients(m).attribute(x, target=t, n_steps=50))


if __name__ == "__main__":
    main()
