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


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )


def optimizer(name, params):
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.1)
    if name == "adam":
        return torch.optim.Adam(params, lr=1e-3)
    sys.exit(f"unknown optimizer {name}")


def epoch(model, opt, x, y, batch, seed):
    """One epoch as a PyTorch user writes it: shuffle, index each batch out, step."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    last = 0.0
    for i in range(0, len(y), batch):
        idx = order[i : i + batch]
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = loss.item()
    return last


def max_rss_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def read_idx(path):
    import gzip

    import numpy as np

    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_part(d, part):
    x = read_idx(os.path.join(d, f"{part}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(d, f"{part}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.reshape(len(x), 784).astype("float32") / 255.0)
    return x, torch.from_numpy(y.astype("int64"))


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
    elif what == "matmul-numpy":
        import numpy as np

        n = int(sys.argv[2]) if len(sys.argv) > 2 else 512
        rng = np.random.default_rng(0)
        a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
        flops = 2.0 * n**3
        reps = max(2, min(500, int(2e9 / flops)))
        s = best_of(reps, 5, lambda: a @ b)
        print(json.dumps({"workload": what, "n": n, "gflops": flops / s / 1e9}))
    elif what == "mnist-epoch":
        name = sys.argv[2] if len(sys.argv) > 2 else "sgd"
        batch = int(sys.argv[3]) if len(sys.argv) > 3 else 128
        g = torch.Generator().manual_seed(1)
        x = torch.rand(60_000, 784, generator=g)
        y = torch.randint(0, 10, (60_000,), generator=g)
        model = mlp()
        opt = optimizer(name, model.parameters())
        epoch(model, opt, x[: 20 * batch], y[: 20 * batch], batch, 0)
        best = float("inf")
        for e in (1, 2):
            t = time.perf_counter()
            epoch(model, opt, x, y, batch, e)
            best = min(best, time.perf_counter() - t)
        print(json.dumps({"workload": what, "opt": name, "batch": batch, "s_per_epoch": best, "max_rss_mib": max_rss_mib()}))
    elif what == "mnist-train":
        name = sys.argv[2] if len(sys.argv) > 2 else "adam"
        batch = int(sys.argv[3]) if len(sys.argv) > 3 else 128
        target = float(sys.argv[4]) if len(sys.argv) > 4 else 0.975
        d = sys.argv[5] if len(sys.argv) > 5 else "/work/shared/data/mnist"
        x, y = mnist_part(d, "train")
        xt, yt = mnist_part(d, "t10k")
        model = mlp()
        opt = optimizer(name, model.parameters())
        t = time.perf_counter()
        epochs, acc = 0, 0.0
        while epochs < 30 and acc < target:
            epochs += 1
            epoch(model, opt, x, y, batch, epochs)
            with torch.no_grad():
                acc = sum((model(xt[i : i + 1000]).argmax(-1) == yt[i : i + 1000]).sum().item() for i in range(0, len(yt), 1000)) / len(yt)
        s = time.perf_counter() - t
        print(json.dumps({"workload": what, "opt": name, "batch": batch, "s_to_target": s, "epochs": epochs, "test_acc": acc}))
    else:
        sys.exit(f"unknown workload {what}")


if __name__ == "__main__":
    main()
