//! The fused ops equal the compositions they replace, in `f32`, values and gradients: `linear`
//! against `matmul(wᵀ) + b`, `cross_entropy` against `log_softmax` + `gather` + `mean` (the
//! composition the PyTorch goldens check), on the shapes of the MNIST MLP and on small ones.

use ftheta_core::{manual_seed, Tensor};

fn close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "element {i}: {g} vs {w}");
    }
}

fn fresh(t: &Tensor) -> Tensor {
    Tensor::from_vec(t.to_vec(), t.shape()).requires_grad()
}

#[test]
fn linear_equals_matmul_plus_bias() {
    manual_seed(11);
    for &(rows, i, o) in &[(1, 1, 1), (3, 5, 2), (100, 1, 16), (128, 784, 256), (128, 256, 128), (33, 128, 10)] {
        let (x, w, b) = (Tensor::randn(&[rows, i]), Tensor::randn(&[o, i]), Tensor::randn(&[o]));
        let r = Tensor::randn(&[rows, o]);
        let (x1, w1, b1) = (fresh(&x), fresh(&w), fresh(&b));
        let y1 = x1.linear(&w1, Some(&b1));
        assert_eq!(y1.op_name(), "AddmmBackward");
        (&y1 * &r).sum().backward();
        let (x2, w2, b2) = (fresh(&x), fresh(&w), fresh(&b));
        let y2 = x2.matmul(&w2.t()) + &b2;
        (&y2 * &r).sum().backward();
        let tol = 1e-5 * (i as f32).sqrt().max(1.0);
        close(&y1.to_vec(), &y2.to_vec(), tol);
        close(&x1.grad().unwrap().to_vec(), &x2.grad().unwrap().to_vec(), tol);
        close(&w1.grad().unwrap().to_vec(), &w2.grad().unwrap().to_vec(), tol * (rows as f32).sqrt());
        close(&b1.grad().unwrap().to_vec(), &b2.grad().unwrap().to_vec(), tol * (rows as f32).sqrt());
    }
}

#[test]
fn cross_entropy_equals_log_softmax_gather_mean() {
    manual_seed(12);
    for &(n, c, scale) in &[(1, 1, 1.0), (4, 3, 1.0), (128, 10, 3.0), (7, 5, 1e3)] {
        let z = Tensor::randn(&[n, c]).mul_scalar(scale);
        let y = Tensor::from_vec((0..n).map(|i| ((i * 7) % c) as f32).collect(), &[n]);
        let z1 = fresh(&z);
        let l1 = z1.cross_entropy(&y);
        l1.backward();
        let z2 = fresh(&z);
        let l2 = z2.log_softmax(-1).gather(1, &y.reshape(&[-1, 1])).mean().neg();
        l2.backward();
        close(&[l1.item()], &[l2.item()], 1e-5);
        close(&z1.grad().unwrap().to_vec(), &z2.grad().unwrap().to_vec(), 1e-6);
    }
}

#[test]
#[should_panic(expected = "cross_entropy: target 3 is not a class index for 3 classes")]
fn cross_entropy_rejects_a_class_out_of_range() {
    Tensor::zeros(&[2, 3]).cross_entropy(&Tensor::from_vec(vec![0.0, 3.0], &[2]));
}

#[test]
fn cross_entropy_over_many_rows_keeps_f32_precision() {
    // Uniform logits: every row's loss is ln 27. Summed in f32 over 30,000 rows the mean drifted
    // by 5e-4 nats; the total is kept in f64.
    let (n, c) = (30_000, 27);
    let z = Tensor::zeros(&[n, c]);
    let y = Tensor::from_vec((0..n).map(|i| (i % c) as f32).collect(), &[n]);
    let loss = z.cross_entropy(&y).item() as f64;
    assert!((loss - (c as f64).ln()).abs() < 1e-6, "{loss} vs ln 27 = {}", (c as f64).ln());
    // And with a gradient to keep: the same value, and each row's softmax is 1/27.
    let zg = Tensor::zeros(&[n, c]).requires_grad();
    let l = zg.cross_entropy(&y);
    assert_eq!(l.item() as f64, loss);
    l.backward();
    let g = zg.grad().unwrap().to_vec();
    let want = (1.0 / c as f64 - 1.0) / n as f64;
    assert!((g[0] as f64 / want - 1.0).abs() < 1e-6, "{} vs {want}", g[0]);
}

#[test]
fn long_sums_keep_f32_precision() {
    // Ten million tenths: eight running f32 totals would end ~1e-3 off; f64 accumulators do not.
    let n = 10_000_000;
    let x = Tensor::full(&[n], 0.1);
    let want = n as f64 * 0.1f32 as f64;
    for (what, got) in [("sum", x.sum().item() as f64), ("mean", x.mean().item() as f64 * n as f64)] {
        assert!((got / want - 1.0).abs() < 1e-6, "{what}: {got} vs {want}");
    }
}

#[test]
fn column_and_strided_sums_keep_f32_precision() {
    let (rows, cols) = (1_000_000, 3);
    let x = Tensor::full(&[rows, cols], 0.1);
    let want = rows as f64 * 0.1f32 as f64;
    let cols_sum = x.sum_dims(&[0], false).to_vec();
    assert!(cols_sum.iter().all(|&v| (v as f64 / want - 1.0).abs() < 1e-6), "{cols_sum:?} vs {want}");
    // A transposed (strided) view summed whole.
    let total = x.t().sum().item() as f64;
    assert!((total / (3.0 * want) - 1.0).abs() < 1e-6, "{total}");
}
