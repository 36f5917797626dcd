//! Central finite-difference gradient checks, in `f64`, for every differentiable op, plus the
//! autograd bookkeeping (accumulation, freed graphs, grad mode, shared subgraphs, views).
//!
//! Every op is checked on random shapes and values drawn by proptest. Inputs stay away from kinks
//! (relu/abs at 0, clamp bounds, max ties) where the one-sided derivatives differ and a finite
//! difference measures neither, and away from points where the op is undefined.

use ftheta_core::{no_grad, BackwardOptions, Tensor, TensorError};
use proptest::collection::vec;
use proptest::prelude::*;

type T = Tensor<f64>;
/// A tensor as proptest sees it: shape and row-major values (plain data shrinks well).
type Data = (Vec<usize>, Vec<f64>);

const EPS: f64 = 1e-6;
/// With eps = 1e-6 in f64 the central difference is good to about 1e-9 here, so a rule that is
/// off by a factor, a sign or a missed broadcast term fails by orders of magnitude.
const TOL: f64 = 1e-5;
const CASES: u32 = 32;

fn numel(s: &[usize]) -> usize {
    s.iter().product()
}

fn tensor(d: &Data) -> T {
    Tensor::from_data(d.1.clone(), &d.0)
}

/// Fixed pseudo-random weights in ±[0.5, 1.5]: the loss `Σ out·w` depends on every output element
/// with a distinct factor, so a gradient sent to the wrong element or with a wrong scale shows.
fn weights(n: usize) -> Vec<f64> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let m = 0.5 + (s >> 11) as f64 / (1u64 << 53) as f64;
            if (s >> 7) & 1 == 0 {
                m
            } else {
                -m
            }
        })
        .collect()
}

fn weighted(out: &T, w: &[f64]) -> f64 {
    out.to_vec().iter().zip(w).map(|(o, w)| o * w).sum()
}

