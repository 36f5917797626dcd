"""The PyTorch side of bench/compare.sh: the same workloads as `ftheta-bench`, one JSON line each.

Usage: python bench/torch_workloads.py WORKLOAD [N]   (threads from FTHETA_BENCH_THREADS, default 1)
"""
import json
import os
import sys
import time

import torch

torch.set_num_threads(int(os.environ.get("FTHETA_BENCH_THREADS", "1")))


def best_of(reps, runs, f):
    f()
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, (time.perf_counter() - t) / reps)
    return best


def tiny_data():
    x = torch.arange(100, dtype=torch.float32).reshape(100, 1) / 100.0
    t = 2.0 * x + 1.0 + 0.1 * torch.sin(7.0 * x)
    return x, t


def tiny_linear(updates):
    x, t = tiny_data()
    w = torch.zeros(1, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    last = 0.0
    for _ in range(updates):
        y = x @ w + b
        loss = ((y - t) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w.add_(w.grad, alpha=-0.1)
            b.add_(b.grad, alpha=-0.1)
        w.grad.zero_()
        b.grad.zero_()
        last = loss.item()
    return last


def tiny_mlp(updates):
    torch.manual_seed(0)
    x, t = tiny_data()
    model = torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    last = 0.0
    for _ in range(updates):
        loss = torch.nn.functional.mse_loss(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = loss.item()
    return last


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "tiny-linear"
    if what == "tiny-linear":
        s = best_of(1, 3, lambda: tiny_linear(10_000)) / 10_000
        print(json.dumps({"workload": what, "us_per_update": s * 1e6}))
    elif what == "tiny-mlp":
        s = best_of(1, 3, lambda: tiny_mlp(10_000)) / 10_000
        print(json.dumps({"workload": what, "us_per_update": s * 1e6}))
    elif what == "mlp-step":
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
        )
        x = torch.rand(128, 784)
        y = torch.arange(128) % 10

        def step():
            model.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss.item()

        s = best_of(20, 5, step)
        print(json.dumps({"workload": what, "ms": s * 1e3}))
    elif what == "matmul":
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 512
        a, b = torch.rand(n, n), torch.rand(n, n)
        flops = 2.0 * n**3
        reps = max(2, min(500, int(2e9 / flops)))
        s = best_of(reps, 5, lambda: a @ b)
        print(json.dumps({"workload": what, "n": n, "gflops": flops / s / 1e9}))
    else:
        sys.exit(f"unknown workload {what}")


if __name__ == "__main__":
    main()
