//! Malformed inputs: every reader returns an error (never panics) whose message says where.

mod common;

use common::{gzip, idx, TempDir};
use ftheta_data::{builtin, read_csv, read_idx_images, read_idx_labels, read_mnist_dir, CsvOptions, DataError};

/// Writes `text` as `name` and reads it with `options`, expecting an error; returns its message.
fn csv_err(name: &str, text: &str, options: &CsvOptions) -> String {
    let dir = TempDir::new("csv");
    let path = dir.write(name, text.as_bytes());
    let msg = read_csv(&path, options).expect_err("the file is malformed").to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    msg
}

fn ends(msg: &str, tail: &str) {
    assert!(msg.ends_with(tail), "{msg:?} should end with {tail:?}");
}

#[test]
fn a_bad_number_names_file_line_and_column() {
    let text = "time_to_delivery,hour,distance\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,abc\n";
    let msg = csv_err("deliveries.csv", text, &CsvOptions::default().target("time_to_delivery"));
    ends(&msg, "deliveries.csv line 7, column distance: 'abc' is not a number");
}

#[test]
fn empty_and_header_only_files() {
    ends(&csv_err("empty.csv", "", &CsvOptions::default()), "empty.csv is empty");
    ends(&csv_err("bom.csv", "\u{feff}", &CsvOptions::default()), "bom.csv is empty");
    ends(&csv_err("head.csv", "a,b\r\n", &CsvOptions::default()), "head.csv has a header but no data rows");
}

#[test]
fn a_ragged_row_names_its_line_and_widths() {
    let header = (1..=31).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
    let row = vec!["1"; 31].join(",");
    let text = format!("{header}\n{row}\n{row}\n{row}\n1,2,3\n{row}\n");
    ends(&csv_err("r.csv", &text, &CsvOptions::default()), "r.csv line 5 has 3 fields, the header has 31");
}

#[test]
fn nan_infinite_and_empty_cells_are_errors() {
    let o = CsvOptions::default();
    ends(
        &csv_err("n.csv", "a,b\n1,2\n3,NaN\n", &o),
        "n.csv line 3, column b: 'NaN' is not finite (NaN and infinite values are not allowed)",
    );
    ends(
        &csv_err("i.csv", "a,b\n-inf,2\n", &o),
        "i.csv line 2, column a: '-inf' is not finite (NaN and infinite values are not allowed)",
    );
    ends(
        &csv_err("o.csv", "a,b\n1e999,2\n", &o),
        "o.csv line 2, column a: '1e999' is not finite (NaN and infinite values are not allowed)",
    );
    ends(
        &csv_err("e.csv", "a,b\n1,2\n1,\n", &o),
        "e.csv line 3, column b: the cell is empty (missing values are not supported)",
    );
    ends(&csv_err("t.csv", "a,b\n1,2\n1,x\n", &o.clone().target("b")), "t.csv line 3, column b: 'x' is not a number");
}

#[test]
fn a_label_column_not_declared_categorical_suggests_the_flag() {
    let msg = csv_err("d.csv", "y,day,x\n1,Mon,2\n2,Tue,3\n", &CsvOptions::default().target("y"));
    ends(&msg, "d.csv line 2, column day: 'Mon' is not a number, and no value in column day is; if it is categorical, say so with --categorical day");
}

#[test]
fn unknown_and_duplicate_columns() {
    let text = "a,b,c\n1,2,3\n";
    ends(
        &csv_err("u.csv", text, &CsvOptions::default().target("z")),
        "u.csv has no column 'z' (given as target); its columns are: a, b, c",
    );
    ends(
        &csv_err("u.csv", text, &CsvOptions::default().categorical(["q"])),
        "u.csv has no column 'q' (given as categorical); its columns are: a, b, c",
    );
    ends(
        &csv_err("u.csv", text, &CsvOptions::default().features(["a", "w"])),
        "u.csv has no column 'w' (given as feature); its columns are: a, b, c",
    );
    ends(
        &csv_err("dup.csv", "a,b,a\n1,2,3\n", &CsvOptions::default()),
        "dup.csv line 1: column name 'a' appears twice (columns 1 and 3)",
    );
    ends(
        &csv_err("f.csv", text, &CsvOptions::default().target("a").features(["a", "b"])),
        "f.csv: column 'a' is the target, so it cannot also be a feature",
    );
}

