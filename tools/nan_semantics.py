#!/usr/bin/env python3
"""Prints what PyTorch gives for NaN inputs to the ops whose NaN handling xai matches
(the expected values of `nan_propagates_as_in_pytorch` in xai-tensor/src/tests/elementwise.rs,
and of ReLU's gradient in xai-autodiff's tests).

Usage: python tools/nan_semantics.py    (needs torch; the project itself never needs Python)
"""
import torch
import torch.nn.functional as F

nan = float("nan")
n = torch.tensor([nan, 1.0, -1.0], dtype=torch.float64)
z = torch.tensor([1.0, nan, 2.0], dtype=torch.float64)
for name, v in [
    ("relu", torch.relu(n)), ("clamp(-0.5, 0.5)", n.clamp(-0.5, 0.5)),
    ("leaky_relu(0.1)", F.leaky_relu(n, 0.1)), ("sign", torch.sign(n)), ("abs", n.abs()),
    ("softplus", F.softplus(n)), ("sigmoid", torch.sigmoid(n)), ("tanh", torch.tanh(n)),
    ("exp", n.exp()), ("maximum(n, z)", torch.maximum(n, z)), ("minimum(n, z)", torch.minimum(n, z)),
    ("n > z", (n > z).double()), ("argmax [1, nan, 3]", torch.tensor([[1.0, nan, 3.0]]).argmax(1)),
    ("max", n.max()),
]:
    print(f"{name:20s} {v.tolist()}")
x = n.clone().requires_grad_()
torch.relu(x).backward(torch.tensor([5.0, 6.0, 7.0], dtype=torch.float64))
print(f"{'relu grad (g=5,6,7)':20s} {x.grad.tolist()}")
