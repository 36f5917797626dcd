//! One colour per meaning, used by every figure, so that "validation" or "the optimum" looks the
//! same wherever it appears. Colours are from the Okabe–Ito set, which colour-blind readers can
//! tell apart.

use plotters::style::RGBColor;

/// Data points.
pub const DATA: RGBColor = RGBColor(150, 150, 150);
/// A fitted model or the training curve.
pub const TRAIN: RGBColor = RGBColor(0, 114, 178);
/// Validation curves and scores.
pub const VALIDATION: RGBColor = RGBColor(230, 159, 0);
/// The test score (used once).
pub const TEST: RGBColor = RGBColor(0, 158, 115);
/// The exact (closed-form) optimum.
pub const OPTIMUM: RGBColor = RGBColor(0, 0, 0);
/// The grid's best point.
pub const GRID_BEST: RGBColor = RGBColor(204, 121, 167);
/// Gradient-descent paths at a good learning rate.
pub const GOOD: RGBColor = RGBColor(213, 94, 0);
/// A learning rate that is too small.
pub const TOO_SMALL: RGBColor = RGBColor(86, 180, 233);
/// A learning rate that oscillates.
pub const OSCILLATING: RGBColor = RGBColor(204, 121, 167);
/// A learning rate that diverges.
pub const DIVERGING: RGBColor = RGBColor(120, 40, 40);
/// Individual units (ReLUs, sigmoids) drawn beneath a fit.
pub const UNIT: RGBColor = RGBColor(120, 120, 120);
/// Class 0 / class 1 in classification plots.
pub const CLASS: [RGBColor; 2] = [RGBColor(0, 114, 178), RGBColor(213, 94, 0)];

/// A sequence of distinct colours for series that have no fixed meaning (batch sizes, depths).
pub const SERIES: [RGBColor; 6] = [
    RGBColor(213, 94, 0),
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// The `i`-th series colour (cycling).
pub fn series(i: usize) -> RGBColor {
    SERIES[i % SERIES.len()]
}

/// A perceptually ordered colour map (viridis, by its five anchor colours) at `t` in [0, 1].
pub fn viridis(t: f64) -> RGBColor {
    const A: [(f64, f64, f64); 5] =
        [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];
    let t = t.clamp(0.0, 1.0) * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    RGBColor(mix(A[i].0, A[i + 1].0), mix(A[i].1, A[i + 1].1), mix(A[i].2, A[i + 1].2))
}

/// `c` blended towards white by `amount` in [0, 1] (light fills behind lines and points).
pub fn lighten(c: RGBColor, amount: f64) -> RGBColor {
    let m = |v: u8| (v as f64 + (255.0 - v as f64) * amount).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}