/// Compares the gradients that `backward` gives for `f` at `inputs` with central differences.
#[track_caller]
fn check_grad(f: impl Fn(&[T]) -> T, inputs: &[T]) {
    let leaves: Vec<T> = inputs.iter().map(|x| Tensor::from_data(x.to_vec(), x.shape()).requires_grad()).collect();
    let out = f(&leaves);
    assert!(out.tracks_grad(), "the output of a function of tensors that require grad is not tracked");
    let out_shape = out.shape().to_vec();
    let w = weights(out.numel());
    (&out * &Tensor::from_data(w.clone(), &out_shape)).sum().backward();

    for (i, x) in inputs.iter().enumerate() {
        let analytic = match leaves[i].grad() {
            Some(g) => {
                assert_eq!(g.shape(), x.shape(), "input {i}: the gradient's shape differs from the input's");
                g.to_vec()
            }
            None => vec![0.0; x.numel()],
        };
        let base = x.to_vec();
        for (j, &a) in analytic.iter().enumerate() {
            let eval = |delta: f64| {
                let mut v = base.clone();
                v[j] += delta;
                let args: Vec<T> = inputs
                    .iter()
                    .enumerate()
                    .map(|(k, y)| if k == i { Tensor::from_data(v.clone(), y.shape()) } else { y.clone() })
                    .collect();
                let o = no_grad(|| f(&args));
                assert_eq!(o.shape(), &out_shape[..]);
                weighted(&o, &w)
            };
            let numeric = (eval(EPS) - eval(-EPS)) / (2.0 * EPS);
            assert!(
                (a - numeric).abs() <= TOL * numeric.abs().max(1.0),
                "input {i} (shape {:?}) element {j}: analytic {a} vs numeric {numeric}; inputs {:?}",
                x.shape(),
                inputs.iter().map(|t| t.to_vec()).collect::<Vec<_>>()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies

fn shape(min_rank: usize, max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    vec(1usize..4, min_rank..=max_rank)
}

fn data(
    shape: impl Strategy<Value = Vec<usize>>,
    val: impl Strategy<Value = f64> + Clone,
) -> impl Strategy<Value = Data> {
    shape.prop_flat_map(move |s| {
        let n = numel(&s);
        (Just(s), vec(val.clone(), n))
    })
}

fn plain() -> impl Strategy<Value = f64> + Clone {
    -2.0..2.0f64
}

/// Away from 0, the kink of relu and abs and the pole of 1/x.
fn nonzero() -> impl Strategy<Value = f64> + Clone {
    (0.1..2.0f64, any::<bool>()).prop_map(|(m, neg)| if neg { -m } else { m })
}

fn positive() -> impl Strategy<Value = f64> + Clone {
    0.2..3.0f64
}

/// Values at least 0.2 apart, so a max or min has no tie within any eps step.
fn distinct(shape: impl Strategy<Value = Vec<usize>>) -> impl Strategy<Value = Data> {
    shape
        .prop_flat_map(|s| {
            let n = numel(&s);
            (Just(s), Just((0..n).collect::<Vec<_>>()).prop_shuffle(), vec(0.0..0.1f64, n))
        })
        .prop_map(|(s, perm, noise)| {
            let v = perm.iter().zip(&noise).map(|(&k, e)| k as f64 * 0.3 - 2.0 + e).collect();
            (s, v)
        })
}

/// NumPy broadcasting of two shapes (the test's own, independent of the engine's).
fn broadcast(a: &[usize], b: &[usize]) -> Vec<usize> {
    let nd = a.len().max(b.len());
    let get = |s: &[usize], i: usize| if i < nd - s.len() { 1 } else { s[i - (nd - s.len())] };
    (0..nd).map(|i| get(a, i).max(get(b, i))).collect()
}

/// Two shapes that broadcast together: both derived from one full shape by dropping leading
/// dimensions and setting others to 1, which covers `[a, b]` with `[b]`, `[a, 1]` with `[1, b]`,
/// scalars and equal shapes.
fn bshapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    vec(1usize..4, 0..=3)
        .prop_flat_map(|full| {
            let r = full.len();
            (Just(full), vec(any::<bool>(), r), vec(any::<bool>(), r), 0..=r, 0..=r)
        })
        .prop_map(|(full, ma, mb, da, db)| {
            let cut = |m: &[bool], drop: usize| -> Vec<usize> {
                full.iter().zip(m).skip(drop).map(|(&d, &one)| if one { 1 } else { d }).collect()
            };
            (cut(&ma, da), cut(&mb, db))
        })
}

fn pair(
    va: impl Strategy<Value = f64> + Clone,
    vb: impl Strategy<Value = f64> + Clone,
) -> impl Strategy<Value = (Data, Data)> {
    bshapes().prop_flat_map(move |(sa, sb)| {
        let (na, nb) = (numel(&sa), numel(&sb));
        ((Just(sa), vec(va.clone(), na)), (Just(sb), vec(vb.clone(), nb)))
    })
}

/// Some dims of the tensor (each maybe written from the end), and keepdim.
fn with_dims(d: impl Strategy<Value = Data>) -> impl Strategy<Value = (Data, Vec<isize>, bool)> {
    d.prop_flat_map(|d| {
        let r = d.0.len();
        (Just(d), vec((any::<bool>(), any::<bool>()), r), any::<bool>())
    })
    .prop_map(|(d, picks, keep)| {
        let r = d.0.len() as isize;
        let dims = picks
            .iter()
            .enumerate()
            .filter(|(_, (p, _))| *p)
            .map(|(i, (_, neg))| if *neg { i as isize - r } else { i as isize })
            .collect();
        (d, dims, keep)
    })
}

/// A tensor and one valid dim, as given (maybe negative).
fn with_dim(d: impl Strategy<Value = Data>) -> impl Strategy<Value = (Data, isize)> {
    d.prop_flat_map(|d| {
        let r = d.0.len().max(1) as isize;
        (Just(d), -r..r)
    })
}

fn one(d: &Data) -> Vec<T> {
    vec![tensor(d)]
}

fn two(a: &Data, b: &Data) -> Vec<T> {
    vec![tensor(a), tensor(b)]
}

fn cfg() -> ProptestConfig {
    // No regression files: a failure prints its minimal case, and the suite stays hermetic.
    ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------------------------
// Elementwise binary ops, methods and operators

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn add_sub_mul_broadcast((a, b) in pair(plain(), plain())) {
        let x = two(&a, &b);
        check_grad(|x| x[0].add(&x[1]), &x);
        check_grad(|x| x[0].sub(&x[1]), &x);
        check_grad(|x| x[0].mul(&x[1]), &x);
        check_grad(|x| &x[0] + &x[1], &x);
        check_grad(|x| x[0].clone() + x[1].clone(), &x);
        check_grad(|x| &x[0] - x[1].clone(), &x);
        check_grad(|x| x[0].clone() - &x[1], &x);
        check_grad(|x| &x[0] * &x[1], &x);
        check_grad(|x| x[0].clone() * x[1].clone(), &x);
        // the same tensor on both sides: both rules add into one gradient
        check_grad(|x| &x[0] * &x[0], &x[..1]);
        check_grad(|x| &x[0] - &x[0].exp(), &x[..1]);
    }

    #[test]
    fn div_broadcast((a, b) in pair(plain(), nonzero())) {
        let x = two(&a, &b);
        check_grad(|x| x[0].div(&x[1]), &x);
        check_grad(|x| &x[0] / &x[1], &x);
        check_grad(|x| x[0].clone() / x[1].clone(), &x);
        check_grad(|x| &x[0] / &x[0].exp(), &x[1..]);
    }

    #[test]
    fn scalar_forms(a in data(shape(0, 3), nonzero()), c in 0.5..3.0f64) {
        let x = one(&a);
        check_grad(|x| x[0].add_scalar(c), &x);
        check_grad(|x| x[0].mul_scalar(c), &x);
        check_grad(|x| x[0].mul_scalar(-c), &x);
        check_grad(|x| &x[0] + c, &x);
        check_grad(|x| x[0].clone() + c, &x);
        check_grad(|x| &x[0] - c, &x);
        check_grad(|x| x[0].clone() - c, &x);
        check_grad(|x| &x[0] * c, &x);
        check_grad(|x| x[0].clone() * c, &x);
        check_grad(|x| &x[0] / c, &x);
        check_grad(|x| x[0].clone() / c, &x);
        check_grad(|x| c + &x[0], &x);
        check_grad(|x| c + x[0].clone(), &x);
        check_grad(|x| c - &x[0], &x);
        check_grad(|x| c - x[0].clone(), &x);
        check_grad(|x| c * &x[0], &x);
        check_grad(|x| c * x[0].clone(), &x);
        check_grad(|x| c / &x[0], &x);
        check_grad(|x| c / x[0].clone(), &x);
        check_grad(|x| -&x[0], &x);
        check_grad(|x| -x[0].clone(), &x);
        check_grad(|x| x[0].neg(), &x);
    }

    /// `a` sits near k + 0.25 and `b` near k + 0.75 for whole k, so they never tie.
    #[test]
    fn maximum_minimum((a, b) in pair(
        (-3i32..3, 0.0..0.1f64).prop_map(|(k, e)| k as f64 + 0.2 + e),
        (-3i32..3, 0.0..0.1f64).prop_map(|(k, e)| k as f64 + 0.7 + e),
    )) {
        let x = two(&a, &b);
        check_grad(|x| x[0].maximum(&x[1]), &x);
        check_grad(|x| x[0].minimum(&x[1]), &x);
        check_grad(|x| x[1].maximum(&x[0]), &x);
        check_grad(|x| x[1].minimum(&x[0]), &x);
    }
}

// ---------------------------------------------------------------------------------------------
// Elementwise unary ops

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn smooth_unary(a in data(shape(0, 3), -3.0..3.0f64)) {
        let x = one(&a);
        check_grad(|x| x[0].exp(), &x);
        check_grad(|x| x[0].sigmoid(), &x);
        check_grad(|x| x[0].tanh(), &x);
        check_grad(|x| x[0].sin(), &x);
        check_grad(|x| x[0].cos(), &x);
        check_grad(|x| x[0].softplus(), &x);
        check_grad(|x| x[0].gelu(), &x);
        check_grad(|x| x[0].pow(2.0), &x);
        check_grad(|x| x[0].pow(3.0), &x);
    }

    #[test]
    fn large_inputs_stay_stable(a in data(shape(1, 2), nonzero()), scale in 10.0..40.0f64) {
        let x = vec![tensor(&a).mul_scalar(scale)];
        check_grad(|x| x[0].sigmoid(), &x);
        check_grad(|x| x[0].softplus(), &x);
        check_grad(|x| x[0].tanh(), &x);
    }

    #[test]
    fn positive_domain(a in data(shape(0, 3), positive()), e in prop_oneof![Just(0.5), Just(-1.0), Just(-1.5), Just(1.7), Just(-0.5)]) {
        let x = one(&a);
        check_grad(|x| x[0].log(), &x);
        check_grad(|x| x[0].sqrt(), &x);
        check_grad(|x| x[0].pow(e), &x);
    }

    #[test]
    fn kinked_unary(a in data(shape(0, 3), nonzero())) {
        let x = one(&a);
        check_grad(|x| x[0].relu(), &x);
        check_grad(|x| x[0].abs(), &x);
    }

    /// Bounds at ±0.5 for clamp and kinks at ±3 for hard_sigmoid, with values kept 0.05 away.
    #[test]
    fn clamp_and_hard_sigmoid(
        a in data(shape(0, 3), (-3i32..3, 0.05..0.45f64).prop_map(|(k, u)| k as f64 * 0.5 + u)),
        b in data(shape(0, 3), (-5i32..5, 0.05..0.95f64).prop_map(|(k, u)| k as f64 + u)),
    ) {
        let x = one(&a);
        check_grad(|x| x[0].clamp(-0.5, 0.5), &x);
        check_grad(|x| x[0].clamp(-10.0, 0.5), &x);
        check_grad(|x| x[0].hard_sigmoid(), &one(&b));
    }
}

// ---------------------------------------------------------------------------------------------
// Reductions

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn sum_mean_all(a in data(shape(0, 3), plain())) {
        let x = one(&a);
        check_grad(|x| x[0].sum(), &x);
        check_grad(|x| x[0].mean(), &x);
    }

    #[test]
    fn sum_mean_dims((a, dims, keep) in with_dims(data(shape(1, 3), plain()))) {
        let x = one(&a);
        check_grad(|x| x[0].sum_dims(&dims, keep), &x);
        check_grad(|x| x[0].mean_dims(&dims, keep), &x);
        if a.0.len() >= 2 {
            // a reduction of a transposed view reads strided data
            check_grad(|x| x[0].t().sum_dims(&dims, keep), &x);
        }
    }

    #[test]
    fn max_min_all(a in distinct(shape(0, 3))) {
        let x = one(&a);
        check_grad(|x| x[0].max(), &x);
        check_grad(|x| x[0].min(), &x);
    }

    #[test]
    fn max_min_dims((a, dims, keep) in with_dims(distinct(shape(1, 3)))) {
        let x = one(&a);
        check_grad(|x| x[0].max_dims(&dims, keep), &x);
        check_grad(|x| x[0].min_dims(&dims, keep), &x);
    }

    #[test]
    fn var_all(a in data(shape(1, 3), plain())) {
        let x = one(&a);
        check_grad(|x| x[0].var(false), &x);
        if x[0].numel() > 1 {
            check_grad(|x| x[0].var(true), &x);
        }
    }

    #[test]
    fn var_dims((a, dims, keep) in with_dims(data(shape(1, 3), plain()))) {
        let x = one(&a);
        check_grad(|x| x[0].var_dims(&dims, false, keep), &x);
        let r = a.0.len() as isize;
        let count: usize = if dims.is_empty() {
            numel(&a.0)
        } else {
            dims.iter().map(|&d| a.0[d.rem_euclid(r) as usize]).product()
        };
        if count > 1 {
            check_grad(|x| x[0].var_dims(&dims, true, keep), &x);
        }
    }

    #[test]
    fn logsumexp((a, d) in with_dim(data(shape(1, 3), -3.0..3.0f64)), keep in any::<bool>()) {
        let x = one(&a);
        check_grad(|x| x[0].logsumexp(d, keep), &x);
    }

    #[test]
    fn softmax((a, d) in with_dim(data(shape(0, 3), -3.0..3.0f64))) {
        let x = one(&a);
        check_grad(|x| x[0].softmax(d), &x);
        check_grad(|x| x[0].log_softmax(d), &x);
    }

    /// A mask over the last two dimensions (broadcast over the leading ones), filled with a finite
    /// value and with −∞ before a softmax (attention's causal mask; every row keeps one element).
    #[test]
    fn masked_fill(a in data(vec(1usize..4, 2..=3), plain()), bits in vec(any::<bool>(), 9), value in plain()) {
        let x = one(&a);
        let (r, c) = (a.0[a.0.len() - 2], a.0[a.0.len() - 1]);
        let m: Vec<f64> = (0..r * c).map(|k| if bits[k] { 1.0 } else { 0.0 }).collect();
        let mask = Tensor::from_data(m, &[r, c]);
        check_grad(|x| x[0].masked_fill(&mask, value), &x);
        let keep_first: Vec<f64> = (0..r * c).map(|k| if bits[k] && k % c != 0 { 1.0 } else { 0.0 }).collect();
        let mask = Tensor::from_data(keep_first, &[r, c]);
        check_grad(|x| x[0].masked_fill(&mask, f64::NEG_INFINITY).softmax(-1), &x);
    }
}

// ---------------------------------------------------------------------------------------------
// Matrix multiply

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn matmul_2d(m in 1usize..4, k in 1usize..4, n in 1usize..4, v in vec(plain(), 18)) {
        let a = Tensor::from_data(v[..m * k].to_vec(), &[m, k]);
        let b = Tensor::from_data(v[9..9 + k * n].to_vec(), &[k, n]);
        check_grad(|x| x[0].matmul(&x[1]), &[a, b]);
    }

    #[test]
    fn matmul_batched(bt in 1usize..4, m in 1usize..4, k in 1usize..4, n in 1usize..4, v in vec(plain(), 54)) {
        let a = Tensor::from_data(v[..bt * m * k].to_vec(), &[bt, m, k]);
        let b = Tensor::from_data(v[27..27 + bt * k * n].to_vec(), &[bt, k, n]);
        check_grad(|x| x[0].matmul(&x[1]), &[a, b]);
    }

    /// `[b1, 1, m, k] @ [b2, k, n]` and a plain matrix against a batch, both ways round.
    #[test]
    fn matmul_batch_broadcast(b1 in 1usize..3, b2 in 1usize..3, m in 1usize..3, k in 1usize..3, n in 1usize..3, v in vec(plain(), 32)) {
        let a = Tensor::from_data(v[..b1 * m * k].to_vec(), &[b1, 1, m, k]);
        let b = Tensor::from_data(v[16..16 + b2 * k * n].to_vec(), &[b2, k, n]);
        check_grad(|x| x[0].matmul(&x[1]), &[a, b]);
        let a = Tensor::from_data(v[..m * k].to_vec(), &[m, k]);
        let b = Tensor::from_data(v[16..16 + b2 * k * n].to_vec(), &[b2, k, n]);
        check_grad(|x| x[0].matmul(&x[1]), &[a, b]);
        let a = Tensor::from_data(v[..b1 * m * k].to_vec(), &[b1, m, k]);
        let b = Tensor::from_data(v[16..16 + k * n].to_vec(), &[k, n]);
        check_grad(|x| x[0].matmul(&x[1]), &[a, b]);
    }

    #[test]
    fn matmul_vectors(bt in 1usize..3, m in 1usize..4, k in 1usize..4, n in 1usize..4, v in vec(plain(), 48)) {
        let vec_k = || Tensor::from_data(v[..k].to_vec(), &[k]);
        let mat = |r: usize, c: usize| Tensor::from_data(v[12..12 + r * c].to_vec(), &[r, c]);
        let batch = |r: usize, c: usize| Tensor::from_data(v[24..24 + bt * r * c].to_vec(), &[bt, r, c]);
        check_grad(|x| x[0].matmul(&x[1]), &[vec_k(), mat(k, n)]);
        check_grad(|x| x[0].matmul(&x[1]), &[mat(m, k), vec_k()]);
        check_grad(|x| x[0].matmul(&x[1]), &[vec_k(), batch(k, n)]);
        check_grad(|x| x[0].matmul(&x[1]), &[batch(m, k), vec_k()]);
        let other = Tensor::from_data(v[12..12 + k].to_vec(), &[k]);
        check_grad(|x| x[0].matmul(&x[1]), &[vec_k(), other]);
    }

    /// Operands that are strided views go to the kernel without a copy; their gradients must still
    /// land in the right places of the underlying leaves.
    #[test]
    fn matmul_views(bt in 1usize..3, m in 1usize..4, k in 1usize..4, n in 1usize..4, v in vec(plain(), 54)) {
        let at = Tensor::from_data(v[..k * m].to_vec(), &[k, m]);
        let bt_ = Tensor::from_data(v[9..9 + n * k].to_vec(), &[n, k]);
        check_grad(|x| x[0].t().matmul(&x[1].t()), &[at.clone(), bt_.clone()]);
        check_grad(|x| x[0].t().matmul(&x[0]), &[at]);
        let a3 = Tensor::from_data(v[18..18 + bt * k * m].to_vec(), &[bt, k, m]);
        let b3 = Tensor::from_data(v[36..36 + bt * n * k].to_vec(), &[n, bt, k]);
        check_grad(|x| x[0].transpose(-1, -2).matmul(&x[1].permute(&[1, 2, 0])), &[a3, b3]);
        // a column slice: strided rows with an offset
        let wide = Tensor::from_data(v[..m * (k + 1)].to_vec(), &[m, k + 1]);
        let b = Tensor::from_data(v[20..20 + k * n].to_vec(), &[k, n]);
        check_grad(|x| x[0].narrow(1, 1, k).matmul(&x[1]), &[wide, b]);
    }
}

