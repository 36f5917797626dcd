//! The API contract from the README: this code must keep compiling and passing.

use ftheta_core::Tensor;

#[test]
fn readme_example() {
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]);
    let t = Tensor::from_vec(vec![2.0, 4.1, 5.9], &[3, 1]);
    let w = Tensor::from_vec(vec![0.5], &[1, 1]).requires_grad();
    let b = Tensor::scalar(0.0).requires_grad();
    let y = x.matmul(&w) + &b;
    let loss = (&y - &t).pow(2.0).mean();
    loss.backward();
    let dw: Vec<f32> = w.grad().unwrap().to_vec();
    assert_eq!(w.shape(), &[1, 1]);
    // L = mean((w·x + b − t)²): ∂L/∂w = 2/3 Σ (w·xᵢ + b − tᵢ)·xᵢ, ∂L/∂b = 2/3 Σ (w·xᵢ + b − tᵢ)
    let r: Vec<f64> = [(1.0, 2.0), (2.0, 4.1), (3.0, 5.9)].iter().map(|&(x, t)| 0.5 * x - t).collect();
    let gw = 2.0 / 3.0 * (r[0] * 1.0 + r[1] * 2.0 + r[2] * 3.0);
    let gb = 2.0 / 3.0 * (r[0] + r[1] + r[2]);
    assert!((dw[0] as f64 - gw).abs() < 1e-5, "{dw:?} vs {gw}");
    assert!((b.grad().unwrap().item() as f64 - gb).abs() < 1e-5);
    let expected_loss = r.iter().map(|v| v * v).sum::<f64>() / 3.0;
    assert!((loss.item() as f64 - expected_loss).abs() < 1e-5);
}

#[test]
fn reshape_accepts_literals_and_inferred_sizes() {
    let x = Tensor::arange(0.0, 6.0, 1.0);
    assert_eq!(x.reshape(&[2, 3]).shape(), &[2, 3]);
    assert_eq!(x.reshape(&[-1, 2]).shape(), &[3, 2]);
    let s: &[usize] = &[6, 1];
    assert_eq!(x.reshape(s).shape(), &[6, 1]);
    assert_eq!((2.0 * &x).sum().item(), 30.0);
}

#[test]
fn a_vector_is_its_own_transpose() {
    let v = Tensor::from_vec(vec![1.0, 2.0], &[2]);
    assert_eq!(v.t().shape(), &[2]);
    assert_eq!(Tensor::scalar(3.0).t().item(), 3.0);
}
