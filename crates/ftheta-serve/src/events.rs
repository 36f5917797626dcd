//! Live curves: a server-sent-events stream fed from a run's `history.jsonl`.
//!
//! The trainer appends one line an evaluation and never rewrites the file, except when a run is
//! resumed (lines past the checkpoint are dropped, through a new file renamed over the old). So
//! the stream remembers how many bytes and lines it has sent and, every poll, reads only what was
//! appended; a file that became shorter or was replaced was rewritten, and the client is told to
//! start over (`reset`). Polling a small file costs far
//! less than it seems (a stat and, rarely, a short read), and works on every file system, where
//! change notifications do not.

use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};

use crate::runs::{complete_lines, status, Status};

/// How often a running run's files are looked at.
const POLL: Duration = Duration::from_millis(250);
/// How often those of a run that has ended are (it may be resumed).
const POLL_ENDED: Duration = Duration::from_secs(2);

struct Tail {
    dir: PathBuf,
    /// Bytes of `history.jsonl` already consumed (complete lines only).
    offset: u64,
    /// Lines consumed, sent or skipped.
    lines: usize,
    /// Lines before this index are not sent (`from`, or the `Last-Event-ID`).
    from: usize,
    last_status: Option<Status>,
    /// The history file's identity at the last poll (see [`file_identity`]).
    identity: Option<u64>,
    queue: std::collections::VecDeque<Event>,
    first: bool,
}

impl Tail {
    /// Reads what was appended since the last poll, queueing its records (and a reset or a status
    /// change).
    fn poll(&mut self) {
        let path = self.dir.join("history.jsonl");
        let meta = std::fs::metadata(&path).ok();
        let len = meta.as_ref().map_or(0, |m| m.len());
        // The trainer rewrites the history by writing a new file and renaming it over the old one,
        // so a new file (inode) means a rewrite even when it has already grown past the old length.
        let identity = meta.as_ref().and_then(file_identity);
        let replaced = identity.is_some() && self.identity.is_some() && identity != self.identity;
        self.identity = identity;
        if len < self.offset || replaced {
            self.offset = 0;
            self.lines = 0;
            self.from = 0;
            self.queue.push_back(Event::default().event("reset").data("{}"));
        }
        if len > self.offset {
            if let Ok(mut f) = std::fs::File::open(&path) {
                let mut bytes = Vec::new();
                if f.seek(SeekFrom::Start(self.offset)).is_ok() && f.read_to_end(&mut bytes).is_ok() {
                    let text = String::from_utf8_lossy(&bytes);
                    let end = text.rfind('\n').map_or(0, |i| i + 1);
                    for line in complete_lines(&text) {
                        if self.lines >= self.from {
                            let id = (self.lines + 1).to_string();
                            self.queue.push_back(Event::default().event("record").id(id).data(line));
                        }
                        self.lines += 1;
                    }
                    self.offset += text[..end].len() as u64;
                }
            }
        }
        let now = status(&self.dir);
        if self.last_status.as_ref() != Some(&now) {
            let data = serde_json::to_string(&now).expect("a status serializes");
            self.queue.push_back(Event::default().event("status").data(data));
            self.last_status = Some(now);
        }
    }
}

/// Which file a path names now (its inode), to tell a file replaced by a rename from one appended
/// to; `None` where the platform does not say, and then only a shorter file counts as rewritten.
fn file_identity(meta: &std::fs::Metadata) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// The event stream of the run in `dir`, from history line `from` on.
pub fn stream(dir: PathBuf, from: usize) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let tail = Tail {
        dir,
        offset: 0,
        lines: 0,
        from,
        last_status: None,
        identity: None,
        queue: Default::default(),
        first: true,
    };
    let events = stream::unfold(tail, |mut tail| async move {
        loop {
            if let Some(e) = tail.queue.pop_front() {
                return Some((Ok(e), tail));
            }
            if !tail.first {
                let running = tail.last_status.as_ref().is_some_and(|s| s.status == "running");
                tokio::time::sleep(if running { POLL } else { POLL_ENDED }).await;
            }
            tail.first = false;
            // File reads are short; a blocking-pool hop would cost more than the read.
            tail.poll();
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("keep-alive"))
}
