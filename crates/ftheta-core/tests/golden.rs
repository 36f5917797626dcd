//! Golden tests against PyTorch: every differentiable op's forward values and input gradients,
//! compared with numbers PyTorch computed in float64 (`tests/golden/core.json`, written by
//! `scripts/golden_core.py`; CI has no Python, so the file is committed).
//!
//! The script rounds every input and the loss weights `r` to f32 before computing, so a case run in
//! f32 here starts from exactly PyTorch's numbers and any difference is ftheta's own error. A case
//! passes when every value is within `1e-5 · max(1, |expected|)`. Each case's loss is
//! `(out * r).sum()`, which makes `r` the output gradient: a random `r` checks every element of the
//! backward, not only their sum.

use ftheta_core::{Float, Tensor};
use serde_json::Value;

static GOLDEN: &str = include_str!("golden/core.json");

const RTOL: f64 = 1e-5;

fn cases() -> Vec<Value> {
    let root: Value = serde_json::from_str(GOLDEN).expect("tests/golden/core.json is not valid JSON");
    root["cases"].as_array().expect("the golden file has no `cases` array").clone()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

fn isizes(v: &Value) -> Vec<isize> {
    v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap() as isize).collect()
}

fn int(p: &Value, key: &str) -> isize {
    p[key].as_i64().unwrap_or_else(|| panic!("parameter `{key}` is missing")) as isize
}

fn real(p: &Value, key: &str) -> f64 {
    p[key].as_f64().unwrap_or_else(|| panic!("parameter `{key}` is missing"))
}

fn flag(p: &Value, key: &str) -> bool {
    p[key].as_bool().unwrap_or_else(|| panic!("parameter `{key}` is missing"))
}

fn tensor<T: Float>(shape: &[usize], data: &[f64]) -> Tensor<T> {
    Tensor::from_data(data.iter().map(|&v| T::from_f64(v)).collect(), shape)
}

/// A nested JSON array of integers (a gather index) as a tensor of whole numbers, which is how
/// ftheta takes an index.
fn index_tensor<T: Float>(v: &Value) -> Tensor<T> {
    fn walk(v: &Value, depth: usize, shape: &mut Vec<usize>, out: &mut Vec<f64>) {
        match v.as_array() {
            Some(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                items.iter().for_each(|x| walk(x, depth + 1, shape, out));
            }
            None => out.push(v.as_f64().unwrap()),
        }
    }
    let (mut shape, mut data) = (Vec::new(), Vec::new());
    walk(v, 0, &mut shape, &mut data);
    tensor(&shape, &data)
}

/// `c / x` with the scalar on the left goes through operator impls that exist per element type,
/// not for a generic `T`.
trait Elem: Float {
    fn scalar_div(c: f64, x: &Tensor<Self>) -> Tensor<Self>;
}

impl Elem for f32 {
    fn scalar_div(c: f64, x: &Tensor<f32>) -> Tensor<f32> {
        c as f32 / x
    }
}

impl Elem for f64 {
    fn scalar_div(c: f64, x: &Tensor<f64>) -> Tensor<f64> {
        c / x
    }
}

