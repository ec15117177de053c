#!/usr/bin/env python3
"""Reference logits and attributions of a small ResNet, a graph model, for the graph tests.

Usage (from the repository root; needs torch, captum, zennit, safetensors, numpy)::

    python tools/make_resnet_fixtures.py [--out xai-cli/tests/fixtures/resnet]

The net (``ResNet`` below): a stem convolution, ReLU and 2×2 max pooling, two residual blocks
(conv, batch norm, ReLU, conv, batch norm, ``x + y``, ReLU; the second with a strided 1×1
projection shortcut), ``nn.AdaptiveAvgPool2d(1)`` + ``torch.flatten``, a linear layer — exported by ``tools/export_pytorch.py`` (torch.fx, format
version 2). Two sets of weights, each in its own directory with ``model.json``,
``model.safetensors``, ``input.npy`` (4 MNIST digits, pixels / 255) and the references:

* ``random/``: PyTorch's default initialisation, seed 0 (batch norm's running statistics
  randomised too, so that it is not the identity);
* ``mnist/``: the same net trained on the bundled 5,000 MNIST digits (``data/mnist_5k.csv.gz``),
  8 epochs of Adam (lr 1e-3, batch 64, seed 0), on 4,000 rows (the file shuffled with numpy's
  ``default_rng(0)``); its accuracy on the other 1,000 is printed; ``input.npy`` holds the
  first 4 of those.

References, each example's argmax class explained:

* ``logits``; ``saliency`` (captum ``Saliency``, ``abs=False``: xai's default is the signed
  gradient); ``ig`` (captum ``IntegratedGradients``,
  zero baseline, 50 Gauss–Legendre steps) with ``ig_delta``;
* ``gradcam_block2.conv2`` and ``gradcam_add_1`` (captum ``LayerGradCam`` on block 2's second
  convolution and on block 2's sum, ReLU'd, not upsampled, ``[N, H, W]``; the sum, a functional ``+`` in the
  exported net, is an ``Add`` module in the reference copy so that captum can hook it);
* ``layer_ig_block2.conv2`` (captum ``LayerIntegratedGradients`` on block 2's second
  convolution, zero input baseline, 50 Gauss–Legendre steps: the shortcut branch runs on the
  input while the convolution's output is interpolated);
* ``deeplift`` (captum ``DeepLift``, rescale, zero baseline; a ``Clone`` before the max pooling
  so that captum's max-pooling rule acts, as in ``make_rule_fixtures.py``);
* ``lrp_epsilon`` (zennit ``Gradient`` with ``Epsilon(1e-6)`` on every Linear/Conv2d over
  zennit's ``layer_map_base``; the sums canonized as zennit's ResNet canonizer does: the
  summands stacked and summed by a ``zennit.layer.Sum`` module, which gets the ``Norm`` rule);
  relevance seeded with the target logit's value; computed in f64 (see ``references``).
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_pytorch import export  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Add(nn.Module):
    """``a + b`` as a module (for captum's layer hooks)."""

    def forward(self, a, b):
        return a + b


class ZennitSum(nn.Module):
    """``a + b`` as zennit's canonizer writes it: stacked, then summed by a ``Sum`` module."""

    def __init__(self):
        super().__init__()
        from zennit.layer import Sum

        self.sum = Sum()

    def forward(self, a, b):
        return self.sum(torch.stack([a, b], dim=-1))


class Clone(nn.Module):
    """A copy of its input: before a MaxPool2d it gives captum's max-pooling rule its own
    tensor (see ``make_rule_fixtures.py``: otherwise the ReLU before it records the plain
    max-pooling gradient, and the rule is inert)."""

    def forward(self, x):
        return x.clone()


class Block(nn.Module):
    def __init__(self, cin, cout, stride, merge=None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.shortcut = nn.Conv2d(cin, cout, 1, stride) if stride != 1 or cin != cout else None
        self.merge = merge

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        s = x if self.shortcut is None else self.shortcut(x)
        return self.relu2(y + s if self.merge is None else self.merge(y, s))


class ResNet(nn.Module):
    def __init__(self, merge=None, clone=False):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, 1, 1)
        self.relu = nn.ReLU()
        self.clone = Clone() if clone else nn.Identity()
        self.stem_pool = nn.MaxPool2d(2)
        self.block1 = Block(8, 8, 1, merge() if merge else None)
        self.block2 = Block(8, 16, 2, merge() if merge else None)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.block2(self.block1(self.stem_pool(self.clone(self.relu(self.stem(x))))))
        return self.fc(torch.flatten(self.pool(x), 1))


def mnist():
    with gzip.open(ROOT / "data" / "mnist_5k.csv.gz", "rt") as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    a = np.array(rows[1:], dtype=np.float32)  # header: p0..p783, target
    a = a[np.random.default_rng(0).permutation(len(a))]  # the file is sorted by class
    y, x = a[:, -1].astype(np.int64), a[:, :-1] / 255.0
    return torch.from_numpy(x.reshape(-1, 1, 28, 28).copy()), torch.from_numpy(y)


def train(model, x, y):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(8):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def copy_with(merge, state, clone=False):
    m = ResNet(merge, clone)
    m.load_state_dict(state)
    return m.eval()


def references(model, x, out: Path):
    from captum.attr import DeepLift, IntegratedGradients, LayerGradCam, LayerIntegratedGradients, Saliency
    from zennit.attribution import Gradient
    from zennit.composites import LayerMapComposite, layer_map_base
    from zennit.rules import Epsilon
    from zennit.types import Convolution, Linear

    def save(name, t):
        np.save(out / f"{name}.npy", t.detach().numpy().astype(np.float32))

    state = model.state_dict()
    logits = model(x)
    target = logits.argmax(1)
    save("logits", logits)
    save("saliency", Saliency(model).attribute(x, target=target, abs=False))
    ig, delta = IntegratedGradients(model).attribute(
        x, target=target, n_steps=50, method="gausslegendre", return_convergence_delta=True)
    save("ig", ig)
    save("ig_delta", delta)
    hooked = copy_with(Add, state)
    for name, layer in [("block2.conv2", hooked.block2.conv2), ("add_1", hooked.block2.merge)]:
        cam = LayerGradCam(hooked, layer).attribute(x, target=target, relu_attributions=True)
        save(f"gradcam_{name}", cam[:, 0])
    lig = LayerIntegratedGradients(model, model.block2.conv2)
    save("layer_ig_block2.conv2", lig.attribute(x, target=target, n_steps=50, method="gausslegendre"))
    save("deeplift", DeepLift(copy_with(None, state, clone=True)).attribute(x, target=target))
    # In f64: with batch norm passing relevance unchanged, relevance is amplified (Σ R / f_c up to
    # 10⁴ on the trained net), and Zennit's own f32 result is ~1e-4 (relative L2) from its f64
    # one; the f64 result is the definition, to which xai's f32 result is compared.
    canonized = copy_with(ZennitSum, state).double()
    composite = LayerMapComposite([((Convolution, Linear), Epsilon(1e-6))] + layer_map_base())
    with Gradient(canonized, composite) as attributor:
        out_fn = lambda y: torch.eye(10, dtype=torch.float64)[target] * y  # noqa: E731
        _, lrp = attributor(x.double().requires_grad_(True), out_fn)
    save("lrp_epsilon", lrp)
    print(f"{out.name}: LRP conservation Σ R / f_c = "
          f"{(lrp.sum((1, 2, 3)) / logits.gather(1, target[:, None])[:, 0]).detach().numpy()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "xai-cli" / "tests" / "fixtures" / "resnet")
    args = ap.parse_args()
    torch.set_num_threads(1)
    x, y = mnist()
    inputs = x[4000:4004].clone()
    for kind in ["random", "mnist"]:
        torch.manual_seed(0)
        model = ResNet()
        if kind == "random":
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.data.uniform_(0.5, 1.5)
                    m.bias.data.uniform_(-0.5, 0.5)
        if kind == "mnist":
            train(model, x[:4000], y[:4000])
            acc = (model(x[4000:]).argmax(1) == y[4000:]).float().mean().item()
            print(f"mnist: held-out accuracy {acc:.4f}")
        model.eval()
        out = args.out / kind
        out.mkdir(parents=True, exist_ok=True)
        export(model, [1, 28, 28], out / "model.json")
        np.save(out / "input.npy", inputs.numpy())
        references(model, inputs, out)


if __name__ == "__main__":
    main()
