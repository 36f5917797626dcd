//! Closed-form least squares for `y = w·x + b`, in f64 by Householder QR of `[X 1]` (more accurate
//! than the normal equations, whose condition number is the square of X's), and the largest stable
//! gradient-descent rate for MSE on such a model.

use crate::TrainError;

/// The minimizer of the mean squared error of `y = w·x + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct LeastSquares {
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// The intercept.
    pub bias: f64,
    /// The mean squared error at the minimum.
    pub mse: f64,
}

/// Solves `min ‖[X 1]·[w; b] − y‖²` for row-major `x` (`n` rows of `d` features) by Householder QR.
/// A column that is (numerically) a combination of the others is an error naming its index
/// (`d` for the bias column).
pub fn least_squares(x: &[f64], y: &[f64], n: usize, d: usize) -> Result<LeastSquares, TrainError> {
    if x.len() != n * d || y.len() != n {
        return Err(TrainError::Config(format!(
            "{} values and {} targets do not make {n} rows of {d}",
            x.len(),
            y.len()
        )));
    }
    let p = d + 1;
    if n < p {
        return Err(TrainError::Singular(format!("{n} rows cannot determine {p} coefficients")));
    }
    // Column-major copy of [X 1]: Householder reflections walk columns.
    let mut a: Vec<Vec<f64>> = (0..d).map(|j| (0..n).map(|i| x[i * d + j]).collect()).collect();
    a.push(vec![1.0; n]);
    let norms: Vec<f64> = a.iter().map(|c| c.iter().map(|v| v * v).sum::<f64>().sqrt()).collect();
    let mut b = y.to_vec();
    let mut r_diag = vec![0.0; p];
    for k in 0..p {
        let norm = a[k][k..].iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm <= 1e-10 * norms[k].max(f64::MIN_POSITIVE) {
            return Err(TrainError::Singular(format!(
                "column {k} is a linear combination of the columns before it (drop it or one of them)"
            )));
        }
        let alpha = if a[k][k] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = a[k][k..].to_vec();
        v[0] -= alpha;
        let vnorm2: f64 = v.iter().map(|t| t * t).sum();
        let reflect = |c: &mut [f64]| {
            let dot: f64 = v.iter().zip(c.iter()).map(|(a, b)| a * b).sum();
            let s = 2.0 * dot / vnorm2;
            c.iter_mut().zip(&v).for_each(|(c, v)| *c -= s * v);
        };
        for col in a.iter_mut().skip(k + 1) {
            reflect(&mut col[k..]);
        }
        reflect(&mut b[k..]);
        r_diag[k] = alpha;
    }
    // Back substitution R·θ = (Qᵀy)[..p].
    let mut theta = vec![0.0; p];
    for k in (0..p).rev() {
        let s: f64 = ((k + 1)..p).map(|j| a[j][k] * theta[j]).sum();
        theta[k] = (b[k] - s) / r_diag[k];
    }
    let mse = b[p..].iter().map(|v| v * v).sum::<f64>() / n as f64;
    let bias = theta.pop().expect("p >= 1");
    Ok(LeastSquares { weights: theta, bias, mse })
}

/// The largest learning rate at which full-batch gradient descent on the MSE of `y = w·x + b` does
/// not diverge: `2/λ_max` of the loss's Hessian `H = (2/N)·[X 1]ᵀ[X 1]`. λ_max comes from power
/// iteration in f64: on H itself for up to 256 features (one pass over the data, so that it is
/// cheap enough to pick a default learning rate), else multiplying by `[X 1]` and its transpose
/// each step, never forming H.
pub fn stable_lr_limit(x: &[f64], n: usize, d: usize) -> f64 {
    if n == 0 || x.len() != n * d {
        return f64::NAN;
    }
    let p = d + 1;
    let hessian = (p <= 257).then(|| {
        let mut h = vec![0.0; p * p];
        let mut row1 = vec![1.0; p];
        for i in 0..n {
            row1[..d].copy_from_slice(&x[i * d..(i + 1) * d]);
            for a in 0..p {
                let ra = row1[a];
                for (hb, rb) in h[a * p..=a * p + a].iter_mut().zip(&row1) {
                    *hb += ra * rb;
                }
            }
        }
        for a in 0..p {
            for b in 0..=a {
                h[a * p + b] *= 2.0 / n as f64;
                h[b * p + a] = h[a * p + b];
            }
        }
        h
    });
    let mut v = vec![1.0 / (p as f64).sqrt(); p];
    let mut lambda = 0.0;
    for _ in 0..1000 {
        let mut hv = vec![0.0; p];
        match &hessian {
            Some(h) => {
                for (a, out) in hv.iter_mut().enumerate() {
                    *out = h[a * p..(a + 1) * p].iter().zip(&v).map(|(x, y)| x * y).sum();
                }
            }
            None => {
                for i in 0..n {
                    let row = &x[i * d..(i + 1) * d];
                    let av: f64 = row.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>() + v[d];
                    row.iter().zip(hv.iter_mut()).for_each(|(a, h)| *h += a * av);
                    hv[d] += av;
                }
                hv.iter_mut().for_each(|h| *h *= 2.0 / n as f64);
            }
        }
        let norm = hv.iter().map(|h| h * h).sum::<f64>().sqrt();
        if norm == 0.0 {
            return f64::INFINITY;
        }
        let next = norm;
        v = hv.into_iter().map(|h| h / norm).collect();
        if (next - lambda).abs() <= 1e-12 * next {
            lambda = next;
            break;
        }
        lambda = next;
    }
    2.0 / lambda
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_fit_is_recovered() {
        let x: Vec<f64> = (0..20).flat_map(|i| [i as f64, ((i * 7) % 5) as f64]).collect();
        let y: Vec<f64> = x.chunks(2).map(|r| 3.0 * r[0] - 2.0 * r[1] + 0.5).collect();
        let s = least_squares(&x, &y, 20, 2).unwrap();
        assert!((s.weights[0] - 3.0).abs() < 1e-10 && (s.weights[1] + 2.0).abs() < 1e-10);
        assert!((s.bias - 0.5).abs() < 1e-10 && s.mse < 1e-20);
    }

    #[test]
    fn collinear_columns_are_named() {
        let x: Vec<f64> = (0..10).flat_map(|i| [i as f64, 2.0 * i as f64]).collect();
        let e = least_squares(&x, &[0.0; 10], 10, 2).unwrap_err().to_string();
        assert!(e.contains("column 1"), "{e}");
    }

    #[test]
    fn stable_rate_of_one_feature() {
        // x ∈ {−1, 1}: H = 2·I, λ_max = 2, limit 1.
        let l = stable_lr_limit(&[-1.0, 1.0], 2, 1);
        assert!((l - 1.0).abs() < 1e-9, "{l}");
    }
}
