//! The IDX parsers on arbitrary bytes: the first byte picks images or labels; a parsed file's
//! sizes must agree with its header.
#![no_main]

use ftheta_data::{parse_idx_images, parse_idx_labels};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else { return };
    if which & 1 == 0 {
        if let Ok(im) = parse_idx_images("fuzz-images", bytes) {
            assert_eq!(im.pixels.len() as u128, im.n as u128 * im.rows as u128 * im.cols as u128);
            assert_eq!(bytes.len(), 16 + im.pixels.len());
        }
    } else if let Ok(labels) = parse_idx_labels("fuzz-labels", bytes) {
        assert_eq!(bytes.len(), 8 + labels.len());
    }
});
