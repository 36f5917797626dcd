//! The one error type of this crate. Messages are written for the person who owns the data file:
//! each names the file and, where there is one, the line and column, so the cell can be found in an
//! editor without a debugger.

use std::path::PathBuf;

use crate::limits::{quoted as q, size};

/// Everything that can go wrong while reading, checking or batching data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened, read or decompressed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// What the operating system (or the gzip decoder) said.
        source: std::io::Error,
    },
    /// A file that the MNIST layout needs is not in the folder.
    #[error("{}: neither {name} nor {name}.gz is there", dir.display())]
    MissingFile {
        /// The folder searched.
        dir: PathBuf,
        /// The file name looked for (without `.gz`).
        name: String,
    },
    /// The file holds no bytes (or nothing but a byte-order mark).
    #[error("{file} is empty")]
    Empty {
        /// The file.
        file: String,
    },
    /// A CSV file with a header row and no data under it.
    #[error("{file} has a header but no data rows")]
    HeaderOnly {
        /// The file.
        file: String,
    },
    /// A row whose number of fields differs from the header's.
    #[error("{file} line {line} has {found} fields, the header has {expected}")]
    Ragged {
        /// The file.
        file: String,
        /// 1-based line where the row starts.
        line: u64,
        /// Fields in this row.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A cell of a numeric column that does not parse as a number.
    #[error("{file} line {line}, column {}: '{}' is not a number", q(column), q(value))]
    NotANumber {
        /// The file.
        file: String,
        /// 1-based line of the cell.
        line: u64,
        /// The column's name.
        column: String,
        /// The cell as written.
        value: String,
    },
    /// A column where no cell is a number and that was not declared categorical.
    #[error(
        "{file} line {line}, column {}: '{}' is not a number, and no value in column {0} is; \
         if it is categorical, say so with --categorical {0}",
        q(column),
        q(value)
    )]
    NonNumericColumn {
        /// The file.
        file: String,
        /// 1-based line of the first cell.
        line: u64,
        /// The column's name.
        column: String,
        /// The first cell as written.
        value: String,
    },
    /// An empty cell: missing values are not imputed silently.
    #[error("{file} line {line}, column {}: the cell is empty (missing values are not supported)", q(column))]
    MissingValue {
        /// The file.
        file: String,
        /// 1-based line of the cell.
        line: u64,
        /// The column's name.
        column: String,
    },
    /// A cell that parses to NaN or to an infinity.
    #[error(
        "{file} line {line}, column {}: '{}' is not finite (NaN and infinite values are not allowed)",
        q(column),
        q(value)
    )]
    NonFinite {
        /// The file.
        file: String,
        /// 1-based line of the cell.
        line: u64,
        /// The column's name.
        column: String,
        /// The cell as written.
        value: String,
    },
    /// A classification label that is a number but not a class index.
    #[error("{file} line {line}, column {}: '{}' is not a class index (a whole number >= 0)", q(column), q(value))]
    NotAClassIndex {
        /// The file.
        file: String,
        /// 1-based line of the cell.
        line: u64,
        /// The column's name.
        column: String,
        /// The cell as written.
        value: String,
    },
    /// A class index so large that its classes would not fit in memory (an ID column, most likely).
    #[error(
        "{file} line {line}, column {}: class index {} is too large (at most {limit} classes)",
        q(column),
        q(value)
    )]
    TooManyClasses {
        /// The file.
        file: String,
        /// 1-based line of the cell.
        line: u64,
        /// The column's name.
        column: String,
        /// The cell as written.
        value: String,
        /// The most classes allowed.
        limit: usize,
    },
    /// A column name given in the options that the file does not have.
    #[error("{file} has no column '{}' (given as {role}); its columns are: {}", q(column), listed(available))]
    UnknownColumn {
        /// The file.
        file: String,
        /// The name asked for.
        column: String,
        /// Which option named it: `target`, `feature`, `drop` or `categorical`.
        role: &'static str,
        /// The columns the file has, in order.
        available: Vec<String>,
    },
    /// Two header cells with the same name, which would make every lookup by name ambiguous.
    #[error("{file} line {line}: column name '{}' appears twice (columns {first} and {second})", q(column))]
    DuplicateColumn {
        /// The file.
        file: String,
        /// The header's line.
        line: u64,
        /// The repeated name.
        column: String,
        /// 1-based position of the first occurrence.
        first: usize,
        /// 1-based position of the second occurrence.
        second: usize,
    },
    /// The options contradict each other (the target listed as a feature, …).
    #[error("{file}: {message}")]
    Options {
        /// The file the options were for.
        file: String,
        /// What is contradictory.
        message: String,
    },
    /// A classification target whose every row has the same class: nothing to learn.
    #[error("{file}: classification target {} has a single class ({}); it needs at least two", q(column), q(class))]
    SingleClass {
        /// The file.
        file: String,
        /// The target column.
        column: String,
        /// The one class present.
        class: String,
    },
    /// A file-format rule specific to one data set was broken (the iris header, …).
    #[error("{file} line {line}: {message}")]
    Format {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The CSV parser itself failed (invalid UTF-8, …).
    #[error("{file} line {line}: {}", q_long(message))]
    Csv {
        /// The file.
        file: String,
        /// 1-based line, 0 when the parser did not say.
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// An IDX file's first four bytes are not the magic number of the kind expected.
    #[error("{file}: magic number 0x{found:08x} is not that of an IDX {kind} file (0x{expected:08x})")]
    BadMagic {
        /// The file.
        file: String,
        /// The four bytes read, big-endian.
        found: u32,
        /// The magic number expected.
        expected: u32,
        /// `images` or `labels`.
        kind: &'static str,
    },
    /// An IDX file shorter than its header says.
    #[error("{file} is truncated: its header promises {expected} bytes, it has {found}")]
    Truncated {
        /// The file.
        file: String,
        /// Bytes the header implies (header included).
        expected: u64,
        /// Bytes present (after decompression).
        found: u64,
    },
    /// An IDX file longer than its header says, which usually means a wrong or corrupt file.
    #[error("{file} has {extra} bytes after the {expected} its header describes")]
    TrailingBytes {
        /// The file.
        file: String,
        /// Bytes the header implies.
        expected: u64,
        /// Bytes beyond that.
        extra: u64,
    },
    /// Image and label files that do not pair up.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        /// The images file.
        images: String,
        /// Images in it.
        n_images: usize,
        /// The labels file.
        labels: String,
        /// Labels in it.
        n_labels: usize,
    },
    /// A path that is not a regular file (a FIFO, a device such as `/dev/zero`, a socket).
    #[error("{}: is {kind}; data is read from regular files only", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// A file that holds (or inflates to, or whose header promises) more than a reader accepts.
    #[error("{file} is larger than {}, the most ftheta reads from one file", size(*limit))]
    TooLarge {
        /// The file.
        file: String,
        /// The limit in bytes ([`crate::limits::MAX_FILE_BYTES`]).
        limit: u64,
    },
    /// An IDX file that goes on far past the size its header promises (a wrong file, or a bomb).
    #[error("{file} holds more than {} bytes past the {expected} its header describes", counted)]
    FarTooLong {
        /// The file.
        file: String,
        /// Bytes the header implies.
        expected: u64,
        /// Bytes past that counted before giving up.
        counted: u64,
    },
    /// IDX images with no pixels.
    #[error("{file}: its images are {rows} × {cols} pixels; an image needs at least one")]
    EmptyImages {
        /// The file.
        file: String,
        /// Pixel rows per image.
        rows: usize,
        /// Pixel columns per image.
        cols: usize,
    },
    /// An IDX images file of an MNIST folder with no images.
    #[error("{file} holds no images")]
    NoImages {
        /// The file.
        file: String,
    },
    /// An MNIST label that is not one of its classes.
    #[error("{file}: label {index} (counting from 0) is {label}, but an MNIST-layout folder has classes 0 to {}", classes - 1)]
    LabelOutOfRange {
        /// The labels file.
        file: String,
        /// Which label, from 0.
        index: usize,
        /// Its value.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// The train and test images of an MNIST folder differ in size.
    #[error("{first} holds images of {} × {} pixels but {second} holds {} × {}", first_size.0, first_size.1, second_size.0, second_size.1)]
    ImageSizeMismatch {
        /// One images file.
        first: String,
        /// Its image size (rows, columns).
        first_size: (usize, usize),
        /// The other.
        second: String,
        /// Its image size.
        second_size: (usize, usize),
    },
    /// A header cell that is empty: columns are chosen by name, so each needs one.
    #[error("{file} line {line}: column {position} has no name; give every column a name in the header")]
    EmptyColumnName {
        /// The file.
        file: String,
        /// The header's line.
        line: u64,
        /// 1-based position of the column.
        position: usize,
    },
    /// A categorical column (or text class labels) with more distinct values than allowed.
    #[error(
        "{file} line {line}, column {}: more than {limit} distinct values, the most a categorical column or \
         a target may have (a column with so many is most likely an identifier)",
        q(column)
    )]
    TooManyCategories {
        /// The file.
        file: String,
        /// The line of the first value past the limit.
        line: u64,
        /// The column's name.
        column: String,
        /// The limit ([`crate::limits::MAX_CATEGORIES`]).
        limit: usize,
    },
    /// A table whose cells would not fit the limit.
    #[error(
        "{file}: {rows} rows × {columns} feature columns would be {} values ({}), more than the limit of {limit}{}",
        *rows as u64 * *columns as u64,
        size(*rows as u64 * *columns as u64 * 8),
        widest.as_ref().map_or(String::new(), |(c, n)| format!("; column {} alone makes {n} one-hot columns", q(c)))
    )]
    TableTooLarge {
        /// The file.
        file: String,
        /// Data rows.
        rows: usize,
        /// Feature columns after one-hot encoding.
        columns: usize,
        /// The limit in values ([`crate::limits::MAX_TABLE_VALUES`]).
        limit: u64,
        /// The categorical column with the most one-hot columns, and how many.
        widest: Option<(String, usize)>,
    },
    /// No feature column is left once the target and the dropped columns are taken out.
    #[error("{file}: no feature column is left{}", left_out(target.as_deref(), dropped))]
    NoFeatures {
        /// The file.
        file: String,
        /// The target column, if any.
        target: Option<String>,
        /// The columns dropped.
        dropped: Vec<String>,
    },
    /// A value the model cannot hold: beyond the range of `f32`, ftheta's number type (after
    /// standardization, when asked for).
    #[error(
        "{source_name}: column {}: {value:e} is beyond the range of f32 (±3.4e38){}",
        q(column),
        if *standardized { " even after standardization" } else { "; rescale the column (or --standardize)" }
    )]
    NotF32 {
        /// The file or data set.
        source_name: String,
        /// The column's name.
        column: String,
        /// The value (possibly standardized).
        value: f64,
        /// Whether it was standardized.
        standardized: bool,
    },
    /// A split fraction outside [0, 1].
    #[error("the {name} fraction is {value}; it must be in [0, 1]")]
    BadFraction {
        /// `train`, `validation` or `test`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// Split fractions that add up to more than the whole.
    #[error("the split fractions add up to {sum}, more than 1")]
    FractionSum {
        /// Their sum.
        sum: f64,
    },
    /// Arrays whose sizes do not fit together (features vs. targets, a standardizer vs. data, …).
    #[error("{0}")]
    Shape(String),
    /// A batch size of zero.
    #[error("the batch size must be at least 1")]
    ZeroBatchSize,
    /// A node name given twice in a node table.
    #[error("{file} line {line}: node '{node}' was already given on line {first_line}")]
    DuplicateNode {
        /// The node table.
        file: String,
        /// 1-based line of the second one.
        line: u64,
        /// The name.
        node: String,
        /// 1-based line of the first one.
        first_line: u64,
    },
    /// An edge list naming a node that the node table does not have.
    #[error("{file} line {line}, column {column}: unknown node '{node}': {nodes}")]
    UnknownNode {
        /// The edge list.
        file: String,
        /// 1-based line of the edge.
        line: u64,
        /// `source` or `target`.
        column: String,
        /// The cell as written.
        node: String,
        /// Which node table has no such node, and how it names its nodes.
        nodes: String,
    },
    /// An edge given twice (in either direction: the graph is undirected).
    #[error(
        "{file} line {line}: the edge {from}–{to} was already given on line {first_line} (edges are undirected, \
         so {to},{from} is the same edge; to count it more than once, give it a weight)"
    )]
    DuplicateEdge {
        /// The edge list.
        file: String,
        /// 1-based line of the second one.
        line: u64,
        /// One end, as named in the node table.
        from: String,
        /// The other end.
        to: String,
        /// 1-based line of the first one.
        first_line: u64,
    },
    /// A self-loop given twice.
    #[error("{file} line {line}: the self-loop of node '{node}' was already given on line {first_line}")]
    SelfLoopTwice {
        /// The edge list.
        file: String,
        /// 1-based line of the second one.
        line: u64,
        /// The node.
        node: String,
        /// 1-based line of the first one.
        first_line: u64,
    },
    /// A character that the vocabulary (read from the training part, or stored in a run) does not
    /// hold.
    #[error("{place}, column {column}: character {ch:?} is not in the vocabulary ('{known}' and the boundary)")]
    OutOfVocabulary {
        /// Where: "names.txt line 12", "--prefix".
        place: String,
        /// The character.
        ch: char,
        /// Its 1-based position in the line or text, in characters.
        column: usize,
        /// The vocabulary's characters.
        known: String,
    },
    /// A built-in data set name that does not exist.
    #[error("no built-in data set is called '{name}'; there are: {}", available.join(", "))]
    UnknownDataset {
        /// The name asked for.
        name: String,
        /// The names there are.
        available: Vec<String>,
    },
}

/// Column names for a message: the first 20, then how many more.
fn listed(names: &[String]) -> String {
    let mut out: Vec<String> = names.iter().take(20).map(|n| q(n)).collect();
    if names.len() > 20 {
        out.push(format!("… ({} in all)", names.len()));
    }
    out.join(", ")
}

/// A parser's message, which may quote a cell.
fn q_long(message: &str) -> String {
    crate::limits::quoted_up_to(message, 200)
}

fn left_out(target: Option<&str>, dropped: &[String]) -> String {
    let mut parts = Vec::new();
    if let Some(t) = target {
        parts.push(format!("the target is {}", q(t)));
    }
    if !dropped.is_empty() {
        parts.push(format!("dropped: {}", listed(dropped)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
