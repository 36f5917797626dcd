//! The IDX format of MNIST and Fashion-MNIST: a big-endian magic number whose last byte is the
//! number of dimensions, the dimensions as big-endian `u32`s, then unsigned bytes. Files may be
//! plain or gzip-compressed.

use std::path::{Path, PathBuf};

use ftheta_core::Tensor;

use crate::dataset::InMemoryDataset;
use crate::error::{DataError, Result};
use crate::io::{display_name, read_bytes};

/// Magic number of a labels file: unsigned bytes, one dimension.
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Magic number of an images file: unsigned bytes, three dimensions (count, rows, columns).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;

/// The images of one IDX images file, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    /// Number of images.
    pub n: usize,
    /// Pixel rows per image.
    pub rows: usize,
    /// Pixel columns per image.
    pub cols: usize,
    /// `n * rows * cols` pixels, image after image, row-major, 0 (background) to 255.
    pub pixels: Vec<u8>,
}

/// Reads an IDX images file (magic `0x00000803`).
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let path = path.as_ref();
    parse_idx_images(&display_name(path), &read_bytes(path)?)
}

/// Parses the bytes of an IDX images file; `file` names it in error messages.
pub fn parse_idx_images(file: &str, bytes: &[u8]) -> Result<IdxImages> {
    let (dims, data) = parse(file, bytes, IMAGES_MAGIC, "images")?;
    Ok(IdxImages { n: dims[0], rows: dims[1], cols: dims[2], pixels: data.to_vec() })
}

/// Reads an IDX labels file (magic `0x00000801`).
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    parse_idx_labels(&display_name(path), &read_bytes(path)?)
}

/// Parses the bytes of an IDX labels file; `file` names it in error messages.
pub fn parse_idx_labels(file: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    Ok(parse(file, bytes, LABELS_MAGIC, "labels")?.1.to_vec())
}

/// Checks the header against `magic` and the length against the header; returns the dimensions
/// and the data bytes.
fn parse<'a>(file: &str, bytes: &'a [u8], magic: u32, kind: &'static str) -> Result<(Vec<usize>, &'a [u8])> {
    let truncated = |expected: u64| DataError::Truncated { file: file.into(), expected, found: bytes.len() as u64 };
    if bytes.is_empty() {
        return Err(DataError::Empty { file: file.into() });
    }
    let Some(head) = bytes.first_chunk::<4>() else { return Err(truncated(4)) };
    let found = u32::from_be_bytes(*head);
    if found != magic {
        return Err(DataError::BadMagic { file: file.into(), found, expected: magic, kind });
    }
    let ndim = (magic & 0xff) as usize;
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(truncated(header as u64));
    }
    let dims: Vec<usize> =
        bytes[4..header].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    // In u64 with saturation, so that a corrupt header cannot overflow into a small, plausible size.
    let expected = dims.iter().fold(1u64, |n, &d| n.saturating_mul(d as u64)).saturating_add(header as u64);
    let len = bytes.len() as u64;
    if len < expected {
        return Err(truncated(expected));
    }
    if len > expected {
        return Err(DataError::TrailingBytes { file: file.into(), expected, extra: len - expected });
    }
    Ok((dims, &bytes[header..]))
}

/// One part (train or test) of an MNIST-style data set.
#[derive(Debug, Clone, PartialEq)]
pub struct MnistPart {
    /// `len() * rows * cols` pixels scaled to [0, 1], image after image (flattened row-major).
    pub images: Vec<f32>,
    /// The class index of each image.
    pub labels: Vec<usize>,
    /// Pixel rows per image.
    pub rows: usize,
    /// Pixel columns per image.
    pub cols: usize,
}

impl MnistPart {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image (784 for MNIST).
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The images as an `f32` tensor of shape `[N, rows * cols]`.
    pub fn images_tensor(&self) -> Tensor {
        Tensor::from_vec(self.images.clone(), &[self.len(), self.pixels_per_image()])
    }

    /// The labels as an `f32` tensor of class indices, shape `[N]`.
    pub fn labels_tensor(&self) -> Tensor {
        Tensor::from_vec(self.labels.iter().map(|&l| l as f32).collect(), &[self.len()])
    }

    /// How many images each class has, classes `0..n_classes` (labels beyond are not counted).
    pub fn label_counts(&self, n_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; n_classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l) {
                *c += 1;
            }
        }
        counts
    }

    /// A data set of flattened images and class-index targets, without copying the pixels.
    pub fn into_dataset(self) -> Result<InMemoryDataset> {
        let d = self.pixels_per_image();
        InMemoryDataset::with_classes(self.images, d, self.labels)
    }
}

/// The train and test parts of an MNIST-style data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Mnist {
    /// `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`.
    pub train: MnistPart,
    /// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`.
    pub test: MnistPart,
}

/// Reads a folder in the MNIST layout (also that of Fashion-MNIST): the four standard file names,
/// each plain or with `.gz`.
pub fn read_mnist_dir(dir: impl AsRef<Path>) -> Result<Mnist> {
    let dir = dir.as_ref();
    Ok(Mnist { train: read_mnist_part(dir, "train")?, test: read_mnist_part(dir, "t10k")? })
}

/// Reads one part of an MNIST folder: `prefix` is `train` or `t10k`.
pub fn read_mnist_part(dir: impl AsRef<Path>, prefix: &str) -> Result<MnistPart> {
    let dir = dir.as_ref();
    let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_idx_images(&images_path)?;
    let labels = read_idx_labels(&labels_path)?;
    if images.n != labels.len() {
        return Err(DataError::CountMismatch {
            images: display_name(&images_path),
            n_images: images.n,
            labels: display_name(&labels_path),
            n_labels: labels.len(),
        });
    }
    Ok(MnistPart {
        images: images.pixels.iter().map(|&p| f32::from(p) / 255.0).collect(),
        labels: labels.into_iter().map(usize::from).collect(),
        rows: images.rows,
        cols: images.cols,
    })
}

/// `dir/name`, or else `dir/name.gz`.
fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::MissingFile { dir: dir.to_path_buf(), name: name.into() })
}
