#!/usr/bin/env python3
"""Reference trees of scikit-learn's DecisionTreeClassifier for xai's CART tests.

Usage (from the repository root; needs scikit-learn and numpy)::

    python tools/make_cart_fixtures.py [--out xai-passive/tests/fixtures/cart]

For iris, wine and breast cancer (``data/*.csv``, read as float32 like both libraries do) it
draws a seeded 70/30 split of the rows and, for each configuration below, fits
``DecisionTreeClassifier`` (all features, splitter "best") on the training rows and writes
``<out>/<dataset>.json``: the split, and per configuration the parameters, the predictions on
the held-out and training rows, the depth, the leaf count, and the tree in preorder
(``[feature, threshold bits as u64]`` per decision node, ``null`` per leaf).

Ties between features. scikit-learn visits the features in a random order at every node and
keeps the first best split it meets, so where several features give the same impurity decrease
(iris's root: petal length and petal width both separate setosa; breast cancer's small nodes:
often most of the 30 features) the tree depends on ``random_state``; xai takes the lowest
feature index. So each case records, besides the fitted tree (``random_state`` 0), the grown
(unpruned) tree's choice at every node in preorder (``grown``), which the test replays through
``Cart::fit_breaking_ties``: at every node the feature scikit-learn chose must be one of the
features xai finds tied for the best split, bit for bit, and the tree must then come out the
same. Where a ``random_state`` below 300 gives a canonical tree (at every node no feature of
lower index than the chosen one reaches the chosen split's value of scikit-learn's proxy
−(w_R·I_R + w_L·I_L), recomputed here in float64 with scikit-learn's formulas), the case also
records that tree as ``canonical``, which xai's default fit must equal with no replay. The
output is deterministic.
"""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path

import numpy as np
import sklearn
from sklearn.tree import DecisionTreeClassifier

FEATURE_THRESHOLD = np.float32(1e-7)

CONFIGS = [
    {"criterion": "gini"},
    {"criterion": "gini", "max_depth": 3, "min_samples_leaf": 5},
    {"criterion": "entropy"},
    {"criterion": "entropy", "max_depth": 4, "min_samples_leaf": 2, "min_samples_split": 10},
    {"criterion": "gini", "ccp_alpha": 0.01},
    {"criterion": "entropy", "ccp_alpha": 0.02, "min_samples_leaf": 3},
    {"criterion": "gini", "max_depth": 5, "weights": "1 + i % 3"},
]


def load(name: str):
    rows = Path(f"data/{name}.csv").read_text().strip().splitlines()
    header = rows[0].split(",")
    table = [r.split(",") for r in rows[1:]]
    x = np.array([[np.float32(float(c)) for c in r[:-1]] for r in table], dtype=np.float32)
    y = np.array([int(float(r[-1])) for r in table])
    return header[:-1], x, y


