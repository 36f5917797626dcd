//! Figures as data: an experiment describes its charts ([`Chart`] with [`Layer`]s) and [`save`]
//! draws them twice, to PNG and to SVG, with plotters. Text uses DejaVu Sans, embedded in the
//! binary and registered with plotters, so no system font is needed. Log axes are drawn by
//! plotting log₁₀ of the values and labelling the ticks with the values themselves.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

use crate::report::{self, Figure};

/// DejaVu Sans (license in `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Registers the embedded font for the family every figure asks for (once per process).
pub fn register_embedded_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in, so it always parses; a failure here would be a build defect.
        if register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            eprintln!("warning: the embedded font did not load; figures will have no text");
        }
    });
}

/// A marker shape for single points.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// ×
    Cross,
    /// ●
    Dot,
    /// ▲
    Triangle,
    /// ○ (outline)
    Ring,
}

/// A filled rectangle: two opposite corners and its colour.
pub type Cell = ((f64, f64), (f64, f64), RGBColor);

/// One thing drawn in a chart, in data coordinates.
#[derive(Clone, Debug)]
pub enum Layer {
    /// A polyline.
    Line {
        /// The vertices.
        points: Vec<(f64, f64)>,
        /// Its colour.
        color: RGBColor,
        /// Stroke width in pixels.
        width: u32,
        /// Legend entry.
        label: Option<String>,
    },
    /// A cloud of dots.
    Points {
        /// The points.
        points: Vec<(f64, f64)>,
        /// Their colour.
        color: RGBColor,
        /// Radius in pixels.
        size: u32,
        /// Opacity in [0, 1].
        opacity: f64,
        /// Legend entry.
        label: Option<String>,
    },
    /// One highlighted point.
    Marker {
        /// Where.
        at: (f64, f64),
        /// Its colour.
        color: RGBColor,
        /// Its shape.
        shape: Shape,
        /// Legend entry.
        label: Option<String>,
    },
    /// Independent line segments (contour lines).
    Segments {
        /// The segments.
        segments: Vec<[(f64, f64); 2]>,
        /// Their colour.
        color: RGBColor,
        /// Stroke width.
        width: u32,
    },
    /// Filled axis-aligned rectangles (heat maps, decision regions).
    Cells {
        /// Corners and fill colour of each cell.
        cells: Vec<Cell>,
    },
    /// Vertical bars centred on x.
    Bars {
        /// `(x, height)` of each bar.
        bars: Vec<(f64, f64)>,
        /// Half the width of a bar, in x units.
        half_width: f64,
        /// Their colour.
        color: RGBColor,
        /// Legend entry.
        label: Option<String>,
    },
    /// A text label at a data point.
    Text {
        /// Where (the text's upper left corner).
        at: (f64, f64),
        /// What.
        text: String,
        /// Its colour.
        color: RGBColor,
    },
}

impl Layer {
    /// A labelled line of width 2.
    pub fn line(points: Vec<(f64, f64)>, color: RGBColor, label: impl Into<String>) -> Layer {
        Layer::Line { points, color, width: 2, label: Some(label.into()).filter(|s: &String| !s.is_empty()) }
    }

    /// A dot cloud of radius 2 at 40 % opacity.
    pub fn points(points: Vec<(f64, f64)>, color: RGBColor, label: impl Into<String>) -> Layer {
        Layer::Points {
            points,
            color,
            size: 2,
            opacity: 0.4,
            label: Some(label.into()).filter(|s: &String| !s.is_empty()),
        }
    }

    /// A labelled marker.
    pub fn marker(at: (f64, f64), color: RGBColor, shape: Shape, label: impl Into<String>) -> Layer {
        Layer::Marker { at, color, shape, label: Some(label.into()).filter(|s: &String| !s.is_empty()) }
    }
}

/// Where the legend goes.
#[derive(Clone, Copy, Debug)]
pub enum LegendAt {
    /// Top left corner of the plotting area.
    UpperLeft,
    /// Top right corner.
    UpperRight,
    /// Bottom left corner.
    LowerLeft,
    /// Bottom right corner.
    LowerRight,
}

impl LegendAt {
    fn position(self) -> SeriesLabelPosition {
        match self {
            LegendAt::UpperLeft => SeriesLabelPosition::UpperLeft,
            LegendAt::UpperRight => SeriesLabelPosition::UpperRight,
            LegendAt::LowerLeft => SeriesLabelPosition::LowerLeft,
            LegendAt::LowerRight => SeriesLabelPosition::LowerRight,
        }
    }
}

