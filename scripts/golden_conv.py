#!/usr/bin/env python3
"""Writes crates/ftheta-core/tests/golden/conv.json: PyTorch's forward values and gradients for
conv2d, max_pool2d and avg_pool2d (and a small CNN through them), read by
crates/ftheta-core/tests/conv.rs.

Run by hand (CI has no Python; the JSON is committed):

    pip install torch numpy
    python scripts/golden_conv.py

As in golden_core.py: inputs and the loss weights R are rounded to float32 before PyTorch computes
in float64, so the expected numbers are exact for the values an f32 test feeds ftheta. Each case's
loss is (out * R).sum() (R a fixed random tensor, so R is the output gradient), or the output
itself when it is already a loss.
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20261202)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "ftheta-core", "tests", "golden",
                   "conv.json")


def f32(a):
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def normal(*shape, scale=1.0):
    return f32(scale * rng.standard_normal(shape))


def distinct(*shape):
    """A shuffled ramp: no two values tie, so every pooling window has one maximum."""
    n = int(np.prod(shape))
    return f32(rng.permutation(n).reshape(shape) / n * 4.0 - 2.0)


def conv(x, p):
    b = x[2] if len(x) > 2 else None
    return F.conv2d(x[0], x[1], b, stride=p["stride"], padding=p["padding"], dilation=p["dilation"],
                    groups=p["groups"])


def pool_args(p):
    return dict(kernel_size=p["kernel"], stride=p["stride"], padding=p["padding"])


def cnn(x, p):
    h = F.max_pool2d(torch.relu(F.conv2d(x[0], x[1], x[2], padding=1)), 2)
    h = F.avg_pool2d(torch.relu(F.conv2d(h, x[3], x[4], padding=1)), 2)
    return F.cross_entropy(F.linear(h.flatten(1), x[5], x[6]), torch.tensor(p["targets"]))


OPS = {
    "conv2d": conv,
    "max_pool2d": lambda x, p: F.max_pool2d(x[0], **pool_args(p)),
    "avg_pool2d": lambda x, p: F.avg_pool2d(x[0], **pool_args(p)),
    "cnn": cnn,
}

cases = []


def case(name, op, inputs, params=None, loss_is_output=False):
    params = params or {}
    xs = [torch.tensor(f32(a), requires_grad=True) for a in inputs]
    out = OPS[op](xs, params)
    if loss_is_output:
        r, loss = None, out
    else:
        r = f32(rng.standard_normal(tuple(out.shape)))
        loss = (out * torch.tensor(r)).sum()
    loss.backward()
    cases.append({
        "name": name,
        "op": op,
        "params": params,
        "inputs": [{"shape": list(x.shape), "data": x.detach().reshape(-1).tolist()} for x in xs],
        "out": {"shape": list(out.shape), "data": out.detach().reshape(-1).tolist()},
        "r": None if r is None else r.reshape(-1).tolist(),
        "grads": [x.grad.reshape(-1).tolist() for x in xs],
    })


def cp(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    return {"stride": list(stride), "padding": list(padding), "dilation": list(dilation), "groups": groups}


def pp(kernel, stride=None, padding=(0, 0)):
    return {"kernel": list(kernel), "stride": list(stride or kernel), "padding": list(padding)}


case("conv2d/basic", "conv2d", [normal(2, 3, 6, 5), normal(4, 3, 3, 3, scale=0.3), normal(4)], cp())
case("conv2d/same_padding", "conv2d", [normal(2, 1, 8, 8), normal(5, 1, 3, 3, scale=0.3), normal(5)], cp(padding=(1, 1)))
case("conv2d/stride2_pad1", "conv2d", [normal(2, 3, 7, 6), normal(4, 3, 3, 3, scale=0.3), normal(4)],
     cp(stride=(2, 2), padding=(1, 1)))
case("conv2d/dilation2", "conv2d", [normal(1, 2, 9, 8), normal(3, 2, 3, 3, scale=0.3), normal(3)],
     cp(padding=(2, 1), dilation=(2, 2)))
case("conv2d/groups2_rect", "conv2d", [normal(2, 4, 6, 7), normal(6, 2, 3, 2, scale=0.3), normal(6)],
     cp(stride=(2, 1), padding=(1, 0), groups=2))
case("conv2d/depthwise_no_bias", "conv2d", [normal(2, 3, 5, 5), normal(3, 1, 3, 3, scale=0.3)],
     cp(padding=(1, 1), groups=3))
case("conv2d/pointwise", "conv2d", [normal(3, 4, 4, 3), normal(2, 4, 1, 1, scale=0.3), normal(2)], cp())
case("conv2d/kernel5_stride3", "conv2d", [normal(2, 2, 11, 10), normal(3, 2, 5, 5, scale=0.2), normal(3)],
     cp(stride=(3, 3), padding=(2, 2)))

case("max_pool2d/k2", "max_pool2d", [distinct(2, 3, 6, 6)], pp((2, 2)))
case("max_pool2d/k3_s2_p1", "max_pool2d", [distinct(2, 2, 7, 7)], pp((3, 3), (2, 2), (1, 1)))
case("max_pool2d/overlapping_rect", "max_pool2d", [distinct(1, 2, 5, 7)], pp((2, 3), (1, 2)))
case("max_pool2d/odd_size", "max_pool2d", [distinct(2, 2, 7, 5)], pp((2, 2)))
case("avg_pool2d/k2", "avg_pool2d", [normal(2, 3, 6, 6)], pp((2, 2)))
case("avg_pool2d/k3_s2_p1", "avg_pool2d", [normal(2, 2, 7, 7)], pp((3, 3), (2, 2), (1, 1)))
case("avg_pool2d/overlapping_rect", "avg_pool2d", [normal(1, 2, 5, 7)], pp((2, 3), (1, 2), (1, 1)))

case("cnn/cross_entropy", "cnn",
     [normal(4, 1, 8, 8), normal(4, 1, 3, 3, scale=0.4), normal(4, scale=0.1), normal(6, 4, 3, 3, scale=0.2),
      normal(6, scale=0.1), normal(3, 24, scale=0.2), normal(3, scale=0.1)],
     {"targets": rng.integers(0, 3, 4).tolist()}, loss_is_output=True)

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({
        "generator": "scripts/golden_conv.py",
        "torch": torch.__version__,
        "loss": "sum(out * r) (r null: out is the loss); grads are of each input, in order",
        "cases": cases,
    }, f, separators=(",", ":"))
    f.write("\n")
print(f"{len(cases)} cases -> {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")
