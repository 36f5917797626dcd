#!/usr/bin/env python3
"""Writes crates/ftheta-core/tests/golden/core.json: PyTorch's forward values and gradients for
every differentiable op of ftheta-core, read by crates/ftheta-core/tests/golden.rs.

Run by hand (CI has no Python; the JSON is committed):

    pip install torch numpy
    python scripts/golden_core.py

Every input and every loss weight R is rounded to float32 *before* PyTorch computes in float64, so
the expected values are exact answers for the very numbers an f32 test feeds ftheta: the test then
measures only ftheta's own rounding, not the cost of rounding its inputs.

Each case: the op (a name that golden.rs maps to ftheta calls), its parameters, the inputs, the
output, and the gradient of each input for loss = (out * R).sum() with a fixed random R (or of the
output itself when it is already a scalar loss, as for the MLP).
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20240611)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "ftheta-core", "tests", "golden",
                   "core.json")


def f32(a):
    """Rounds to the nearest float32, kept as float64."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def normal(*shape):
    return f32(rng.standard_normal(shape))


def positive(*shape):
    """Away from 0, for log, sqrt, pow(0.5), pow(-1) and divisors: their derivatives blow up near 0."""
    return f32(rng.uniform(0.5, 2.0, shape))


def away_from_zero(*shape):
    return f32(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))


def with_values(a, values):
    """`a` with its first elements replaced: edge points (0, clamp bounds, ±3 for hardsigmoid) that
    a random draw never hits but where the derivative's convention matters."""
    a = a.copy()
    flat = a.reshape(-1)
    flat[: len(values)] = values
    return a


# op name -> (torch function of the input tensors and params)
OPS = {
    "add": lambda x, p: x[0] + x[1],
    "sub": lambda x, p: x[0] - x[1],
    "mul": lambda x, p: x[0] * x[1],
    "div": lambda x, p: x[0] / x[1],
    "add_scalar": lambda x, p: x[0] + p["c"],
    "mul_scalar": lambda x, p: x[0] * p["c"],
    "scalar_div": lambda x, p: p["c"] / x[0],
    "maximum": lambda x, p: torch.maximum(x[0], x[1]),
    "minimum": lambda x, p: torch.minimum(x[0], x[1]),
    "neg": lambda x, p: -x[0],
    "exp": lambda x, p: torch.exp(x[0]),
    "log": lambda x, p: torch.log(x[0]),
    "sqrt": lambda x, p: torch.sqrt(x[0]),
    "abs": lambda x, p: torch.abs(x[0]),
    "pow": lambda x, p: torch.pow(x[0], p["e"]),
    "relu": lambda x, p: torch.relu(x[0]),
    "sigmoid": lambda x, p: torch.sigmoid(x[0]),
    "tanh": lambda x, p: torch.tanh(x[0]),
    "sin": lambda x, p: torch.sin(x[0]),
    "cos": lambda x, p: torch.cos(x[0]),
    "hardsigmoid": lambda x, p: F.hardsigmoid(x[0]),
    "softplus": lambda x, p: F.softplus(x[0]),
    "gelu": lambda x, p: F.gelu(x[0], approximate="none"),
    "clamp": lambda x, p: torch.clamp(x[0], p["min"], p["max"]),
    "sum": lambda x, p: x[0].sum() if p["dims"] == [] else x[0].sum(dim=p["dims"], keepdim=p["keepdim"]),
    "mean": lambda x, p: x[0].mean() if p["dims"] == [] else x[0].mean(dim=p["dims"], keepdim=p["keepdim"]),
    # amax/amin, not max(dim): they split the gradient evenly among ties, as ftheta does
    "max": lambda x, p: torch.amax(x[0], dim=p["dims"], keepdim=p["keepdim"]),
    "min": lambda x, p: torch.amin(x[0], dim=p["dims"], keepdim=p["keepdim"]),
    "var": lambda x, p: torch.var(x[0], dim=p["dims"] or None, unbiased=p["unbiased"], keepdim=p["keepdim"]),
    "matmul": lambda x, p: torch.matmul(x[0], x[1]),
    # the left operand transposed: a strided (non-contiguous) view goes into the product
    "matmul_lhs_t": lambda x, p: torch.matmul(x[0].mT, x[1]),
    "reshape": lambda x, p: x[0].reshape(p["shape"]),
    "permute_reshape": lambda x, p: x[0].permute(p["perm"]).reshape(p["shape"]),
    "permute": lambda x, p: x[0].permute(p["perm"]),
    "transpose": lambda x, p: x[0].transpose(p["d0"], p["d1"]),
    "t": lambda x, p: x[0].t(),
    "broadcast_to": lambda x, p: x[0].expand(p["shape"]),
    "narrow": lambda x, p: x[0].narrow(p["dim"], p["start"], p["len"]),
    "cat": lambda x, p: torch.cat(x, dim=p["dim"]),
    "stack": lambda x, p: torch.stack(x, dim=p["dim"]),
    "index_select": lambda x, p: torch.index_select(x[0], p["dim"], torch.tensor(p["index"])),
    "gather": lambda x, p: torch.gather(x[0], p["dim"], torch.tensor(p["index"])),
    "softmax": lambda x, p: torch.softmax(x[0], dim=p["dim"]),
    "log_softmax": lambda x, p: torch.log_softmax(x[0], dim=p["dim"]),
    "logsumexp": lambda x, p: torch.logsumexp(x[0], dim=p["dim"], keepdim=p["keepdim"]),
    # elementwise ops reading strided views (transposed, narrowed), not only contiguous data
    "exp_of_transposed": lambda x, p: torch.exp(x[0].t()),
    "mul_transposed": lambda x, p: x[0].t() * x[1],
    "softmax_of_narrowed": lambda x, p: torch.softmax(x[0].narrow(1, 1, 3), dim=-1),
    "masked_fill": lambda x, p: x[0].masked_fill(torch.tensor(p["mask"]).bool(), p["value"]),
    # nanoGPT's causal attention weights: the future hidden with -inf before the softmax
    "causal_softmax": lambda x, p: x[0].masked_fill(
        torch.ones(x[0].shape[-1], x[0].shape[-1]).triu(1).bool(), float("-inf")).softmax(-1),
    "mlp_cross_entropy": lambda x, p: F.cross_entropy(
        torch.relu(x[0] @ x[1] + x[2]) @ x[3] + x[4], torch.tensor(p["targets"])),
}

