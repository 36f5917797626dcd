//! Every shape mistake panics with a message that says which op failed and what shapes it was
//! given, so the user can find the line without a debugger. Two-operand errors share one format:
//! `{op}: {problem}: lhs shape [..], rhs shape [..]`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ftheta_core::{Tensor, TensorError};

/// The message of the panic that `f` must raise.
#[track_caller]
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic, but the call returned"),
        Err(payload) => match payload.downcast_ref::<String>() {
            Some(s) => s.clone(),
            None => match payload.downcast_ref::<&str>() {
                Some(s) => s.to_string(),
                None => panic!("the panic payload is not a string"),
            },
        },
    }
}

/// Asserts the uniform two-operand format, with the shapes as the user passed them.
#[track_caller]
fn assert_uniform(msg: &str, op: &str, lhs: &[usize], rhs: &[usize]) {
    let head = format!("{op}: ");
    let tail = format!(": lhs shape {lhs:?}, rhs shape {rhs:?}");
    assert!(msg.starts_with(&head) && msg.ends_with(&tail), "expected `{head}…{tail}`, got `{msg}`");
    let problem = &msg[head.len()..msg.len() - tail.len()];
    assert!(!problem.trim().is_empty(), "the message does not say what is wrong: `{msg}`");
}

#[track_caller]
fn assert_mentions(msg: &str, op: &str, parts: &[&str]) {
    assert!(msg.starts_with(&format!("{op}: ")), "`{msg}` does not start with the op `{op}`");
    for p in parts {
        assert!(msg.contains(p), "`{msg}` does not mention `{p}`");
    }
}

fn zeros(shape: &[usize]) -> Tensor<f32> {
    Tensor::zeros(shape)
}

fn zeros64(shape: &[usize]) -> Tensor<f64> {
    Tensor::<f64>::filled(shape, 0.0)
}

#[test]
fn binary_ops_name_both_shapes() {
    let cases: [(&[usize], &[usize]); 4] = [(&[2, 3], &[4]), (&[2, 3], &[3, 2]), (&[5], &[2, 1, 4]), (&[2, 3], &[2])];
    for (sa, sb) in cases {
        let (a, b) = (zeros(sa), zeros(sb));
        assert_uniform(&panic_message(|| a.add(&b)), "add", sa, sb);
        assert_uniform(&panic_message(|| a.sub(&b)), "sub", sa, sb);
        assert_uniform(&panic_message(|| a.mul(&b)), "mul", sa, sb);
        assert_uniform(&panic_message(|| a.div(&b)), "div", sa, sb);
        assert_uniform(&panic_message(|| a.maximum(&b)), "maximum", sa, sb);
        assert_uniform(&panic_message(|| a.minimum(&b)), "minimum", sa, sb);
        assert_uniform(&panic_message(|| a.eq(&b)), "eq", sa, sb);
        assert_uniform(&panic_message(|| a.ne(&b)), "ne", sa, sb);
        assert_uniform(&panic_message(|| a.gt(&b)), "gt", sa, sb);
        assert_uniform(&panic_message(|| a.ge(&b)), "ge", sa, sb);
        assert_uniform(&panic_message(|| a.lt(&b)), "lt", sa, sb);
        assert_uniform(&panic_message(|| a.le(&b)), "le", sa, sb);
        assert_uniform(&panic_message(|| &a + &b), "add", sa, sb);
        assert_uniform(&panic_message(|| &a - b.clone()), "sub", sa, sb);
        assert_uniform(&panic_message(|| a.clone() * &b), "mul", sa, sb);
        assert_uniform(&panic_message(|| a.clone() / b.clone()), "div", sa, sb);
        // the message does not depend on the element type or on autograd
        let (a, b) = (zeros64(sa).requires_grad(), zeros64(sb));
        assert_uniform(&panic_message(|| a.mul(&b)), "mul", sa, sb);
    }
}

#[test]
#[should_panic(expected = "add: shapes cannot be broadcast together: lhs shape [2, 3], rhs shape [4]")]
fn binary_op_message_is_exact() {
    let _ = Tensor::zeros(&[2, 3]) + Tensor::zeros(&[4]);
}