// ---------------------------------------------------------------------------------------------
// Fused ops: linear (x·Wᵀ + b) and cross-entropy

proptest! {
    #![proptest_config(cfg())]

    /// `x·Wᵀ + b` with and without bias, on a 2-D input, a 3-D one and a transposed (strided) one.
    #[test]
    fn linear(r in 1usize..4, i in 1usize..4, o in 1usize..4, bt in 1usize..3, v in vec(plain(), 60)) {
        let x = Tensor::from_data(v[..r * i].to_vec(), &[r, i]);
        let w = Tensor::from_data(v[12..12 + o * i].to_vec(), &[o, i]);
        let b = Tensor::from_data(v[24..24 + o].to_vec(), &[o]);
        check_grad(|t| t[0].linear(&t[1], Some(&t[2])), &[x.clone(), w.clone(), b.clone()]);
        check_grad(|t| t[0].linear(&t[1], None), &[x, w.clone()]);
        let x3 = Tensor::from_data(v[27..27 + bt * r * i].to_vec(), &[bt, r, i]);
        check_grad(|t| t[0].linear(&t[1], Some(&t[2])), &[x3, w.clone(), b.clone()]);
        let xt = Tensor::from_data(v[..i * r].to_vec(), &[i, r]);
        check_grad(|t| t[0].t().linear(&t[1], Some(&t[2])), &[xt, w, b]);
    }

    /// Mean cross-entropy against class indices, with logits that are large or near-tied.
    #[test]
    fn cross_entropy(n in 1usize..5, c in 1usize..5, v in vec(-3.0..3.0f64, 16), cls in vec(0usize..100, 4), scale in prop_oneof![Just(1.0), Just(30.0)]) {
        let z = Tensor::from_data(v[..n * c].iter().map(|x| x * scale).collect(), &[n, c]);
        let y = Tensor::from_data(cls[..n].iter().map(|&k| (k % c) as f64).collect(), &[n]);
        check_grad(|t| t[0].cross_entropy(&y), &[z]);
    }
}

