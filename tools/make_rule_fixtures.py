#!/usr/bin/env python3
"""Reference attributions of the modified-gradient methods (Captum, Zennit) for the CLI tests.

Usage (from the repository root; needs torch, captum, zennit, numpy)::

    python tools/make_rule_fixtures.py [--out xai-cli/tests/fixtures/rules]

For each fixture model in ``xai-cli/tests/fixtures/{mlp,lenet}`` (rebuilt in torch with
``export_pytorch.load``) and its ``input.npy``, explaining each example's argmax class, it writes
``<out>/<model>/<method>.npy`` (f32, the input's shape):

* ``guided-backprop``  captum ``GuidedBackprop``
* ``deconvnet``        captum ``Deconvolution``
* ``deeplift``         captum ``DeepLift`` (rescale; zero baseline), plus ``deeplift_delta``
                       (captum's convergence delta, per example)
* ``deeplift_maxpool_rule``  the same on a copy of the model with a ``Clone`` module before each
                       ``MaxPool2d``. Captum's maxpool rule is otherwise inert after a ReLU
                       module: the ReLU's hook records the gradient at its output tensor
                       before the MaxPool2d's input hook (on the same tensor) rewrites it, so the
                       ReLU's multiplier uses the plain max-pool gradient. That breaks
                       summation-to-delta for baselines that are not constant over each pooling
                       window (the script prints captum's delta for a random baseline both ways).
                       xai implements the rule as written, so it matches this file.
* ``lrp-epsilon``, ``lrp-z-plus``, ``lrp-alpha-beta``, ``lrp-gamma``: zennit ``Gradient`` with a
  single-rule ``LayerMapComposite`` (the rule on every Linear/Conv2d; activations ``Pass``,
  AvgPool ``Norm``, BatchNorm ``Pass``: zennit's ``layer_map_base``), ``Epsilon(1e-6)``,
  ``ZPlus()``, ``AlphaBeta(2, 1)``, ``Gamma(0.25)``
* ``lrp_epsilon-plus``, ``lrp_epsilon-plus-flat``, ``lrp_epsilon-alpha2-beta1``: zennit's
  composites ``EpsilonPlus``, ``EpsilonPlusFlat``, ``EpsilonAlpha2Beta1`` (default parameters)
* ``lrp_epsilon-gamma-box`` (LeNet only): zennit's ``EpsilonGammaBox(low=-4, high=4)`` (z^B on the
  first convolution, ``Gamma(0.25)`` on the others, ``Epsilon(1e-6)`` on dense layers)
* ``lrp_spec`` (LeNet only): a composite written by hand, as a user would:
  ``SpecialFirstLayerMapComposite`` with ``Epsilon(1e-6)`` on Linear, ``Gamma(0.25)`` on
  convolutions and ``ZBox(-4, 4)`` on the first linear or convolutional layer; xai's
  ``--composite linear=epsilon:1e-6,conv=gamma:0.25,first=zb:-4:4``

And for ``lenet_mnist`` (the LeNet architecture trained by xai on the bundled MNIST, raw pixels
0–255: ``xai train --model ARCH --data mnist --epochs 2``; its ``input.npy`` holds the first four
MNIST rows) only ``deeplift_maxpool_rule`` with the zero baseline, whose pooling windows are all
ties in exact arithmetic (a constant baseline through the convolutions): the case where the max
pooling rule must take the first maximum of each window, as PyTorch does.

LRP relevance is seeded with ``attr_output = onehot(argmax) * output`` (the target logit's value),
so the input relevance sums to f_c(x) when nothing is absorbed. The script prints the
conservation sums as a sanity check. The output is deterministic.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_pytorch import load  # noqa: E402

MODELS = ("mlp", "lenet")


class Clone(torch.nn.Module):
    """x.clone(): gives a MaxPool2d its own input tensor (see deeplift_maxpool_rule)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


