//! # ftheta-data
//!
//! Getting data into ftheta: CSV tables ([`read_csv`]) and IDX image files ([`read_mnist_dir`])
//! read into memory with errors that point at the offending file, line and column; an
//! [`InMemoryDataset`] walked by a seeded, shuffling [`DataLoader`]; seeded train/validation/test
//! splits and a [`Standardizer`] fitted on the training rows; a few [`builtin`] data sets.
//!
//! ```
//! use ftheta_data::{builtin, DataLoader};
//! let table = builtin::xor();
//! let mut loader = DataLoader::new(table.to_dataset()?, 2)?.shuffled(42);
//! for (x, y) in &mut loader {
//!     assert_eq!(x.shape(), &[2, 2]);
//!     assert_eq!(y.shape(), &[2]); // class indices
//! }
//! # Ok::<(), ftheta_data::DataError>(())
//! ```

#![warn(missing_docs)]

pub mod builtin;
pub mod corpus;
pub mod csv;
pub mod dataset;
pub mod error;
pub mod graph;
pub mod idx;
mod io;
pub mod limits;
pub mod split;

pub use crate::csv::{parse_csv, read_csv, CsvOptions, Table};
pub use corpus::{parse_corpus, read_corpus, Corpus, OutOfVocabulary, Vocab};
pub use dataset::{Batches, DataLoader, Dataset, InMemoryDataset, Targets};
pub use error::{DataError, Result};
pub use graph::{read_edge_list, read_node_table, Graph, NodeOptions, NodeSplit, NodeTable};
pub use idx::{
    parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels, read_mnist_dir, read_mnist_part, IdxImages,
    Mnist, MnistPart, MNIST_CLASSES,
};
pub use io::read_bytes;
pub use split::{split_indices, to_f32, Split, Standardizer};