#[test]
fn matmul_names_both_shapes() {
    let cases: [(&[usize], &[usize]); 7] = [
        (&[2, 3], &[4, 5]),
        (&[3], &[4]),
        (&[3], &[4, 5]),
        (&[2, 3], &[4]),
        (&[6, 2, 3], &[4, 5]),
        (&[2, 3, 4], &[3, 4, 5]),
        (&[2, 1, 3, 4], &[3, 5, 4, 2]),
    ];
    for (sa, sb) in cases {
        let (a, b) = (zeros(sa), zeros(sb));
        assert_uniform(&panic_message(|| a.matmul(&b)), "matmul", sa, sb);
    }
    assert_uniform(&panic_message(|| zeros(&[]).matmul(&zeros(&[3]))), "matmul", &[], &[3]);
    assert_uniform(&panic_message(|| zeros(&[3]).matmul(&zeros(&[]))), "matmul", &[3], &[]);
}

#[test]
#[should_panic(expected = "matmul: inner dimensions differ: lhs shape [2, 3], rhs shape [4, 5]")]
fn matmul_message_is_exact() {
    let _ = Tensor::zeros(&[2, 3]).matmul(&Tensor::zeros(&[4, 5]));
}

#[test]
fn reshape_names_input_and_requested_shapes() {
    let x = zeros(&[2, 3]);
    let m = panic_message(|| x.reshape(&[4, 2]));
    assert_mentions(&m, "reshape", &["[2, 3]", "[4, 2]"]);
    let m = panic_message(|| x.reshape(&[-1isize, 4]));
    assert_mentions(&m, "reshape", &["[2, 3]", "[-1, 4]"]);
    let m = panic_message(|| x.reshape(&[-1isize, -1]));
    assert_mentions(&m, "reshape", &["[2, 3]", "[-1, -1]"]);
    // a non-contiguous view takes the copy path, with the same check
    let m = panic_message(|| x.t().reshape(&[5]));
    assert_mentions(&m, "reshape", &["[3, 2]", "[5]"]);
}

#[test]
#[should_panic(expected = "reshape: the number of elements differs: input shape [2, 3] (6 elements), requested [4, 2]")]
fn reshape_message_is_exact() {
    let _ = Tensor::zeros(&[2, 3]).reshape(&[4, 2]);
}

#[test]
fn cat_and_stack_name_both_shapes() {
    let (a, b) = (zeros(&[2, 3]), zeros(&[2, 4]));
    assert_uniform(&panic_message(|| Tensor::cat(&[&a, &b], 0)), "cat", &[2, 3], &[2, 4]);
    let c = zeros(&[3]);
    assert_uniform(&panic_message(|| Tensor::cat(&[&a, &c], 0)), "cat", &[2, 3], &[3]);
    // the offending tensor is named even when it is not the second one
    let ok = zeros(&[5, 3]);
    assert_uniform(&panic_message(|| Tensor::cat(&[&a, &ok, &b], 0)), "cat", &[2, 3], &[2, 4]);
    assert_uniform(&panic_message(|| Tensor::stack(&[&a, &b], 0)), "stack", &[2, 3], &[2, 4]);
    assert_uniform(&panic_message(|| Tensor::stack(&[&a, &a, &ok], 1)), "stack", &[2, 3], &[5, 3]);
    assert_mentions(&panic_message(|| Tensor::<f32>::cat::<Tensor<f32>>(&[], 0)), "cat", &["at least one"]);
    assert_mentions(&panic_message(|| Tensor::<f32>::stack::<Tensor<f32>>(&[], 0)), "stack", &["at least one"]);
    assert_mentions(&panic_message(|| Tensor::cat(&[zeros(&[]), zeros(&[])], 0)), "cat", &["zero-dimensional"]);
    assert_mentions(&panic_message(|| Tensor::cat(&[&a, &a], 2)), "cat", &["dimension 2", "2 dimensions"]);
    assert_mentions(&panic_message(|| Tensor::stack(&[&a, &a], 3)), "stack", &["dimension 3", "3 dimensions"]);
}

