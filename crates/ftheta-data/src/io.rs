//! Reading a whole file into memory, transparently gunzipping it. Data sets here are small enough
//! (MNIST's largest file is 47 MB unpacked) that one read beats streaming in simplicity, and it lets
//! the parsers check sizes against headers before they allocate anything.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes of `path`, decompressed when its name ends in `.gz` or it starts with gzip's magic.
///
/// A name ending in `.gz` whose content is not gzip is an error rather than being read as plain, as
/// a renamed or half-downloaded file is more likely than a deliberate misnomer.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let raw = std::fs::read(path).map_err(io)?;
    let by_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if !(by_name || raw.starts_with(&GZIP_MAGIC)) || raw.is_empty() {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    // MultiGz because concatenated gzip members are a valid .gz file and some tools write them.
    MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(io)?;
    Ok(out)
}

/// How a path is shown in messages: as the user gave it, so it can be pasted back into a shell.
pub fn display_name(path: &Path) -> String {
    path.display().to_string()
}
