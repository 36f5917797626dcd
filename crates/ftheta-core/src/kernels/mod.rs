//! The machinery under the ops, apart from the maths a student reads: matrix products (`gemm`), convolution patches and pooling (`conv`),
//! the helper thread that runs half of a product (`pool`), and vectorized `exp`/`tanh`/`sigmoid`
//! slices (`simd`), and which GEMM kernels run (`choice`). Ops call these on plain slices; nothing here knows about tensors or autograd.

pub(crate) mod choice;
pub(crate) mod conv;
pub(crate) mod gemm;
pub(crate) mod pool;
pub(crate) mod simd;