/// A weight used twice accumulates both gradients, and a second backward adds into the existing
/// gradient buffer (the in-place path of `linear`) exactly as a fresh buffer would.
#[test]
fn linear_accumulates_into_existing_gradients() {
    let x = Tensor::from_data(vec![0.5, -1.0, 2.0, 1.5, 0.25, -0.75], &[3, 2]);
    let w = leaf(&[0.3, -0.2, 0.1, 0.7], &[2, 2]);
    let b = leaf(&[0.05, -0.1], &[2]);
    let loss = || x.linear(&w, Some(&b)).linear(&w, Some(&b)).pow(2.0).sum();
    loss().backward();
    let (gw, gb) = (w.grad().unwrap().to_vec(), b.grad().unwrap().to_vec());
    loss().backward();
    let twice = |g: &[f64]| g.iter().map(|v| 2.0 * v).collect::<Vec<_>>();
    assert_close(&w.grad().unwrap().to_vec(), &twice(&gw));
    assert_close(&b.grad().unwrap().to_vec(), &twice(&gb));
    // And the same numbers as matmul + add.
    let (w2, b2) = (leaf(&[0.3, -0.2, 0.1, 0.7], &[2, 2]), leaf(&[0.05, -0.1], &[2]));
    let h = x.matmul(&w2.t()).add(&b2);
    h.matmul(&w2.t()).add(&b2).pow(2.0).sum().backward();
    assert_close(&w2.grad().unwrap().to_vec(), &gw);
    assert_close(&b2.grad().unwrap().to_vec(), &gb);
}