/// One chart: axes, title and layers.
#[derive(Clone, Debug)]
pub struct Chart {
    /// The title.
    pub title: String,
    /// The x axis label, with units.
    pub x_label: String,
    /// The y axis label, with units.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Fixed x range (data units); automatic from the layers when `None`.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range (data units); automatic from the layers when `None`.
    pub y_range: Option<(f64, f64)>,
    /// Names of the categories at x = 0, 1, 2, … (for bar charts).
    pub x_categories: Option<Vec<String>>,
    /// Legend position.
    pub legend: LegendAt,
    /// What is drawn, in order (later layers on top).
    pub layers: Vec<Layer>,
}

impl Chart {
    /// An empty chart with a title and axis labels.
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            x_range: None,
            y_range: None,
            x_categories: None,
            legend: LegendAt::UpperRight,
            layers: Vec::new(),
        }
    }

    /// Adds a layer.
    pub fn with(mut self, layer: Layer) -> Chart {
        self.layers.push(layer);
        self
    }

    /// Makes the x axis logarithmic.
    pub fn log_x(mut self) -> Chart {
        self.log_x = true;
        self
    }

    /// Makes the y axis logarithmic.
    pub fn log_y(mut self) -> Chart {
        self.log_y = true;
        self
    }

    /// Fixes the x range.
    pub fn x_range(mut self, lo: f64, hi: f64) -> Chart {
        self.x_range = Some((lo, hi));
        self
    }

    /// Fixes the y range.
    pub fn y_range(mut self, lo: f64, hi: f64) -> Chart {
        self.y_range = Some((lo, hi));
        self
    }

    /// Moves the legend.
    pub fn legend(mut self, at: LegendAt) -> Chart {
        self.legend = at;
        self
    }
}

/// Draws `panels` (`cols` a row, each `panel` pixels) to `<dir>/<stem>.png` and `.svg`.
pub fn save(dir: &Path, stem: &str, caption: &str, panels: &[Chart], cols: usize, panel: (u32, u32)) -> Result<Figure> {
    register_embedded_font();
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let size = (panel.0 * cols as u32, panel.1 * rows as u32);

    let png = dir.join(format!("{stem}.png"));
    let tmp = report::temp_path(&png);
    {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        draw_all(&root, panels, rows, cols)?;
        root.present().map_err(|e| anyhow!("cannot write {}: {e}", png.display()))?;
    }
    report::commit_temp(&tmp, &png)?;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw_all(&root, panels, rows, cols)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    report::write_atomic(&dir.join(format!("{stem}.svg")), svg.as_bytes())?;
    Ok(Figure { stem: stem.to_string(), caption: caption.to_string() })
}

fn draw_all<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Chart],
    rows: usize,
    cols: usize,
) -> Result<()> {
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    for (area, chart) in root.split_evenly((rows, cols)).iter().zip(panels) {
        draw_chart(area, chart)?;
    }
    Ok(())
}

/// A number for a tick label or a sentence: `digits` significant digits, trailing zeros dropped,
/// scientific notation only for very large or small magnitudes.
pub fn sig(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let mag = x.abs().log10().floor() as i32;
    if !(-3..6).contains(&mag) {
        let s = format!("{:.*e}", digits.saturating_sub(1), x);
        // `1.50e3` → `1.5e3`
        return match s.split_once('e') {
            Some((m, e)) if m.contains('.') => format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.')),
            _ => s,
        };
    }
    let decimals = (digits as i32 - 1 - mag).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Clips the segment a→b to the box (Liang–Barsky); `None` when it lies outside.
fn clip(a: (f64, f64), b: (f64, f64), x: (f64, f64), y: (f64, f64)) -> Option<[(f64, f64); 2]> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 - x.0), (dx, x.1 - a.0), (-dy, a.1 - y.0), (dy, y.1 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then_some([(a.0 + t0 * dx, a.1 + t0 * dy), (a.0 + t1 * dx, a.1 + t1 * dy)])
}

/// The pieces of a polyline inside the box, each a polyline.
fn clip_polyline(points: &[(f64, f64)], x: (f64, f64), y: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for w in points.windows(2) {
        if !(w[0].0.is_finite() && w[0].1.is_finite() && w[1].0.is_finite() && w[1].1.is_finite()) {
            open = false;
            continue;
        }
        match clip(w[0], w[1], x, y) {
            Some([p, q]) => {
                let continues = open && p == w[0];
                if continues {
                    out.last_mut().expect("open piece").push(q);
                } else {
                    out.push(vec![p, q]);
                }
                open = q == w[1];
            }
            None => open = false,
        }
    }
    if points.len() == 1 {
        out.push(points.to_vec());
    }
    out
}

