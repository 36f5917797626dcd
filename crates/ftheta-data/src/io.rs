//! Reading a whole file into memory, transparently gunzipping it. Data sets here are small enough
//! (MNIST's largest file is 47 MB unpacked) that one read beats streaming in simplicity, and it lets
//! the parsers check sizes against headers before they allocate anything.
//!
//! Only regular files are read: a FIFO, a device (`/dev/zero`, `/dev/urandom`) or a socket is
//! refused before a byte is read, and it is opened without blocking so that a FIFO with no writer
//! cannot hang the open itself. Every read, plain or decompressed, stops at a limit
//! ([`MAX_FILE_BYTES`]), so neither a huge file nor a gzip bomb can exhaust memory.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, Result};
use crate::limits::MAX_FILE_BYTES;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes of `path`, decompressed when its name ends in `.gz` or it starts with gzip's magic.
///
/// A name ending in `.gz` whose content is not gzip is an error rather than being read as plain, as
/// a renamed or half-downloaded file is more likely than a deliberate misnomer. A file that is not
/// a regular file, or that holds (or inflates to) more than [`MAX_FILE_BYTES`], is an error.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let (r, plain) = open(path)?;
    if plain.is_some_and(|len| len > MAX_FILE_BYTES) {
        return Err(DataError::TooLarge { file: display_name(path), limit: MAX_FILE_BYTES });
    }
    let mut out = Vec::new();
    let n = r.take(MAX_FILE_BYTES + 1).read_to_end(&mut out).map_err(io(path))?;
    if n as u64 > MAX_FILE_BYTES {
        return Err(DataError::TooLarge { file: display_name(path), limit: MAX_FILE_BYTES });
    }
    Ok(out)
}

/// A reader of `path`'s content, gunzipped when it is gzip (see [`read_bytes`]), and the file's
/// length when it is plain (the length a gzip file inflates to is not known before inflating). The
/// file is checked to be a regular one first. (A file in `/proc` says 0 and holds more: lengths are
/// for refusing early, reads are bounded regardless.)
pub(crate) fn open(path: &Path) -> Result<(Box<dyn Read>, Option<u64>)> {
    let mut file = open_regular(path)?;
    let len = file.metadata().map_err(io(path))?.len();
    let mut head = [0u8; 2];
    let n = read_full(&mut file, &mut head).map_err(io(path))?;
    let by_name = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let whole = std::io::Cursor::new(head[..n].to_vec()).chain(file);
    if n == 0 || !(by_name || head == GZIP_MAGIC) {
        return Ok((Box::new(whole), Some(len)));
    }
    // MultiGz because concatenated gzip members are a valid .gz file and some tools write them.
    Ok((Box::new(MultiGzDecoder::new(whole)), None))
}

/// Reads until `buf` is full or the input ends; the bytes read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Opens `path` for reading if it is a regular file (after following links).
fn open_regular(path: &Path) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading blocks until a writer comes; without blocking it returns at
        // once, and the kind is then checked on the open file itself (no race with a rename).
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io(path))?;
    let kind = file.metadata().map_err(io(path))?.file_type();
    if !kind.is_file() {
        return Err(DataError::NotAFile { path: path.to_path_buf(), kind: kind_name(&kind) });
    }
    Ok(file)
}

fn kind_name(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io { path: path.to_path_buf(), source }
}

/// How a path is shown in messages: as the user gave it, so it can be pasted back into a shell.
pub fn display_name(path: &Path) -> String {
    path.display().to_string()
}