// ---------------------------------------------------------------------------------------------
// Shape ops

fn permutation(rank: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..rank).collect::<Vec<_>>()).prop_shuffle()
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn reshape(a in data(shape(0, 3), plain())) {
        let x = one(&a);
        let n = numel(&a.0);
        let rev: Vec<usize> = a.0.iter().rev().copied().collect();
        check_grad(|x| x[0].reshape(&rev), &x);
        check_grad(|x| x[0].reshape(&[n]), &x);
        check_grad(|x| x[0].reshape(&[-1isize, 1]), &x);
        check_grad(|x| x[0].flatten(), &x);
        if a.0.len() >= 2 {
            // a transposed view cannot be reshaped in place: the copy path
            check_grad(|x| x[0].t().reshape(&[n]), &x);
        }
    }

    #[test]
    fn permute((a, perm) in data(shape(1, 4), plain()).prop_flat_map(|d| { let r = d.0.len(); (Just(d), permutation(r)) })) {
        let x = one(&a);
        check_grad(|x| x[0].permute(&perm), &x);
        // permuting twice composes the inverse permutations in the backward
        check_grad(|x| x[0].permute(&perm).permute(&perm), &x);
    }

    #[test]
    fn transpose((a, d0, d1) in data(shape(2, 4), plain()).prop_flat_map(|d| { let r = d.0.len() as isize; (Just(d), -r..r, -r..r) })) {
        let x = one(&a);
        check_grad(|x| x[0].transpose(d0, d1), &x);
        check_grad(|x| x[0].t(), &x);
        check_grad(|x| x[0].t().contiguous(), &x);
        check_grad(|x| x[0].contiguous(), &x);
    }

    #[test]
    fn broadcast_to_and_sum_to((sa, sb) in bshapes(), v in vec(plain(), 27)) {
        let full = broadcast(&sa, &sb);
        let a = Tensor::from_data(v[..numel(&sa)].to_vec(), &sa);
        check_grad(|x| x[0].broadcast_to(&full), &[a]);
        let f = Tensor::from_data(v[..numel(&full)].to_vec(), &full);
        check_grad(|x| x[0].sum_to(&sb), &[f]);
    }

    #[test]
    fn narrow((a, d, start, len) in data(shape(1, 3), plain()).prop_flat_map(|d| {
        let r = d.0.len();
        (Just(d), 0..r)
    }).prop_flat_map(|(d, dim)| {
        let size = d.0[dim];
        (Just(d), Just(dim), 0..size)
    }).prop_flat_map(|(d, dim, start)| {
        let size = d.0[dim];
        (Just(d), Just(dim), Just(start), 1..=size - start)
    })) {
        let x = one(&a);
        let r = a.0.len() as isize;
        check_grad(|x| x[0].narrow(d as isize, start, len), &x);
        check_grad(|x| x[0].narrow(d as isize - r, start, len).exp(), &x);
        if a.0.len() >= 2 {
            // a narrow of a transposed view
            check_grad(|x| x[0].t().narrow(d as isize, 0, 1), &x);
        }
    }

    #[test]
    fn squeeze_unsqueeze((a, pos) in data(shape(0, 3), plain()).prop_flat_map(|d| { let r = d.0.len(); (Just(d), 0..=r) })) {
        let x = one(&a);
        let r = a.0.len() as isize;
        check_grad(|x| x[0].unsqueeze(pos as isize), &x);
        check_grad(|x| x[0].unsqueeze(pos as isize - r - 1), &x);
        check_grad(|x| x[0].unsqueeze(pos as isize).squeeze(pos as isize), &x);
        check_grad(|x| x[0].unsqueeze(pos as isize).squeeze(pos as isize - r - 1), &x);
    }

    #[test]
    fn cat((base, d, lens, v) in (shape(1, 3), vec(1usize..4, 2..=3), vec(plain(), 81)).prop_flat_map(|(s, lens, v)| {
        let r = s.len();
        (Just(s), 0..r, Just(lens), Just(v))
    })) {
        let mut off = 0;
        let parts: Vec<T> = lens.iter().map(|&l| {
            let mut s = base.clone();
            s[d] = l;
            let n = numel(&s);
            off += n;
            Tensor::from_data(v[off - n..off].to_vec(), &s)
        }).collect();
        let r = base.len() as isize;
        check_grad(|x| Tensor::cat(x, d as isize), &parts);
        check_grad(|x| Tensor::cat(x, d as isize - r), &parts);
        // the same tensor twice: both slices of the gradient add up
        check_grad(|x| Tensor::cat(&[&x[0], &x[0]], d as isize), &parts[..1]);
    }

    #[test]
    fn stack((a, b, c, d) in (shape(0, 3), 0usize..4).prop_flat_map(|(s, d)| {
        let r = s.len();
        (data(Just(s.clone()), plain()), data(Just(s.clone()), plain()), data(Just(s), plain()), Just(d.min(r)))
    })) {
        let x = vec![tensor(&a), tensor(&b), tensor(&c)];
        let r = a.0.len() as isize;
        check_grad(|x| Tensor::stack(x, d as isize), &x);
        check_grad(|x| Tensor::stack(&x[..2], d as isize - r - 1), &x[..2]);
    }

    #[test]
    fn index_select((a, d, idx) in data(shape(1, 3), plain()).prop_flat_map(|d| {
        let r = d.0.len();
        (Just(d), 0..r)
    }).prop_flat_map(|(d, dim)| {
        let size = d.0[dim];
        (Just(d), Just(dim), vec(0..size, 1..6))
    })) {
        let x = one(&a);
        check_grad(|x| x[0].index_select(d as isize, &idx), &x);
        check_grad(|x| x[0].index_select(d as isize - a.0.len() as isize, &idx), &x);
    }

    #[test]
    fn gather((a, d, ishape) in data(shape(1, 3), plain()).prop_flat_map(|d| {
        let r = d.0.len();
        (Just(d), 0..r)
    }).prop_flat_map(|(d, dim)| {
        let ishape: Vec<BoxedStrategy<usize>> = d.0.iter().enumerate()
            .map(|(i, &s)| if i == dim { (1usize..5).boxed() } else { (1..=s).boxed() })
            .collect();
        (Just(d), Just(dim), ishape)
    }), seed in vec(0usize..1000, 60)) {
        let size = a.0[d];
        let idx: Vec<f64> = seed[..numel(&ishape)].iter().map(|&s| (s % size) as f64).collect();
        let index = Tensor::from_data(idx, &ishape);
        let x = one(&a);
        check_grad(|x| x[0].gather(d as isize, &index), &x);
        check_grad(|x| x[0].gather(d as isize - a.0.len() as isize, &index), &x);
    }
}