fn draw_chart<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, c: &Chart) -> Result<()> {
    let tf = |log: bool| move |v: f64| if log { v.log10() } else { v };
    let (tx, ty) = (tf(c.log_x), tf(c.log_y));
    let tp = |p: (f64, f64)| (tx(p.0), ty(p.1));

    // Everything in plot coordinates (log₁₀ for log axes).
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    let mut add = |p: (f64, f64)| {
        let q = tp(p);
        if q.0.is_finite() && q.1.is_finite() {
            xs.push(q.0);
            ys.push(q.1);
        }
    };
    for l in &c.layers {
        match l {
            Layer::Line { points, .. } | Layer::Points { points, .. } => points.iter().for_each(|&p| add(p)),
            Layer::Marker { at, .. } => add(*at),
            Layer::Segments { segments, .. } => segments.iter().flatten().for_each(|&p| add(p)),
            Layer::Cells { cells } => cells.iter().for_each(|&(a, b, _)| {
                add(a);
                add(b)
            }),
            Layer::Bars { bars, half_width, .. } => bars.iter().for_each(|&(x, h)| {
                add((x - half_width, 0.0));
                add((x + half_width, h))
            }),
            Layer::Text { .. } => {}
        }
    }
    let range = |fixed: Option<(f64, f64)>, t: &dyn Fn(f64) -> f64, vs: &[f64]| -> (f64, f64) {
        if let Some((a, b)) = fixed {
            return (t(a), t(b));
        }
        let lo = vs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() || !hi.is_finite() {
            return (0.0, 1.0);
        }
        let pad = if hi > lo { 0.04 * (hi - lo) } else { 0.5 };
        (lo - pad, hi + pad)
    };
    let xr = range(c.x_range, &tx, &xs);
    let yr = range(c.y_range, &ty, &ys);

    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
    let mut chart = ChartBuilder::on(area)
        .caption(&c.title, (FAMILY, 21))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
        .map_err(err)?;

    let log_fmt = |v: &f64| sig(10f64.powf(*v), 2);
    let lin_fmt = |v: &f64| sig(*v, 4);
    let cats = c.x_categories.clone();
    let cat_fmt = move |v: &f64| {
        let i = v.round();
        match &cats {
            Some(names) if (v - i).abs() < 1e-6 && i >= 0.0 => names.get(i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        }
    };
    let x_fmt: &dyn Fn(&f64) -> String = if c.x_categories.is_some() {
        &cat_fmt
    } else if c.log_x {
        &log_fmt
    } else {
        &lin_fmt
    };
    let y_fmt: &dyn Fn(&f64) -> String = if c.log_y { &log_fmt } else { &lin_fmt };
    let n_x = c.x_categories.as_ref().map_or(8, |v| v.len());
    // Log axes get their own ticks at 1, 2, 5 × 10ᵏ (or powers of ten), drawn below; plotters'
    // evenly spaced ticks in log space would land on values like 316.
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .x_labels(if c.log_x { 0 } else { n_x })
        .y_labels(if c.log_y { 0 } else { 8 })
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(220, 220, 220));
    mesh.draw().map_err(err)?;
    let base = area.get_base_pixel();
    let tick_style = TextStyle::from((FAMILY, 14).into_font()).color(&BLACK);
    let grid = RGBColor(220, 220, 220);
    if c.log_y {
        for t in log_ticks(yr) {
            chart.draw_series(std::iter::once(PathElement::new(vec![(xr.0, t), (xr.1, t)], grid))).map_err(err)?;
            let (px, py) = chart.backend_coord(&(xr.0, t));
            let style = tick_style.pos(Pos::new(HPos::Right, VPos::Center));
            area.draw(&plotters::element::Text::new(log_fmt(&t), (px - base.0 - 8, py - base.1), style))
                .map_err(err)?;
        }
    }
    if c.log_x {
        for t in log_ticks(xr) {
            chart.draw_series(std::iter::once(PathElement::new(vec![(t, yr.0), (t, yr.1)], grid))).map_err(err)?;
            let (px, py) = chart.backend_coord(&(t, yr.0));
            let style = tick_style.pos(Pos::new(HPos::Center, VPos::Top));
            area.draw(&plotters::element::Text::new(log_fmt(&t), (px - base.0, py - base.1 + 6), style))
                .map_err(err)?;
        }
    }

    let mut labelled = false;
    for l in &c.layers {
        match l {
            Layer::Line { points, color, width, label } => {
                let pts: Vec<(f64, f64)> = points.iter().map(|&p| tp(p)).collect();
                let pieces = clip_polyline(&pts, xr, yr);
                let style = color.stroke_width(*width);
                let ann = chart.draw_series(pieces.into_iter().map(|p| PathElement::new(p, style))).map_err(err)?;
                if let Some(label) = label {
                    labelled = true;
                    let color = *color;
                    ann.label(label.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3)));
                }
            }
            Layer::Points { points, color, size, opacity, label } => {
                let style = color.mix(*opacity).filled();
                let inside = points.iter().map(|&p| tp(p)).filter(|p| {
                    p.0 >= xr.0 && p.0 <= xr.1 && p.1 >= yr.0 && p.1 <= yr.1 && p.0.is_finite() && p.1.is_finite()
                });
                let ann = chart.draw_series(inside.map(|p| Circle::new(p, *size, style))).map_err(err)?;
                if let Some(label) = label {
                    labelled = true;
                    let color = *color;
                    ann.label(label.as_str()).legend(move |(x, y)| Circle::new((x + 11, y), 4, color.filled()));
                }
            }
            Layer::Marker { at, color, shape, label } => {
                let p = tp(*at);
                let inside = p.0 >= xr.0 && p.0 <= xr.1 && p.1 >= yr.0 && p.1 <= yr.1;
                let (color, shape) = (*color, *shape);
                let elem = move |p: (f64, f64)| -> DynElement<'static, DB, (f64, f64)> {
                    match shape {
                        Shape::Cross => Cross::new(p, 8, color.stroke_width(3)).into_dyn(),
                        Shape::Dot => Circle::new(p, 6, color.filled()).into_dyn(),
                        Shape::Triangle => TriangleMarker::new(p, 8, color.filled()).into_dyn(),
                        Shape::Ring => Circle::new(p, 8, color.stroke_width(3)).into_dyn(),
                    }
                };
                let ann = chart.draw_series(inside.then(|| elem(p))).map_err(err)?;
                if let Some(label) = label {
                    labelled = true;
                    ann.label(label.as_str()).legend(move |(x, y)| -> DynElement<'static, DB, (i32, i32)> {
                        let q = (x + 11, y);
                        match shape {
                            Shape::Cross => Cross::new(q, 6, color.stroke_width(3)).into_dyn(),
                            Shape::Dot => Circle::new(q, 5, color.filled()).into_dyn(),
                            Shape::Triangle => TriangleMarker::new(q, 7, color.filled()).into_dyn(),
                            Shape::Ring => Circle::new(q, 6, color.stroke_width(2)).into_dyn(),
                        }
                    });
                }
            }
            Layer::Segments { segments, color, width } => {
                let style = color.stroke_width(*width);
                let segs = segments.iter().filter_map(|s| clip(tp(s[0]), tp(s[1]), xr, yr));
                chart.draw_series(segs.map(|s| PathElement::new(s.to_vec(), style))).map_err(err)?;
            }
            Layer::Cells { cells } => {
                let rects = cells.iter().map(|&(a, b, col)| Rectangle::new([tp(a), tp(b)], col.filled()));
                chart.draw_series(rects).map_err(err)?;
            }
            Layer::Bars { bars, half_width, color, label } => {
                let style = color.filled();
                let rects = bars
                    .iter()
                    .map(|&(x, h)| Rectangle::new([tp((x - half_width, 0.0)), tp((x + half_width, h))], style));
                let ann = chart.draw_series(rects).map_err(err)?;
                if let Some(label) = label {
                    labelled = true;
                    let color = *color;
                    ann.label(label.as_str())
                        .legend(move |(x, y)| Rectangle::new([(x + 2, y - 6), (x + 20, y + 6)], color.filled()));
                }
            }
            Layer::Text { at, text, color } => {
                let style = TextStyle::from((FAMILY, 14).into_font()).color(color);
                chart
                    .draw_series(std::iter::once(plotters::element::Text::new(text.clone(), tp(*at), style)))
                    .map_err(err)?;
            }
        }
    }
    if labelled {
        chart
            .configure_series_labels()
            .position(c.legend.position())
            .label_font((FAMILY, 14))
            .background_style(WHITE.mix(0.88))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// Tick positions (log₁₀ of the values) for a log axis spanning `(lo, hi)` in log₁₀ units:
/// 1, 2, 5 × 10ᵏ over up to two decades, powers of ten up to eight, every other power beyond.
fn log_ticks((lo, hi): (f64, f64)) -> Vec<f64> {
    let decades = hi - lo;
    let mantissas: &[f64] = if decades <= 2.2 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let every = if decades > 8.0 { 2 } else { 1 };
    let mut out = Vec::new();
    for k in (lo.floor() as i32)..=(hi.ceil() as i32) {
        if k.rem_euclid(every) != 0 {
            continue;
        }
        for m in mantissas {
            let t = (k as f64) + m.log10();
            if t >= lo - 1e-9 && t <= hi + 1e-9 {
                out.push(t);
            }
        }
    }
    out
}

/// Contour lines of the grid `z[j][i]` (value at `xs[i]`, `ys[j]`) at `level`, by marching
/// squares: each grid cell whose corners straddle the level contributes one segment (two at a
/// saddle, resolved by the cell's mean).
pub fn contour(xs: &[f64], ys: &[f64], z: &[Vec<f64>], level: f64) -> Vec<[(f64, f64); 2]> {
    let mut segs = Vec::new();
    for j in 0..ys.len().saturating_sub(1) {
        for i in 0..xs.len().saturating_sub(1) {
            // Corners counter-clockwise from the lower left.
            let c = [
                (xs[i], ys[j], z[j][i]),
                (xs[i + 1], ys[j], z[j][i + 1]),
                (xs[i + 1], ys[j + 1], z[j + 1][i + 1]),
                (xs[i], ys[j + 1], z[j + 1][i]),
            ];
            let mut cross = Vec::with_capacity(4);
            for k in 0..4 {
                let (a, b) = (c[k], c[(k + 1) % 4]);
                if (a.2 >= level) != (b.2 >= level) {
                    let t = (level - a.2) / (b.2 - a.2);
                    cross.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
                }
            }
            match cross.len() {
                2 => segs.push([cross[0], cross[1]]),
                4 => {
                    let mean = c.iter().map(|p| p.2).sum::<f64>() / 4.0;
                    if (mean >= level) == (c[0].2 >= level) {
                        segs.push([cross[0], cross[3]]);
                        segs.push([cross[1], cross[2]]);
                    } else {
                        segs.push([cross[0], cross[1]]);
                        segs.push([cross[2], cross[3]]);
                    }
                }
                _ => {}
            }
        }
    }
    segs
}

/// `n` levels spaced evenly in log between `lo` and `hi` (both > 0).
pub fn log_levels(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (a, b) = (lo.ln(), hi.ln());
    (0..n).map(|k| (a + (b - a) * k as f64 / (n.max(2) - 1) as f64).exp()).collect()
}

/// Contour layers of a loss surface at log-spaced levels, coloured dark (low) to light (high).
pub fn contour_layers(xs: &[f64], ys: &[f64], z: &[Vec<f64>], n_levels: usize) -> Vec<Layer> {
    let lo = z.iter().flatten().copied().fold(f64::INFINITY, f64::min);
    let hi = z.iter().flatten().copied().fold(f64::NEG_INFINITY, f64::max);
    // Levels log-spaced in the height above the lowest point, from 1/2000 of the range up: a
    // narrow valley then shows its floor instead of one ring around everything.
    let span = (hi - lo).max(1e-12);
    let levels: Vec<f64> = log_levels(span / 2000.0, span, n_levels).into_iter().map(|d| lo + d).collect();
    levels
        .iter()
        .enumerate()
        .map(|(k, &lv)| Layer::Segments {
            segments: contour(xs, ys, z, lv),
            color: crate::palette::viridis(0.9 * k as f64 / n_levels.max(1) as f64),
            width: 1,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(sig(0.0921, 3), "0.0921");
        assert_eq!(sig(12.0, 3), "12");
        assert_eq!(sig(1234.6, 3), "1235");
        assert_eq!(sig(3.2e-5, 2), "3.2e-5");
        assert_eq!(sig(1.5e9, 3), "1.5e9");
    }

    #[test]
    fn a_circle_gives_a_closed_ring_of_segments() {
        let xs: Vec<f64> = (0..21).map(|i| -1.0 + 0.1 * i as f64).collect();
        let z: Vec<Vec<f64>> = xs.iter().map(|y| xs.iter().map(|x| x * x + y * y).collect()).collect();
        let segs = contour(&xs, &xs, &z, 0.25);
        assert!(segs.len() > 8);
        for s in segs {
            for p in s {
                assert!(((p.0 * p.0 + p.1 * p.1).sqrt() - 0.5).abs() < 0.02, "{p:?}");
            }
        }
    }

    #[test]
    fn clipping_keeps_the_inside() {
        let c = clip((-1.0, 0.5), (2.0, 0.5), (0.0, 1.0), (0.0, 1.0)).unwrap();
        assert_eq!(c, [(0.0, 0.5), (1.0, 0.5)]);
        assert!(clip((-1.0, 2.0), (2.0, 2.0), (0.0, 1.0), (0.0, 1.0)).is_none());
    }
}