#[test]
fn permute_transpose_narrow_name_the_shape() {
    let x = zeros(&[2, 3, 4]);
    assert_mentions(&panic_message(|| x.permute(&[0, 0, 1])), "permute", &["[0, 0, 1]", "[2, 3, 4]"]);
    assert_mentions(&panic_message(|| x.permute(&[1, 0])), "permute", &["[1, 0]", "[2, 3, 4]"]);
    assert_mentions(&panic_message(|| x.permute(&[0, 1, 3])), "permute", &["[0, 1, 3]", "[2, 3, 4]"]);
    assert_mentions(
        &panic_message(|| x.transpose(0, 3)),
        "transpose",
        &["dimension 3", "3 dimensions", "shape [2, 3, 4]"],
    );
    assert_mentions(
        &panic_message(|| x.transpose(-4, 1)),
        "transpose",
        &["dimension -4", "3 dimensions", "shape [2, 3, 4]"],
    );
    assert_mentions(&panic_message(|| x.narrow(1, 2, 2)), "narrow", &["2..4", "size 3", "[2, 3, 4]"]);
    assert_mentions(&panic_message(|| x.narrow(-1, 5, 0)), "narrow", &["5..5", "size 4", "[2, 3, 4]"]);
    assert_mentions(
        &panic_message(|| x.narrow(3, 0, 1)),
        "narrow",
        &["dimension 3", "3 dimensions", "shape [2, 3, 4]"],
    );
    assert_mentions(&panic_message(|| x.squeeze(3)), "squeeze", &["dimension 3", "3 dimensions", "shape [2, 3, 4]"]);
    assert_mentions(
        &panic_message(|| x.unsqueeze(5)),
        "unsqueeze",
        &["dimension 5", "4 dimensions", "shape [2, 3, 4]"],
    );
}

#[test]
fn index_select_and_gather_name_the_shapes() {
    let x = zeros(&[2, 3]);
    assert_mentions(&panic_message(|| x.index_select(1, &[0, 3])), "index_select", &["index 3", "size 3", "[2, 3]"]);
    assert_mentions(&panic_message(|| x.index_select(2, &[0])), "index_select", &["dimension 2", "2 dimensions"]);
    let idx = zeros(&[2]);
    assert_uniform(&panic_message(|| x.gather(1, &idx)), "gather", &[2, 3], &[2]);
    let idx = zeros(&[3, 1]);
    assert_uniform(&panic_message(|| x.gather(1, &idx)), "gather", &[2, 3], &[3, 1]);
    let idx = Tensor::from_vec(vec![0.0, 5.0], &[2, 1]);
    assert_mentions(&panic_message(|| x.gather(1, &idx)), "gather", &["5", "dimension 1", "size 3"]);
    let idx = Tensor::from_vec(vec![0.5, 1.0], &[2, 1]);
    assert_mentions(&panic_message(|| x.gather(1, &idx)), "gather", &["0.5", "dimension 1"]);
}

#[test]
fn broadcast_to_and_sum_to_name_both_shapes() {
    let x = zeros(&[2, 3]);
    assert_uniform(&panic_message(|| x.broadcast_to(&[2, 4])), "broadcast_to", &[2, 3], &[2, 4]);
    assert_uniform(&panic_message(|| x.broadcast_to(&[3])), "broadcast_to", &[2, 3], &[3]);
    // broadcasting only stretches the tensor: it cannot shrink a dimension to 1
    assert_uniform(&panic_message(|| x.broadcast_to(&[1, 3])), "broadcast_to", &[2, 3], &[1, 3]);
    assert_uniform(&panic_message(|| x.sum_to(&[4])), "sum_to", &[2, 3], &[4]);
    assert_uniform(&panic_message(|| x.sum_to(&[1, 2, 3])), "sum_to", &[2, 3], &[1, 2, 3]);
}

#[test]
fn in_place_updates_name_both_shapes() {
    let x = zeros(&[2, 3]);
    let y = zeros(&[3, 2]);
    assert_uniform(&panic_message(|| x.copy_(&y)), "copy_", &[2, 3], &[3, 2]);
    assert_uniform(&panic_message(|| x.add_scaled_(&y, 1.0)), "add_scaled_", &[2, 3], &[3, 2]);
}

