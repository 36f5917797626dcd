//! The GEMM kernels other processors run, forced on this one (`set_gemm_kernel`): each gives the
//! right products, and the same bits at one and two threads, forward and backward through the
//! MNIST MLP's shapes. One test function, since the choice is process-wide.

use ftheta_core::{gemm_isa, gemm_kernel, set_gemm_kernel, GemmKernel, Tensor};

/// The MLP's first layer and its gradients (x·Wᵀ + b, g·W, gᵀ·x) and a square product with a
/// transposed operand, at `threads` threads; every value returned as plain data.
fn products(threads: usize, data: &[Vec<f32>], rows: usize) -> Vec<Vec<f32>> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let d = data.to_vec();
    pool.install(move || {
        let x = Tensor::from_vec(d[0][..rows * 784].to_vec(), &[rows, 784]).requires_grad();
        let w = Tensor::from_vec(d[1].clone(), &[256, 784]).requires_grad();
        let b = Tensor::from_vec(d[2].clone(), &[256]).requires_grad();
        let r = Tensor::from_vec(d[3][..rows * 256].to_vec(), &[rows, 256]);
        let y = x.linear(&w, Some(&b));
        (&y.relu() * &r).sum().backward();
        let s = Tensor::from_vec(d[4].clone(), &[300, 300]);
        let sq = s.matmul(&s.t());
        vec![
            y.to_vec(),
            x.grad().unwrap().to_vec(),
            w.grad().unwrap().to_vec(),
            b.grad().unwrap().to_vec(),
            sq.to_vec(),
        ]
    })
}

fn same_bits(a: &[Vec<f32>], b: &[Vec<f32>]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()))
}

fn max_rel_diff(a: &[f32], b: &[f32]) -> f64 {
    let scale = b.iter().fold(1e-6f64, |m, &v| m.max(v.abs() as f64));
    a.iter().zip(b).fold(0.0, |m, (&p, &q)| m.max((p as f64 - q as f64).abs() / scale))
}

#[test]
fn forced_kernels_are_right_and_deterministic() {
    ftheta_core::manual_seed(11);
    let shapes: [&[usize]; 5] = [&[128, 784], &[256, 784], &[256], &[128, 256], &[300, 300]];
    let data: Vec<Vec<f32>> = shapes.iter().map(|s| Tensor::randn(s).to_vec()).collect();

    // The square product in f64 by the textbook loop: the reference for every kernel.
    let s = &data[4];
    let reference: Vec<f32> = (0..300 * 300)
        .map(|ij| {
            let (i, j) = (ij / 300, ij % 300);
            (0..300).map(|p| s[i * 300 + p] as f64 * s[j * 300 + p] as f64).sum::<f64>() as f32
        })
        .collect();

    assert_eq!(gemm_kernel(), GemmKernel::Auto, "the default is the processor's own choice");
    let auto = products(1, &data, 128);
    let mut runs = Vec::new();
    for kernel in [GemmKernel::Auto, GemmKernel::Avx2, GemmKernel::Scalar] {
        set_gemm_kernel(kernel);
        assert_eq!(gemm_kernel(), kernel);
        let isa = gemm_isa();
        match kernel {
            GemmKernel::Scalar => assert_eq!(isa, "scalar"),
            GemmKernel::Avx2 => assert!(isa == "avx2" || isa == "scalar", "{isa}"),
            GemmKernel::Auto => {}
        }
        for rows in [128, 32] {
            let (one, two) = (products(1, &data, rows), products(2, &data, rows));
            assert!(same_bits(&one, &two), "{kernel:?} ({isa}), batch {rows}: 1 and 2 threads differ");
            if rows == 128 {
                // Against the default kernels: the same values up to rounding.
                for (f, a) in one.iter().zip(&auto) {
                    let d = max_rel_diff(f, a);
                    assert!(d < 1e-5, "{kernel:?} ({isa}) differs from auto by {d:e}");
                }
                let d = max_rel_diff(&one[4], &reference);
                assert!(d < 1e-5, "{kernel:?} ({isa}): 300×300 product off the f64 loop by {d:e}");
                runs.push(one);
            }
        }
    }
    // The scalar kernels multiply and add in two roundings where the vector ones fuse them, so if
    // the switch reached gemm their products differ from the default ones in some last bit.
    if gemm_isa_of(GemmKernel::Auto) != "scalar" {
        assert!(!same_bits(&runs[2], &runs[0]), "forcing the scalar kernels changed nothing");
    }

    // Double precision takes the same switch (finite-difference checks run in f64).
    let a: Vec<f64> = data[4].iter().map(|&v| v as f64).collect();
    let mut f64_runs = Vec::new();
    for kernel in [GemmKernel::Auto, GemmKernel::Avx2, GemmKernel::Scalar] {
        set_gemm_kernel(kernel);
        let t = Tensor::<f64>::from_data(a.clone(), &[300, 300]);
        f64_runs.push(t.matmul(&t.t()).to_vec());
    }
    for run in &f64_runs[1..] {
        let d = run.iter().zip(&f64_runs[0]).fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
        assert!(d < 1e-10, "f64 kernels differ by {d:e}");
    }
    set_gemm_kernel(GemmKernel::Auto);
}

fn gemm_isa_of(kernel: GemmKernel) -> &'static str {
    let before = gemm_kernel();
    set_gemm_kernel(kernel);
    let isa = gemm_isa();
    set_gemm_kernel(before);
    isa
}