#[test]
fn classification_targets() {
    let o = CsvOptions::default().target("y").classification(true);
    ends(
        &csv_err("one.csv", "x,y\n1,3\n2,3.0\n", &o),
        "one.csv: classification target y has a single class (3); it needs at least two",
    );
    ends(
        &csv_err("one.csv", "x,y\n1,cat\n2,cat\n", &o),
        "one.csv: classification target y has a single class (cat); it needs at least two",
    );
    ends(
        &csv_err("frac.csv", "x,y\n1,0\n2,1.5\n", &o),
        "frac.csv line 3, column y: '1.5' is not a class index (a whole number >= 0)",
    );
}

#[test]
fn invalid_utf8_is_an_error_with_a_line() {
    let dir = TempDir::new("utf8");
    let path = dir.write("bin.csv", b"a,b\n1,2\n3,\xff\xfe\n");
    let msg = read_csv(&path, &CsvOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("bin.csv line 3"), "{msg}");
}

#[test]
fn missing_files_name_their_path() {
    let dir = TempDir::new("missing");
    let path = dir.path().join("nope.csv");
    let err = read_csv(&path, &CsvOptions::default()).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
    assert!(err.to_string().starts_with(&path.display().to_string()), "{err}");
    let msg = read_mnist_dir(dir.path()).unwrap_err().to_string();
    ends(&msg, "neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz is there");
    let msg = builtin::by_name("cifar", dir.path()).unwrap_err().to_string();
    assert_eq!(msg, "no built-in data set is called 'cifar'; there are: xor, iris, digits, deliveries");
}

#[test]
fn bom_crlf_quotes_and_gzip_just_work() {
    let dir = TempDir::new("ok");
    let text = "\u{feff}y,\"name, quoted\",day\r\n1.5, 2 ,Tue\r\n2.5,3,Mon\r\n\r\n";
    let o = CsvOptions::default().target("y").categorical(["day"]);
    let plain = read_csv(dir.write("ok.csv", text.as_bytes()), &o).unwrap();
    assert_eq!(plain.feature_names, ["name, quoted", "day=Mon", "day=Tue"]);
    assert_eq!(plain.features, [2.0, 0.0, 1.0, 3.0, 1.0, 0.0]);
    assert_eq!(plain.targets, [1.5, 2.5]);
    let gz = gzip(text.as_bytes());
    assert_eq!(read_csv(dir.write("ok.csv.gz", &gz), &o).unwrap(), plain);
    // Recognised by its magic bytes too, whatever the name.
    assert_eq!(read_csv(dir.write("ok.data", &gz), &o).unwrap(), plain);
    let msg = read_csv(dir.write("fake.csv.gz", text.as_bytes()), &o).unwrap_err().to_string();
    assert!(msg.contains("fake.csv.gz"), "{msg}");
}

#[test]
fn idx_errors_name_the_file() {
    let dir = TempDir::new("idx");
    let p = dir.write("zero-idx1-ubyte", b"");
    ends(&read_idx_labels(&p).unwrap_err().to_string(), "zero-idx1-ubyte is empty");
    let p = dir.write("labels-idx1-ubyte", &idx(&[3], &[1, 2, 3]));
    assert_eq!(read_idx_labels(&p).unwrap(), [1, 2, 3]);
    ends(
        &read_idx_images(&p).unwrap_err().to_string(),
        "labels-idx1-ubyte: magic number 0x00000801 is not that of an IDX images file (0x00000803)",
    );
    let p = dir.write("short-idx3-ubyte", &idx(&[2, 2, 2], &[0; 7]));
    ends(
        &read_idx_images(&p).unwrap_err().to_string(),
        "short-idx3-ubyte is truncated: its header promises 24 bytes, it has 23",
    );
    let p = dir.write("head-idx3-ubyte", &[0, 0, 8, 3, 0, 0]);
    ends(
        &read_idx_images(&p).unwrap_err().to_string(),
        "head-idx3-ubyte is truncated: its header promises 16 bytes, it has 6",
    );
    let p = dir.write("huge-idx3-ubyte", &idx(&[u32::MAX, u32::MAX, u32::MAX], &[]));
    assert!(matches!(read_idx_images(&p).unwrap_err(), DataError::Truncated { .. }));
    let p = dir.write("long-idx1-ubyte", &idx(&[2], &[1, 2, 3]));
    ends(
        &read_idx_labels(&p).unwrap_err().to_string(),
        "long-idx1-ubyte has 1 bytes after the 10 its header describes",
    );
    let p = dir.write("bad-idx1-ubyte.gz", b"not gzip");
    assert!(matches!(read_idx_labels(&p).unwrap_err(), DataError::Io { .. }));
}

