//! The IDX format of MNIST and Fashion-MNIST: a big-endian magic number whose last byte is the
//! number of dimensions, the dimensions as big-endian `u32`s, then unsigned bytes. Files may be
//! plain or gzip-compressed.

use std::io::Read;
use std::path::{Path, PathBuf};

use ftheta_core::Tensor;

use crate::dataset::InMemoryDataset;
use crate::error::{DataError, Result};
use crate::io::{display_name, io, open, read_full};
use crate::limits::MAX_FILE_BYTES;

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

/// Reads an IDX images file (magic `0x00000803`). The header is read first and the rest only up
/// to the size it promises, so a gzip bomb stops inflating there (see [`read_idx`]).
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let path = path.as_ref();
    let (dims, pixels) = read_idx(path, IMAGES_MAGIC, "images")?;
    images(&display_name(path), dims, pixels)
}

/// Parses the bytes of an IDX images file; `file` names it in error messages.
pub fn parse_idx_images(file: &str, bytes: &[u8]) -> Result<IdxImages> {
    let (dims, data) = parse(file, bytes, IMAGES_MAGIC, "images")?;
    images(file, dims, data.to_vec())
}

fn images(file: &str, dims: Vec<usize>, pixels: Vec<u8>) -> Result<IdxImages> {
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(DataError::EmptyImages { file: file.into(), rows, cols });
    }
    Ok(IdxImages { n, rows, cols, pixels })
}

/// Reads an IDX labels file (magic `0x00000801`), bounded like [`read_idx_images`].
pub fn read_idx_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    Ok(read_idx(path.as_ref(), LABELS_MAGIC, "labels")?.1)
}

/// The bytes past the promised size that are counted to report how many there are; beyond, the
/// file is only said to be far longer.
const TRAILING_COUNTED: u64 = 16 << 20;

/// Reads an IDX file of the given magic from disk (plain or gzip): the header first, then at most
/// the bytes it promises, which must not exceed [`MAX_FILE_BYTES`]; a file longer than promised is
/// refused without inflating more than [`TRAILING_COUNTED`] bytes past the promise.
pub fn read_idx(path: &Path, magic: u32, kind: &'static str) -> Result<(Vec<usize>, Vec<u8>)> {
    let file = display_name(path);
    let truncated = |expected: u64, found: u64| DataError::Truncated { file: file.clone(), expected, found };
    let (mut r, plain) = open(path)?;
    let mut head = [0u8; 4];
    match read_full(&mut r, &mut head).map_err(io(path))? {
        0 => return Err(DataError::Empty { file }),
        n if n < 4 => return Err(truncated(4, n as u64)),
        _ => {}
    }
    let found = u32::from_be_bytes(head);
    if found != magic {
        return Err(DataError::BadMagic { file, found, expected: magic, kind });
    }
    let ndim = (magic & 0xff) as usize;
    let header = 4 + 4 * ndim;
    let mut raw_dims = vec![0u8; 4 * ndim];
    let n = read_full(&mut r, &mut raw_dims).map_err(io(path))?;
    if n < raw_dims.len() {
        return Err(truncated(header as u64, (4 + n) as u64));
    }
    let dims: Vec<usize> =
        raw_dims.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let expected = promised(&dims, header);
    if expected > MAX_FILE_BYTES {
        // A plain file shorter than its (corrupt) header is reported as truncated, the likelier
        // story; a gzip stream is not inflated to find out.
        return Err(match plain {
            Some(len) if len < expected => truncated(expected, len),
            _ => DataError::TooLarge { file, limit: MAX_FILE_BYTES },
        });
    }
    // One byte more than promised is read, to tell a longer file.
    let mut data = Vec::new();
    (&mut r).take(expected - header as u64 + 1).read_to_end(&mut data).map_err(io(path))?;
    let len = header as u64 + data.len() as u64;
    if len < expected {
        return Err(truncated(expected, len));
    }
    if len > expected {
        let more = std::io::copy(&mut (&mut r).take(TRAILING_COUNTED), &mut std::io::sink()).map_err(io(path))?;
        if more == TRAILING_COUNTED {
            return Err(DataError::FarTooLong { file, expected, counted: TRAILING_COUNTED });
        }
        return Err(DataError::TrailingBytes { file, expected, extra: len - expected + more });
    }
    Ok((dims, data))
}

/// The size in bytes a header of `dims` promises, header included; in u64 with saturation, so that
/// a corrupt header cannot overflow into a small, plausible size.
fn promised(dims: &[usize], header: usize) -> u64 {
    dims.iter().fold(1u64, |n, &d| n.saturating_mul(d as u64)).saturating_add(header as u64)
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
    let expected = promised(&dims, header);
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
/// each plain or with `.gz`. Labels must be classes 0 to 9 and both parts' images of one size.
pub fn read_mnist_dir(dir: impl AsRef<Path>) -> Result<Mnist> {
    let dir = dir.as_ref();
    let (train, test) = (read_mnist_part(dir, "train")?, read_mnist_part(dir, "t10k")?);
    if (train.rows, train.cols) != (test.rows, test.cols) {
        return Err(DataError::ImageSizeMismatch {
            first: display_name(&find(dir, "train-images-idx3-ubyte")?),
            first_size: (train.rows, train.cols),
            second: display_name(&find(dir, "t10k-images-idx3-ubyte")?),
            second_size: (test.rows, test.cols),
        });
    }
    Ok(Mnist { train, test })
}

/// The classes of an MNIST-layout folder (digits, or Fashion-MNIST's ten kinds of clothing).
pub const MNIST_CLASSES: usize = 10;

/// Reads one part of an MNIST folder: `prefix` is `train` or `t10k`. It must hold at least one
/// image, and every label must be below [`MNIST_CLASSES`].
pub fn read_mnist_part(dir: impl AsRef<Path>, prefix: &str) -> Result<MnistPart> {
    let dir = dir.as_ref();
    let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read_idx_images(&images_path)?;
    if images.n == 0 {
        return Err(DataError::NoImages { file: display_name(&images_path) });
    }
    let labels = read_idx_labels(&labels_path)?;
    if images.n != labels.len() {
        return Err(DataError::CountMismatch {
            images: display_name(&images_path),
            n_images: images.n,
            labels: display_name(&labels_path),
            n_labels: labels.len(),
        });
    }
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| usize::from(l) >= MNIST_CLASSES) {
        return Err(DataError::LabelOutOfRange {
            file: display_name(&labels_path),
            index,
            label: label.into(),
            classes: MNIST_CLASSES,
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
