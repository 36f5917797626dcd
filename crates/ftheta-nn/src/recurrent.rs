//! Memory networks: `RNN`, `GRU` and `LSTM` over sequences, with PyTorch's maths, gate order,
//! parameter names and initialization, so that a checkpoint loads into `torch.nn.GRU` (and the
//! others) with `load_state_dict(strict=True)` and computes the same outputs.
//!
//! A recurrent layer reads a sequence x₁ … x_T one step at a time and carries a state h (for the
//! LSTM also a cell c) from each step to the next: the state is the network's memory of what it
//! has read. With the input part `gᵢ = W_ih·x_t + b_ih` and the recurrent part
//! `gₕ = W_hh·h_{t−1} + b_hh`, each split into blocks of H rows in PyTorch's order:
//!
//! ```text
//! RNN   h_t = tanh(gᵢ + gₕ)
//! GRU   r = σ(gᵢʳ + gₕʳ)   z = σ(gᵢᶻ + gₕᶻ)   n = tanh(gᵢⁿ + r ⊙ gₕⁿ)   h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
//! LSTM  i = σ(·ⁱ)  f = σ(·ᶠ)  g = tanh(·ᵍ)  o = σ(·ᵒ)  (each of gᵢ + gₕ)
//!       c_t = f ⊙ c_{t−1} + i ⊙ g              h_t = o ⊙ tanh(c_t)
//! ```
//!
//! Layer k of a stack reads the outputs h_t of layer k − 1. The input part of every step is one
//! product for the whole sequence (`[T·B, F] · W_ihᵀ`); only `W_hh·h` has to wait for the step
//! before.

use std::fmt;

use ftheta_core::{Float, Tensor};

use crate::module::{join_name, Module};

/// Which recurrent cell a [`Recurrent`] layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CellKind {
    /// Elman's RNN with tanh, PyTorch's `nn.RNN`.
    Rnn,
    /// The gated recurrent unit (Cho et al. 2014), PyTorch's `nn.GRU`: gates r, z, n.
    Gru,
    /// Long short-term memory (Hochreiter and Schmidhuber 1997), PyTorch's `nn.LSTM`: gates i, f,
    /// g, o.
    Lstm,
}

impl CellKind {
    /// Blocks of H rows in `weight_ih` and `weight_hh`: 1, 3 and 4.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Gru => 3,
            CellKind::Lstm => 4,
        }
    }

    /// `rnn`, `gru` or `lstm`, as in model specs.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Rnn => "rnn",
            CellKind::Gru => "gru",
            CellKind::Lstm => "lstm",
        }
    }
}

impl fmt::Display for CellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The weights of one layer of a stack, PyTorch's `weight_ih_lk`, `weight_hh_lk`, `bias_ih_lk`,
/// `bias_hh_lk`.
pub struct RecurrentLayer {
    /// `[gates·H, input]`: the input part of every gate, stacked in the cell's gate order.
    pub weight_ih: Tensor,
    /// `[gates·H, H]`: the recurrent part.
    pub weight_hh: Tensor,
    /// `[gates·H]`.
    pub bias_ih: Tensor,
    /// `[gates·H]`.
    pub bias_hh: Tensor,
}

/// What a recurrent stack carries from one step to the next: `h` is `[layers, B, H]`, and the
/// LSTM's cell `c` is too (PyTorch's `h_n` and `(h_n, c_n)`).
#[derive(Clone)]
pub struct RecurrentState {
    /// The hidden state of every layer, `[layers, B, H]`.
    pub h: Tensor,
    /// The LSTM's cell state, `[layers, B, H]`; `None` for RNN and GRU.
    pub c: Option<Tensor>,
}

/// A stack of recurrent layers over batch-first sequences `[B, T, F]` (PyTorch's `nn.RNN`,
/// `nn.GRU`, `nn.LSTM` with `batch_first=True`). Every weight and bias starts uniform in `±1/√H`,
/// as in PyTorch.
pub struct Recurrent {
    kind: CellKind,
    hidden_size: usize,
    layers: Vec<RecurrentLayer>,
}

