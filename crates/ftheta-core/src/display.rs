//! `Display` prints a tensor the way PyTorch does, so output can be compared at a glance:
//! `tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]], requires_grad=True)`.

use std::fmt;

use crate::{Float, Tensor};

/// Above this many elements only the first and last three of each long dimension are shown.
const SUMMARIZE_ABOVE: usize = 1000;
const EDGE: usize = 3;
/// PyTorch's default line width.
const LINE_WIDTH: usize = 80;

/// How every element of one tensor is written: one style and one width for all, as PyTorch.
struct Style {
    kind: Kind,
    width: usize,
}

#[derive(Clone, Copy)]
enum Kind {
    Integer,
    Fixed,
    Scientific,
}

impl Style {
    fn choose(values: &[f64]) -> Style {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let abs: Vec<f64> = finite.iter().map(|v| v.abs()).filter(|&v| v > 0.0).collect();
        let max = abs.iter().cloned().fold(0.0, f64::max);
        let min = abs.iter().cloned().fold(f64::INFINITY, f64::min);
        let wide = max > 1e8 || (min > 0.0 && max / min > 1000.0);
        // PyTorch's rules: whole numbers print as `3.`, unless their range calls for exponents.
        let kind = if finite.iter().all(|v| v.fract() == 0.0) {
            if wide {
                Kind::Scientific
            } else {
                Kind::Integer
            }
        } else if wide || min < 1e-4 {
            Kind::Scientific
        } else {
            Kind::Fixed
        };
        let mut s = Style { kind, width: 0 };
        s.width = values.iter().map(|&v| s.raw(v).len()).max().unwrap_or(0);
        s
    }

    fn raw(&self, v: f64) -> String {
        if v.is_nan() {
            return "nan".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "inf".into() } else { "-inf".into() };
        }
        match self.kind {
            Kind::Integer => format!("{v:.0}."),
            Kind::Fixed => format!("{v:.4}"),
            Kind::Scientific => {
                let s = format!("{v:.4e}");
                match s.split_once('e') {
                    Some((m, e)) => {
                        let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                        format!("{m}e{sign}{digits:0>2}")
                    }
                    None => s,
                }
            }
        }
    }

    fn write(&self, v: f64) -> String {
        format!("{:>w$}", self.raw(v), w = self.width)
    }
}

fn shown(size: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && size > 2 * EDGE {
        let mut v: Vec<Option<usize>> = (0..EDGE).map(Some).collect();
        v.push(None);
        v.extend((size - EDGE..size).map(Some));
        v
    } else {
        (0..size).map(Some).collect()
    }
}

fn render(data: &[f64], shape: &[usize], style: &Style, indent: usize, summarize: bool) -> String {
    if shape.is_empty() {
        return style.write(data[0]);
    }
    if shape.len() == 1 {
        let items: Vec<String> = shown(shape[0], summarize)
            .into_iter()
            .map(|i| i.map_or(" ...".to_string(), |i| style.write(data[i])))
            .collect();
        let per_line = (LINE_WIDTH.saturating_sub(indent) / (style.width + 2)).max(1);
        let lines: Vec<String> = items.chunks(per_line).map(|l| l.join(", ")).collect();
        return format!("[{}]", lines.join(&format!(",\n{}", " ".repeat(indent + 1))));
    }
    let inner: usize = shape[1..].iter().product();
    let parts: Vec<String> = shown(shape[0], summarize)
        .into_iter()
        .map(|i| match i {
            None => "...".to_string(),
            Some(i) => render(&data[i * inner..(i + 1) * inner], &shape[1..], style, indent + 1, summarize),
        })
        .collect();
    let sep = format!(",{}{}", "\n".repeat(shape.len() - 1), " ".repeat(indent + 1));
    format!("[{}]", parts.join(&sep))
}

impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.to_vec_f64();
        let summarize = data.len() > SUMMARIZE_ABOVE;
        let visible: Vec<f64> = if summarize { collect_visible(&data, self.shape()) } else { data.clone() };
        let style = Style::choose(&visible);
        let body = if data.is_empty() {
            format!("[], size={:?}", self.shape())
        } else {
            render(&data, self.shape(), &style, "tensor(".len(), summarize)
        };
        write!(f, "tensor({body}")?;
        if T::DTYPE != "float32" {
            write!(f, ", dtype=torch.{}", T::DTYPE)?;
        }
        if !self.is_leaf() && self.tracks_grad() {
            write!(f, ", grad_fn=<{}>", self.op_name())?;
        } else if self.tracks_grad() {
            write!(f, ", requires_grad=True")?;
        }
        write!(f, ")")
    }
}

/// The elements a summarized print shows, so the style depends only on what is on screen.
fn collect_visible(data: &[f64], shape: &[usize]) -> Vec<f64> {
    if shape.is_empty() {
        return data.to_vec();
    }
    let inner: usize = shape[1..].iter().product();
    shown(shape[0], true)
        .into_iter()
        .flatten()
        .flat_map(|i| collect_visible(&data[i * inner..(i + 1) * inner], &shape[1..]))
        .collect()
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} /* shape {:?}, strides {:?} */", self.shape(), self.strides())
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn prints_like_pytorch() {
        assert_eq!(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).to_string(), "tensor([1., 2., 3.])");
        assert_eq!(
            Tensor::from_vec(vec![1.0, 2.5, -3.0, 4.0], &[2, 2]).to_string(),
            "tensor([[ 1.0000,  2.5000],\n        [-3.0000,  4.0000]])"
        );
        assert_eq!(Tensor::scalar(0.5).requires_grad().to_string(), "tensor(0.5000, requires_grad=True)");
        assert_eq!(Tensor::from_vec(vec![1e-5, 1.0], &[2]).to_string(), "tensor([1.0000e-05, 1.0000e+00])");
        let big = Tensor::arange(0.0, 2000.0, 1.0);
        assert_eq!(
            big.to_string(),
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])"
        );
        let cube = Tensor::arange(0.0, 24.0, 1.0).reshape(&[2, 3, 4]) / 7.0;
        let expected = "tensor([[[0.0000, 0.1429, 0.2857, 0.4286],\n         [0.5714, 0.7143, 0.8571, 1.0000],\n         [1.1429, 1.2857, 1.4286, 1.5714]],\n\n        [[1.7143, 1.8571, 2.0000, 2.1429],\n         [2.2857, 2.4286, 2.5714, 2.7143],\n         [2.8571, 3.0000, 3.1429, 3.2857]]])";
        assert_eq!(cube.to_string(), expected);
        let w = Tensor::ones(&[2]).requires_grad();
        assert_eq!((&w * 2.0).sum().to_string(), "tensor(4., grad_fn=<SumBackward>)");
    }
}
