//! Progress on stderr: a bar with the loss and speed when stderr is a terminal, otherwise one plain
//! line per evaluation (logs and pipes stay readable).

use std::io::IsTerminal;
use std::time::Duration;

use ftheta_nn::Module;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::trainer::{Observer, Record};
use crate::TrainError;

/// The bar: updates done of all, the rate with its unit, the time left, the loss.
const BAR_TEMPLATE: &str = "{bar:30} {pos}/{len} updates  {rate}  ETA {eta}  {msg}";

/// Updates per second with the unit, to 3 significant digits (`1.23e3 updates/s` as `1230`).
fn rate(per_sec: f64) -> String {
    if per_sec >= 100.0 {
        format!("{per_sec:.0} updates/s")
    } else {
        format!("{} updates/s", crate::metrics::significant(per_sec, 3))
    }
}

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
            let style = ProgressStyle::with_template(BAR_TEMPLATE)
                .map(|s| {
                    s.with_key("rate", |st: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{}", rate(st.per_sec()));
                    })
                })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_a_rate_with_its_unit_and_the_time_left() {
        assert!(BAR_TEMPLATE.contains("{rate}") && BAR_TEMPLATE.contains("ETA {eta}"));
        assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
        assert_eq!(rate(8421.7), "8422 updates/s");
        assert_eq!(rate(4.5678), "4.57 updates/s");
    }
}
