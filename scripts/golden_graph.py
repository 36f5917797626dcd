#!/usr/bin/env python3
"""Writes crates/ftheta-core/tests/golden/sparse.json: PyTorch's values for a sparse (CSR) matrix
times a dense one, forward and the dense operand's gradient, read by
crates/ftheta-core/tests/sparse.rs.

Run by hand (CI has no Python; the JSON is committed):

    pip install torch numpy
    python scripts/golden_graph.py

Each case gives the sparse matrix A as (row, column, value) entries, its dense form, the dense X
and the loss weights R; PyTorch computes in float64 on the f32-rounded numbers, with the dense
product A_dense @ X (and checks torch.sparse.mm on the CSR tensor agrees), and the loss
(A @ X * R).sum(), so R is the output gradient and every element of X.grad is checked.
"""

import json
import warnings
import os

import numpy as np
import torch

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_CORE = os.path.join(HERE, "..", "crates", "ftheta-core", "tests", "golden", "sparse.json")

rng = np.random.default_rng(20240615)


def f32(a):
    """Rounds to the nearest float32, kept as float64."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def enc(x):
    x = x.detach() if isinstance(x, torch.Tensor) else torch.tensor(x)
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def sparse_case(name, n, m, k, density):
    mask = rng.random((n, m)) < density
    vals = f32(rng.standard_normal((n, m))) * mask
    rows, cols = np.nonzero(mask)
    entries = [[int(r), int(c), float(vals[r, c])] for r, c in zip(rows, cols)]
    # shuffled, so the reader's sort is exercised
    order = rng.permutation(len(entries))
    entries = [entries[i] for i in order]
    a = torch.tensor(vals, dtype=torch.float64)
    x = torch.tensor(f32(rng.standard_normal((m, k))), dtype=torch.float64, requires_grad=True)
    r = torch.tensor(f32(rng.standard_normal((n, k))), dtype=torch.float64)
    out = a @ x
    (out * r).sum().backward()
    xs = x.detach().clone().requires_grad_(True)
    sp = torch.sparse.mm(a.to_sparse_csr(), xs) if a.numel() else a @ xs
    assert torch.allclose(sp, out, rtol=1e-12, atol=1e-12), name
    return {
        "name": name,
        "shape": [n, m],
        "entries": entries,
        "dense": enc(a),
        "x": enc(x),
        "r": enc(r),
        "out": enc(out),
        "grad_x": enc(x.grad),
    }


def main():
    cases = [
        sparse_case("square", 6, 6, 3, 0.4),
        sparse_case("wide", 4, 9, 5, 0.3),
        sparse_case("tall_empty_rows", 9, 4, 2, 0.15),
        sparse_case("dense_like", 5, 5, 4, 0.95),
        sparse_case("one_column", 7, 7, 1, 0.3),
    ]
    doc = {"torch": torch.__version__, "cases": cases}
    with open(OUT_CORE, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(f"wrote {len(cases)} cases to {os.path.relpath(OUT_CORE)}")


if __name__ == "__main__":
    main()
