//! Small dense linear algebra in f64 for the closed-form answers the lab compares gradient
//! descent with: least squares by Householder QR (stable where the normal equations square the
//! condition number, as with an unscaled `hour²` column) and the eigenvalues of a 2×2 Hessian.

use anyhow::{bail, Result};

/// The `x` minimizing `‖A·x − b‖²`, for `A` with `n` rows and `p` columns (row-major).
///
/// Fails when `A` has fewer rows than columns or its columns are (numerically) dependent.
pub fn least_squares(a: &[f64], n: usize, p: usize, b: &[f64]) -> Result<Vec<f64>> {
    if a.len() != n * p || b.len() != n {
        bail!("least squares: A is {} values for {n}×{p} and b has {} for {n}", a.len(), b.len());
    }
    if n < p {
        bail!("least squares: {n} rows cannot determine {p} coefficients");
    }
    // Column-major copy: Householder reflections work column by column.
    let mut r: Vec<Vec<f64>> = (0..p).map(|j| (0..n).map(|i| a[i * p + j]).collect()).collect();
    let mut qtb = b.to_vec();
    let scale: f64 = r.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    for k in 0..p {
        let norm = r[k][k..].iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm <= 1e-12 * scale * (n as f64).sqrt() {
            bail!("least squares: column {k} depends on the others (drop a redundant feature)");
        }
        let alpha = if r[k][k] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = r[k][k..].to_vec();
        v[0] -= alpha;
        let vv: f64 = v.iter().map(|x| x * x).sum();
        let reflect = |col: &mut [f64]| {
            let d: f64 = v.iter().zip(col.iter()).map(|(a, b)| a * b).sum::<f64>() * 2.0 / vv;
            col.iter_mut().zip(&v).for_each(|(c, vi)| *c -= d * vi);
        };
        for col in r.iter_mut().skip(k) {
            reflect(&mut col[k..]);
        }
        reflect(&mut qtb[k..]);
    }
    // Back substitution with the upper triangle R.
    let mut x = vec![0.0; p];
    for k in (0..p).rev() {
        let s: f64 = (k + 1..p).map(|j| r[j][k] * x[j]).sum();
        x[k] = (qtb[k] - s) / r[k][k];
    }
    Ok(x)
}

/// The eigenvalues `(λ_max, λ_min)` of the symmetric matrix `[[a, b], [b, c]]`, exactly.
pub fn eig_sym2(a: f64, b: f64, c: f64) -> (f64, f64) {
    let mean = 0.5 * (a + c);
    let r = (0.25 * (a - c) * (a - c) + b * b).sqrt();
    (mean + r, mean - r)
}

/// Mean squared error of predictions `pred` against `y`.
pub fn mse(pred: &[f64], y: &[f64]) -> f64 {
    pred.iter().zip(y).map(|(p, t)| (p - t) * (p - t)).sum::<f64>() / y.len().max(1) as f64
}

/// `A·x` for row-major `A` with `x.len()` columns.
pub fn mat_vec(a: &[f64], x: &[f64]) -> Vec<f64> {
    a.chunks(x.len()).map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_line_exactly() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        let a: Vec<f64> = xs.iter().flat_map(|&x| [1.0, x]).collect();
        let b: Vec<f64> = xs.iter().map(|x| 2.0 + 3.0 * x).collect();
        let c = least_squares(&a, 4, 2, &b).unwrap();
        assert!((c[0] - 2.0).abs() < 1e-12 && (c[1] - 3.0).abs() < 1e-12, "{c:?}");
    }

    #[test]
    fn refuses_dependent_columns() {
        let a = [1.0, 2.0, 2.0, 4.0, 3.0, 6.0];
        assert!(least_squares(&a, 3, 2, &[1.0, 2.0, 3.0]).is_err());
    }

    #[test]
    fn eigenvalues_of_a_2x2() {
        let (l1, l2) = eig_sym2(2.0, 1.0, 2.0);
        assert!((l1 - 3.0).abs() < 1e-12 && (l2 - 1.0).abs() < 1e-12);
    }
}
