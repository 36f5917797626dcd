//! The readers on the real files of the project's shared data folder.

mod common;

use ftheta_data::{builtin, read_mnist_dir, Dataset};

#[test]
fn deliveries_has_10012_rows_and_day_one_hot() {
    let Some(dir) = common::data_dir("deliveries") else { return };
    let t = builtin::deliveries_from(dir.join("deliveries/deliveries.csv")).unwrap();
    assert_eq!(t.n_rows, 10012);
    assert_eq!(t.target_name.as_deref(), Some("time_to_delivery"));
    let days: Vec<&str> = t.feature_names.iter().filter(|n| n.starts_with("day=")).map(String::as_str).collect();
    assert_eq!(days, ["day=Fri", "day=Mon", "day=Sat", "day=Sun", "day=Thu", "day=Tue", "day=Wed"]);
    // 31 columns, less the target, with `day` widened from 1 to 7.
    assert_eq!(t.n_features(), 30 - 1 + 7);
    let first_day = t.feature_names.iter().position(|n| n == "day=Fri").unwrap();
    assert_eq!(&t.feature_names[first_day - 1], "hour");
    for i in 0..t.n_rows {
        let row = t.row(i).unwrap();
        assert_eq!(row[first_day..first_day + 7].iter().sum::<f64>(), 1.0, "row {i}");
    }
    // The first data row: 16.1106,11.899,Thu,3.15,…
    assert_eq!(t.targets[0], 16.1106);
    assert_eq!(t.row(0).unwrap()[0], 11.899);
    assert_eq!(t.row(0).unwrap()[first_day + 4], 1.0);
    let (x, y) = t.to_tensors().unwrap();
    assert_eq!(x.shape(), &[10012, 36]);
    assert_eq!(y.shape(), &[10012, 1]);
}

#[test]
fn mnist_counts_match_the_readme() {
    let Some(dir) = common::data_dir("MNIST") else { return };
    let m = read_mnist_dir(dir.join("mnist")).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (60000, 10000));
    assert_eq!((m.train.rows, m.train.cols), (28, 28));
    assert_eq!(m.train.label_counts(10), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert_eq!(m.test.label_counts(10), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    assert!(m.test.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
    assert_eq!(m.test.images.iter().fold(0.0f32, |a, &b| a.max(b)), 1.0);
    assert_eq!(m.test.images_tensor().shape(), &[10000, 784]);
    assert_eq!(m.test.labels_tensor().shape(), &[10000]);
    let ds = m.test.into_dataset().unwrap();
    let (x, y) = ds.get_batch(&[0, 9999]);
    assert_eq!(x.shape(), &[2, 784]);
    assert_eq!(y.to_vec()[0], 7.0); // the first test digit is a 7
}

#[test]
fn digits_are_1797_by_64_with_ten_classes() {
    let Some(dir) = common::data_dir("digits") else { return };
    let t = builtin::digits_from(dir.join("sklearn/digits.csv.gz")).unwrap();
    assert_eq!((t.n_rows, t.n_features()), (1797, 64));
    assert_eq!(t.n_classes(), Some(10));
    assert!(t.features.iter().all(|&v| (0.0..=16.0).contains(&v)));
    assert_eq!(t.class_indices().unwrap()[..2], [0, 1]);
}

#[test]
fn iris_is_150_by_4_with_three_named_classes() {
    let Some(dir) = common::data_dir("iris") else { return };
    let t = builtin::iris_from(dir.join("sklearn/iris.csv")).unwrap();
    assert_eq!((t.n_rows, t.n_features()), (150, 4));
    assert_eq!(t.class_names.as_deref().unwrap(), ["setosa", "versicolor", "virginica"]);
    let classes = t.class_indices().unwrap();
    for c in 0..3 {
        assert_eq!(classes.iter().filter(|&&k| k == c).count(), 50);
    }
    assert_eq!(t.row(0).unwrap(), [5.1, 3.5, 1.4, 0.2]);
    assert_eq!(builtin::by_name("iris", &dir).unwrap(), t);
}
