//! The data loader's epochs and batches, splits, and the standardizer.

use ftheta_core::Tensor;
use ftheta_data::{split_indices, DataError, DataLoader, InMemoryDataset, Standardizer, Targets};

/// `n` samples whose single feature and target are both the sample's index, so a batch reveals
/// which samples it holds.
fn numbered(n: usize) -> InMemoryDataset {
    let v: Vec<f32> = (0..n).map(|i| i as f32).collect();
    InMemoryDataset::new(v.clone(), 1, v, 1).unwrap()
}

fn epoch_samples(batches: impl Iterator<Item = (Tensor, Tensor)>) -> Vec<usize> {
    let mut seen = Vec::new();
    for (x, y) in batches {
        assert_eq!(x.to_vec(), y.to_vec(), "features and targets stay paired");
        seen.extend(x.to_vec().into_iter().map(|v| v as usize));
    }
    seen
}

#[test]
fn every_sample_once_per_epoch_in_a_new_order() {
    let mut loader = DataLoader::new(numbered(103), 10).unwrap().shuffled(7);
    assert_eq!(loader.len(), 11);
    let mut orders = Vec::new();
    for _ in 0..3 {
        let batches = loader.next_epoch();
        assert_eq!(batches.len(), 11);
        let seen = epoch_samples(batches);
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, (0..103).collect::<Vec<_>>());
        orders.push(seen);
    }
    assert_ne!(orders[0], orders[1]);
    assert_ne!(orders[1], orders[2]);
    assert_ne!(orders[0], (0..103).collect::<Vec<_>>());
    assert_eq!(loader.epochs_started(), 3);
    // `for … in &mut loader` is the next epoch.
    let fourth: Vec<usize> = (&mut loader).into_iter().flat_map(|(x, _)| x.to_vec()).map(|v| v as usize).collect();
    assert_eq!(fourth, loader.order(3));
}

#[test]
fn same_seed_same_orders_other_seed_other_orders() {
    let a = DataLoader::new(numbered(50), 8).unwrap().shuffled(1);
    let b = DataLoader::new(numbered(50), 8).unwrap().shuffled(1);
    let c = DataLoader::new(numbered(50), 8).unwrap().shuffled(2);
    for e in 0..4 {
        assert_eq!(a.order(e), b.order(e));
        assert_ne!(a.order(e), c.order(e));
        assert_eq!(epoch_samples(a.epoch(e)), a.order(e));
    }
}

#[test]
fn unshuffled_is_in_order() {
    let loader = DataLoader::new(numbered(5), 2).unwrap();
    let sizes: Vec<usize> = loader.epoch(3).map(|(x, _)| x.shape()[0]).collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(epoch_samples(loader.epoch(3)), [0, 1, 2, 3, 4]);
}

#[test]
fn drop_last_leaves_out_the_short_batch() {
    let loader = DataLoader::new(numbered(103), 10).unwrap().shuffled(3).drop_last(true);
    assert_eq!(loader.len(), 10);
    let batches: Vec<_> = loader.epoch(0).collect();
    assert_eq!(batches.len(), 10);
    assert!(batches.iter().all(|(x, y)| x.shape() == [10, 1] && y.shape() == [10, 1]));
    let seen = epoch_samples(batches.into_iter());
    assert_eq!(seen, loader.order(0)[..100]);
    // Exactly divisible: nothing to drop.
    assert_eq!(DataLoader::new(numbered(100), 10).unwrap().drop_last(true).len(), 10);
    assert_eq!(DataLoader::new(numbered(9), 10).unwrap().drop_last(true).len(), 0);
}

#[test]
fn full_batch_is_one_batch_of_everything() {
    let loader = DataLoader::full_batch(numbered(37));
    assert_eq!((loader.len(), loader.batch_size()), (1, 37));
    let batches: Vec<_> = loader.epoch(0).collect();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].0.shape(), &[37, 1]);
    assert!(DataLoader::full_batch(numbered(0)).is_empty());
    assert!(matches!(DataLoader::new(numbered(3), 0), Err(DataError::ZeroBatchSize)));
}