// ---------------------------------------------------------------------------------------------
// Autograd bookkeeping

fn leaf(v: &[f64], shape: &[usize]) -> T {
    Tensor::from_data(v.to_vec(), shape).requires_grad()
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{got:?} vs {want:?}");
    }
}

#[test]
fn gradients_accumulate_until_zero_grad() {
    let x = leaf(&[1.0, -2.0, 3.0], &[3]);
    (&x * &x).sum().backward();
    assert_close(&x.grad().unwrap().to_vec(), &[2.0, -4.0, 6.0]);
    (&x * &x).sum().backward();
    assert_close(&x.grad().unwrap().to_vec(), &[4.0, -8.0, 12.0]);
    x.zero_grad();
    assert_close(&x.grad().unwrap().to_vec(), &[0.0, 0.0, 0.0]);
    (&x * 3.0).sum().backward();
    assert_close(&x.grad().unwrap().to_vec(), &[3.0, 3.0, 3.0]);
    x.clear_grad();
    assert!(x.grad().is_none());
}

/// The first gradient a leaf receives may be taken over as its buffer; accumulating into it later
/// must not change a tensor that the user still holds.
#[test]
fn accumulation_does_not_write_into_other_tensors() {
    let x = leaf(&[1.0, 2.0], &[2]);
    let seed = Tensor::from_data(vec![1.0, 1.0], &[2]);
    x.add_scalar(0.0).backward_with_grad(&seed);
    x.add_scalar(0.0).backward_with_grad(&seed);
    assert_close(&seed.to_vec(), &[1.0, 1.0]);
    assert_close(&x.grad().unwrap().to_vec(), &[2.0, 2.0]);

    // h's retained gradient and z's first gradient are the same values
    let z = leaf(&[1.0, 2.0], &[2]);
    let c = Tensor::from_data(vec![3.0, 4.0], &[2]);
    let h = z.add_scalar(0.0);
    h.retain_grad();
    (&h * &c).sum().backward();
    let held = h.grad().unwrap();
    (&z.add_scalar(0.0) * &c).sum().backward();
    assert_close(&z.grad().unwrap().to_vec(), &[6.0, 8.0]);
    assert_close(&held.to_vec(), &[3.0, 4.0]);
}