/// The ftheta spelling of each op named in the golden file (the PyTorch spelling sits beside the
/// same name in the script's `OPS`).
fn forward<T: Elem>(op: &str, x: &[Tensor<T>], p: &Value) -> Tensor<T> {
    let dims = || isizes(&p["dims"]);
    match op {
        "add" => &x[0] + &x[1],
        "sub" => &x[0] - &x[1],
        "mul" => &x[0] * &x[1],
        "div" => &x[0] / &x[1],
        "add_scalar" => x[0].add_scalar(real(p, "c")),
        "mul_scalar" => x[0].mul_scalar(real(p, "c")),
        "scalar_div" => T::scalar_div(real(p, "c"), &x[0]),
        "maximum" => x[0].maximum(&x[1]),
        "minimum" => x[0].minimum(&x[1]),
        "neg" => -&x[0],
        "exp" => x[0].exp(),
        "log" => x[0].log(),
        "sqrt" => x[0].sqrt(),
        "abs" => x[0].abs(),
        "pow" => x[0].pow(real(p, "e")),
        "relu" => x[0].relu(),
        "sigmoid" => x[0].sigmoid(),
        "tanh" => x[0].tanh(),
        "sin" => x[0].sin(),
        "cos" => x[0].cos(),
        "hardsigmoid" => x[0].hard_sigmoid(),
        "softplus" => x[0].softplus(),
        "gelu" => x[0].gelu(),
        "clamp" => x[0].clamp(real(p, "min"), real(p, "max")),
        "sum" if dims().is_empty() => x[0].sum(),
        "sum" => x[0].sum_dims(&dims(), flag(p, "keepdim")),
        "mean" if dims().is_empty() => x[0].mean(),
        "mean" => x[0].mean_dims(&dims(), flag(p, "keepdim")),
        "max" if dims().is_empty() => x[0].max(),
        "max" => x[0].max_dims(&dims(), flag(p, "keepdim")),
        "min" if dims().is_empty() => x[0].min(),
        "min" => x[0].min_dims(&dims(), flag(p, "keepdim")),
        "var" if dims().is_empty() => x[0].var(flag(p, "unbiased")),
        "var" => x[0].var_dims(&dims(), flag(p, "unbiased"), flag(p, "keepdim")),
        "matmul" => x[0].matmul(&x[1]),
        "matmul_lhs_t" => x[0].t().matmul(&x[1]),
        "reshape" => x[0].reshape(&isizes(&p["shape"])),
        "permute_reshape" => x[0].permute(&usizes(&p["perm"])).reshape(&isizes(&p["shape"])),
        "permute" => x[0].permute(&usizes(&p["perm"])),
        "transpose" => x[0].transpose(int(p, "d0"), int(p, "d1")),
        "t" => x[0].t(),
        "broadcast_to" => x[0].broadcast_to(&usizes(&p["shape"])),
        "narrow" => x[0].narrow(int(p, "dim"), int(p, "start") as usize, int(p, "len") as usize),
        "cat" => Tensor::cat(x, int(p, "dim")),
        "stack" => Tensor::stack(x, int(p, "dim")),
        "index_select" => x[0].index_select(int(p, "dim"), &usizes(&p["index"])),
        "gather" => x[0].gather(int(p, "dim"), &index_tensor(&p["index"])),
        "softmax" => x[0].softmax(int(p, "dim")),
        "log_softmax" => x[0].log_softmax(int(p, "dim")),
        "logsumexp" => x[0].logsumexp(int(p, "dim"), flag(p, "keepdim")),
        "exp_of_transposed" => x[0].t().exp(),
        "mul_transposed" => x[0].t().mul(&x[1]),
        "softmax_of_narrowed" => x[0].narrow(1, 1, 3).softmax(-1),
        "masked_fill" => x[0].masked_fill(&index_tensor(&p["mask"]), real(p, "value")),
        "causal_softmax" => {
            let t = x[0].shape()[x[0].ndim() - 1];
            let future: Vec<f64> = (0..t * t).map(|k| if k % t > k / t { 1.0 } else { 0.0 }).collect();
            x[0].masked_fill(&tensor(&[t, t], &future), f64::NEG_INFINITY).softmax(-1)
        }
        "mlp_cross_entropy" => {
            let (xs, w1, b1, w2, b2) = (&x[0], &x[1], &x[2], &x[3], &x[4]);
            let targets: Vec<f64> = floats(&p["targets"]);
            let targets = tensor::<T>(&[targets.len(), 1], &targets);
            let logits = xs.matmul(w1).add(b1).relu().matmul(w2).add(b2);
            logits.log_softmax(-1).gather(1, &targets).mean().neg()
        }
        _ => panic!("the golden file names op `{op}`, which this test does not know"),
    }
}

/// Written so that a NaN is never close to anything.
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= RTOL * want.abs().max(1.0)
}

/// The first values that miss the tolerance, described for a failure message.
fn mismatches(got: &[f64], want: &[f64]) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!("{} values, expected {}", got.len(), want.len()));
    }
    let bad: Vec<String> = got
        .iter()
        .zip(want)
        .enumerate()
        .filter(|(_, (&g, &w))| !close(g, w))
        .take(4)
        .map(|(i, (g, w))| format!("[{i}] {g} vs {w} (diff {:.2e})", (g - w).abs()))
        .collect();
    (!bad.is_empty()).then(|| bad.join(", "))
}