impl Recurrent {
    /// `num_layers` layers of `kind` with `hidden_size` units, reading `input_size` features a step.
    ///
    /// # Panics
    /// When a size or the number of layers is 0.
    #[track_caller]
    pub fn new(kind: CellKind, input_size: usize, hidden_size: usize, num_layers: usize) -> Self {
        assert!(
            input_size > 0 && hidden_size > 0 && num_layers > 0,
            "{kind}: input_size {input_size}, hidden_size {hidden_size} and num_layers {num_layers} must be at least 1"
        );
        let g = kind.gates() * hidden_size;
        let bound = 1.0 / (hidden_size as f64).sqrt();
        let u = |shape: &[usize]| Tensor::uniform(shape, -bound, bound).requires_grad();
        // PyTorch's order within a layer: weight_ih, weight_hh, bias_ih, bias_hh.
        let layers = (0..num_layers)
            .map(|l| {
                let inputs = if l == 0 { input_size } else { hidden_size };
                RecurrentLayer {
                    weight_ih: u(&[g, inputs]),
                    weight_hh: u(&[g, hidden_size]),
                    bias_ih: u(&[g]),
                    bias_hh: u(&[g]),
                }
            })
            .collect();
        Recurrent { kind, hidden_size, layers }
    }

    /// One layer of Elman RNN cells.
    pub fn rnn(input_size: usize, hidden_size: usize) -> Self {
        Self::new(CellKind::Rnn, input_size, hidden_size, 1)
    }

    /// One layer of GRU cells.
    pub fn gru(input_size: usize, hidden_size: usize) -> Self {
        Self::new(CellKind::Gru, input_size, hidden_size, 1)
    }

    /// One layer of LSTM cells.
    pub fn lstm(input_size: usize, hidden_size: usize) -> Self {
        Self::new(CellKind::Lstm, input_size, hidden_size, 1)
    }

    /// The cell.
    pub fn kind(&self) -> CellKind {
        self.kind
    }

    /// H, the units of every layer.
    pub fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    /// The features a step of the first layer reads.
    pub fn input_size(&self) -> usize {
        self.layers[0].weight_ih.shape()[1]
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[RecurrentLayer] {
        &self.layers
    }

    /// The zero state for a batch of `batch` sequences (PyTorch's default `h_0`, `c_0`).
    pub fn zero_state(&self, batch: usize) -> RecurrentState {
        let z = || Tensor::zeros(&[self.layers.len(), batch, self.hidden_size]);
        RecurrentState { h: z(), c: (self.kind == CellKind::Lstm).then(z) }
    }

    /// Runs time-major sequences `x` (`[T, B, F]`) from `state` (zeros when `None`) and returns
    /// the last layer's output at every step (`[T, B, H]`) with the state after the last step.
    ///
    /// # Panics
    /// When `x` is not `[T, B, input_size]` or the state's shape does not fit.
    #[track_caller]
    pub fn forward_time_major(&self, x: &Tensor, state: Option<&RecurrentState>) -> (Tensor, RecurrentState) {
        if x.ndim() != 3 || x.shape()[2] != self.input_size() {
            panic!(
                "{}: the input must be [T, B, {}] (time-major), got shape {:?}",
                self.kind,
                self.input_size(),
                x.shape()
            );
        }
        let b = x.shape()[1];
        let zero;
        let state = match state {
            Some(s) => {
                self.check_state(s, b);
                s
            }
            None => {
                zero = self.zero_state(b);
                &zero
            }
        };
        let mut input = x.contiguous();
        let (mut hs, mut cs) = (Vec::with_capacity(self.layers.len()), Vec::new());
        for (l, layer) in self.layers.iter().enumerate() {
            let h0 = state.h.select_layer(l);
            let c0 = state.c.as_ref().map(|c| c.select_layer(l));
            let (out, h, c) = run_layer(self.kind, &input, layer.weights(), &h0, c0.as_ref());
            input = out;
            hs.push(h);
            cs.extend(c);
        }
        let c = (self.kind == CellKind::Lstm).then(|| Tensor::stack(&cs, 0));
        (input, RecurrentState { h: Tensor::stack(&hs, 0), c })
    }

    /// Runs batch-first sequences `x` (`[B, T, F]`) from `state` (zeros when `None`): the output
    /// at every step `[B, T, H]` and the final state, as PyTorch's `output, h_n = gru(x, h_0)`.
    #[track_caller]
    pub fn forward_with_state(&self, x: &Tensor, state: Option<&RecurrentState>) -> (Tensor, RecurrentState) {
        if x.ndim() != 3 || x.shape()[2] != self.input_size() {
            panic!(
                "{}: the input must be [B, T, {}] (batch-first), got shape {:?}",
                self.kind,
                self.input_size(),
                x.shape()
            );
        }
        let (out, state) = self.forward_time_major(&x.transpose(0, 1), state);
        (out.transpose(0, 1).contiguous(), state)
    }

    #[track_caller]
    fn check_state(&self, s: &RecurrentState, batch: usize) {
        let want = [self.layers.len(), batch, self.hidden_size];
        let bad = |t: &Tensor| t.shape() != want;
        if bad(&s.h) || s.c.as_ref().is_some_and(bad) || s.c.is_some() != (self.kind == CellKind::Lstm) {
            panic!(
                "{}: the state must be [layers, B, H] = {want:?}{}, got h {:?}{}",
                self.kind,
                if self.kind == CellKind::Lstm { " for both h and c" } else { "" },
                s.h.shape(),
                s.c.as_ref().map_or(String::new(), |c| format!(", c {:?}", c.shape()))
            );
        }
    }
}

impl RecurrentLayer {
    fn weights(&self) -> [&Tensor; 4] {
        [&self.weight_ih, &self.weight_hh, &self.bias_ih, &self.bias_hh]
    }
}

trait SelectLayer {
    fn select_layer(&self, l: usize) -> Self;
}

impl SelectLayer for Tensor {
    /// `[B, H]`: layer `l` of a `[layers, B, H]` state.
    fn select_layer(&self, l: usize) -> Tensor {
        self.narrow(0, l, 1).squeeze(0)
    }
}

impl Module for Recurrent {
    /// `x` is `[B, T, F]`; the result is the last layer's output at every step, `[B, T, H]`.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with_state(x, None).0
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        for (l, layer) in self.layers.iter().enumerate() {
            let names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];
            for (n, t) in names.iter().zip(layer.weights()) {
                f(&join_name(prefix, &format!("{n}_l{l}")), t);
            }
        }
    }
}