#[test]
fn second_backward_through_freed_graph_errors() {
    let x = leaf(&[0.5, 1.5], &[2]);
    let y = x.exp().sum();
    y.backward();
    match y.try_backward() {
        Err(TensorError::Autograd(m)) => assert!(m.contains("freed"), "{m}"),
        other => panic!("expected an autograd error, got {other:?}"),
    }
    // the leaf gradient is left as the first pass made it
    assert_close(&x.grad().unwrap().to_vec(), &[0.5f64.exp(), 1.5f64.exp()]);
}

#[test]
fn retain_graph_allows_a_second_backward() {
    let x = leaf(&[0.5, 1.5], &[2]);
    let y = (x.exp() * &x).sum();
    y.backward_with(None, BackwardOptions { retain_graph: true, ..Default::default() }).unwrap();
    y.backward_with(None, BackwardOptions { retain_graph: true, ..Default::default() }).unwrap();
    y.try_backward().unwrap();
    let want: Vec<f64> = [0.5f64, 1.5].iter().map(|v| 3.0 * v.exp() * (1.0 + v)).collect();
    assert_close(&x.grad().unwrap().to_vec(), &want);
    assert!(y.try_backward().is_err(), "the last plain backward frees the graph");
}

#[test]
fn backward_from_non_scalar_errors() {
    let x = leaf(&[1.0, 2.0], &[2]);
    let y = &x * 2.0;
    match y.try_backward() {
        Err(TensorError::Autograd(m)) => assert!(m.contains("[2]"), "{m}"),
        other => panic!("expected an autograd error, got {other:?}"),
    }
    assert!(x.grad().is_none());
    // a one-element tensor of any rank is a loss
    x.reshape(&[1, 2]).narrow(1, 1, 1).try_backward().unwrap();
    assert_close(&x.grad().unwrap().to_vec(), &[0.0, 1.0]);
}