cases = []


def case(name, op, inputs, params=None, dtype="f32", loss_is_output=False, note=None):
    params = params or {}
    xs = [torch.tensor(f32(a), requires_grad=True) for a in inputs]
    out = OPS[op](xs, params)
    if loss_is_output:
        r = None
        loss = out
    else:
        r = f32(rng.standard_normal(tuple(out.shape)))
        loss = (out * torch.tensor(r)).sum()
    loss.backward()
    c = {
        "name": name,
        "op": op,
        "params": params,
        "dtype": dtype,
        "inputs": [{"shape": list(x.shape), "data": x.detach().reshape(-1).tolist()} for x in xs],
        "out": {"shape": list(out.shape), "data": out.detach().reshape(-1).tolist()},
        "r": None if r is None else r.reshape(-1).tolist(),
        "grads": [x.grad.reshape(-1).tolist() for x in xs],
    }
    if note:
        c["note"] = note
    cases.append(c)


# ---- broadcasting binary ops
for op in ["add", "sub", "mul", "div"]:
    rhs = away_from_zero if op == "div" else normal
    case(f"{op}/same_shape", op, [normal(3, 4), rhs(3, 4)])
    case(f"{op}/bias_row", op, [normal(2, 3, 4), rhs(4)])
    case(f"{op}/column_by_row", op, [normal(3, 1), rhs(1, 4)])
    case(f"{op}/rank_and_unit_dims", op, [normal(2, 1, 4), rhs(3, 1)])
    case(f"{op}/scalar_tensor_rhs", op, [normal(2, 3), rhs()])
    case(f"{op}/broadcast_lhs", op, [normal(4), rhs(3, 4)])

case("add_scalar", "add_scalar", [normal(3, 4)], {"c": 1.5})
case("mul_scalar", "mul_scalar", [normal(3, 4)], {"c": -2.5})
case("scalar_div", "scalar_div", [away_from_zero(3, 4)], {"c": 3.0})

for op in ["maximum", "minimum"]:
    case(f"{op}/same_shape", op, [normal(3, 4), normal(3, 4)])
    case(f"{op}/broadcast", op, [normal(2, 3, 4), normal(4)])
    a = normal(3, 4)
    b = normal(3, 4)
    b.reshape(-1)[::3] = a.reshape(-1)[::3]  # ties: the gradient is split in halves
    case(f"{op}/ties", op, [a, b])

