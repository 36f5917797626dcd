//! conv2d, max_pool2d and avg_pool2d: forward values and gradients against PyTorch
//! (`tests/golden/conv.json`, written by `scripts/golden_conv.py`), f64 central finite differences
//! through every parameter (stride, padding, dilation, groups, bias), bit-identical results on one
//! and two threads, and the shape errors.

use ftheta_core::{no_grad, Conv2dParams, Float, Pool2d, Tensor};
use serde_json::Value;

static GOLDEN: &str = include_str!("golden/conv.json");

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

fn pair(p: &Value, key: &str) -> (usize, usize) {
    let v = usizes(&p[key]);
    (v[0], v[1])
}

fn tensor<T: Float>(shape: &[usize], data: &[f64]) -> Tensor<T> {
    Tensor::from_data(data.iter().map(|&v| T::from_f64(v)).collect(), shape)
}

fn conv_params(p: &Value) -> Conv2dParams {
    Conv2dParams {
        stride: pair(p, "stride"),
        padding: pair(p, "padding"),
        dilation: pair(p, "dilation"),
        groups: p["groups"].as_u64().unwrap() as usize,
    }
}

fn pool(p: &Value) -> Pool2d {
    Pool2d { kernel: pair(p, "kernel"), stride: pair(p, "stride"), padding: pair(p, "padding") }
}

/// The same small CNN as the script's `cnn`: conv, relu, max pool, conv, relu, avg pool, linear,
/// cross-entropy.
fn cnn<T: Float>(x: &[Tensor<T>], targets: &Tensor<T>) -> Tensor<T> {
    let same = Conv2dParams::default().padding(1);
    let h = x[0].conv2d(&x[1], Some(&x[2]), same).relu().max_pool2d(Pool2d::new(2));
    let h = h.conv2d(&x[3], Some(&x[4]), same).relu().avg_pool2d(Pool2d::new(2));
    let n = h.shape()[0];
    h.reshape(&[n, h.numel() / n]).linear(&x[5], Some(&x[6])).cross_entropy(targets)
}

fn forward<T: Float>(op: &str, x: &[Tensor<T>], p: &Value) -> Tensor<T> {
    match op {
        "conv2d" => x[0].conv2d(&x[1], x.get(2), conv_params(p)),
        "max_pool2d" => x[0].max_pool2d(pool(p)),
        "avg_pool2d" => x[0].avg_pool2d(pool(p)),
        "cnn" => {
            let t: Vec<f64> = p["targets"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            cnn(x, &tensor(&[t.len()], &t))
        }
        _ => panic!("unknown golden op {op}"),
    }
}

/// Every case in f32 against PyTorch's f64 numbers: within `2e-5·max(1, |expected|)` (the
/// patches' dot products are up to 54 terms long, summed in f32).
#[test]
fn forward_and_gradients_match_pytorch() {
    let root: Value = serde_json::from_str(GOLDEN).unwrap();
    let mut failures = Vec::new();
    let cases = root["cases"].as_array().unwrap();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let xs: Vec<Tensor<f32>> = c["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| tensor(&usizes(&i["shape"]), &floats(&i["data"])).requires_grad())
            .collect();
        let out = forward(c["op"].as_str().unwrap(), &xs, &c["params"]);
        let shape = usizes(&c["out"]["shape"]);
        assert_eq!(out.shape(), shape.as_slice(), "{name}: output shape");
        let mut compare = |what: String, got: Vec<f64>, want: Vec<f64>| {
            assert_eq!(got.len(), want.len(), "{name}: {what} length");
            let worst = got.iter().zip(&want).map(|(g, w)| (g - w).abs() / w.abs().max(1.0)).fold(0.0f64, f64::max);
            if worst > 2e-5 {
                failures.push(format!("{name}: {what} off by {worst:.2e}"));
            }
        };
        compare("forward".into(), out.to_vec_f64(), floats(&c["out"]["data"]));
        let loss = if c["r"].is_null() { out } else { out.mul(&tensor(&shape, &floats(&c["r"]))).sum() };
        loss.backward();
        for (i, (x, want)) in xs.iter().zip(c["grads"].as_array().unwrap()).enumerate() {
            let g = x.grad().unwrap_or_else(|| panic!("{name}: no gradient reached input {i}"));
            assert_eq!(g.shape(), x.shape(), "{name}: gradient shape of input {i}");
            compare(format!("gradient of input {i}"), g.to_vec_f64(), floats(want));
        }
    }
    assert!(cases.len() >= 16, "the golden file lost cases");
    assert!(failures.is_empty(), "mismatches against PyTorch:\n  {}", failures.join("\n  "));
}

/// Deterministic values in ±[0.1, 1.1], distinct within a tensor (pooling needs no ties within
/// a finite-difference step).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|i| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let m = 0.1 + (s >> 11) as f64 / (1u64 << 53) as f64 + i as f64 * 1e-4;
            if (s >> 7) & 1 == 0 {
                m
            } else {
                -m
            }
        })
        .collect()
}