#[test]
fn an_mnist_folder_checks_that_images_and_labels_pair_up() {
    let dir = TempDir::new("mnist");
    let images = idx(&[3, 2, 2], &[0, 255, 51, 102, 0, 0, 0, 0, 255, 255, 255, 255]);
    dir.write("train-images-idx3-ubyte.gz", &gzip(&images));
    dir.write("train-labels-idx1-ubyte", &idx(&[3], &[4, 0, 9]));
    dir.write("t10k-images-idx3-ubyte", &images);
    dir.write("t10k-labels-idx1-ubyte.gz", &gzip(&idx(&[2], &[1, 2])));
    let msg = read_mnist_dir(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("t10k-images-idx3-ubyte holds 3 images but"), "{msg}");
    ends(&msg, "t10k-labels-idx1-ubyte.gz holds 2 labels");
    dir.write("t10k-labels-idx1-ubyte.gz", &gzip(&idx(&[3], &[1, 2, 3])));
    let m = read_mnist_dir(dir.path()).unwrap();
    assert_eq!(m.train.labels, [4, 0, 9]);
    assert_eq!(m.train.images[..4], [0.0, 1.0, 0.2, 0.4]);
    assert_eq!(m.train.images_tensor().shape(), &[3, 4]);
}

#[test]
fn features_can_be_chosen_dropped_and_read_without_a_header() {
    let dir = TempDir::new("select");
    let path = dir.write("s.csv", b"a,b,c,y\n1,2,3,0\n4,5,6,1\n");
    let t = read_csv(&path, &CsvOptions::default().target("y").features(["c", "a"])).unwrap();
    assert_eq!(t.feature_names, ["c", "a"]);
    assert_eq!(t.features, [3.0, 1.0, 6.0, 4.0]);
    let t = read_csv(&path, &CsvOptions::default().target("y").drop(["b"])).unwrap();
    assert_eq!(t.feature_names, ["a", "c"]);
    assert_eq!(t.targets_tensor().unwrap().shape(), &[2, 1]);
    let t = read_csv(&path, &CsvOptions::default().drop(["y"])).unwrap();
    assert_eq!(t.n_features(), 3);
    assert!(t.to_tensors().is_err(), "no target");
    let t = read_csv(&path, &CsvOptions::default().no_header(["p", "q", "r", "s"])).unwrap_err();
    ends(&t.to_string(), "s.csv line 1, column p: 'a' is not a number");
    let mut o = CsvOptions::default().target("label").classification(true);
    o.has_header = false;
    o.column_names = Some(vec!["u".into(), "label".into()]);
    let t = read_csv(dir.write("n.csv", b"0.5,dog\n1.5,cat\n2.5,dog\n"), &o).unwrap();
    assert_eq!(t.class_names.as_deref().unwrap(), ["cat", "dog"]);
    assert_eq!(t.class_indices().unwrap(), [1, 0, 1]);
    assert_eq!(t.to_dataset().unwrap().n_classes(), Some(2));
}

#[test]
fn values_beyond_f32_are_errors_naming_their_column_and_huge_columns_standardize() {
    let o = CsvOptions::default().target("y");
    let t = ftheta_data::parse_csv("big.csv", b"x,y\n1,2\n4e38,3\n", &o).unwrap();
    let e = t.to_dataset().unwrap_err().to_string();
    assert!(e.contains("column x: 4e38 is beyond the range of f32"), "{e}");
    let t = ftheta_data::parse_csv("big.csv", b"x,y\n1,2\n3,-1e39\n", &o).unwrap();
    assert!(t.to_dataset().unwrap_err().to_string().contains("column y: -1e39"));
    // 1e200 squared overflows f64; the standardizer measures such a column in its own units.
    let x = [1e200, 3e200, -1e308, 1e308];
    let s = ftheta_data::Standardizer::fit(&x[..2], 1, None).unwrap();
    assert!((s.mean[0] - 2e200).abs() < 1e186 && (s.std[0] - 1e200).abs() < 1e186, "{s:?}");
    let mut z = x[..2].to_vec();
    s.transform(&mut z).unwrap();
    assert!((z[0] + 1.0).abs() < 1e-12 && (z[1] - 1.0).abs() < 1e-12, "{z:?}");
    let s = ftheta_data::Standardizer::fit(&x[2..], 1, None).unwrap();
    assert!(s.mean[0].abs() < 1e292 && (s.std[0] - 1e308).abs() < 1e294, "{s:?}");
    // A value that standardization leaves beyond f32 is named as such.
    let names = ["x".to_string()];
    let e = ftheta_data::to_f32(&[0.5, 1e39], &names, "t.csv", true).unwrap_err().to_string();
    assert_eq!(e, "t.csv: column x: 1e39 is beyond the range of f32 (±3.4e38) even after standardization");
}
