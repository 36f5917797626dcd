//! The sparse (CSR) matrix and its product with a dense matrix: construction and its errors, the
//! product and its gradient against the dense product of the same matrix, central finite
//! differences in f64, and PyTorch's values (`tests/golden/sparse.json`, written by
//! `scripts/golden_graph.py`).

use ftheta_core::{no_grad, CsrMatrix, Float, Tensor, TensorError};
use proptest::prelude::*;
use serde_json::Value;

static GOLDEN: &str = include_str!("golden/sparse.json");

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

fn tensor<T: Float>(v: &Value) -> Tensor<T> {
    Tensor::from_data(floats(&v["data"]).into_iter().map(T::from_f64).collect(), &usizes(&v["shape"]))
}

fn entries<T: Float>(v: &Value) -> Vec<(usize, usize, T)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let e = e.as_array().unwrap();
            (e[0].as_u64().unwrap() as usize, e[1].as_u64().unwrap() as usize, T::from_f64(e[2].as_f64().unwrap()))
        })
        .collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= rtol * w.abs().max(1.0), "{what}[{i}]: got {g}, expected {w}");
    }
}

#[test]
fn forward_and_gradient_match_pytorch() {
    let root: Value = serde_json::from_str(GOLDEN).unwrap();
    let cases = root["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let shape = usizes(&c["shape"]);
        let a = CsrMatrix::<f32>::from_triplets(shape[0], shape[1], &entries(&c["entries"])).unwrap();
        assert_close(&format!("{name} dense"), &a.to_dense().to_vec_f64(), &floats(&c["dense"]["data"]), 1e-12);
        let x = tensor::<f32>(&c["x"]).requires_grad();
        let out = a.matmul(&x);
        assert_eq!(out.shape(), &usizes(&c["out"]["shape"])[..]);
        assert_eq!(out.op_name(), "SparseMmBackward");
        assert_close(&format!("{name} out"), &out.to_vec_f64(), &floats(&c["out"]["data"]), 1e-5);
        (&out * &tensor::<f32>(&c["r"])).sum().backward();
        assert_close(&format!("{name} grad_x"), &x.grad().unwrap().to_vec_f64(), &floats(&c["grad_x"]["data"]), 1e-5);
    }
}

/// A random sparse matrix: each position kept with probability `density`, values in ±[0.5, 2).
fn random_sparse(rows: usize, cols: usize, density: f64, seed: u64) -> Vec<(usize, usize, f64)> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            if next() < density {
                let v = 0.5 + 1.5 * next();
                out.push((r, c, if next() < 0.5 { -v } else { v }));
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The sparse product and its gradient equal the dense product's (same f64 sums up to order),
    /// and the gradient equals central finite differences of the loss `Σ (A·X) ⊙ R`.
    #[test]
    fn product_and_gradient_match_dense_and_finite_differences(
        n in 1usize..7, m in 1usize..7, k in 1usize..5, density in 0.0f64..1.0, seed in any::<u64>(),
        xs in proptest::collection::vec(-2.0f64..2.0, 36), rs in proptest::collection::vec(-2.0f64..2.0, 36),
    ) {
        let a = CsrMatrix::<f64>::from_triplets(n, m, &random_sparse(n, m, density, seed)).unwrap();
        let x0 = Tensor::<f64>::from_data(xs[..m * k].to_vec(), &[m, k]);
        let r = Tensor::<f64>::from_data(rs[..n * k].to_vec(), &[n, k]);

        let x = x0.detach().requires_grad();
        let out = a.matmul(&x);
        (&out * &r).sum().backward();
        let grad = x.grad().unwrap().to_vec();

        let xd = x0.detach().requires_grad();
        let dense = a.to_dense().matmul(&xd);
        (&dense * &r).sum().backward();
        assert_close("forward vs dense", &out.to_vec(), &dense.to_vec(), 1e-12);
        assert_close("gradient vs dense", &grad, &xd.grad().unwrap().to_vec(), 1e-12);

        let loss = |v: &[f64]| no_grad(|| (&a.matmul(&Tensor::from_data(v.to_vec(), &[m, k])) * &r).sum().item());
        let base = x0.to_vec();
        for (j, &g) in grad.iter().enumerate() {
            let (mut up, mut down) = (base.clone(), base.clone());
            up[j] += 1e-6;
            down[j] -= 1e-6;
            let fd = (loss(&up) - loss(&down)) / 2e-6;
            prop_assert!((fd - g).abs() <= 1e-6 * g.abs().max(1.0), "x[{}]: backward {} vs finite difference {}", j, g, fd);
        }
    }
}

