#!/usr/bin/env python3
"""Writes ftheta-nn's golden files from PyTorch, read by the tests in crates/ftheta-nn/tests/:

* tests/golden/optim.json: optimizer trajectories, learning-rate schedules and losses
  (golden_optim.rs), plus the reference values of the PyTorch model below (torch_interop.rs);
* tests/golden/torch_mlp.safetensors: that model's state_dict, saved by PyTorch;
* tests/golden/layers.json: forward values, gradients and running statistics of the layers that
  compose tensor ops (BatchNorm1d/2d in training and evaluation, LayerNorm, Flatten), read by
  golden_layers.rs.

Run by hand (CI has no Python; both files are committed):

    pip install torch numpy safetensors
    python scripts/golden_nn.py

Optimizers. A 3-4-2 tanh MLP with fixed weights (recorded) on a fixed batch of 8 rows (recorded)
takes a few steps of each optimizer, in float32 as ftheta computes: before each step the loss, the
learning rate used, the gradient norm (when clipped) and after it every parameter are recorded.
Schedules are PyTorch's StepLR and CosineAnnealingLR, and LambdaLR for ftheta's `Schedule::Warmup`
(rate `base·(t+1)/warmup` for update t < warmup, then the next schedule counted from 0), stepped
after each optimizer step, so update t runs at ftheta's `schedule.lr(base, t)`.

Losses. Forward value and gradient with respect to the prediction, computed in float64 from inputs
already rounded to float32 (as scripts/golden_core.py does), including the edge points where a
convention matters (|d| = 0 for MAE, |d| = δ for Huber).

Interop check. `python scripts/golden_nn.py --check-ftheta FILE` loads a checkpoint written by
ftheta into the same `Net` with `load_state_dict(strict=True)` and runs it on the fixed input; if the
file's metadata holds `ftheta.input` and `ftheta.output` (JSON), it checks that PyTorch computes the
same output. torch_interop.rs writes such a file when FTHETA_INTEROP_OUT names a path.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "crates", "ftheta-nn", "tests", "golden")
OUT_JSON = os.path.join(GOLDEN, "optim.json")
OUT_ST = os.path.join(GOLDEN, "torch_mlp.safetensors")
OUT_LAYERS = os.path.join(GOLDEN, "layers.json")

STEPS = 8


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def f32(a):
    """Rounds to the nearest float32, kept as float64."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# The PyTorch model ftheta's `mlp:7:tanh` (5 inputs, 3 outputs) must be interchangeable with.


class Mlp(nn.Module):
    """Linear, tanh, Linear under `self.layers`, so that its state_dict keys are ftheta's names."""

    def __init__(self, inputs, hidden, outputs):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, outputs))

    def forward(self, x):
        return self.layers(x)


class Net(Mlp):
    def __init__(self):
        super().__init__(5, 7, 3)


def interop_input():
    """The fixed input on which the torch model's output is recorded: 4 rows of 5 features."""
    g = np.random.default_rng(7)
    return torch.tensor(g.standard_normal((4, 5)), dtype=torch.float32)