#[test]
fn reductions_name_the_bad_dim() {
    let x = zeros(&[2, 3]);
    assert_mentions(
        &panic_message(|| x.sum_dims(&[2], false)),
        "sum",
        &["dimension 2", "2 dimensions", "shape [2, 3]"],
    );
    assert_mentions(
        &panic_message(|| x.sum_dims(&[0, -3], true)),
        "sum",
        &["dimension -3", "2 dimensions", "shape [2, 3]"],
    );
    assert_mentions(
        &panic_message(|| x.mean_dims(&[5], false)),
        "mean",
        &["dimension 5", "2 dimensions", "shape [2, 3]"],
    );
    assert_mentions(
        &panic_message(|| x.max_dims(&[2], false)),
        "max",
        &["dimension 2", "2 dimensions", "shape [2, 3]"],
    );
    assert_mentions(
        &panic_message(|| x.min_dims(&[-3], false)),
        "min",
        &["dimension -3", "2 dimensions", "shape [2, 3]"],
    );
    assert_mentions(
        &panic_message(|| x.var_dims(&[2], true, false)),
        "var",
        &["dimension 2", "2 dimensions", "shape [2, 3]"],
    );
    assert_mentions(&panic_message(|| x.argmax(2, false)), "argmax", &["dimension 2", "2 dimensions", "shape [2, 3]"]);
    assert_mentions(
        &panic_message(|| x.argmin(-3, false)),
        "argmin",
        &["dimension -3", "2 dimensions", "shape [2, 3]"],
    );
    assert_mentions(&panic_message(|| x.softmax(2)), "softmax", &["dimension 2", "2 dimensions", "shape [2, 3]"]);
    assert_mentions(
        &panic_message(|| x.log_softmax(-3)),
        "log_softmax",
        &["dimension -3", "2 dimensions", "shape [2, 3]"],
    );
    assert_mentions(
        &panic_message(|| x.logsumexp(2, false)),
        "logsumexp",
        &["dimension 2", "2 dimensions", "shape [2, 3]"],
    );
    let empty = zeros(&[2, 0]);
    assert_mentions(&panic_message(|| empty.max_dims(&[1], false)), "max", &["empty", "[2, 0]"]);
    assert_mentions(&panic_message(|| empty.min()), "min", &["empty", "[2, 0]"]);
    assert_mentions(&panic_message(|| empty.argmax(1, false)), "argmax", &["empty", "[2, 0]"]);
}

#[test]
fn from_data_names_the_length_and_the_shape() {
    let m = panic_message(|| Tensor::from_vec(vec![1.0; 5], &[2, 3]));
    assert_eq!(m, "from_data: 5 values cannot fill shape [2, 3], which holds 6");
    let m = panic_message(|| Tensor::<f64>::from_data(vec![], &[1]));
    assert_eq!(m, "from_data: 0 values cannot fill shape [1], which holds 1");
    assert_eq!(
        Tensor::<f64>::try_from_data(vec![1.0; 7], &[2, 3]).unwrap_err(),
        TensorError::DataLength { len: 7, shape: vec![2, 3], numel: 6 }
    );
    assert!(Tensor::<f64>::try_from_data(vec![1.0; 6], &[2, 3]).is_ok());
}

#[test]
fn item_names_the_shape() {
    let m = panic_message(|| Tensor::zeros(&[2, 3]).item());
    assert_eq!(m, "item: the tensor must hold exactly one element, but its shape is [2, 3]");
    let m = panic_message(|| Tensor::zeros(&[0]).item());
    assert_mentions(&m, "item", &["[0]"]);
    assert_eq!(Tensor::zeros(&[1, 1, 1]).item(), 0.0);
}

#[test]
fn backward_with_a_wrongly_shaped_gradient_names_both_shapes() {
    let x = zeros64(&[2, 3]).requires_grad();
    let y = x.mul_scalar(2.0);
    let g = zeros64(&[3, 2]);
    let m = panic_message(|| y.backward_with_grad(&g));
    assert_mentions(&m, "backward", &["[3, 2]", "[2, 3]"]);
    // the failed call changed nothing: the right gradient still goes through
    assert!(x.grad().is_none());
    y.backward_with_grad(&zeros64(&[2, 3]).add_scalar(1.0));
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0; 6]);

    let m = panic_message(|| x.mul_scalar(2.0).backward());
    assert_mentions(&m, "backward", &["[2, 3]"]);
}