#[test]
fn gradient_flows_through_a_chain_and_accumulates() {
    // Z = A·(A·X): the gradient is (A²)ᵀ·G, and a second backward adds to it.
    let a = CsrMatrix::<f64>::from_triplets(3, 3, &[(0, 1, 1.0), (1, 2, 2.0), (2, 0, -1.0), (2, 2, 0.5)]).unwrap();
    let x = Tensor::<f64>::from_data(vec![1.0, -2.0, 0.5, 3.0, 0.25, -1.0], &[3, 2]).requires_grad();
    let loss = || a.matmul(&a.matmul(&x.mul_scalar(2.0))).sum();
    loss().backward();
    let d = a.to_dense();
    let want = d.matmul(&d).t().matmul(&Tensor::filled(&[3, 2], 1.0)).mul_scalar(2.0).to_vec();
    assert_close("chain", &x.grad().unwrap().to_vec(), &want, 1e-12);
    loss().backward();
    let twice: Vec<f64> = want.iter().map(|v| 2.0 * v).collect();
    assert_close("accumulated", &x.grad().unwrap().to_vec(), &twice, 1e-12);
}

#[test]
fn triplets_are_sorted_and_duplicates_summed() {
    let a = CsrMatrix::<f32>::from_triplets(3, 4, &[(2, 1, 1.0), (0, 3, 2.0), (0, 1, 3.0), (2, 1, 0.5)]).unwrap();
    assert_eq!(a.indptr(), &[0, 2, 2, 3]);
    assert_eq!(a.indices(), &[1, 3, 1]);
    assert_eq!(a.values(), &[3.0, 2.0, 1.5]);
    assert_eq!(a.nnz(), 3);
    assert_eq!(a.shape(), [3, 4]);
    assert_eq!(a.triplets(), vec![(0, 1, 3.0), (0, 3, 2.0), (2, 1, 1.5)]);
    let t = a.t();
    assert_eq!(t.shape(), [4, 3]);
    assert_eq!(t.to_dense().to_vec(), a.to_dense().t().contiguous().to_vec());
    assert_eq!(t.t().to_dense().to_vec(), a.to_dense().to_vec());
    let doubled = a.map_values(|i, j, v| v * (1 + i + j) as f32);
    assert_eq!(doubled.values(), &[6.0, 8.0, 6.0]);
}

#[test]
fn invalid_arrays_are_refused_with_the_reason() {
    let err = |r: Result<CsrMatrix<f32>, TensorError>| match r {
        Err(TensorError::Sparse(m)) => m,
        other => panic!("expected a sparse-matrix error, got {other:?}"),
    };
    let m = err(CsrMatrix::from_triplets(2, 2, &[(0, 0, 1.0), (2, 1, 1.0)]));
    assert!(m.contains("entry 1 at (2, 1)") && m.contains("2 x 2"), "{m}");
    let m = err(CsrMatrix::try_new(2, 3, vec![0, 1], vec![0], vec![1.0]));
    assert!(m.contains("indptr has 2 entries"), "{m}");
    let m = err(CsrMatrix::try_new(2, 3, vec![0, 1, 2], vec![0, 3], vec![1.0, 1.0]));
    assert!(m.contains("row 1 has column 3"), "{m}");
    let m = err(CsrMatrix::try_new(1, 3, vec![0, 2], vec![2, 2], vec![1.0, 1.0]));
    assert!(m.contains("not strictly increasing"), "{m}");
    let m = err(CsrMatrix::try_new(1, 3, vec![0, 1], vec![2], vec![1.0, 1.0]));
    assert!(m.contains("2 values for 1 column"), "{m}");
    let m = err(CsrMatrix::try_new(3, 3, vec![0, 2, 1, 2], vec![0, 1], vec![1.0, 1.0]));
    assert!(m.contains("decreases at row 1"), "{m}");
    assert_eq!(TensorError::Sparse(m.clone()).to_string(), format!("sparse matrix: {m}"));
}

#[test]
#[should_panic(expected = "sparse_matmul: inner dimensions differ: lhs shape [2, 3], rhs shape [2, 4]")]
fn a_shape_mismatch_names_the_op_and_both_shapes() {
    let a = CsrMatrix::<f32>::from_triplets(2, 3, &[(0, 0, 1.0)]).unwrap();
    a.matmul(&Tensor::zeros(&[2, 4]));
}

#[test]
fn empty_rows_and_matrices_give_zeros() {
    let a = CsrMatrix::<f32>::from_triplets(3, 2, &[]).unwrap();
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).requires_grad();
    let out = a.matmul(&x);
    assert_eq!(out.to_vec(), vec![0.0; 6]);
    out.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0; 4]);
}
