#!/usr/bin/env python3
"""Times xai's black-box methods against the Python reference implementations on the same
model (the 30-feature MLP fixture `xai-cli/tests/fixtures/mlp`, rebuilt in torch with
`export_pytorch.load()`), 50 inputs, and prints time ratios xai / Python:

- `xai explain --method kernel-shap --samples 2048 --baseline zeros` (whole process: start,
  model load, explain, write) vs `shap.KernelExplainer(f, zeros((1, 30))).shap_values(x,
  nsamples=2048)` in-process (f: the torch model, all logits);
- `xai explain --method lime --samples 5000 --lime-sampling training --baselines x.npy` vs
  `lime.lime_tabular.LimeTabularExplainer` (`mode="regression"`,
  `discretize_continuous=False`, training data: the 50 inputs, `explain_instance(x_i, f_i,
  num_features=30, num_samples=5000)` per input, f_i the logit of its predicted class): the
  same sampling, kernel and ridge surrogate;
- lime's default explainer, like for like: `xai explain --method lime --lime-sampling
  quartile --baselines x.npy` vs `LimeTabularExplainer` with its default quartile
  discretisation (same binning, bin frequencies, truncated-normal values and binary surrogate);
- each side's default LIME: `xai explain --method lime` (on/off against the baseline) vs
  that default `LimeTabularExplainer`.

    cargo build --release -p xai-cli
    /work/pyenv/bin/python tools/bench_kernel_shap.py [--xai target/release/xai]
"""

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from export_pytorch import load  # noqa: E402

MODEL = ROOT / "xai-cli" / "tests" / "fixtures" / "mlp" / "model.json"


def best_of(k, fn):
    times = []
    for _ in range(k):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xai", default=str(ROOT / "target" / "release" / "xai"))
    ap.add_argument("--n", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    m = load(MODEL).eval()
    x = np.random.default_rng(0).normal(size=(args.n, 30)).astype(np.float32)

    def f(a):
        with torch.no_grad():
            return m(torch.from_numpy(np.asarray(a, dtype=np.float32))).numpy()

    targets = f(x).argmax(1)
    tmp = Path(tempfile.mkdtemp())
    np.save(tmp / "x.npy", x)

    def xai(method, samples, *extra):
        cmd = [args.xai, "explain", "--model", str(MODEL), "--input", str(tmp / "x.npy"),
               "--method", method, "--samples", str(samples), "--baseline", "zeros",
               "--output", str(tmp / "a.npy"), *extra]
        return lambda: subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)

    import shap

    warnings.filterwarnings("ignore")
    t_xai_ks = best_of(3, xai("kernel-shap", 2048))
    expl = shap.KernelExplainer(f, np.zeros((1, 30), dtype=np.float32))
    t_shap = best_of(1, lambda: expl.shap_values(x, nsamples=2048, silent=True))

    from lime.lime_tabular import LimeTabularExplainer

    t_xai_lime = best_of(3, xai("lime", 5000, "--lime-sampling", "training",
                                "--baselines", str(tmp / "x.npy")))
    le = LimeTabularExplainer(x, mode="regression", discretize_continuous=False,
                              random_state=0)

    def run_lime():
        for i in range(args.n):
            le.explain_instance(x[i], lambda a, t=targets[i]: f(a)[:, t], num_features=30, num_samples=5000)

    t_lime = best_of(1, run_lime)

    # Each side's default configuration: xai's on/off perturbation against the baseline vs
    # lime's default LimeTabularExplainer (quartile discretisation of continuous features).
    t_xai_lime_default = best_of(3, xai("lime", 5000))
    t_xai_lime_quartile = best_of(3, xai("lime", 5000, "--lime-sampling", "quartile",
                                         "--baselines", str(tmp / "x.npy")))
    le = LimeTabularExplainer(x, mode="regression", random_state=0)
    t_lime_default = best_of(1, run_lime)
    print(f"kernel-shap 2048 samples, {args.n} inputs: xai {t_xai_ks:.3f} s, shap {t_shap:.3f} s, "
          f"ratio {t_xai_ks / t_shap:.4f}")
    print(f"lime 5000 samples, {args.n} inputs: xai {t_xai_lime:.3f} s, lime {t_lime:.3f} s, "
          f"ratio {t_xai_lime / t_lime:.4f} (same sampling: training statistics, no discretisation)")
    print(f"lime 5000 samples, {args.n} inputs: xai quartile {t_xai_lime_quartile:.3f} s, lime (default, "
          f"quartile) {t_lime_default:.3f} s, ratio {t_xai_lime_quartile / t_lime_default:.4f} (same sampling)")
    print(f"lime 5000 samples, {args.n} inputs, defaults: xai (on-off) {t_xai_lime_default:.3f} s, "
          f"lime (discretized) {t_lime_default:.3f} s, ratio {t_xai_lime_default / t_lime_default:.4f}")


if __name__ == "__main__":
    main()