/// One layer over a whole time-major sequence `x` (`[T, B, F]`, contiguous) with weights
/// `[W_ih, W_hh, b_ih, b_hh]`, from `h0` (`[B, H]`) and, for the LSTM, `c0`. Returns the output at
/// every step (`[T, B, H]`), the last `h` and the last `c`. Generic over the element type so that
/// the finite-difference checks can run it in `f64`.
pub fn run_layer<T: Float>(
    kind: CellKind,
    x: &Tensor<T>,
    w: [&Tensor<T>; 4],
    h0: &Tensor<T>,
    c0: Option<&Tensor<T>>,
) -> (Tensor<T>, Tensor<T>, Option<Tensor<T>>) {
    let [w_ih, w_hh, b_ih, b_hh] = w;
    let (steps, batch) = (x.shape()[0], x.shape()[1]);
    let g = w_ih.shape()[0];
    // The input part of every gate at every step in one product: [T, B, F] · W_ihᵀ.
    let gi = x.linear(w_ih, Some(b_ih));
    let (mut h, mut c) = (h0.clone(), c0.cloned());
    let mut outs = Vec::with_capacity(steps);
    for t in 0..steps {
        let gi_t = gi.narrow(0, t, 1).reshape(&[batch, g]);
        let gh = h.linear(w_hh, Some(b_hh));
        h = match kind {
            CellKind::Rnn => rnn_cell(&gi_t, &gh),
            CellKind::Gru => gru_cell(&gi_t, &gh, &h),
            CellKind::Lstm => {
                let (h1, c1) = lstm_cell(&gi_t, &gh, c.as_ref().expect("an LSTM layer carries a cell state"));
                c = Some(c1);
                h1
            }
        };
        outs.push(h.clone());
    }
    (Tensor::stack(&outs, 0), h, c)
}

/// `tanh(gᵢ + gₕ)`.
pub fn rnn_cell<T: Float>(gi: &Tensor<T>, gh: &Tensor<T>) -> Tensor<T> {
    gi.add(gh).tanh()
}

/// One GRU step from the input part `gi` and recurrent part `gh` (`[B, 3H]`, blocks r, z, n) and
/// the previous state `h` (`[B, H]`). The reset gate multiplies only the recurrent part of n,
/// after its bias, as in PyTorch (and cuDNN), not the state before the product.
pub fn gru_cell<T: Float>(gi: &Tensor<T>, gh: &Tensor<T>, h: &Tensor<T>) -> Tensor<T> {
    let hs = h.shape()[1];
    let rz = gi.narrow(1, 0, 2 * hs).add(&gh.narrow(1, 0, 2 * hs)).sigmoid();
    let (r, z) = (rz.narrow(1, 0, hs), rz.narrow(1, hs, hs));
    let n = gi.narrow(1, 2 * hs, hs).add(&r.mul(&gh.narrow(1, 2 * hs, hs))).tanh();
    // (1 − z)·n + z·h = n + z·(h − n)
    n.add(&z.mul(&h.sub(&n)))
}