/// Runs one case in element type `T`; returns what differs from PyTorch.
fn check<T: Elem>(c: &Value) -> Vec<String> {
    let op = c["op"].as_str().unwrap();
    let inputs: Vec<Tensor<T>> = c["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| tensor(&usizes(&i["shape"]), &floats(&i["data"])).requires_grad())
        .collect();
    let out = forward(op, &inputs, &c["params"]);
    let mut errors = Vec::new();
    let want_shape = usizes(&c["out"]["shape"]);
    if out.shape() != want_shape.as_slice() {
        errors.push(format!("output shape {:?}, expected {want_shape:?}", out.shape()));
        return errors;
    }
    if let Some(m) = mismatches(&out.to_vec_f64(), &floats(&c["out"]["data"])) {
        errors.push(format!("forward: {m}"));
    }
    let loss = match c["r"].is_null() {
        true => out,
        false => out.mul(&tensor(&want_shape, &floats(&c["r"]))).sum(),
    };
    loss.backward();
    for (i, (x, want)) in inputs.iter().zip(c["grads"].as_array().unwrap()).enumerate() {
        match x.grad() {
            None => errors.push(format!("input {i}: no gradient reached it")),
            Some(g) if g.shape() != x.shape() => {
                errors.push(format!("input {i}: gradient shape {:?}, expected {:?}", g.shape(), x.shape()))
            }
            Some(g) => {
                if let Some(m) = mismatches(&g.to_vec_f64(), &floats(want)) {
                    errors.push(format!("gradient of input {i}: {m}"));
                }
            }
        }
    }
    errors
}

/// Runs every case whose op is in `ops` and fails with all differences, each under its case name.
fn run(ops: &[&str]) {
    let mut failures = Vec::new();
    let mut ran = 0;
    for c in cases().iter().filter(|c| ops.contains(&c["op"].as_str().unwrap())) {
        let name = c["name"].as_str().unwrap();
        let errors = match c["dtype"].as_str().unwrap() {
            "f32" => check::<f32>(c),
            "f64" => check::<f64>(c),
            d => panic!("case {name}: unknown dtype {d}"),
        };
        failures.extend(errors.into_iter().map(|e| format!("{name}: {e}")));
        ran += 1;
    }
    assert!(ran > 0, "no golden case for ops {ops:?}");
    assert!(
        failures.is_empty(),
        "{} golden mismatch(es) against PyTorch:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

const BINARY: &[&str] = &["add", "sub", "mul", "div", "add_scalar", "mul_scalar", "scalar_div", "maximum", "minimum"];
const UNARY: &[&str] = &[
    "neg",
    "exp",
    "log",
    "sqrt",
    "abs",
    "pow",
    "relu",
    "sigmoid",
    "tanh",
    "sin",
    "cos",
    "hardsigmoid",
    "softplus",
    "gelu",
    "clamp",
];
const REDUCE: &[&str] = &["sum", "mean", "max", "min", "var"];
const MATMUL: &[&str] = &["matmul", "matmul_lhs_t"];
const SHAPE: &[&str] = &[
    "reshape",
    "permute_reshape",
    "permute",
    "transpose",
    "t",
    "broadcast_to",
    "narrow",
    "cat",
    "stack",
    "index_select",
    "gather",
];
const SOFTMAX: &[&str] = &["softmax", "log_softmax", "logsumexp"];
const STRIDED: &[&str] = &["exp_of_transposed", "mul_transposed", "softmax_of_narrowed"];
const MLP: &[&str] = &["mlp_cross_entropy"];
const MASK: &[&str] = &["masked_fill", "causal_softmax"];

#[test]
fn golden_binary_ops() {
    run(BINARY);
}

#[test]
fn golden_unary_ops() {
    run(UNARY);
}

#[test]
fn golden_reductions() {
    run(REDUCE);
}

#[test]
fn golden_matmul() {
    run(MATMUL);
}

#[test]
fn golden_shape_ops() {
    run(SHAPE);
}

#[test]
fn golden_softmax_family() {
    run(SOFTMAX);
}

#[test]
fn golden_strided_inputs() {
    run(STRIDED);
}

#[test]
fn golden_masked_fill() {
    run(MASK);
}

#[test]
fn golden_mlp_cross_entropy() {
    run(MLP);
}

/// A case added to the script but to no group above would otherwise never run.
#[test]
fn every_golden_case_is_run() {
    let groups = [BINARY, UNARY, REDUCE, MATMUL, SHAPE, SOFTMAX, STRIDED, MLP, MASK];
    let orphans: Vec<String> = cases()
        .iter()
        .filter(|c| !groups.iter().any(|g| g.contains(&c["op"].as_str().unwrap())))
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert!(orphans.is_empty(), "golden cases whose op no test runs: {orphans:?}");
}
