//! Progress on stderr: a bar with the loss and speed when stderr is a terminal, otherwise one plain
//! line per evaluation (logs and pipes stay readable).

use std::io::IsTerminal;
use std::time::Duration;

use ftheta_nn::Module;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::trainer::{Observer, Record};
use crate::TrainError;

/// Reports training progress on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Progress {
    /// A reporter for `total` updates, starting at `done`; `quiet` prints nothing.
    pub fn new(total: u64, done: u64, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{bar:30} {pos}/{len} updates  {per_sec}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_position(done);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, quiet }
    }

    /// Removes the bar (call when training ends).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One line describing an evaluation.
pub fn describe(r: &Record) -> String {
    let mut s = format!("epoch {} update {} train_loss {:.6}", r.epoch, r.update, r.train_loss);
    if let Some(v) = r.val_loss {
        s += &format!(" val_loss {v:.6}");
    }
    if let Some(a) = r.val_accuracy.or(r.train_accuracy) {
        s += &format!(" {}_accuracy {a:.4}", if r.val_accuracy.is_some() { "val" } else { "train" });
    }
    s + &format!(" ({:.1} s)", r.seconds)
}

impl<M: Module> Observer<M> for Progress {
    fn on_update(&mut self, update: u64, loss: f64) {
        if let Some(bar) = &self.bar {
            bar.set_position(update);
            if update % 10 == 0 {
                bar.set_message(format!("loss {loss:.4}"));
            }
        }
    }

    fn on_eval(&mut self, record: &Record, _improved: bool, _model: &M) -> Result<(), TrainError> {
        match &self.bar {
            Some(bar) => bar.println(describe(record)),
            None if !self.quiet => eprintln!("{}", describe(record)),
            None => {}
        }
        Ok(())
    }
}