# ---- unary maths and activations
case("neg", "neg", [normal(3, 4)])
case("exp", "exp", [normal(3, 4)])
case("log", "log", [positive(3, 4)])
case("sqrt", "sqrt", [positive(3, 4)])
case("abs", "abs", [with_values(normal(3, 4), [0.0])])
case("pow/2", "pow", [normal(3, 4)], {"e": 2.0})
case("pow/3", "pow", [normal(3, 4)], {"e": 3.0})
case("pow/0.5", "pow", [positive(3, 4)], {"e": 0.5})
case("pow/-1", "pow", [away_from_zero(3, 4)], {"e": -1.0})
case("relu", "relu", [with_values(normal(3, 4), [0.0])])
case("sigmoid", "sigmoid", [f32(3.0 * rng.standard_normal((3, 4)))])
case("tanh", "tanh", [normal(3, 4)])
case("hardsigmoid", "hardsigmoid", [with_values(f32(3.0 * rng.standard_normal((4, 5))), [-3.0, 3.0, 0.0, -4.0, 4.5])])
case("softplus", "softplus", [f32(3.0 * rng.standard_normal((3, 4)))])
case("gelu", "gelu", [f32(2.0 * rng.standard_normal((3, 4)))])
case("clamp", "clamp", [with_values(normal(3, 4), [-0.5, 0.75])], {"min": -0.5, "max": 0.75})

# ---- reductions
x234 = normal(2, 3, 4)
for op in ["sum", "mean"]:
    case(f"{op}/all", op, [x234], {"dims": [], "keepdim": False})
    case(f"{op}/dim1", op, [x234], {"dims": [1], "keepdim": False})
    case(f"{op}/dim1_keepdim", op, [x234], {"dims": [1], "keepdim": True})
    case(f"{op}/dims0_2_keepdim", op, [x234], {"dims": [0, 2], "keepdim": True})
    case(f"{op}/dim_last", op, [x234], {"dims": [-1], "keepdim": False})
    case(f"{op}/leading_dim0", op, [x234], {"dims": [0], "keepdim": False})
for op in ["max", "min"]:
    case(f"{op}/all", op, [x234], {"dims": [], "keepdim": False})
    case(f"{op}/dim1", op, [x234], {"dims": [1], "keepdim": False})
    case(f"{op}/dim_last_keepdim", op, [x234], {"dims": [-1], "keepdim": True})
    case(f"{op}/dims0_2", op, [x234], {"dims": [0, 2], "keepdim": False})
    # ties for the extreme: the gradient is shared evenly among them
    t = normal(3, 4)
    t[:, 1] = t[:, 3] = (8.0 if op == "max" else -8.0)
    case(f"{op}/ties_dim1", op, [t], {"dims": [1], "keepdim": False})
    case(f"{op}/ties_all", op, [t], {"dims": [], "keepdim": False})
for unbiased in [True, False]:
    u = "unbiased" if unbiased else "biased"
    case(f"var/all_{u}", "var", [x234], {"dims": [], "unbiased": unbiased, "keepdim": False})
    case(f"var/dim1_{u}", "var", [x234], {"dims": [1], "unbiased": unbiased, "keepdim": False})
    case(f"var/dim_last_keepdim_{u}", "var", [x234], {"dims": [-1], "unbiased": unbiased, "keepdim": True})
    case(f"var/dims0_2_{u}", "var", [x234], {"dims": [0, 2], "unbiased": unbiased, "keepdim": False})

# ---- matrix products
case("matmul/2d", "matmul", [normal(3, 4), normal(4, 5)])
case("matmul/batched", "matmul", [normal(2, 3, 4), normal(2, 4, 5)])
case("matmul/batched_by_matrix", "matmul", [normal(2, 3, 4), normal(4, 5)])
case("matmul/matrix_by_batched", "matmul", [normal(3, 4), normal(2, 4, 5)])
case("matmul/broadcast_batch_dims", "matmul", [normal(2, 1, 3, 4), normal(3, 4, 2)])
case("matmul/vector_by_matrix", "matmul", [normal(4), normal(4, 5)])
case("matmul/matrix_by_vector", "matmul", [normal(3, 4), normal(4)])
case("matmul/lhs_transposed", "matmul_lhs_t", [normal(4, 3), normal(4, 5)])
case("matmul/lhs_transposed_batched", "matmul_lhs_t", [normal(2, 4, 3), normal(2, 4, 5)])

