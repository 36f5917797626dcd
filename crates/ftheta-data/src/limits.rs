//! The largest sizes a reader accepts from its input. Every size that comes from a file (its
//! length, a header's promised size, the distinct values of a column, the cells of the table it
//! becomes) is checked against one of these before anything of that size is allocated, so that a
//! wrong or hostile file is an error with its size rather than an abort for lack of memory.

/// The most bytes read from one file, after decompression (MNIST's largest file is 47 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The most distinct values a categorical column or a column of text class labels may hold: each
/// becomes a one-hot feature or an output of the model, and a column with more is almost always an
/// identifier rather than a category.
pub const MAX_CATEGORIES: usize = 10_000;

/// The most cells (rows × feature columns, after one-hot encoding) a table may have: 2 GiB of
/// `f64`.
pub const MAX_TABLE_VALUES: u64 = 1 << 28;

/// The most characters of a cell or a column name quoted in an error message.
pub const MAX_QUOTED_CHARS: usize = 40;

/// `text` as an error message shows it: control characters (NUL, escape, a line break) written as
/// escapes, so that a file cannot move the terminal's cursor or forge lines, and anything past
/// [`MAX_QUOTED_CHARS`] characters cut off with its length said.
pub fn quoted(text: &str) -> String {
    quoted_up_to(text, MAX_QUOTED_CHARS)
}

/// [`quoted`] with another length.
pub fn quoted_up_to(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (shown, c) in text.chars().enumerate() {
        if shown == max_chars {
            out += &format!("… ({} bytes in all)", text.len());
            return out;
        }
        if c.is_control() || c == '\u{feff}' || ('\u{2028}'..='\u{202e}').contains(&c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `bytes` as "1.5 GiB" or "300 MiB".
pub fn size(bytes: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    let b = bytes as f64;
    if b >= 1024.0 * MIB {
        format!("{:.1} GiB", b / (1024.0 * MIB))
    } else {
        format!("{:.0} MiB", (b / MIB).max(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_is_cut() {
        assert_eq!(quoted("five"), "five");
        assert_eq!(quoted("a\u{0}b\u{1b}[31m\n"), "a\\u{0}b\\u{1b}[31m\\n");
        let long = "x".repeat(1_000_000);
        let q = quoted(&long);
        assert_eq!(q, format!("{}… (1000000 bytes in all)", "x".repeat(MAX_QUOTED_CHARS)));
        assert_eq!(quoted(&"é".repeat(MAX_QUOTED_CHARS)), "é".repeat(MAX_QUOTED_CHARS));
    }
}
