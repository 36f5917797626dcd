//! Keeps the README's first program compiling and correct: the code block is extracted and must
//! match this test's body, which runs it.

#[test]
fn readme_program_runs() {
    use ftheta::prelude::*;

    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]); // data, shape
    let t = Tensor::from_vec(vec![2.0, 4.1, 5.9], &[3, 1]);
    let w = Tensor::from_vec(vec![0.5], &[1, 1]).requires_grad();
    let b = Tensor::scalar(0.0).requires_grad();
    let y = x.matmul(&w) + &b; // broadcasting
    let loss = (&y - &t).pow(2.0).mean();
    loss.backward();
    let dw: Vec<f32> = w.grad().unwrap().to_vec();
    assert_eq!(w.shape(), &[1, 1]);
    // ∂L/∂w = 2/3 Σ (0.5·xᵢ − tᵢ)·xᵢ = 2/3 (−1.5 − 6.2 − 13.2)
    assert!((dw[0] - 2.0 / 3.0 * (-1.5 - 6.2 - 13.2)).abs() < 1e-4, "{dw:?}");
}

#[test]
fn readme_holds_the_same_program() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let block = readme.split("```rust\n").nth(1).and_then(|s| s.split("```").next()).expect("a rust block");
    let normalize = |s: &str| s.split_whitespace().filter(|w| !w.starts_with("//")).collect::<String>();
    let this = include_str!("readme.rs");
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let code = line.split("//").next().unwrap();
        assert!(normalize(this).contains(&normalize(code)), "README line not in the test: {line}");
    }
}

#[test]
fn readme_and_workspace_optimize_dependencies_in_dev_builds() {
    // Debug builds of ftheta's dependencies are ~75x slower; a user's first `cargo run` must not be.
    let lines = "[profile.dev.package.\"*\"]\nopt-level = 3";
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme.split("## Using ftheta in your own crate").nth(1).expect("the section");
    let section = section.split("\n## ").next().unwrap();
    assert!(section.contains(lines) && section.contains("cargo add ftheta --git"), "{section}");
    let workspace = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")).unwrap();
    assert!(workspace.contains(lines), "the workspace's dev profile");
}
