//! Every input the fuzzers (`fuzz/`, see README.md § Contributing) ever crashed on, replayed with
//! the same checks as the fuzz targets: each must give a well-formed table or an error, never a
//! panic or a huge allocation. Inputs live in `tests/fuzz_regressions/<target>/`; the first byte
//! selects options exactly as in `fuzz/fuzz_targets/<target>.rs`.

use std::path::PathBuf;

use ftheta_data::{parse_csv, parse_idx_images, parse_idx_labels, CsvOptions};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions").join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// The options of `fuzz/fuzz_targets/csv.rs` for its first byte.
fn csv_options(flags: u8) -> CsvOptions {
    let mut o = CsvOptions::default();
    if flags & 1 != 0 {
        o.has_header = false;
    }
    if flags & 2 != 0 {
        o.classification = true;
    }
    if flags & 4 != 0 {
        o.target = Some(if o.has_header { "b".into() } else { "column_2".into() });
    }
    if flags & 8 != 0 {
        o.categorical.push(if o.has_header { "a".into() } else { "column_1".into() });
    }
    if flags & 16 != 0 {
        o.drop.push("c".into());
    }
    if flags & 32 != 0 {
        o.features = Some(vec!["a".into(), "c".into()]);
    }
    if flags & 64 != 0 {
        o.categorical.push("b".into());
    }
    o
}

#[test]
fn csv_inputs_that_crashed_the_fuzzer() {
    let cases = inputs("csv");
    assert!(!cases.is_empty());
    for (name, data) in cases {
        let Some((&flags, bytes)) = data.split_first() else { continue };
        match parse_csv("fuzz.csv", bytes, &csv_options(flags)) {
            Ok(t) => {
                assert_eq!(t.features.len(), t.n_rows * t.n_features(), "{name}");
                assert!(t.features.iter().chain(&t.targets).all(|v| v.is_finite()), "{name}");
                if let Some(c) = &t.class_names {
                    assert!(c.len() >= 2 && t.targets.iter().all(|&v| (v as usize) < c.len()), "{name}");
                }
            }
            Err(e) => assert!(e.to_string().contains("fuzz.csv"), "{name}: {e}"),
        }
    }
}

#[test]
fn a_huge_class_index_is_an_error_not_an_allocation() {
    let o = CsvOptions::default().target("b").classification(true);
    let e = parse_csv("ids.csv", b"a,b\n1,0\n2,2025597925\n", &o).unwrap_err().to_string();
    assert!(e.contains("ids.csv line 3") && e.contains("2025597925") && e.contains("too large"), "{e}");
}

#[test]
fn idx_inputs_that_crashed_the_fuzzer() {
    for (name, data) in inputs("idx") {
        let Some((&which, bytes)) = data.split_first() else { continue };
        if which & 1 == 0 {
            if let Ok(im) = parse_idx_images("fuzz-images", bytes) {
                assert_eq!(im.pixels.len(), im.n * im.rows * im.cols, "{name}");
            }
        } else if let Ok(labels) = parse_idx_labels("fuzz-labels", bytes) {
            assert_eq!(bytes.len(), 8 + labels.len(), "{name}");
        }
    }
}
