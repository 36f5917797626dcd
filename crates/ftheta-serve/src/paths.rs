//! From a request to a file: only ever one inside the runs folder.
//!
//! Two walls, because either alone has known holes. First the request's path is percent-decoded
//! once and split into parts, and any part that could climb or name another root is refused
//! (`..`, `.`, empty, dot-files, backslashes, drive colons, NUL), whatever encoding carried it
//! (`%2e%2e`, `..%2f`, `%5c`). Then the joined path is resolved by the file system and must still
//! lie under the runs folder's resolved path, which also catches a symbolic link inside the runs
//! folder that points out of it.

use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

/// Why a path was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    /// It tried to leave the runs folder (or name a hidden file).
    #[error("the path '{0}' leaves the runs folder")]
    Escapes(String),
    /// It does not decode to text.
    #[error("the path '{0}' is not valid percent-encoded UTF-8")]
    Undecodable(String),
    /// Nothing is there.
    #[error("no file '{0}' in the runs folder")]
    NotFound(String),
}

/// The parts of a raw (still percent-encoded) path such as `mlp/history.jsonl`.
pub fn decode_parts(raw: &str) -> Result<Vec<String>, PathError> {
    let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| PathError::Undecodable(raw.to_string()))?;
    check_parts(&decoded)
}

/// Splits an already decoded relative path (`sweep/lr-0.1`) into parts, refusing any part that is
/// not a plain file or folder name.
pub fn check_parts(path: &str) -> Result<Vec<String>, PathError> {
    let parts: Vec<&str> = path.split('/').collect();
    let plain = |p: &&str| {
        !p.is_empty() && !p.starts_with('.') && !p.contains(['\\', ':', '\0']) && !p.chars().any(char::is_control)
    };
    if parts.is_empty() || !parts.iter().all(plain) {
        return Err(PathError::Escapes(path.to_string()));
    }
    Ok(parts.into_iter().map(String::from).collect())
}

/// The file or folder `parts` name under `root`, resolved; refused when it resolves outside
/// `root` (a symbolic link pointing out) and `NotFound` when nothing is there.
pub fn resolve(root: &Path, parts: &[String]) -> Result<PathBuf, PathError> {
    let shown = parts.join("/");
    let root = root.canonicalize().map_err(|_| PathError::NotFound(shown.clone()))?;
    let joined = parts.iter().fold(root.clone(), |p, part| p.join(part));
    let real = joined.canonicalize().map_err(|_| PathError::NotFound(shown.clone()))?;
    if !real.starts_with(&root) {
        return Err(PathError::Escapes(shown));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_split_into_parts() {
        assert_eq!(decode_parts("mlp/history.jsonl").unwrap(), ["mlp", "history.jsonl"]);
        assert_eq!(decode_parts("a%20b/c").unwrap(), ["a b", "c"]);
        assert_eq!(check_parts("sweep/lr-0.1").unwrap(), ["sweep", "lr-0.1"]);
    }

    #[test]
    fn every_spelling_of_a_climb_is_refused() {
        for raw in [
            "../../etc/passwd",
            "%2e%2e/%2e%2e/etc/passwd",
            "..%2f..%2fetc%2fpasswd",
            "%2E%2E%2Fetc",
            "mlp/../../x",
            "..%5c..%5cetc%5cpasswd",
            "mlp\\..\\x",
            "/etc/passwd",
            "mlp//x",
            "C:%5cwindows",
            ".git/config",
            "mlp/%00",
            "",
        ] {
            assert!(matches!(decode_parts(raw), Err(PathError::Escapes(_))), "{raw}");
        }
        assert!(matches!(decode_parts("%ff%fe"), Err(PathError::Undecodable(_))));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any path spelled from climbing pieces and their encodings either is refused or resolves
        /// inside the runs folder: never outside it.
        #[test]
        fn no_spelling_resolves_outside(pieces in proptest::collection::vec(
            proptest::sample::select(vec![
                "..", ".", "/", "%2e", "%2E", "%2f", "%2F", "%5c", "\\", "%25", "%00", "runs", "a", "secret.txt",
                "%2e%2e", "..%2f", "~", ":", "%3a", "C:", "//", "%c0%ae",
            ]),
            0..10,
        )) {
            let dir = std::env::temp_dir().join(format!("ftheta-serve-prop-{}", std::process::id()));
            let root = dir.join("runs");
            std::fs::create_dir_all(root.join("a")).unwrap();
            std::fs::write(dir.join("secret.txt"), "x").unwrap();
            let raw: String = pieces.concat();
            let inside = root.canonicalize().unwrap();
            if let Ok(parts) = decode_parts(&raw) {
                if let Ok(file) = resolve(&root, &parts) {
                    proptest::prop_assert!(file.starts_with(&inside), "{raw} -> {}", file.display());
                }
            }
            // The second wall alone, without the first's refusals: still never outside.
            let decoded = percent_decode_str(&raw).decode_utf8_lossy().into_owned();
            let unchecked: Vec<String> = decoded.split('/').map(String::from).collect();
            if let Ok(file) = resolve(&root, &unchecked) {
                proptest::prop_assert!(file.starts_with(&inside), "{raw} -> {}", file.display());
            }
        }
    }

    #[test]
    fn a_link_out_of_the_root_is_refused() {
        let dir = std::env::temp_dir().join(format!("ftheta-serve-paths-{}", std::process::id()));
        let root = dir.join("runs");
        std::fs::create_dir_all(root.join("run")).unwrap();
        std::fs::write(dir.join("secret.txt"), "x").unwrap();
        std::fs::write(root.join("run/history.jsonl"), "{}\n").unwrap();
        let parts = |s: &str| check_parts(s).unwrap();
        assert!(resolve(&root, &parts("run/history.jsonl")).unwrap().ends_with("run/history.jsonl"));
        assert!(matches!(resolve(&root, &parts("run/none")), Err(PathError::NotFound(_))));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.join("secret.txt"), root.join("run/link")).unwrap();
            assert!(matches!(resolve(&root, &parts("run/link")), Err(PathError::Escapes(_))));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
