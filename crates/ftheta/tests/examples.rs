//! The examples compile as examples and also run here, on small settings, with their results
//! checked.

#[allow(dead_code)]
#[path = "../examples/custom_module.rs"]
mod custom_module;
#[allow(dead_code)]
#[path = "../examples/linear_regression.rs"]
mod linear_regression;
#[allow(dead_code)]
#[path = "../examples/mlp_deliveries.rs"]
mod mlp_deliveries;
#[allow(dead_code)]
#[path = "../examples/mnist_mlp.rs"]
mod mnist_mlp;
#[allow(dead_code)]
#[path = "../examples/save_load.rs"]
mod save_load;
#[allow(dead_code)]
#[path = "../examples/xor_backprop.rs"]
mod xor_backprop;

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

#[test]
fn xor_needs_a_hidden_layer() {
    // The perceptron rule solves AND (linearly separable) but never all of XOR.
    let (epoch, best) = xor_backprop::perceptron(&[0.0, 0.0, 0.0, 1.0], 100);
    assert!(epoch.is_some() && best == 4, "AND: {epoch:?}, {best}");
    let (epoch, best) = xor_backprop::perceptron(&[0.0, 1.0, 1.0, 0.0], 100);
    assert!(epoch.is_none() && best < 4, "XOR: {epoch:?}, {best}");
    // 2-2-1 from seed 0 stays on its plateau: two right, the other two near 0.5.
    let (out, loss) = xor_backprop::backprop(2, 2000, 0.5, 0);
    assert_eq!(xor_backprop::right(&out), 2, "{out:?}");
    assert!(loss > 0.3, "loss {loss}");
    // 2-4-1 solves XOR with confident outputs.
    let (out, loss) = xor_backprop::backprop(4, 2000, 0.5, 0);
    assert!(out[0] < 0.05 && out[1] > 0.95 && out[2] > 0.95 && out[3] < 0.05, "{out:?}");
    assert_eq!(xor_backprop::right(&out), 4);
    assert!(loss < 0.01, "loss {loss}");
}

#[test]
fn save_load_round_trips_and_names_the_mismatch() {
    let o = save_load::run(2).unwrap();
    // Loading replaced the fresh model's random weights: bit-for-bit the trained predictions.
    assert_ne!(o.fresh, o.trained);
    assert_eq!(o.loaded, o.trained);
    // Training did something: a random 36-16-1 net predicts near 0, deliveries take 10-60 minutes.
    assert!(o.trained.iter().all(|&p| p > 5.0), "{:?}", o.trained);
    // The error names the file and every parameter of the wrong shape.
    let e = &o.mismatch;
    assert!(e.contains("model.safetensors") && e.contains("does not fit the model"), "{e}");
    assert!(e.contains("'layers.0.weight' has shape [16, 36] in the file but [8, 36] in the model"), "{e}");
    assert!(e.contains("'layers.2.weight' has shape [1, 16] in the file but [1, 8]"), "{e}");
    assert!(!save_load::temp_folder().exists(), "the temp folder was left behind");
}

#[test]
fn custom_module_recovers_the_cooling_law() {
    use ftheta::prelude::*;
    // Parameter names come from visit_parameters, prefixed when the model sits inside another.
    let m = custom_module::Cooling::new(1.0, 2.0, 3.0);
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["room", "excess", "rate"]);
    let seq = Sequential::new().add(custom_module::Cooling::new(1.0, 2.0, 3.0));
    assert_eq!(seq.named_parameters()[2].0, "0.rate");
    assert_eq!(m.num_parameters(), 3);

    let ([room, excess, rate], loss) = custom_module::run(2000, 0);
    assert!((room - custom_module::TRUE_ROOM).abs() < 0.6, "room {room}");
    assert!((excess - custom_module::TRUE_EXCESS).abs() < 1.0, "excess {excess}");
    assert!((rate - custom_module::TRUE_RATE).abs() < 0.1, "rate {rate}");
    // About the noise's variance (0.25): the fit explains everything but the noise.
    assert!(loss > 0.1 && loss < 0.3, "MSE {loss}");
}
