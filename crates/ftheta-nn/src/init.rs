//! Parameter initialization. Defaults follow PyTorch so that results can be compared with it.

use ftheta_core::Tensor;

/// How to fill a layer's weights and biases.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Init {
    /// PyTorch's `nn.Linear` default: weight and bias uniform in `±1/√fan_in`
    /// (Kaiming-uniform with a = √5).
    #[default]
    PyTorch,
    /// Glorot/Xavier uniform: weight uniform in `±√(6/(fan_in + fan_out))`, bias 0.
    XavierUniform,
    /// Glorot/Xavier normal: weight N(0, 2/(fan_in + fan_out)), bias 0.
    XavierNormal,
    /// Every weight `w` and bias `b` set to constants (the lecture starts at w = 1.0, b = 15.0).
    Constant {
        /// The weight value.
        w: f64,
        /// The bias value.
        b: f64,
    },
}

impl Init {
    /// A `[fan_out, fan_in]` weight and `[fan_out]` bias drawn from the thread's seeded generator.
    pub fn linear(self, fan_in: usize, fan_out: usize) -> (Tensor, Tensor) {
        let shape = [fan_out, fan_in];
        match self {
            Init::PyTorch => {
                let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
                (Tensor::uniform(&shape, -bound, bound), Tensor::uniform(&[fan_out], -bound, bound))
            }
            Init::XavierUniform => {
                let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
                (Tensor::uniform(&shape, -a, a), Tensor::zeros(&[fan_out]))
            }
            Init::XavierNormal => {
                let std = (2.0 / (fan_in + fan_out) as f64).sqrt();
                (Tensor::normal(&shape, 0.0, std), Tensor::zeros(&[fan_out]))
            }
            Init::Constant { w, b } => (Tensor::full(&shape, w as f32), Tensor::full(&[fan_out], b as f32)),
        }
    }
}