def save(path: Path, t: torch.Tensor) -> None:
    np.save(path, np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4")), allow_pickle=False)


def zennit_relevance(model, x, target, composite):
    from zennit.attribution import Gradient

    with Gradient(model=model, composite=composite) as attributor:
        out, rel = attributor(
            x.clone().requires_grad_(True),
            lambda o: torch.nn.functional.one_hot(target, o.shape[1]).to(o) * o,
        )
    return rel.detach()


def single_rule(rule):
    from zennit.composites import LayerMapComposite, layer_map_base
    from zennit.types import Convolution

    return LayerMapComposite(layer_map=layer_map_base() + [(Convolution, rule), (torch.nn.Linear, rule)])


def deeplift_maxpool_rule(model, x, target):
    """Captum's DeepLift (zero baseline) with a Clone module before each MaxPool2d."""
    from captum.attr import DeepLift

    separated = torch.nn.Sequential(
        *[m for mod in model for m in ([Clone(), mod] if isinstance(mod, torch.nn.MaxPool2d) else [mod])]
    ).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DeepLift(separated).attribute(
            x.clone().requires_grad_(True), baselines=torch.zeros_like(x), target=target
        )


def make_ties(name: str, fixtures: Path, out: Path) -> None:
    model = load(fixtures / name / "model.json").float().eval()
    x = torch.from_numpy(np.load(fixtures / name / "input.npy"))
    with torch.no_grad():
        target = model(x).argmax(1)
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    save(d / "deeplift_maxpool_rule.npy", deeplift_maxpool_rule(model, x, target))
    print(f"{name}: deeplift_maxpool_rule written")


def make_one(name: str, fixtures: Path, out: Path) -> None:
    from captum.attr import Deconvolution, DeepLift, GuidedBackprop
    from zennit import composites as zc
    from zennit import rules as zr

    model = load(fixtures / name / "model.json").float().eval()
    x = torch.from_numpy(np.load(fixtures / name / "input.npy"))
    with torch.no_grad():
        logits = model(x)
    target = logits.argmax(1)
    d = out / name
    d.mkdir(parents=True, exist_ok=True)

    def xr():
        return x.clone().requires_grad_(True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save(d / "guided-backprop.npy", GuidedBackprop(model).attribute(xr(), target=target))
        save(d / "deconvnet.npy", Deconvolution(model).attribute(xr(), target=target))
        dl, delta = DeepLift(model).attribute(
            xr(), baselines=torch.zeros_like(x), target=target, return_convergence_delta=True
        )
    save(d / "deeplift.npy", dl)
    save(d / "deeplift_delta.npy", delta)
    print(f"{name}: deeplift delta {delta.abs().max().item():.2e}")

    separated = torch.nn.Sequential(
        *[m for mod in model for m in ([Clone(), mod] if isinstance(mod, torch.nn.MaxPool2d) else [mod])]
    ).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dl2 = DeepLift(separated).attribute(xr(), baselines=torch.zeros_like(x), target=target)
        gen = torch.Generator().manual_seed(0)
        b = torch.randn(x.shape, generator=gen) * 0.5
        for m, tag in ((model, "as-is"), (separated, "separated")):
            _, dd = DeepLift(m).attribute(xr(), baselines=b, target=target, return_convergence_delta=True)
            print(f"{name}: deeplift {tag}, random baseline: max |delta| {dd.abs().max().item():.2e}")
    save(d / "deeplift_maxpool_rule.npy", dl2)
    print(f"{name}: deeplift maxpool rule vs as-is: rel L2 {((dl2 - dl).norm() / dl.norm()).item():.2e}")

    single = {
        "lrp-epsilon": zr.Epsilon(epsilon=1e-6),
        "lrp-z-plus": zr.ZPlus(),
        "lrp-alpha-beta": zr.AlphaBeta(alpha=2.0, beta=1.0),
        "lrp-gamma": zr.Gamma(gamma=0.25),
    }
    comps = {
        "lrp_epsilon-plus": zc.EpsilonPlus(),
        "lrp_epsilon-plus-flat": zc.EpsilonPlusFlat(),
        "lrp_epsilon-alpha2-beta1": zc.EpsilonAlpha2Beta1(),
    }
    if name == "lenet":
        from zennit.composites import SpecialFirstLayerMapComposite
        from zennit.types import Convolution
        from zennit.types import Linear as AnyLinear

        comps["lrp_epsilon-gamma-box"] = zc.EpsilonGammaBox(low=-4.0, high=4.0)
        comps["lrp_spec"] = SpecialFirstLayerMapComposite(
            layer_map=zc.layer_map_base()
            + [(Convolution, zr.Gamma(gamma=0.25)), (torch.nn.Linear, zr.Epsilon(epsilon=1e-6))],
            first_map=[(AnyLinear, zr.ZBox(low=-4.0, high=4.0))],
        )
    f = logits.gather(1, target[:, None])[:, 0]
    for method, comp in [(k, single_rule(v)) for k, v in single.items()] + list(comps.items()):
        rel = zennit_relevance(model, x, target, comp)
        save(d / f"{method}.npy", rel)
        sums = rel.flatten(1).sum(1)
        print(f"{name}: {method}: sum R {sums.tolist()} vs f_c {f.tolist()}")


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    fixtures = root / "xai-cli" / "tests" / "fixtures"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=fixtures / "rules", help="output directory")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True, warn_only=True)  # max_unpool2d (captum DeepLift)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        make_one(name, fixtures, args.out)
    make_ties("lenet_mnist", fixtures, args.out)
    import captum
    import zennit

    from importlib.metadata import version

    print(f"torch {torch.__version__}, captum {captum.__version__}, zennit {version('zennit')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
