//! The examples compile as examples and also run here, on small settings, with their results
//! checked.

#[allow(dead_code)]
#[path = "../examples/linear_regression.rs"]
mod linear_regression;
#[allow(dead_code)]
#[path = "../examples/mlp_deliveries.rs"]
mod mlp_deliveries;
#[allow(dead_code)]
#[path = "../examples/mnist_mlp.rs"]
mod mnist_mlp;

#[test]
fn linear_regression_learns_minutes_per_mile() {
    let (w, b, loss) = linear_regression::run(3000, 0.02).unwrap();
    // Longer trips take longer, and gradient descent lowered the loss from its start at w=1, b=15.
    assert!(w > 1.0 && b > 0.0, "w {w}, b {b}");
    let start = linear_regression::run(1, 0.02).unwrap().2;
    assert!(loss < 0.5 * start, "loss {loss} vs start {start}");
}

#[test]
fn mlp_on_deliveries_improves_on_validation() {
    let h = mlp_deliveries::run(3, 0).unwrap();
    assert!(h[2] < h[0], "{h:?}");
}

#[test]
fn mnist_mlp_learns_from_a_slice() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/mnist");
    if !std::path::Path::new(dir).exists() {
        eprintln!("skipped: no MNIST at {dir}");
        return;
    }
    let acc = mnist_mlp::run(dir, 2, Some(3000)).unwrap();
    assert!(acc > 0.85, "test accuracy {acc}");
}