#[test]
fn backward_from_untracked_errors() {
    let x = Tensor::<f64>::from_data(vec![1.0], &[1]);
    assert!(matches!(x.sum().try_backward(), Err(TensorError::Autograd(_))));
}

#[test]
fn no_grad_produces_untracked_tensors() {
    let x = leaf(&[1.0, 2.0], &[2]);
    let y = no_grad(|| (&x * 2.0).exp().sum());
    assert!(!y.tracks_grad());
    assert!(y.is_leaf());
    assert!(y.try_backward().is_err());
    {
        let _guard = ftheta_core::NoGradGuard::new();
        assert!(!x.matmul(&x).tracks_grad());
        let inner = no_grad(ftheta_core::is_grad_enabled);
        assert!(!inner);
        assert!(!ftheta_core::is_grad_enabled(), "nested no_grad restores the outer (off) mode");
    }
    assert!(ftheta_core::is_grad_enabled());
    assert!(x.exp().tracks_grad());
    assert!(x.grad().is_none());
}

#[test]
fn inputs_that_do_not_require_grad_get_none() {
    let x = leaf(&[1.0, 2.0], &[2]);
    let c = Tensor::<f64>::from_data(vec![3.0, 4.0], &[2]);
    (&x * &c).sum().backward();
    assert!(c.grad().is_none());
    assert_close(&x.grad().unwrap().to_vec(), &[3.0, 4.0]);
}

#[test]
fn diamond_sums_both_paths() {
    let x = leaf(&[0.3, -0.7, 1.1], &[3]);
    let h = x.exp();
    // x reaches y through h twice and directly once
    let y = (&h * &h + &h * &x).sum();
    y.backward();
    let want: Vec<f64> = [0.3f64, -0.7, 1.1].iter().map(|v| 2.0 * (2.0 * v).exp() + v.exp() * (1.0 + v)).collect();
    assert_close(&x.grad().unwrap().to_vec(), &want);
    check_grad(|x| (&x[0].exp() * &x[0].exp() + &x[0].exp() * &x[0]).sum(), &[x.detach()]);
}

#[test]
fn views_route_gradients_to_the_right_elements() {
    // x = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    let v: Vec<f64> = (0..12).map(|i| i as f64).collect();
    let x = leaf(&v, &[3, 4]);
    // columns 1..3, transposed: [[1, 5, 9], [2, 6, 10]], weighted by [[1, 2, 3], [4, 5, 6]]
    let w = Tensor::from_data(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let y = x.narrow(1, 1, 2).t();
    assert!(!y.is_contiguous());
    (&y * &w).sum().backward();
    assert_close(&x.grad().unwrap().to_vec(), &[0.0, 1.0, 4.0, 0.0, 0.0, 2.0, 5.0, 0.0, 0.0, 3.0, 6.0, 0.0]);

    // two overlapping views of one leaf
    let x = leaf(&v, &[3, 4]);
    let y = x.narrow(0, 0, 2).sum() + x.narrow(0, 1, 2).mul_scalar(10.0).sum();
    y.backward();
    let want: Vec<f64> = (0..12).map(|i| [1.0, 11.0, 10.0][i / 4]).collect();
    assert_close(&x.grad().unwrap().to_vec(), &want);

    let x = Tensor::from_data(v, &[3, 4]);
    check_grad(|x| x[0].narrow(1, 1, 2).t().exp() * x[0].narrow(0, 1, 2).narrow(1, 0, 3), &[x.mul_scalar(0.1)]);
    check_grad(|x| x[0].t().narrow(0, 2, 2).reshape(&[2, 3]).tanh(), &[x.mul_scalar(0.1)]);
}

/// A deliberately wrong value must be caught: the checker itself is under test here.
#[test]
#[should_panic(expected = "analytic")]
fn check_grad_catches_a_wrong_gradient() {
    let x = Tensor::<f64>::from_data(vec![0.5, 1.0], &[2]);
    // detach hides the second factor from autograd, so the analytic gradient is half the truth
    check_grad(|x| &x[0] * &x[0].detach(), &[x]);
}
