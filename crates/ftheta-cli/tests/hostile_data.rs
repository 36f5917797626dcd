//! Data files made by an attacker or by accident, run against the built binary: sizes that would
//! exhaust memory, files that never end or never open, labels and shapes that used to panic, and
//! cells full of control characters. Each kind is a corpus of cases, and each case must end in
//! seconds with exit 2 and a short message naming the file and the problem (`common::assert_refused`:
//! no panic, no backtrace, no raw control character), leaving no run folder behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod common;
use common::{assert_refused, fresh_dir, ftheta, ftheta_in, idx, mnist_dir};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `train` (one epoch) on `data` with `flags` is refused with `expected`, and `--out` is not made.
fn train_refused(dir: &Path, case: &str, data: &str, flags: &[&str], expected: &[&str]) {
    let out_dir = dir.join(format!("run-{}", case.replace(['/', ' '], "_")));
    let mut args = vec!["train", "-q", "--epochs", "1", "--out", s(&out_dir), "--data", data];
    args.extend_from_slice(flags);
    assert_refused(case, &ftheta(&args), expected);
    assert!(!out_dir.exists(), "{case}: left {}", out_dir.display());
}

fn write_csv(dir: &Path, name: &str, header: &str, rows: impl Iterator<Item = String>) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    writeln!(f, "{header}").unwrap();
    for r in rows {
        writeln!(f, "{r}").unwrap();
    }
    f.flush().unwrap();
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn sizes_from_the_input_are_checked_before_anything_that_large_is_allocated() {
    let dir = fresh_dir("hostile", "sizes");
    // An ID column declared categorical: 100,000 one-hot columns of 100,000 rows is 80 GB.
    let ids = write_csv(&dir, "ids.csv", "id,y", (0..100_000).map(|i| format!("k{i},{}", i % 7)));
    let expect_ids = ["ids.csv line 10002, column id", "more than 10000 distinct values"];
    train_refused(&dir, "categorical ids", s(&ids), &["--target", "y", "--categorical", "id"], &expect_ids);
    let out = ftheta(&["solve", "--data", s(&ids), "--target", "y", "--categorical", "id"]);
    assert_refused("solve categorical ids", &out, &expect_ids);
    // A text target with a class per row.
    let labels = write_csv(&dir, "labels.csv", "x,label", (0..20_000).map(|i| format!("{i},c{i}")));
    let expect = ["labels.csv line 10002, column label", "more than 10000 distinct values"];
    train_refused(&dir, "text classes", s(&labels), &["--target", "label", "--categorical", "label"], &expect);
    // Two categorical columns, each within the limit, whose one-hot table is too large.
    let wide = write_csv(&dir, "wide.csv", "a,b,y", (0..25_000).map(|i| format!("a{},b{},{i}", i % 6000, i % 6001)));
    let flags = ["--target", "y", "--categorical", "a,b"];
    train_refused(&dir, "one-hot table", s(&wide), &flags, &["wide.csv: 25000 rows × 12001", "more than the limit"]);
    // A numeric class index that would name 2 billion classes.
    let big = write_csv(&dir, "index.csv", "x,c", ["1,0".to_string(), "2,2000000000".to_string()].into_iter());
    train_refused(&dir, "class index", s(&big), &["--target", "c", "--loss", "cross-entropy"], &["too large"]);
    // A file larger than the limit (sparse: it costs no disk).
    let huge = dir.join("huge.csv");
    std::fs::File::create(&huge).unwrap().set_len((1 << 30) + 1).unwrap();
    train_refused(&dir, "huge csv", s(&huge), &["--target", "y"], &["huge.csv is larger than 1.0 GiB"]);

    // IDX: a header that promises 2 GB (the gzip holds 16 bytes), and gzip bombs whose headers
    // promise little but which inflate to 64 MiB, in the images and in the labels file.
    let promise = fresh_dir("hostile", "idx-promise");
    mnist_dir(&promise, (&[1, 1, 1], &[0], &[0]), (&[1, 1, 1], &[0], &[0]));
    let images = promise.join("train-images-idx3-ubyte");
    std::fs::remove_file(&images).unwrap();
    std::fs::write(promise.join("train-images-idx3-ubyte.gz"), gzip(&idx(&[200_000, 100, 100], &[]))).unwrap();
    train_refused(&dir, "idx promise", s(&promise), &[], &["train-images-idx3-ubyte.gz is larger than 1.0 GiB"]);
    let zeros = vec![0u8; 64 << 20];
    for (file, header) in [("train-images-idx3-ubyte", vec![10, 28, 28]), ("train-labels-idx1-ubyte", vec![10])] {
        let bomb = fresh_dir("hostile", &format!("bomb-{file}"));
        mnist_dir(&bomb, (&[10, 28, 28], &[0; 7840], &[0; 10]), (&[1, 28, 28], &[0; 784], &[0]));
        std::fs::remove_file(bomb.join(file)).unwrap();
        let mut bytes = idx(&header, &[]);
        bytes.extend_from_slice(&zeros);
        std::fs::write(bomb.join(format!("{file}.gz")), gzip(&bytes)).unwrap();
        let expected = format!("{file}.gz holds more than 16777216 bytes past the");
        train_refused(&dir, &format!("bomb {file}"), s(&bomb), &[], &[&expected]);
    }
}

