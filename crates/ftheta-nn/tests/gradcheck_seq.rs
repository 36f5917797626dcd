//! Central finite differences in `f64` through whole recurrent layers (`run_layer` is generic over
//! the element type): the gradient of `Σ out·w + Σ h_T·w'` (and `Σ c_T·w''`) with respect to the
//! input sequence, every weight and bias, and the initial states, on shapes drawn by proptest; and
//! through causal multi-head attention (split into heads, scaled dot products, mask, softmax, join).

use ftheta_core::{no_grad, Tensor};
use ftheta_nn::attention::{merge_heads, scaled_dot_product_attention, split_heads};
use ftheta_nn::recurrent::run_layer;
use ftheta_nn::CellKind;
use proptest::prelude::*;

type T = Tensor<f64>;

const EPS: f64 = 1e-6;
const TOL: f64 = 1e-6;

/// Deterministic values in ±[0.2, 1.2] from a seed.
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let m = 0.2 + (s >> 11) as f64 / (1u64 << 53) as f64;
            if (s >> 7) & 1 == 0 {
                m
            } else {
                -m
            }
        })
        .collect()
}

/// The scalar loss of one layer run on `inputs` = [x, W_ih, W_hh, b_ih, b_hh, h0, (c0)].
fn loss(kind: CellKind, inputs: &[T]) -> T {
    let c0 = inputs.get(6);
    let (out, h, c) = run_layer(kind, &inputs[0], [&inputs[1], &inputs[2], &inputs[3], &inputs[4]], &inputs[5], c0);
    let w = |t: &T, seed| Tensor::from_data(values(t.numel(), seed), t.shape());
    let mut l = out.mul(&w(&out, 1)).sum().add(&h.mul(&w(&h, 2)).sum());
    if let Some(c) = c {
        l = l.add(&c.mul(&w(&c, 3)).sum());
    }
    l
}

fn check(kind: CellKind, steps: usize, batch: usize, feat: usize, hidden: usize, seed: u64) {
    let g = kind.gates() * hidden;
    let mut shapes =
        vec![vec![steps, batch, feat], vec![g, feat], vec![g, hidden], vec![g], vec![g], vec![batch, hidden]];
    if kind == CellKind::Lstm {
        shapes.push(vec![batch, hidden]);
    }
    let inputs: Vec<T> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let scale = if i == 0 { 1.0 } else { 0.6 };
            let v = values(s.iter().product(), seed * 31 + i as u64).iter().map(|x| x * scale).collect();
            Tensor::from_data(v, s)
        })
        .collect();
    let leaves: Vec<T> = inputs.iter().map(|x| Tensor::from_data(x.to_vec(), x.shape()).requires_grad()).collect();
    loss(kind, &leaves).backward();
    for (i, x) in inputs.iter().enumerate() {
        let analytic = leaves[i].grad().expect("every input reaches the loss").to_vec();
        let base = x.to_vec();
        for (j, &a) in analytic.iter().enumerate() {
            let at = |d: f64| {
                let mut v = base.clone();
                v[j] += d;
                let mut args = inputs.clone();
                args[i] = Tensor::from_data(v, x.shape());
                no_grad(|| loss(kind, &args).item())
            };
            let numeric = (at(EPS) - at(-EPS)) / (2.0 * EPS);
            assert!(
                (a - numeric).abs() <= TOL * numeric.abs().max(1.0),
                "{kind} input {i} element {j}: backward {a}, finite difference {numeric}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn recurrent_layers_have_the_gradients_of_their_maths(
        kind in prop_oneof![Just(CellKind::Rnn), Just(CellKind::Gru), Just(CellKind::Lstm)],
        steps in 1usize..5, batch in 1usize..3, feat in 1usize..4, hidden in 1usize..4, seed in 0u64..1000,
    ) {
        check(kind, steps, batch, feat, hidden, seed);
    }
}

/// `Σ out·w + Σ weights·w'` of causal attention over heads split from one `[B, T, 3C]` tensor and
/// joined again, as `CausalSelfAttention` computes between its two products.
fn attention_loss(qkv: &T, heads: usize) -> T {
    let [q, k, v] = split_heads(qkv, heads);
    let (y, a) = scaled_dot_product_attention(&q, &k, &v, true);
    let y = merge_heads(&y);
    let w = |t: &T, seed| Tensor::from_data(values(t.numel(), seed), t.shape());
    y.mul(&w(&y, 4)).sum().add(&a.mul(&w(&a, 5)).sum())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn causal_attention_has_the_gradient_of_its_maths(
        batch in 1usize..3, steps in 1usize..5, heads in 1usize..3, d in 1usize..4, seed in 0u64..1000,
    ) {
        let shape = [batch, steps, 3 * heads * d];
        let x: T = Tensor::from_data(values(shape.iter().product(), seed), &shape);
        let leaf = Tensor::from_data(x.to_vec(), &shape).requires_grad();
        attention_loss(&leaf, heads).backward();
        let analytic = leaf.grad().unwrap().to_vec();
        let base = x.to_vec();
        for (j, &a) in analytic.iter().enumerate() {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[j] += delta;
                no_grad(|| attention_loss(&Tensor::from_data(v, &shape), heads).item())
            };
            let numeric = (at(EPS) - at(-EPS)) / (2.0 * EPS);
            prop_assert!((a - numeric).abs() <= TOL * numeric.abs().max(1.0), "element {j}: backward {a}, finite difference {numeric}");
        }
    }
}