def check_ftheta(path):
    """Loads an ftheta checkpoint strictly into `Net` and compares outputs when ftheta recorded one."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    state = load_file(path)
    net = Net()
    net.load_state_dict(state, strict=True)
    print(f"{path}: loaded into torch Net with load_state_dict(strict=True): keys {sorted(state)}")
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
    if "ftheta.input" in meta and "ftheta.output" in meta:
        x = torch.tensor(json.loads(meta["ftheta.input"]), dtype=torch.float32)
        want = torch.tensor(json.loads(meta["ftheta.output"]), dtype=torch.float32)
        with torch.no_grad():
            got = net(x)
        err = ((got - want).abs() / want.abs().clamp_min(1.0)).max().item()
        print(f"torch output vs ftheta's output on the same input: max relative difference {err:.3g}")
        if err > 1e-5:
            print("MISMATCH", file=sys.stderr)
            return 1
    else:
        print("(no ftheta.input/ftheta.output metadata: loading only)")
    return 0


def torch_mlp_case():
    torch.manual_seed(20240611)
    net = Net()
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, OUT_ST, metadata={"generator": "scripts/golden_nn.py"})
    x = interop_input()
    with torch.no_grad():
        y = net(x)
    return {
        "file": "torch_mlp.safetensors",
        "spec": "mlp:7:tanh",
        "inputs": 5,
        "outputs": 3,
        "state_dict_keys": list(net.state_dict().keys()),
        "x": {"shape": list(x.shape), "data": flat(x)},
        "y": {"shape": list(y.shape), "data": flat(y)},
    }


# ---------------------------------------------------------------------------------------------
# Optimizers on a small fixed problem, in float32.


def problem():
    torch.manual_seed(1234)
    model = Mlp(3, 4, 2)
    g = np.random.default_rng(99)
    x = torch.tensor(g.standard_normal((8, 3)), dtype=torch.float32)
    y = torch.tensor(g.standard_normal((8, 2)), dtype=torch.float32)
    classes = torch.tensor(g.integers(0, 2, 8), dtype=torch.int64)
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return init, x, y, classes


def schedule_lambda(spec, base):
    """ftheta's `Schedule::lr(base, t) / base`, for LambdaLR."""
    kind = spec["kind"]
    if kind == "constant":
        return lambda t: 1.0
    if kind == "step":
        return lambda t: spec["gamma"] ** (t // spec["every"])
    if kind == "cosine":
        total, lo = spec["total"], spec["min_lr"]
        return lambda t: (lo + (base - lo) * 0.5 * (1 + math.cos(math.pi * min(t, total) / total))) / base
    if kind == "warmup":
        w, then = spec["warmup"], schedule_lambda(spec["then"], base)
        return lambda t: (t + 1) / w if t < w else then(t - w)
    raise ValueError(kind)


def make_scheduler(opt, spec, base):
    """PyTorch's own scheduler where it has the same one, LambdaLR for the warm-up."""
    if spec is None:
        return None
    if spec["kind"] == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=spec["every"], gamma=spec["gamma"])
    if spec["kind"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=spec["total"], eta_min=spec["min_lr"])
    return torch.optim.lr_scheduler.LambdaLR(opt, schedule_lambda(spec, base))


def make_optimizer(case, params):
    kind, h = case["kind"], case["hyper"]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"], dampening=h["dampening"],
                               weight_decay=h["weight_decay"], nesterov=h["nesterov"], foreach=False)
    if kind in ("adam", "adamw"):
        cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
        kw = {k: h[k] for k in ("weight_decay",) if k in h}
        return cls(params, lr=h["lr"], betas=(h.get("beta1", 0.9), h.get("beta2", 0.999)), eps=h.get("eps", 1e-8),
                   foreach=False, **kw)
    raise ValueError(kind)