/// Central differences (eps 1e-6, f64) against the analytic gradient of `Σ out·r` for every
/// element of every input.
#[track_caller]
fn check_grad(f: impl Fn(&[Tensor<f64>]) -> Tensor<f64>, shapes: &[&[usize]]) {
    let inputs: Vec<Tensor<f64>> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| Tensor::from_data(values(s.iter().product(), i as u64 + 1), s))
        .collect();
    let leaves: Vec<Tensor<f64>> = inputs.iter().map(|x| x.detach().requires_grad()).collect();
    let out = f(&leaves);
    let r = Tensor::from_data(values(out.numel(), 99), out.shape());
    out.mul(&r).sum().backward();
    let loss = |args: &[Tensor<f64>]| no_grad(|| f(args).mul(&r).sum().item());
    for (i, x) in inputs.iter().enumerate() {
        let analytic = leaves[i].grad().expect("no gradient").to_vec();
        let base = x.to_vec();
        for (j, &a) in analytic.iter().enumerate() {
            let at = |d: f64| {
                let mut v = base.clone();
                v[j] += d;
                let mut args = inputs.clone();
                args[i] = Tensor::from_data(v, x.shape());
                loss(&args)
            };
            let numeric = (at(1e-6) - at(-1e-6)) / 2e-6;
            assert!(
                (a - numeric).abs() <= 1e-6 * numeric.abs().max(1.0),
                "input {i} element {j}: analytic {a} vs numeric {numeric}"
            );
        }
    }
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    let p = Conv2dParams::default;
    let with_bias = |p: Conv2dParams| move |x: &[Tensor<f64>]| x[0].conv2d(&x[1], Some(&x[2]), p);
    check_grad(with_bias(p()), &[&[2, 3, 5, 4], &[2, 3, 3, 3], &[2]]);
    check_grad(with_bias(p().padding(1).stride(2)), &[&[2, 2, 6, 5], &[3, 2, 3, 3], &[3]]);
    check_grad(with_bias(p().dilation(2).padding(2)), &[&[1, 2, 7, 6], &[2, 2, 3, 3], &[2]]);
    let groups = Conv2dParams { stride: (1, 2), padding: (0, 1), dilation: (1, 1), groups: 2 };
    check_grad(with_bias(groups), &[&[2, 4, 5, 5], &[4, 2, 2, 3], &[4]]);
    check_grad(|x| x[0].conv2d(&x[1], None, p().padding(1)), &[&[3, 5, 5], &[2, 3, 3, 3]]);
}

#[test]
fn pooling_gradients_match_finite_differences() {
    check_grad(|x| x[0].max_pool2d(Pool2d::new(2)), &[&[2, 3, 5, 6]]);
    check_grad(|x| x[0].max_pool2d(Pool2d::new(3).stride(2).padding(1)), &[&[1, 2, 7, 7]]);
    check_grad(|x| x[0].avg_pool2d(Pool2d::new(2)), &[&[2, 3, 5, 6]]);
    check_grad(|x| x[0].avg_pool2d(Pool2d::new(3).stride(2).padding(1)), &[&[2, 7, 6]]);
    // Through a whole conv → relu-free pool stack, every op's rule chained.
    check_grad(
        |x| {
            x[0].conv2d(&x[1], Some(&x[2]), Conv2dParams::default().padding(1))
                .max_pool2d(Pool2d::new(2))
                .avg_pool2d(Pool2d::new(2))
        },
        &[&[2, 1, 8, 8], &[3, 1, 3, 3], &[3]],
    );
}

/// A CNN step big enough to take the two-thread paths (im2col and col2im split in halves, GEMMs
/// cut in two) gives the same bits on one and two threads.
#[test]
fn a_cnn_step_is_bit_identical_on_one_and_two_threads() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            ftheta_core::manual_seed(11);
            let x = Tensor::randn(&[32, 1, 28, 28]);
            let w1 = Tensor::randn(&[16, 1, 3, 3]).mul_scalar(0.3).detach().requires_grad();
            let b1 = Tensor::randn(&[16]).detach().requires_grad();
            let w2 = Tensor::randn(&[32, 16, 3, 3]).mul_scalar(0.1).detach().requires_grad();
            let same = Conv2dParams::default().padding(1);
            let h = x.conv2d(&w1, Some(&b1), same).relu().max_pool2d(Pool2d::new(2));
            let y = h.conv2d(&w2, None, same).relu().avg_pool2d(Pool2d::new(2));
            y.sum().backward();
            let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
            (bits(&y), bits(&w1.grad().unwrap()), bits(&b1.grad().unwrap()), bits(&w2.grad().unwrap()))
        })
    };
    assert!(run(1) == run(2), "a CNN step differs between one and two threads");
}

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let e = std::panic::catch_unwind(f).expect_err("expected a panic");
    e.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn shape_errors_name_the_op_and_both_shapes() {
    let m = panic_message(|| {
        Tensor::zeros(&[1, 3, 5, 5]).conv2d(&Tensor::zeros(&[2, 2, 3, 3]), None, Conv2dParams::default());
    });
    assert!(m.starts_with("conv2d:") && m.contains("[1, 3, 5, 5]") && m.contains("[2, 2, 3, 3]"), "{m}");
    let m = panic_message(|| {
        Tensor::zeros(&[1, 1, 2, 2]).conv2d(&Tensor::zeros(&[2, 1, 3, 3]), None, Conv2dParams::default());
    });
    assert!(m.contains("larger than the padded input"), "{m}");
    let m = panic_message(|| {
        Tensor::zeros(&[1, 1, 4, 4]).conv2d(
            &Tensor::zeros(&[2, 1, 3, 3]),
            Some(&Tensor::zeros(&[3])),
            Conv2dParams::default(),
        );
    });
    assert!(m.contains("bias must be [O]"), "{m}");
    let m = panic_message(|| {
        Tensor::zeros(&[4, 4]).max_pool2d(Pool2d::new(2));
    });
    assert!(m.starts_with("max_pool2d:") && m.contains("[4, 4]"), "{m}");
    let m = panic_message(|| {
        Tensor::zeros(&[1, 4, 4]).avg_pool2d(Pool2d::new(2).padding(2));
    });
    assert!(m.contains("at most half the kernel"), "{m}");
}