#[test]
fn special_files_are_refused_at_once_and_never_read_or_waited_on() {
    let dir = fresh_dir("hostile", "special");
    let fifo = dir.join("pipe.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let link = dir.join("zero.csv");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let good = write_csv(&dir, "good.csv", "x,y", (0..20).map(|i| format!("{i},{}", 2 * i)));
    let run = dir.join("run");
    let out = ftheta(&["train", "-q", "--epochs", "1", "--data", s(&good), "--target", "y", "--out", s(&run)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cases: [(&str, &str); 5] = [
        ("/dev/zero", "/dev/zero: is a device"),
        ("/dev/urandom", "/dev/urandom: is a device"),
        ("/dev/null", "/dev/null: is a device"),
        (s(&fifo), "pipe.csv: is a named pipe (FIFO)"),
        (s(&link), "zero.csv: is a device"),
    ];
    let limit = Duration::from_secs(20);
    for (data, expected) in cases {
        for cmd in ["train", "solve", "eval", "predict"] {
            let args: Vec<&str> = match cmd {
                "train" => vec!["train", "-q", "--epochs", "1", "--data", data, "--target", "y"],
                "solve" => vec!["solve", "--data", data, "--target", "y"],
                _ => vec![cmd, "--run", s(&run), "--data", data],
            };
            let out = ftheta_in(None, &args, limit);
            assert_refused(&format!("{cmd} {data}"), &out, &[expected, "regular files only"]);
        }
    }
    // An MNIST folder whose files are pipes: not taken for files, and nothing waits on them.
    let pipes = dir.join("pipes");
    std::fs::create_dir(&pipes).unwrap();
    for f in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    {
        assert!(std::process::Command::new("mkfifo").arg(pipes.join(f)).status().unwrap().success());
    }
    let out = ftheta_in(None, &["train", "-q", "--data", s(&pipes)], limit);
    assert_refused("mnist of pipes", &out, &["pipes", "train-images-idx3-ubyte"]);
}

/// An MNIST folder of 2×2 images with these labels (train) and test labels.
fn labelled(name: &str, train: &[u8], test: &[u8]) -> PathBuf {
    let d = fresh_dir("hostile", name);
    let px = |n: usize| (0..n * 4).map(|i| (i * 37 % 256) as u8).collect::<Vec<_>>();
    let (a, b) = (px(train.len()), px(test.len()));
    mnist_dir(&d, (&[train.len() as u32, 2, 2], &a, train), (&[test.len() as u32, 2, 2], &b, test));
    d
}

#[test]
fn labels_and_shapes_that_used_to_panic_are_refused_by_name() {
    let dir = fresh_dir("hostile", "shapes");
    let ok = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    for (case, train, test, expected) in [
        ("train label 10", &[0, 10, 1][..], &ok[..], "train-labels-idx1-ubyte: label 1 (counting from 0) is 10"),
        ("train label 255", &[255, 1][..], &ok[..], "train-labels-idx1-ubyte: label 0 (counting from 0) is 255"),
        ("test label 12", &ok[..], &[1, 2, 12][..], "t10k-labels-idx1-ubyte: label 2 (counting from 0) is 12"),
    ] {
        let d = labelled(&case.replace(' ', "-"), train, test);
        train_refused(&dir, case, s(&d), &[], &[expected, "classes 0 to 9"]);
    }
    // A model trained on a good folder, scored on one with a label of 11.
    let good = labelled("good", &ok, &ok);
    let run = dir.join("mnist-run");
    let out = ftheta(&["train", "-q", "--epochs", "1", "--data", s(&good), "--out", s(&run)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bad = labelled("eval-11", &ok, &[3, 11]);
    let out = ftheta(&["eval", "--run", s(&run), "--data", s(&bad)]);
    assert_refused("eval label 11", &out, &["t10k-labels-idx1-ubyte: label 1 (counting from 0) is 11"]);
    // Images of no pixels, parts of no images, and parts of different image sizes.
    for (case, train_dims, test_dims, expected) in [
        ("0x0 images", [3, 0, 0], [1, 2, 2], "train-images-idx3-ubyte: its images are 0 × 0 pixels"),
        ("0x5 images", [3, 0, 5], [1, 2, 2], "its images are 0 × 5 pixels"),
        ("4x0 test images", [1, 2, 2], [2, 4, 0], "t10k-images-idx3-ubyte: its images are 4 × 0 pixels"),
        ("no train images", [0, 2, 2], [1, 2, 2], "train-images-idx3-ubyte holds no images"),
        ("no test images", [1, 2, 2], [0, 2, 2], "t10k-images-idx3-ubyte holds no images"),
        ("sizes differ", [1, 2, 2], [1, 3, 3], "holds images of 2 × 2 pixels but"),
    ] {
        let d = fresh_dir("hostile", &case.replace(' ', "-"));
        let pixels = |dims: [u32; 3]| vec![7u8; (dims[0] * dims[1] * dims[2]) as usize];
        let labels = |dims: [u32; 3]| vec![1u8; dims[0] as usize];
        let (a, b) = (pixels(train_dims), pixels(test_dims));
        let (la, lb) = (labels(train_dims), labels(test_dims));
        mnist_dir(&d, (&train_dims, &a, &la), (&test_dims, &b, &lb));
        train_refused(&dir, case, s(&d), &[], &[expected]);
    }
    // Every feature left out, in each way there is to do it.
    let one = write_csv(&dir, "one.csv", "x,y", (0..10).map(|i| format!("{i},{i}")));
    let two = write_csv(&dir, "two.csv", "a,b,y", (0..10).map(|i| format!("{i},{},{i}", i * i)));
    let only = write_csv(&dir, "only.csv", "y", (0..10).map(|i| format!("{i}")));
    let no_feature = "no feature column is left";
    train_refused(&dir, "drop the one", s(&one), &["--target", "y", "--drop", "x"], &[no_feature, "dropped: x"]);
    train_refused(&dir, "drop both", s(&two), &["--target", "y", "--drop", "a,b"], &[no_feature, "dropped: a, b"]);
    train_refused(&dir, "target only", s(&only), &["--target", "y"], &["only.csv: no feature column is left"]);
    let out = ftheta(&["solve", "--data", s(&two), "--target", "y", "--drop", "b,a"]);
    assert_refused("solve drop both", &out, &[no_feature]);
    // Header cells without a name: a pandas index, one in the middle, a trailing comma.
    for (case, header, row, position) in [
        ("pandas index", ",x,y", "0,1,2", "column 1 has no name"),
        ("middle", "x,,y", "1,2,3", "column 2 has no name"),
        ("trailing comma", "x,y,", "1,2,", "column 3 has no name"),
        ("blank", "x, ,y", "1,2,3", "column 2 has no name"),
    ] {
        let f = write_csv(&dir, &format!("{}.csv", case.replace(' ', "-")), header, (0..5).map(|_| row.to_string()));
        train_refused(&dir, case, s(&f), &["--target", "y"], &["line 1", position]);
    }
}

#[test]
fn cells_and_names_from_files_reach_messages_quoted_and_cut() {
    let dir = fresh_dir("hostile", "quoting");
    let long = "A".repeat(1 << 20);
    let cells = [
        ("nul", "1\u{0}2".to_string(), "1\\u{0}2"),
        ("escape", "\u{1b}[2J\u{1b}[31mred".to_string(), "\\u{1b}[2J"),
        ("bell and backspace", "\u{7}\u{8}\u{8}ok".to_string(), "\\u{7}\\u{8}"),
        ("quoted carriage return", "\"fine\rerror: forged\"".to_string(), "fine\\rerror"),
        ("quoted line break", "\"two\nlines\"".to_string(), "two\\nlines"),
        ("bidi override", "abc\u{202e}fed".to_string(), "abc\\u{202e}"),
        ("a megabyte", long.clone(), "bytes in all"),
    ];
    for (case, cell, shown) in &cells {
        let rows = ["1,2".to_string(), format!("{cell},3")].into_iter();
        let f = write_csv(&dir, &format!("{}.csv", case.replace(' ', "-")), "x,y", rows);
        train_refused(&dir, case, s(&f), &["--target", "y"], &["line 3, column x", shown, "is not a number"]);
    }
    // A column name with control characters, where messages list the columns.
    let f = write_csv(&dir, "names.csv", "x\u{1b}[8m,y", (0..4).map(|i| format!("{i},{i}")));
    train_refused(&dir, "unknown target", s(&f), &["--target", "z"], &["has no column 'z'", "x\\u{1b}[8m"]);
    let f = write_csv(&dir, "long-name.csv", &format!("{long},y"), (0..4).map(|i| format!("{i},{i}")));
    train_refused(&dir, "long name", s(&f), &["--target", "z"], &["has no column 'z'", "bytes in all"]);
    // A single class whose label is an escape sequence.
    let f = write_csv(&dir, "class.csv", "x,c", (0..4).map(|i| format!("{i},\u{1b}]0;title\u{7}")));
    train_refused(&dir, "single class", s(&f), &["--target", "c", "--categorical", "c"], &["single class"]);
}