def impurity(counts: np.ndarray, w: np.ndarray, criterion: str) -> np.ndarray:
    """Per candidate: scikit-learn's node impurity from class counts [C, K] and weights [C]."""
    if criterion == "gini":
        sq = np.zeros(len(w))
        for k in range(counts.shape[1]):
            sq = sq + counts[:, k] * counts[:, k]
        return 1.0 - sq / (w * w)
    e = np.zeros(len(w))
    for k in range(counts.shape[1]):
        c = counts[:, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            p = c / w
            term = np.where(c > 0.0, p * (np.log(p) / np.log(2.0)), 0.0)
        e = e - term
    return e


def best_proxy(xf, y, sw, k, criterion, msl):
    """Best proxy over the valid positions of one feature at a node, or None."""
    order = np.argsort(xf, kind="stable")
    v, yy, ww = xf[order], y[order], sw[order]
    n = len(v)
    if v[-1] <= v[0] + FEATURE_THRESHOLD:
        return None
    onehot = np.zeros((n, k))
    onehot[np.arange(n), yy] = ww
    left = np.cumsum(onehot, axis=0)[:-1]  # left[p-1] = counts of the first p rows
    total = onehot.sum(axis=0)
    wl = np.cumsum(ww)[:-1]
    wtot = ww.sum()
    pos = np.arange(1, n)
    valid = (v[1:] > v[:-1] + FEATURE_THRESHOLD) & (pos >= msl) & (n - pos >= msl)
    if not valid.any():
        return None
    left, wl = left[valid], wl[valid]
    wr = wtot - wl
    right = total[None, :] - left
    il = impurity(left, wl, criterion)
    ir = impurity(right, wr, criterion)
    proxy = -wr * ir - wl * il
    return proxy.max()


def canonical(tree: DecisionTreeClassifier, x, y, sw, params) -> bool:
    t = tree.tree_
    k = len(tree.classes_)
    path = tree.decision_path(x)
    msl = params.get("min_samples_leaf", 1)
    for node in range(t.node_count):
        if t.children_left[node] == -1:
            continue
        rows = path[:, node].nonzero()[0]
        rows = rows[sw[rows] > 0]
        proxies = [
            best_proxy(x[rows, j], y[rows], sw[rows], k, params["criterion"], msl)
            for j in range(x.shape[1])
        ]
        best = max(p for p in proxies if p is not None)
        chosen = t.feature[node]
        if proxies[chosen] != best:
            return False
        if any(p is not None and p == best for p in proxies[:chosen]):
            return False
    return True


def preorder(t):
    out = []
    stack = [0]
    while stack:
        i = stack.pop()
        if t.children_left[i] == -1:
            out.append(None)
        else:
            bits = struct.unpack("<Q", struct.pack("<d", float(t.threshold[i])))[0]
            out.append([int(t.feature[i]), bits])
            stack.append(t.children_right[i])
            stack.append(t.children_left[i])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="xai-passive/tests/fixtures/cart")
    out = Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(["iris", "wine", "breast_cancer"]):
        _, x, y = load(name)
        perm = np.random.default_rng(seed).permutation(len(y))
        n_test = int(round(0.3 * len(y)))
        test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
        xtr, ytr = x[train], y[train]
        cases = []
        for cfg in CONFIGS:
            params = {k: v for k, v in cfg.items() if k != "weights"}
            sw = (
                np.array([1.0 + i % 3 for i in range(len(train))])
                if "weights" in cfg
                else np.ones(len(train))
            )
            grown = {k: v for k, v in params.items() if k != "ccp_alpha"}

            def fitted(rs, **p):
                return DecisionTreeClassifier(random_state=rs, **p).fit(xtr, ytr, sample_weight=sw)

            def summary(tree):
                return {
                    "depth": int(tree.get_depth()),
                    "leaves": int(tree.get_n_leaves()),
                    "nodes": preorder(tree.tree_),
                    "predict_test": tree.predict(x[test]).astype(int).tolist(),
                    "predict_train": tree.predict(xtr).astype(int).tolist(),
                }

            case = {"params": params, "weights": "weights" in cfg}
            case.update(summary(fitted(0, **params)))
            case["grown"] = [n if n is None else n[0] for n in preorder(fitted(0, **grown).tree_)]
            case["canonical"] = None
            for rs in range(300):
                if canonical(fitted(rs, **grown), xtr, ytr, sw, params):
                    case["canonical"] = dict(summary(fitted(rs, **params)), random_state=rs)
                    break
            cases.append(case)
            rs = case["canonical"]["random_state"] if case["canonical"] else None
            print(f"{name:14} {json.dumps(cfg):90} depth {case['depth']:2} leaves {case['leaves']:3} canonical random_state {rs}")
        doc = {
            "generator": f"tools/make_cart_fixtures.py, scikit-learn {sklearn.__version__}",
            "train": train.tolist(),
            "test": test.tolist(),
            "cases": cases,
        }
        (out / f"{name}.json").write_text(json.dumps(doc) + "\n")


if __name__ == "__main__":
    main()
