//! A second thread for two-way splits of one kernel (`join2`), woken in about a microsecond.
//!
//! rayon's `join` from the (non-pool) main thread injects the job, wakes a sleeping worker, which
//! wakes a second one, and finally wakes the main thread: 40-80 µs on these machines, more than
//! the half of a 128×784×256 product it saves. Here the caller runs one half itself and a single
//! helper thread runs the other; after each job the helper spins for a while (as OpenMP runtimes
//! do), so the next split of the same training step finds it awake, then parks until needed.
//! The split itself is decided by the caller from the sizes alone, so results never depend on
//! whether the helper or the caller ran a half.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

const IDLE: u8 = 0;
const POSTING: u8 = 1;
const READY: u8 = 2;
const TAKEN: u8 = 3;
const DONE: u8 = 4;
const PANICKED: u8 = 5;

/// How long the helper stays awake after a job.
const SPIN: Duration = Duration::from_millis(2);

type Job<'a> = &'a (dyn Fn() + Sync);

struct Helper {
    state: AtomicU8,
    /// Points at a `Job` on the poster's stack while the state is READY.
    job: AtomicPtr<Job<'static>>,
    parked: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

fn helper() -> &'static Helper {
    static HELPER: OnceLock<&'static Helper> = OnceLock::new();
    HELPER.get_or_init(|| {
        let h: &'static Helper = Box::leak(Box::new(Helper {
            state: AtomicU8::new(IDLE),
            job: AtomicPtr::new(std::ptr::null_mut()),
            parked: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }));
        std::thread::Builder::new().name("ftheta-helper".into()).spawn(move || h.run()).expect("spawn ftheta-helper");
        h
    })
}

impl Helper {
    fn run(&self) {
        loop {
            self.wait_for_job();
            // The poster may have taken the job back (it found it not started after its own half).
            if self.state.compare_exchange(READY, TAKEN, SeqCst, SeqCst).is_err() {
                continue;
            }
            // SAFETY: the poster keeps the job alive until it sees DONE or PANICKED.
            let job: Job<'_> = unsafe { *self.job.load(SeqCst) };
            let ok = catch_unwind(AssertUnwindSafe(job)).is_ok();
            self.state.store(if ok { DONE } else { PANICKED }, SeqCst);
        }
    }

    fn wait_for_job(&self) {
        let start = Instant::now();
        let mut spins = 0u32;
        while self.state.load(SeqCst) != READY {
            std::hint::spin_loop();
            spins += 1;
            if spins % 64 == 0 {
                // On a busy machine, let the poster (or anyone) have the core.
                std::thread::yield_now();
            }
            if spins % 256 == 0 && start.elapsed() > SPIN {
                let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
                self.parked.store(true, SeqCst);
                while self.state.load(SeqCst) != READY {
                    g = self.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                self.parked.store(false, SeqCst);
                return;
            }
        }
    }
}

/// Runs `a` on this thread and `b` on the helper thread at the same time, and returns when both
/// are done. When the helper is busy (a split inside a split, or another thread splitting), `b`
/// runs here after `a`.
pub(crate) fn join2(a: impl FnOnce(), b: impl Fn() + Sync) {
    let h = helper();
    if h.state.compare_exchange(IDLE, POSTING, SeqCst, SeqCst).is_err() {
        a();
        b();
        return;
    }
    let job: Job<'_> = &b;
    // SAFETY: only the lifetime is erased; this function waits below until the helper is done
    // with the job, even when `a` panics.
    let job_ptr = &job as *const Job<'_> as *mut Job<'static>;
    h.job.store(job_ptr, SeqCst);
    h.state.store(READY, SeqCst);
    if h.parked.load(SeqCst) {
        let _g = h.lock.lock().unwrap_or_else(|e| e.into_inner());
        h.wake.notify_one();
    }
    let ra = catch_unwind(AssertUnwindSafe(a));
    // A helper that has not started yet (descheduled on a busy machine, or still waking) loses its
    // job: this thread runs it rather than wait.
    if h.state.compare_exchange(READY, POSTING, SeqCst, SeqCst).is_ok() {
        h.job.store(std::ptr::null_mut(), SeqCst);
        h.state.store(IDLE, SeqCst);
        if let Err(p) = ra {
            resume_unwind(p);
        }
        b();
        return;
    }
    let mut spins = 0u32;
    let end = loop {
        match h.state.load(SeqCst) {
            s @ (DONE | PANICKED) => break s,
            _ => {
                std::hint::spin_loop();
                spins += 1;
                if spins % 64 == 0 {
                    std::thread::yield_now();
                }
            }
        }
    };
    h.job.store(std::ptr::null_mut(), SeqCst);
    h.state.store(IDLE, SeqCst);
    if let Err(p) = ra {
        resume_unwind(p);
    }
    if end == PANICKED {
        panic!("a kernel running on the helper thread panicked");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn both_halves_run_and_nesting_falls_back_to_one_thread() {
        let n = AtomicUsize::new(0);
        for _ in 0..1000 {
            super::join2(
                || {
                    n.fetch_add(1, Ordering::SeqCst);
                },
                || {
                    super::join2(
                        || {
                            n.fetch_add(1, Ordering::SeqCst);
                        },
                        || {
                            n.fetch_add(1, Ordering::SeqCst);
                        },
                    );
                },
            );
        }
        assert_eq!(n.load(Ordering::SeqCst), 3000);
    }
}
