//! Claiming a run folder: one writer at a time, and a new run that touches nothing it did not make.
//!
//! A process that writes a run (a new `ftheta train --out D`, or `--resume D`) holds an exclusive
//! advisory lock (`flock`) on `D/ftheta.lock` for as long as it runs; the kernel drops it when the
//! process ends, however it ends, so a killed run never leaves a stale lock. The lock file holds
//! the holder's process id, read back only to name it in the refusal (`status.json`'s pid is a
//! hint for readers; the lock is what decides).
//!
//! A new run only goes into a folder that does not exist yet (it is created, with any missing
//! parents) or is empty. A folder with anything else in it, the user's own files or another run,
//! is refused before a byte is written. When the new run then fails, [`FreshFolder::clean`]
//! removes the files a run writes, by name, and the folders this process created, only if they
//! are empty: whatever else is there (the user's, put there meanwhile) stays.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ftheta_nn::checkpoint::atomic_temp_path;

use crate::run::io_err;
use crate::TrainError;

/// The lock file's name inside a run folder.
pub const LOCK_FILE: &str = "ftheta.lock";

/// Files a run writes at its top level.
const RUN_FILES: [&str; 5] = ["config.json", "status.json", "history.jsonl", "model.safetensors", "summary.json"];
/// The checkpoint's folders and the files in each.
const CHECKPOINT_DIRS: [&str; 3] = ["checkpoint", "checkpoint.new", "checkpoint.old"];
const CHECKPOINT_FILES: [&str; 4] = ["model.safetensors", "optimizer.safetensors", "best.safetensors", "state.json"];

/// The exclusive lock on a run folder, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    /// Kept open: closing it releases the lock.
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of the run folder `root`, creating its lock file when missing; a lock held
    /// by another process is [`TrainError::Busy`] naming it.
    pub fn acquire(root: &Path) -> Result<RunLock, TrainError> {
        let path = root.join(LOCK_FILE);
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_err(&path))?;
            match try_flock(&file, true) {
                Ok(true) => {}
                Ok(false) => return Err(busy(root, &path, &mut file)),
                Err(e) => return Err(io_err(&path)(e)),
            }
            // A holder that cleaned up may have unlinked the file between our open and our lock:
            // then we locked a file nobody else can see, and must lock the one at the path.
            if same_file(&file, &path) {
                file.set_len(0).map_err(io_err(&path))?;
                writeln!(file, "{}", std::process::id()).map_err(io_err(&path))?;
                return Ok(RunLock { _file: file, path });
            }
        }
    }

    /// Who holds the lock of `root` now, when someone does (without taking it).
    pub fn holder(root: &Path) -> Option<TrainError> {
        let path = root.join(LOCK_FILE);
        let mut file = File::open(&path).ok()?;
        match try_flock(&file, false) {
            Ok(false) => Some(busy(root, &path, &mut file)),
            _ => None,
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes an exclusive (or shared) `flock` on `file` without waiting: `Ok(false)` when another
/// open file holds a conflicting one. (std's `File::try_lock` is newer than the workspace's MSRV.)
#[cfg(unix)]
fn try_flock(file: &File, exclusive: bool) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    let op = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH } | libc::LOCK_NB;
    // SAFETY: flock only reads the descriptor, which `file` keeps open for the whole call.
    if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Without `flock` the folder is not locked (ftheta is built and tested on Unix).
#[cfg(not(unix))]
fn try_flock(_: &File, _: bool) -> std::io::Result<bool> {
    Ok(true)
}

fn busy(root: &Path, path: &Path, file: &mut File) -> TrainError {
    let mut text = String::new();
    let _ = file.take(32).read_to_string(&mut text);
    let holder = match text.trim().parse::<u32>() {
        Ok(pid) => format!("process {pid}"),
        Err(_) => "another process".to_string(),
    };
    TrainError::Busy { path: root.to_path_buf(), holder, lock: path.to_path_buf() }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.exists()
}

/// A new run's folder: the folders this process created for it (to remove when the run fails).
#[derive(Debug)]
pub struct FreshFolder {
    root: PathBuf,
    /// Created by this process, outermost first.
    created: Vec<PathBuf>,
}

impl FreshFolder {
    /// Claims `root` for a new run: creates it (and missing parents) or accepts it empty, and
    /// takes its lock. Refused: a path that is not a folder, a folder that holds a run (another
    /// process's while it trains: [`TrainError::Busy`]) or anything else.
    pub fn claim(root: &Path) -> Result<(FreshFolder, RunLock), TrainError> {
        if root.exists() && !root.is_dir() {
            return Err(TrainError::Config(format!(
                "{} exists and is not a folder; give a new or empty folder for the run",
                root.display()
            )));
        }
        let created: Vec<PathBuf> =
            root.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.exists()).map(Path::to_path_buf).collect();
        std::fs::create_dir_all(root).map_err(io_err(root))?;
        refuse_unless_empty(root)?;
        let lock = RunLock::acquire(root)?;
        // Another run may have claimed the folder, trained and ended between the check and the lock.
        refuse_unless_empty(root)?;
        let created = created.into_iter().rev().collect();
        Ok((FreshFolder { root: root.to_path_buf(), created }, lock))
    }

    /// Removes what a failed new run wrote: its files by name, its checkpoint folders when that
    /// leaves them empty, the lock file, then the folders this process created when empty. Call it
    /// while still holding the lock (so no other run can have started in the folder).
    pub fn clean(&self) {
        let remove_files = |dir: &Path, names: &[&str]| {
            for n in names {
                let path = dir.join(n);
                let _ = std::fs::remove_file(&path);
                // write_atomic's temporary name, left by a write that failed half way.
                let _ = std::fs::remove_file(atomic_temp_path(&path));
            }
        };
        for d in CHECKPOINT_DIRS {
            let dir = self.root.join(d);
            remove_files(&dir, &CHECKPOINT_FILES);
            let _ = std::fs::remove_dir(&dir);
        }
        remove_files(&self.root, &RUN_FILES);
        let _ = std::fs::remove_file(self.root.join(LOCK_FILE));
        for d in self.created.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Refuses `root` for a new run unless it holds nothing but a lock file.
fn refuse_unless_empty(root: &Path) -> Result<(), TrainError> {
    let mut others = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io_err(root))? {
        let name = entry.map_err(io_err(root))?.file_name();
        if name != LOCK_FILE {
            others.push(name.to_string_lossy().into_owned());
        }
    }
    if others.is_empty() {
        return Ok(());
    }
    if let Some(busy) = RunLock::holder(root) {
        return Err(busy);
    }
    if others.iter().any(|n| n == "config.json") {
        return Err(TrainError::Config(format!(
            "{} already holds a run; choose another folder or continue it with --resume",
            root.display()
        )));
    }
    others.sort();
    let more = match others.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Err(TrainError::Config(format!(
        "{} is not empty (it holds '{}'{more}) and is not an ftheta run; give a new or empty folder",
        root.display(),
        ftheta_data::limits::quoted(&others[0])
    )))
}