/// One LSTM step from `gi`, `gh` (`[B, 4H]`, blocks i, f, g, o) and the cell `c`: the new `(h, c)`.
pub fn lstm_cell<T: Float>(gi: &Tensor<T>, gh: &Tensor<T>, c: &Tensor<T>) -> (Tensor<T>, Tensor<T>) {
    let hs = c.shape()[1];
    let s = gi.add(gh);
    let ifg = s.narrow(1, 0, 2 * hs).sigmoid();
    let (i, f) = (ifg.narrow(1, 0, hs), ifg.narrow(1, hs, hs));
    let g = s.narrow(1, 2 * hs, hs).tanh();
    let o = s.narrow(1, 3 * hs, hs).sigmoid();
    let c1 = f.mul(c).add(&i.mul(&g));
    (o.mul(&c1.tanh()), c1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_named_and_shaped_like_torch() {
        ftheta_core::manual_seed(0);
        let m = Recurrent::new(CellKind::Gru, 5, 4, 2);
        let got: Vec<(String, Vec<usize>)> =
            m.named_parameters().into_iter().map(|(n, t)| (n, t.shape().to_vec())).collect();
        let want = [
            ("weight_ih_l0", vec![12, 5]),
            ("weight_hh_l0", vec![12, 4]),
            ("bias_ih_l0", vec![12]),
            ("bias_hh_l0", vec![12]),
            ("weight_ih_l1", vec![12, 4]),
            ("weight_hh_l1", vec![12, 4]),
            ("bias_ih_l1", vec![12]),
            ("bias_hh_l1", vec![12]),
        ];
        assert_eq!(got, want.iter().map(|(n, s)| (n.to_string(), s.clone())).collect::<Vec<_>>());
        let bound = 0.5f32; // 1/√4
        assert!(m.parameters().iter().all(|p| p.to_vec().iter().all(|v| v.abs() <= bound)));
        assert_eq!(Recurrent::lstm(3, 2).named_parameters()[0].1.shape(), &[8, 3]);
        assert_eq!(Recurrent::rnn(3, 2).named_parameters()[1].1.shape(), &[2, 2]);
    }

    #[test]
    fn shapes_of_outputs_and_states() {
        for kind in [CellKind::Rnn, CellKind::Gru, CellKind::Lstm] {
            let m = Recurrent::new(kind, 3, 5, 2);
            let (y, s) = m.forward_with_state(&Tensor::randn(&[4, 6, 3]), None);
            assert_eq!(y.shape(), &[4, 6, 5]);
            assert_eq!(s.h.shape(), &[2, 4, 5]);
            assert_eq!(s.c.as_ref().map(|c| c.shape().to_vec()), (kind == CellKind::Lstm).then(|| vec![2, 4, 5]));
            // The last output is the last layer's final state.
            let last = y.narrow(1, 5, 1).squeeze(1).to_vec();
            assert_eq!(last, s.h.narrow(0, 1, 1).squeeze(0).to_vec());
        }
    }

    #[test]
    fn carrying_the_state_equals_one_long_run() {
        ftheta_core::manual_seed(4);
        let m = Recurrent::new(CellKind::Lstm, 2, 3, 2);
        let x = Tensor::randn(&[2, 7, 2]);
        let (whole, s_whole) = m.forward_with_state(&x, None);
        let (a, s) = m.forward_with_state(&x.narrow(1, 0, 4).contiguous(), None);
        let (b, s2) = m.forward_with_state(&x.narrow(1, 4, 3).contiguous(), Some(&s));
        let joined = Tensor::cat(&[a, b], 1).to_vec();
        for (p, q) in joined.iter().zip(whole.to_vec()) {
            assert!((p - q).abs() < 1e-6);
        }
        assert_eq!(s2.c.unwrap().to_vec(), s_whole.c.unwrap().to_vec());
    }

    #[test]
    #[should_panic(expected = "gru: the input must be [B, T, 3] (batch-first), got shape [5, 2, 4]")]
    fn a_wrong_width_names_the_shapes() {
        Recurrent::gru(3, 2).forward(&Tensor::zeros(&[5, 2, 4]));
    }
}
