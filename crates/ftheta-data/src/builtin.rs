//! Data sets known by name: `xor`, made here, and iris, digits and deliveries, shipped in the
//! project's `data/` folder and compiled into the library (so an installed binary needs no files),
//! with readers that know the layout of their files so that callers need no options.

use std::path::Path;

use crate::csv::{parse_csv, CsvOptions, Table};
use crate::error::{DataError, Result};
use crate::io::{display_name, read_bytes};

/// The names [`by_name`] knows.
pub const BUILTIN_NAMES: &[&str] = &["xor", "iris", "digits", "deliveries"];

/// Where [`by_name`] looks for each file-backed data set, relative to its data folder (the layout
/// of the project's shared data folder).
pub const BUILTIN_PATHS: &[(&str, &str)] =
    &[("iris", "sklearn/iris.csv"), ("digits", "sklearn/digits.csv.gz"), ("deliveries", "deliveries/deliveries.csv")];

/// A data set by name. Every one is compiled in ([`iris`], [`digits`], [`deliveries`], [`xor`]);
/// iris and digits are read from `data_dir` instead when it holds their file, at the path in
/// [`BUILTIN_PATHS`] (`sklearn/iris.csv`) or by its file name alone (`iris.csv`, as in a project's
/// own `data/` folder).
pub fn by_name(name: &str, data_dir: impl AsRef<Path>) -> Result<Table> {
    let file = |n: &str| builtin_file(n, data_dir.as_ref()).filter(|f| f.is_file());
    match name {
        "xor" => Ok(xor()),
        "iris" => file("iris").map_or_else(iris, iris_from),
        "digits" => file("digits").map_or_else(digits, digits_from),
        "deliveries" => deliveries(),
        _ => Err(DataError::UnknownDataset {
            name: name.into(),
            available: BUILTIN_NAMES.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

/// Where [`by_name`] reads the file of the data set `name` in `data_dir`: its path in
/// [`BUILTIN_PATHS`] when that file exists, else its file name alone when that one exists, else
/// the path in [`BUILTIN_PATHS`] (so that the error of reading it names the expected place);
/// `None` for a name without a file.
pub fn builtin_file(name: &str, data_dir: &Path) -> Option<std::path::PathBuf> {
    let rel = BUILTIN_PATHS.iter().find(|(k, _)| *k == name).map(|(_, p)| Path::new(p))?;
    let (full, flat) = (data_dir.join(rel), data_dir.join(rel.file_name()?));
    Some(if !full.is_file() && flat.is_file() { flat } else { full })
}

/// The deliveries table shipped with ftheta (`data/deliveries.csv`, modeldata, MIT), compiled
/// into the library so that it works from any folder with no download: target
/// `time_to_delivery`, `day` one-hot encoded. It is parsed once per process; later calls get a
/// copy.
pub fn deliveries() -> Result<Table> {
    static PARSED: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    if let Some(t) = PARSED.get() {
        return Ok(t.clone());
    }
    let table = deliveries_with(&CsvOptions::default().target("time_to_delivery"))?;
    Ok(PARSED.get_or_init(|| table).clone())
}

/// The shipped deliveries table read with `options` (other columns, another target, or none for
/// predictions); `day` is always one-hot encoded, as its values are day names. The one place the
/// embedded bytes are parsed.
pub fn deliveries_with(options: &CsvOptions) -> Result<Table> {
    let mut options = options.clone();
    if !options.categorical.iter().any(|c| c == "day") {
        options.categorical.push("day".into());
    }
    parse_csv("deliveries.csv", DELIVERIES_CSV, &options)
}

/// The bytes of the shipped deliveries table.
pub const DELIVERIES_CSV: &[u8] = include_bytes!("../../../data/deliveries.csv");

/// The bytes of the shipped iris table (`data/iris.csv`, scikit-learn, BSD-3-Clause).
pub const IRIS_CSV: &[u8] = include_bytes!("../../../data/iris.csv");

/// The gzip-compressed bytes of the shipped digits table (`data/digits.csv.gz`, scikit-learn's
/// copy of UCI optdigits, BSD-3-Clause).
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../../data/digits.csv.gz");

/// The iris flowers shipped with ftheta (150 rows, 4 measurements in cm, 3 species), compiled
/// into the library; the layout of [`iris_from`].
pub fn iris() -> Result<Table> {
    parse_iris("iris.csv", IRIS_CSV)
}

/// The 8x8 handwritten digits shipped with ftheta (1,797 images, pixels 0..16, target `digit`),
/// compiled into the library; the layout of [`digits_from`].
pub fn digits() -> Result<Table> {
    use std::io::Read;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ).read_to_end(&mut bytes).map_err(|e| DataError::Format {
        file: "digits.csv.gz".into(),
        line: 0,
        message: e.to_string(),
    })?;
    crate::csv::parse_csv("digits.csv.gz", &bytes, &digits_options())
}

fn digits_options() -> CsvOptions {
    let names = (0..64).map(|i| format!("pixel_{i}")).chain(["digit".to_string()]);
    CsvOptions::default().no_header(names).target("digit").classification(true)
}

/// The four points of XOR: features `x1, x2` in {0, 1}, target `y = x1 xor x2` (classes 0 and 1).
pub fn xor() -> Table {
    Table {
        feature_names: vec!["x1".into(), "x2".into()],
        features: vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        target_name: Some("y".into()),
        targets: vec![0.0, 1.0, 1.0, 0.0],
        class_names: Some(vec!["0".into(), "1".into()]),
        n_rows: 4,
    }
}

/// scikit-learn's `iris.csv`: a first line `150,4,setosa,versicolor,virginica` (rows, features,
/// class names), then four measurements (cm) and the class index per row. The table's class names
/// come from that first line, and its counts are checked against the data.
pub fn iris_from(path: impl AsRef<Path>) -> Result<Table> {
    let path = path.as_ref();
    parse_iris(&display_name(path), &read_bytes(path)?)
}

fn parse_iris(file: &str, bytes: &[u8]) -> Result<Table> {
    let file = file.to_string();
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(first));
    let head: Vec<&str> = first.trim().split(',').map(str::trim).collect();
    let bad = |message: String| DataError::Format { file: file.clone(), line: 1, message };
    let (n_rows, n_features) = match head.as_slice() {
        [n, d, ..] => match (n.parse::<usize>(), d.parse::<usize>()) {
            (Ok(n), Ok(d)) => (n, d),
            _ => return Err(bad(format!("expected 'rows,features,class names…', found '{first}'"))),
        },
        _ => return Err(bad(format!("expected 'rows,features,class names…', found '{first}'"))),
    };
    let names = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
    if n_features != names.len() || head.len() != 2 + 3 {
        // The header's width must equal the rows' (features + class) for the CSV reader; iris
        // has three classes, so a well-formed header is exactly `n,4,a,b,c`.
        return Err(bad(format!("expected 4 features and 3 class names, found '{first}'")));
    }
    let options = CsvOptions::default()
        .no_header(names.iter().copied().chain(["species"]))
        .target("species")
        .classification(true);
    // The first line stays in the file, so read it as a header that the given names replace.
    let options = CsvOptions { has_header: true, ..options };
    let mut table = parse_csv(&file, bytes, &options)?;
    if table.n_rows != n_rows {
        return Err(bad(format!("the first line promises {n_rows} rows, the file has {}", table.n_rows)));
    }
    let classes: Vec<String> = head[2..].iter().map(|s| s.to_string()).collect();
    if table.n_classes().unwrap_or(0) > classes.len() {
        return Err(bad(format!("the first line names {} classes, the data has more", classes.len())));
    }
    table.class_names = Some(classes);
    Ok(table)
}

/// scikit-learn's `digits.csv.gz`: no header, 64 pixel values 0..16 of an 8x8 image then the digit.
/// Features are called `pixel_0` … `pixel_63` (row-major), the target `digit`.
pub fn digits_from(path: impl AsRef<Path>) -> Result<Table> {
    crate::csv::read_csv(path, &digits_options())
}

/// The food-delivery table in a file (a copy of the shipped one, or another of its layout): target
/// `time_to_delivery` (minutes), `day` one-hot encoded, every other column numeric.
pub fn deliveries_from(path: impl AsRef<Path>) -> Result<Table> {
    let options = CsvOptions::default().target("time_to_delivery").categorical(["day"]);
    crate::csv::read_csv(path, &options)
}

#[cfg(test)]
mod shipped_tests {
    #[test]
    fn the_shipped_deliveries_table_needs_no_files() {
        let t = super::deliveries().unwrap();
        assert_eq!(t.n_rows, 10012);
        assert_eq!(t.target_name.as_deref(), Some("time_to_delivery"));
        assert!(t.feature_names.iter().any(|n| n == "day=Sat") && t.feature_names.iter().any(|n| n == "distance"));
        let by_name = super::by_name("deliveries", "/nonexistent").unwrap();
        assert_eq!(by_name.features, t.features);
        // The cached copy is the table parsed afresh.
        let fresh = super::deliveries_with(&super::CsvOptions::default().target("time_to_delivery")).unwrap();
        assert_eq!(fresh, t);
        let no_target = super::deliveries_with(&super::CsvOptions::default()).unwrap();
        assert!(no_target.target_name.is_none() && no_target.feature_names.iter().any(|n| n == "time_to_delivery"));
        assert!(no_target.feature_names.iter().any(|n| n == "day=Mon"), "day is one-hot encoded without being asked");
    }

    #[test]
    fn iris_and_digits_need_no_files() {
        let iris = super::by_name("iris", "/nonexistent").unwrap();
        assert_eq!((iris.n_rows, iris.n_features()), (150, 4));
        assert_eq!(iris.class_names.as_deref().unwrap(), ["setosa", "versicolor", "virginica"]);
        let digits = super::by_name("digits", "/nonexistent").unwrap();
        assert_eq!((digits.n_rows, digits.n_features(), digits.n_classes()), (1797, 64, Some(10)));
        assert!(digits.features.iter().all(|&p| (0.0..=16.0).contains(&p)));
        // The shipped copies are the shared data folder's files, byte for byte.
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sklearn");
        if shared.is_dir() {
            assert_eq!(super::iris_from(shared.join("iris.csv")).unwrap(), iris);
            assert_eq!(super::digits_from(shared.join("digits.csv.gz")).unwrap(), digits);
        }
    }

    #[test]
    fn files_are_found_at_their_shared_path_or_by_their_name() {
        let dir = std::env::temp_dir().join(format!("ftheta-builtin-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sklearn")).unwrap();
        assert_eq!(super::builtin_file("iris", &dir), Some(dir.join("sklearn/iris.csv")), "the expected place");
        std::fs::write(dir.join("iris.csv"), "x").unwrap();
        assert_eq!(super::builtin_file("iris", &dir), Some(dir.join("iris.csv")));
        std::fs::write(dir.join("sklearn/iris.csv"), "x").unwrap();
        assert_eq!(super::builtin_file("iris", &dir), Some(dir.join("sklearn/iris.csv")));
        assert_eq!(super::builtin_file("xor", &dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
