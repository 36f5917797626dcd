//! Helpers shared by the command-line tests.

use std::path::Path;

use serde_json::Value;

/// A run's `history.jsonl` records without their `seconds` field, the one value that may differ
/// between two runs of the same command.
pub fn history_without_seconds(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}
