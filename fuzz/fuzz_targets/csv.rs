//! `parse_csv` on arbitrary bytes with options chosen by the first byte: it must return a table
//! whose sizes agree and whose every value is finite, or an error; never panic or hang.
#![no_main]

use ftheta_data::{parse_csv, CsvOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else { return };
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
    if let Ok(t) = parse_csv("fuzz.csv", bytes, &o) {
        assert!(t.n_rows > 0);
        assert_eq!(t.features.len(), t.n_rows * t.n_features());
        assert!(t.features.iter().all(|v| v.is_finite()));
        assert!(t.targets.iter().all(|v| v.is_finite()));
        match &t.target_name {
            Some(_) => assert_eq!(t.targets.len(), t.n_rows),
            None => assert!(t.targets.is_empty()),
        }
        if let Some(classes) = &t.class_names {
            assert!(classes.len() >= 2);
            assert!(t.targets.iter().all(|&v| v >= 0.0 && (v as usize) < classes.len()));
        }
        if t.target_name.is_some() {
            let _ = t.to_dataset();
        }
    }
});
