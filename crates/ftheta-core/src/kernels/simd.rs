//! Vectorizable `f32` exp, tanh and sigmoid.
//!
//! libm's scalar `expf`/`tanhf` cost 20-40 cycles an element and stop the loop from vectorizing;
//! a 1-16-1 MLP on 100 points spent most of its time there. These versions are branch-free
//! polynomials (Cephes' coefficients, about 1 ulp), so the compiler turns a loop over them into
//! SIMD code, and the loops run with AVX2 + FMA where the processor has them (checked once at run
//! time, so the binary still runs on any x86-64).

// The coefficients are written as published, with more digits than f32 keeps.
#![allow(clippy::excessive_precision)]

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5·2²³: adding and subtracting it rounds to the nearest integer with plain arithmetic.
const ROUND: f32 = 12_582_912.0;

/// `eˣ`, within about 1 ulp; 0 below -87.3 and +∞ above 88.7 (NaN stays NaN).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let xc = x.clamp(-87.3, 88.7);
    let shifted = xc * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let y = p * r * r + r + 1.0;
    // The integer n read from the low bits of `shifted` rather than by `n as i32`, whose
    // saturating conversion the compiler cannot vectorize (same value: |n| ≤ 128 here; for a NaN
    // input the garbage is discarded below).
    let ni = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let scale = f32::from_bits((ni.wrapping_add(127) as u32) << 23);
    let v = y * scale;
    if x < -87.3 {
        0.0
    } else if x > 88.7 {
        f32::INFINITY
    } else if x.is_nan() {
        x
    } else {
        v
    }
}

/// `tanh x`: a polynomial near 0 (where `(1 − e)/(1 + e)` would cancel), the exponential form
/// elsewhere.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small = x + x
        * z
        * ((((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z - 3.333_328_2e-1);
    let e = exp(-2.0 * a.min(44.0));
    let large = ((1.0 - e) / (1.0 + e)).copysign(x);
    if a < 0.625 {
        small
    } else {
        large
    }
}

/// The logistic function `1 / (1 + e⁻ˣ)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Applies `f` to every element of `src`. An explicit loop into reserved space rather than
/// `collect()`: `collect` is a separate generic function that need not be inlined into the AVX2
/// caller, and then it ran as scalar code (23 instructions an element for tanh).
#[inline(always)]
fn map_into(src: &[f32], f: impl Fn(f32) -> f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(src.len());
    let spare = &mut out.spare_capacity_mut()[..src.len()];
    for (o, &x) in spare.iter_mut().zip(src) {
        o.write(f(x));
    }
    // SAFETY: the loop above wrote all src.len() elements.
    unsafe { out.set_len(src.len()) };
    out
}

macro_rules! dispatch {
    ($name:ident, $f:path) => {
        /// The function applied to a slice, with AVX2 + FMA when the processor has them.
        pub fn $name(src: &[f32]) -> Vec<f32> {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn wide(src: &[f32]) -> Vec<f32> {
                    map_into(src, $f)
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the features were just detected.
                    return unsafe { wide(src) };
                }
            }
            map_into(src, $f)
        }
    };
}

dispatch!(exp_slice, exp);
dispatch!(tanh_slice, tanh);
dispatch!(sigmoid_slice, sigmoid);

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f32, b: f64) -> f64 {
        (a as f64 - b).abs() / b.abs().max(1e-30)
    }

    #[test]
    fn agree_with_the_f64_functions() {
        let mut worst = [0f64; 3];
        let mut x = -30.0f32;
        while x < 30.0 {
            let xd = x as f64;
            worst[0] = worst[0].max(rel(exp(x), xd.exp()));
            worst[1] = worst[1].max(rel(tanh(x), xd.tanh()));
            worst[2] = worst[2].max(rel(sigmoid(x), 1.0 / (1.0 + (-xd).exp())));
            x += 0.001_3;
        }
        for (name, w) in ["exp", "tanh", "sigmoid"].iter().zip(worst) {
            assert!(w < 5e-7, "{name}: worst relative error {w:e}");
        }
        for &x in &[1e-6f32, -3e-5, 0.3, 0.624, 0.626] {
            assert!(rel(tanh(x), (x as f64).tanh()) < 5e-7, "tanh({x})");
        }
    }

    #[test]
    fn extremes_are_finite_and_right() {
        assert_eq!(exp(-1e4), 0.0);
        assert_eq!(exp(1e4), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!((tanh(1e4), tanh(-1e4)), (1.0, -1.0));
        assert_eq!((sigmoid(1e4), sigmoid(-1e4)), (1.0, 0.0));
        assert_eq!(tanh(0.0), 0.0);
        let v: Vec<f32> = (0..37).map(|i| i as f32 * 0.7 - 12.0).collect();
        let fast = tanh_slice(&v);
        assert!(v.iter().zip(&fast).all(|(&x, &y)| y == tanh(x)));
    }
}