def run_case(case, init, x, y, classes):
    model = Mlp(3, 4, 2)
    model.load_state_dict(init)
    params = list(model.parameters())
    names = [n for n, _ in model.named_parameters()]
    opt = make_optimizer(case, params)
    if case["kind"] == "adamw" and "weight_decay" not in case["hyper"]:
        assert opt.param_groups[0]["weight_decay"] == 0.01, "PyTorch's AdamW default λ changed"
    sched = make_scheduler(opt, case.get("schedule"), case["hyper"]["lr"])
    steps = []
    for _ in range(STEPS):
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, classes) if case["loss"] == "cross_entropy" else F.mse_loss(out, y)
        loss.backward()
        rec = {"loss": float(loss.item()), "lr": float(opt.param_groups[0]["lr"])}
        if case.get("clip") is not None:
            rec["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, case["clip"], foreach=False).item())
        opt.step()
        if sched is not None:
            sched.step()
        rec["params"] = {n: flat(p) for n, p in zip(names, params)}
        steps.append(rec)
    return dict(case, steps=steps)


def sgd(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    return {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
            "nesterov": nesterov}


CONSTANT = {"kind": "constant"}
OPTIMIZER_CASES = [
    {"name": "sgd", "kind": "sgd", "hyper": sgd(0.1)},
    {"name": "sgd_momentum", "kind": "sgd", "hyper": sgd(0.1, momentum=0.9)},
    {"name": "sgd_momentum_dampening", "kind": "sgd", "hyper": sgd(0.1, momentum=0.9, dampening=0.1)},
    {"name": "sgd_nesterov", "kind": "sgd", "hyper": sgd(0.1, momentum=0.9, nesterov=True)},
    {"name": "sgd_weight_decay", "kind": "sgd", "hyper": sgd(0.1, weight_decay=0.05)},
    {"name": "sgd_momentum_weight_decay", "kind": "sgd", "hyper": sgd(0.1, momentum=0.9, weight_decay=0.05)},
    {"name": "sgd_nesterov_cross_entropy", "kind": "sgd", "hyper": sgd(0.5, momentum=0.8, nesterov=True),
     "loss": "cross_entropy"},
    {"name": "adam", "kind": "adam", "hyper": {"lr": 0.01}},
    {"name": "adam_weight_decay", "kind": "adam", "hyper": {"lr": 0.01, "weight_decay": 0.1}},
    {"name": "adam_betas_eps", "kind": "adam", "hyper": {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}},
    {"name": "adam_cross_entropy", "kind": "adam", "hyper": {"lr": 0.01}, "loss": "cross_entropy"},
    {"name": "adamw_default", "kind": "adamw", "hyper": {"lr": 0.01}},
    {"name": "adamw_weight_decay_0.2", "kind": "adamw", "hyper": {"lr": 0.01, "weight_decay": 0.2}},
    {"name": "sgd_steplr", "kind": "sgd", "hyper": sgd(0.2),
     "schedule": {"kind": "step", "every": 3, "gamma": 0.5}},
    {"name": "sgd_momentum_cosine", "kind": "sgd", "hyper": sgd(0.1, momentum=0.9),
     "schedule": {"kind": "cosine", "total": STEPS - 1, "min_lr": 0.01}},
    {"name": "adam_warmup", "kind": "adam", "hyper": {"lr": 0.01},
     "schedule": {"kind": "warmup", "warmup": 3, "then": CONSTANT}},
    {"name": "adamw_warmup_cosine", "kind": "adamw", "hyper": {"lr": 0.01},
     "schedule": {"kind": "warmup", "warmup": 3, "then": {"kind": "cosine", "total": 4, "min_lr": 0.001}}},
    {"name": "sgd_momentum_clip", "kind": "sgd", "hyper": sgd(0.1, momentum=0.9), "clip": 0.5},
    {"name": "adam_clip", "kind": "adam", "hyper": {"lr": 0.01}, "clip": 0.3},
]

# Learning rates alone, over longer horizons (float64, as ftheta computes them).
SCHEDULE_CASES = [
    {"name": "steplr", "base": 0.5, "updates": 20, "schedule": {"kind": "step", "every": 4, "gamma": 0.3}},
    {"name": "steplr_every_1", "base": 1.0, "updates": 6, "schedule": {"kind": "step", "every": 1, "gamma": 0.9}},
    # Up to and including `total`: beyond it PyTorch's CosineAnnealingLR rises again (period
    # 2·T_max) while ftheta's stays at min_lr; see schedule.rs.
    {"name": "cosine", "base": 0.1, "updates": 11, "schedule": {"kind": "cosine", "total": 10, "min_lr": 0.0}},
    {"name": "cosine_min", "base": 0.3, "updates": 8, "schedule": {"kind": "cosine", "total": 7, "min_lr": 0.05}},
    {"name": "warmup_constant", "base": 0.01, "updates": 12, "schedule": {"kind": "warmup", "warmup": 5,
                                                                          "then": CONSTANT}},
    {"name": "warmup_cosine", "base": 0.2, "updates": 14,
     "schedule": {"kind": "warmup", "warmup": 4, "then": {"kind": "cosine", "total": 9, "min_lr": 0.0}}},
    {"name": "warmup_steplr", "base": 1.0, "updates": 12,
     "schedule": {"kind": "warmup", "warmup": 3, "then": {"kind": "step", "every": 2, "gamma": 0.5}}},
]


def run_schedule(case):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=case["base"])
    sched = make_scheduler(opt, case["schedule"], case["base"])
    lrs = []
    for _ in range(case["updates"]):
        lrs.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        sched.step()
    return dict(case, lrs=lrs)


# ---------------------------------------------------------------------------------------------
# Losses: value and gradient with respect to the prediction, float64 from float32 inputs.


def loss_cases():
    torch.set_default_dtype(torch.float64)
    g = np.random.default_rng(5)
    cases = []

    def add(name, fn, pred, target, params=None):
        p = torch.tensor(pred, requires_grad=True)
        t = torch.tensor(target)
        loss = fn(p, t)
        loss.backward()
        cases.append({
            "name": name,
            "params": params or {},
            "pred": {"shape": list(p.shape), "data": flat(p)},
            "target": {"shape": list(t.shape), "data": flat(t)},
            "loss": float(loss.item()),
            "grad": flat(p.grad),
        })

    pred = f32(g.standard_normal((6, 2)))
    target = f32(g.standard_normal((6, 2)))
    target.reshape(-1)[0] = pred.reshape(-1)[0]  # d = 0: MAE's gradient there is 0 in PyTorch
    pred.reshape(-1)[1:3] = [0.5, -0.25]  # |d| = 1 = δ exactly, both signs
    target.reshape(-1)[1:3] = [-0.5, 0.75]
    pred, target = f32(pred), f32(target)
    add("mse", F.mse_loss, pred, target)
    add("mae", F.l1_loss, pred, target)
    add("huber", lambda a, b: F.huber_loss(a, b, delta=1.0), pred, target, {"delta": 1.0})
    wide = f32(3.0 * g.standard_normal((5, 3)))
    wide_t = f32(g.standard_normal((5, 3)))
    add("huber", lambda a, b: F.huber_loss(a, b, delta=0.5), wide, wide_t, {"delta": 0.5})
    add("huber", lambda a, b: F.huber_loss(a, b, delta=2.5), wide, wide_t, {"delta": 2.5})
    add("mse", F.mse_loss, wide.reshape(-1), wide_t.reshape(-1))

    logits = f32(2.0 * g.standard_normal((3, 4)))
    logits.reshape(-1)[:3] = [30.0, -30.0, 0.0]  # saturated and zero logits
    labels = f32(g.integers(0, 2, (3, 4)).astype(np.float64))
    labels.reshape(-1)[3] = 0.3  # soft target
    add("bce_with_logits", F.binary_cross_entropy_with_logits, logits, labels)

    ce_logits = f32(g.standard_normal((6, 5)))
    ce_logits[1] = [50.0, -20.0, 0.0, 3.0, 49.5]
    classes = g.integers(0, 5, 6)
    classes[1] = 4
    add("cross_entropy", lambda a, b: F.cross_entropy(a, b.to(torch.int64)), ce_logits, classes.astype(np.float64))
    ce2 = f32(3.0 * g.standard_normal((4, 2)))
    add("cross_entropy", lambda a, b: F.cross_entropy(a, b.to(torch.int64)), ce2,
        g.integers(0, 2, 4).astype(np.float64))
    torch.set_default_dtype(torch.float32)
    return cases


# ---------------------------------------------------------------------------------------------
# Layers: a sequence of forward passes (training or evaluation) through one torch layer in float64,
# from float32-rounded inputs and parameters; after each, the gradients of sum(out * r) and the
# buffers. Written to a file of its own so the cases above stay byte-identical.


def layer_cases():
    torch.set_default_dtype(torch.float64)
    g = np.random.default_rng(13)
    cases = []

    def tensor_json(t):
        return {"shape": list(t.shape), "data": flat(t)}

    def add(name, kind, layer, params, xs, modes):
        with torch.no_grad():  # scales near 1, shifts near 0, as a trained layer would have
            for n, p in layer.named_parameters():
                p.copy_(torch.tensor(f32(g.standard_normal(tuple(p.shape)) * 0.5 + (1.0 if n == "weight" else 0.0))))
        init = {k: tensor_json(v) for k, v in layer.state_dict().items()}
        steps = []
        for x, mode in zip(xs, modes):
            layer.train(mode == "train")
            xt = torch.tensor(f32(x), requires_grad=True)
            layer.zero_grad()
            out = layer(xt)
            r = f32(g.standard_normal(tuple(out.shape)))
            (out * torch.tensor(r)).sum().backward()
            grads = {"x": flat(xt.grad)}
            grads.update({n: flat(p.grad) for n, p in layer.named_parameters()})
            steps.append({
                "mode": mode,
                "x": tensor_json(xt),
                "r": r.reshape(-1).tolist(),
                "out": tensor_json(out),
                "grads": grads,
                "buffers": {k: flat(v) for k, v in layer.named_buffers()},
            })
        cases.append({"name": name, "layer": kind, "params": params, "state_dict_keys": list(layer.state_dict()),
                      "init": init, "steps": steps})

    def normal(*shape, scale=1.0, shift=0.0):
        return f32(g.standard_normal(shape) * scale + shift)

    add("batchnorm1d/2d_input", "batchnorm1d", nn.BatchNorm1d(4), {"features": 4},
        [normal(6, 4, scale=2.0, shift=1.0), normal(6, 4, scale=0.5, shift=-1.0), normal(3, 4)],
        ["train", "train", "eval"])
    add("batchnorm1d/3d_input", "batchnorm1d", nn.BatchNorm1d(3), {"features": 3},
        [normal(4, 3, 5, scale=1.5), normal(2, 3, 5)], ["train", "eval"])
    add("batchnorm2d/momentum_0.3_eps_1e-3", "batchnorm2d", nn.BatchNorm2d(2, eps=1e-3, momentum=0.3),
        {"features": 2, "eps": 1e-3, "momentum": 0.3},
        [normal(3, 2, 4, 4, shift=2.0), normal(3, 2, 4, 4), normal(2, 2, 3, 3)], ["train", "train", "eval"])
    add("batchnorm2d/cumulative", "batchnorm2d", nn.BatchNorm2d(3, momentum=None), {"features": 3, "momentum": None},
        [normal(2, 3, 3, 3), normal(2, 3, 3, 3, scale=3.0), normal(2, 3, 3, 3, shift=1.0), normal(1, 3, 3, 3)],
        ["train", "train", "train", "eval"])
    add("batchnorm2d/no_affine_no_tracking", "batchnorm2d",
        nn.BatchNorm2d(2, affine=False, track_running_stats=False),
        {"features": 2, "affine": False, "track_running_stats": False},
        [normal(2, 2, 3, 3), normal(2, 2, 3, 3)], ["train", "eval"])
    add("layernorm/last_dim", "layernorm", nn.LayerNorm(6), {"shape": [6]},
        [normal(4, 6, scale=2.0, shift=3.0)], ["train"])
    add("layernorm/last_two_dims_eps", "layernorm", nn.LayerNorm([3, 4], eps=1e-3), {"shape": [3, 4], "eps": 1e-3},
        [normal(2, 3, 4)], ["train"])
    add("layernorm/no_affine", "layernorm", nn.LayerNorm(5, elementwise_affine=False),
        {"shape": [5], "affine": False}, [normal(3, 5)], ["train"])
    add("layernorm/no_bias", "layernorm", nn.LayerNorm(5, bias=False), {"shape": [5], "bias": False},
        [normal(3, 5)], ["train"])
    add("flatten/default", "flatten", nn.Flatten(), {}, [normal(2, 3, 2, 2)], ["train"])
    add("flatten/1_2", "flatten", nn.Flatten(1, 2), {"start_dim": 1, "end_dim": 2}, [normal(2, 3, 2, 2)], ["train"])
    torch.set_default_dtype(torch.float32)
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check-ftheta", metavar="FILE", help="load an ftheta checkpoint into the torch Net strictly")
    args = ap.parse_args()
    if args.check_ftheta:
        sys.exit(check_ftheta(args.check_ftheta))

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(GOLDEN, exist_ok=True)
    init, x, y, classes = problem()
    optimizers = [run_case(dict({"loss": "mse"}, **c), init, x, y, classes) for c in OPTIMIZER_CASES]
    doc = {
        "generator": "scripts/golden_nn.py",
        "torch": torch.__version__,
        "problem": {
            "spec": "mlp:4:tanh",
            "inputs": 3,
            "outputs": 2,
            "init": {k: {"shape": list(v.shape), "data": flat(v)} for k, v in init.items()},
            "x": {"shape": list(x.shape), "data": flat(x)},
            "y": {"shape": list(y.shape), "data": flat(y)},
            "classes": [float(c) for c in classes.tolist()],
        },
        "optimizers": optimizers,
        "schedules": [run_schedule(c) for c in SCHEDULE_CASES],
        "losses": loss_cases(),
        "torch_mlp": torch_mlp_case(),
    }
    with open(OUT_JSON, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    layers = layer_cases()
    with open(OUT_LAYERS, "w") as f:
        json.dump({"generator": "scripts/golden_nn.py", "torch": torch.__version__,
                   "loss": "sum(out * r); grads of the input x and of each parameter by state_dict name",
                   "cases": layers}, f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(layers)} layer cases -> {os.path.normpath(OUT_LAYERS)}")
    print(f"{len(optimizers)} optimizer runs, {len(doc['schedules'])} schedules, {len(doc['losses'])} losses "
          f"-> {os.path.normpath(OUT_JSON)} ({os.path.getsize(OUT_JSON)} bytes), {os.path.normpath(OUT_ST)}")


if __name__ == "__main__":
    main()