# ---- shape ops
case("reshape/2d", "reshape", [x234], {"shape": [4, 6]})
case("reshape/inferred", "reshape", [x234], {"shape": [-1, 2]})
case("reshape/of_permuted", "permute_reshape", [x234], {"perm": [2, 0, 1], "shape": [4, 6]})
case("permute/201", "permute", [x234], {"perm": [2, 0, 1]})
case("permute/102", "permute", [x234], {"perm": [1, 0, 2]})
case("transpose/0_2", "transpose", [x234], {"d0": 0, "d1": 2})
case("transpose/neg_dims", "transpose", [x234], {"d0": -1, "d1": -2})
case("t", "t", [normal(3, 4)])
case("broadcast_to/unit_dims", "broadcast_to", [normal(3, 1)], {"shape": [2, 3, 4]})
case("broadcast_to/leading", "broadcast_to", [normal(4)], {"shape": [3, 4]})
case("narrow/dim0", "narrow", [x234], {"dim": 0, "start": 1, "len": 1})
case("narrow/dim1", "narrow", [x234], {"dim": 1, "start": 1, "len": 2})
case("narrow/dim_last", "narrow", [x234], {"dim": -1, "start": 0, "len": 3})
case("cat/dim0", "cat", [normal(2, 3), normal(1, 3), normal(3, 3)], {"dim": 0})
case("cat/dim1", "cat", [normal(2, 3), normal(2, 1), normal(2, 2)], {"dim": 1})
case("cat/dim_last_3d", "cat", [normal(2, 2, 3), normal(2, 2, 2)], {"dim": -1})
case("stack/dim0", "stack", [normal(2, 3), normal(2, 3), normal(2, 3)], {"dim": 0})
case("stack/dim1", "stack", [normal(2, 3), normal(2, 3)], {"dim": 1})
case("stack/dim_last", "stack", [normal(2, 3), normal(2, 3)], {"dim": -1})
case("index_select/dim0_repeats", "index_select", [normal(4, 3)], {"dim": 0, "index": [2, 0, 2, 3]})
case("index_select/dim1", "index_select", [x234], {"dim": 1, "index": [2, 1]})
case("index_select/dim_last_repeats", "index_select", [x234], {"dim": -1, "index": [3, 3, 0]})
case("gather/dim1", "gather", [normal(3, 4)], {"dim": 1, "index": [[0, 3], [1, 1], [2, 0]]})
case("gather/dim0", "gather", [normal(3, 4)], {"dim": 0, "index": [[2, 0, 1, 2], [0, 0, 2, 1]]})
case("gather/dim_last_3d", "gather", [x234], {"dim": -1,
                                               "index": rng.integers(0, 4, (2, 3, 2)).tolist()})

# ---- softmax family
for op in ["softmax", "log_softmax"]:
    case(f"{op}/dim_last", op, [f32(2.0 * rng.standard_normal((3, 5)))], {"dim": -1})
    case(f"{op}/dim0", op, [f32(2.0 * rng.standard_normal((3, 5)))], {"dim": 0})
    case(f"{op}/dim1_of_3d", op, [x234], {"dim": 1})
case("logsumexp/dim_last", "logsumexp", [f32(2.0 * rng.standard_normal((3, 5)))], {"dim": -1, "keepdim": False})
case("logsumexp/dim0_keepdim", "logsumexp", [f32(2.0 * rng.standard_normal((3, 5)))], {"dim": 0, "keepdim": True})
case("logsumexp/dim1_of_3d", "logsumexp", [x234], {"dim": 1, "keepdim": False})

# ---- strided inputs
case("exp/of_transposed", "exp_of_transposed", [normal(3, 4)])
case("mul/transposed_lhs", "mul_transposed", [normal(4, 3), normal(3, 4)])
case("softmax/of_narrowed", "softmax_of_narrowed", [normal(3, 5)])

# ---- a two-layer MLP with mean cross-entropy
case(
    "mlp_cross_entropy",
    "mlp_cross_entropy",
    [normal(8, 5), f32(0.5 * rng.standard_normal((5, 7))), f32(0.1 * rng.standard_normal(7)),
     f32(0.5 * rng.standard_normal((7, 3))), f32(0.1 * rng.standard_normal(3))],
    {"targets": rng.integers(0, 3, 8).tolist()},
    loss_is_output=True,
)

# ---- added later: new cases go last, so that the random inputs of the ones above stay as they were
case("sin", "sin", [f32(3.0 * rng.standard_normal((3, 4)))])
case("cos", "cos", [f32(3.0 * rng.standard_normal((3, 4)))])
case("masked_fill/same_shape", "masked_fill", [normal(3, 4)],
     {"mask": rng.integers(0, 2, (3, 4)).tolist(), "value": 0.0})
case("masked_fill/broadcast_mask", "masked_fill", [normal(2, 3, 4)],
     {"mask": rng.integers(0, 2, (3, 4)).tolist(), "value": -1.5})
case("masked_fill/causal_softmax", "causal_softmax", [f32(2.0 * rng.standard_normal((2, 2, 4, 4)))])

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({
        "generator": "scripts/golden_core.py",
        "torch": torch.__version__,
        "loss": "sum(out * r) (r null: out is the loss); grads are of each input, in order",
        "cases": cases,
    }, f, separators=(",", ":"))
    f.write("\n")
print(f"{len(cases)} cases -> {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")