#[test]
fn class_targets_batch_as_a_vector_and_loaders_can_borrow() {
    let ds = InMemoryDataset::with_classes(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 2, vec![2, 0, 1]).unwrap();
    assert_eq!(ds.n_classes(), Some(3));
    let loader = DataLoader::new(&ds, 2).unwrap();
    let (x, y) = loader.epoch(0).next().unwrap();
    assert_eq!(x.to_vec(), [0.0, 1.0, 2.0, 3.0]);
    assert_eq!((y.shape(), y.to_vec()), (&[2][..], vec![2.0, 0.0]));
    let from_t = InMemoryDataset::from_tensors(&x, &y).unwrap();
    assert_eq!(from_t.targets(), &Targets::Classes(vec![2, 0]));
    let sub = ds.subset(&[2, 2]).unwrap();
    assert_eq!(sub.features(), [4.0, 5.0, 4.0, 5.0]);
    assert!(ds.subset(&[3]).is_err());
    assert!(InMemoryDataset::with_classes(vec![0.0; 5], 2, vec![0, 1]).is_err());
    assert!(InMemoryDataset::from_tensors(&x, &Tensor::from_vec(vec![0.5, 1.0], &[2])).is_err());
}

#[test]
fn splits_cover_the_rows_once_and_repeat_with_the_seed() {
    let s = split_indices(1000, 0.7, 0.15, 0.15, 42).unwrap();
    assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (700, 150, 150));
    let mut all: Vec<usize> = s.train.iter().chain(&s.validation).chain(&s.test).copied().collect();
    all.sort();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
    assert_eq!(split_indices(1000, 0.7, 0.15, 0.15, 42).unwrap(), s);
    assert_ne!(split_indices(1000, 0.7, 0.15, 0.15, 43).unwrap().train, s.train);
    // Fractions summing to 1 use every row even when the products are not whole.
    let s = split_indices(10, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0).unwrap();
    assert_eq!(s.train.len() + s.validation.len() + s.test.len(), 10);
    // Less than 1 leaves rows out.
    let s = split_indices(10, 0.5, 0.0, 0.2, 0).unwrap();
    assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (5, 0, 2));
}

#[test]
fn bad_fractions_are_typed_errors() {
    assert_eq!(
        split_indices(10, 1.2, 0.0, 0.0, 0).unwrap_err().to_string(),
        "the train fraction is 1.2; it must be in [0, 1]"
    );
    assert!(matches!(split_indices(10, 0.5, -0.1, 0.0, 0), Err(DataError::BadFraction { name: "validation", .. })));
    assert!(matches!(split_indices(10, 0.5, 0.0, f64::NAN, 0), Err(DataError::BadFraction { name: "test", .. })));
    assert!(matches!(split_indices(10, 0.6, 0.3, 0.2, 0), Err(DataError::FractionSum { .. })));
    assert!(split_indices(10, 0.7, 0.2, 0.1 + 1e-12, 0).is_ok());
}

#[test]
fn standardizer_fits_on_training_rows_only() {
    // Two features; the second is constant on the training rows.
    let x = vec![1.0, 5.0, 3.0, 5.0, 100.0, 7.0, 5.0, 5.0];
    let s = Standardizer::fit(&x, 2, Some(&[0, 1, 3])).unwrap();
    assert_eq!(s.mean, [3.0, 5.0]);
    assert!((s.std[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
    assert_eq!(s.std[1], 1.0, "a constant column keeps std 1");
    let mut t = x.clone();
    s.transform(&mut t).unwrap();
    assert_eq!(t[1], 0.0);
    assert!(t[4] > 10.0, "the held-out outlier did not shift the fit");
    s.inverse_transform(&mut t).unwrap();
    assert!(t.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-9));
    assert!(s.transform(&mut [1.0, 2.0, 3.0]).is_err());
    assert!(Standardizer::fit(&x, 2, Some(&[])).is_err());
    assert!(Standardizer::fit(&x, 2, Some(&[4])).is_err());
    let tensor = s.transform_tensor(&Tensor::from_vec(vec![3.0, 6.0], &[1, 2])).unwrap();
    assert_eq!(tensor.to_vec(), [0.0, 1.0]);
}

#[test]
fn standardizer_round_trips_through_json_and_unscales_linear_weights() {
    let x: Vec<f64> = (0..20).map(|i| (i * 7 % 11) as f64 + (i % 3) as f64 * 10.0).collect();
    let s = Standardizer::fit(&x, 2, None).unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<Standardizer>(&json).unwrap(), s);
    // A model on standardized inputs and its unstandardized form agree on raw inputs.
    let (w, b) = (vec![0.5, -2.0], 1.25);
    let (w0, b0) = s.unstandardize_linear(&w, b).unwrap();
    let mut z = x.clone();
    s.transform(&mut z).unwrap();
    for (raw, std) in x.chunks(2).zip(z.chunks(2)) {
        let on_std = w[0] * std[0] + w[1] * std[1] + b;
        let on_raw = w0[0] * raw[0] + w0[1] * raw[1] + b0;
        assert!((on_std - on_raw).abs() < 1e-9);
    }
    assert!(s.unstandardize_linear(&[1.0], 0.0).is_err());
}
