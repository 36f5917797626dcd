//! The hooks a [`Trainer`] calls as it trains: after each update, after each evaluation, at the
//! end of every epoch, and to ask whether to stop. Observers combine: a pair calls both, an
//! `Option` calls the one it holds, `()` does nothing.

use ftheta_nn::{Model, Module};

use crate::trainer::{Record, Trainer};
use crate::TrainError;

/// Hooks called by [`Trainer::fit`] for a model of type `M` (a [`Model`] unless said otherwise);
/// every method has a default that does nothing.
pub trait Observer<M: Module = Model> {
    /// After each update, with the batch's loss.
    fn on_update(&mut self, _update: u64, _loss: f64) {}
    /// After each evaluation; `improved` when the model is the best so far (it holds those weights
    /// now).
    fn on_eval(&mut self, _record: &Record, _improved: bool, _model: &M) -> Result<(), TrainError> {
        Ok(())
    }
    /// At the end of every epoch and of training, with the state to checkpoint. Returning
    /// `Ok(false)` stops training here (as an interruption would).
    fn on_epoch_end(&mut self, _trainer: &Trainer<'_, M>) -> Result<bool, TrainError> {
        Ok(true)
    }
    /// Asked after every update (and its evaluation, if one is due): `true` stops training there.
    /// [`Observer::on_epoch_end`] is then called with the state mid-epoch, so that a checkpoint can
    /// be saved, and [`Trainer::fit`] returns [`TrainError::Interrupted`]. A run resumed from that
    /// checkpoint ends with the same weights and history as one never stopped.
    fn interrupted(&self) -> bool {
        false
    }
}

/// An observer that does nothing.
impl<M: Module> Observer<M> for () {}

/// An observer lent to another (as [`crate::Run::fit`] chains the caller's after its own).
impl<M: Module, T: Observer<M> + ?Sized> Observer<M> for &mut T {
    fn on_update(&mut self, update: u64, loss: f64) {
        (**self).on_update(update, loss);
    }
    fn on_eval(&mut self, record: &Record, improved: bool, model: &M) -> Result<(), TrainError> {
        (**self).on_eval(record, improved, model)
    }
    fn on_epoch_end(&mut self, trainer: &Trainer<'_, M>) -> Result<bool, TrainError> {
        (**self).on_epoch_end(trainer)
    }
    fn interrupted(&self) -> bool {
        (**self).interrupted()
    }
}

/// An observer that may be absent (a run without a folder has no writer).
impl<M: Module, T: Observer<M>> Observer<M> for Option<T> {
    fn on_update(&mut self, update: u64, loss: f64) {
        if let Some(o) = self {
            o.on_update(update, loss);
        }
    }
    fn on_eval(&mut self, record: &Record, improved: bool, model: &M) -> Result<(), TrainError> {
        self.as_mut().map_or(Ok(()), |o| o.on_eval(record, improved, model))
    }
    fn on_epoch_end(&mut self, trainer: &Trainer<'_, M>) -> Result<bool, TrainError> {
        self.as_mut().map_or(Ok(true), |o| o.on_epoch_end(trainer))
    }
    fn interrupted(&self) -> bool {
        self.as_ref().is_some_and(|o| o.interrupted())
    }
}

/// Two observers, called in order.
impl<M: Module, A: Observer<M>, B: Observer<M>> Observer<M> for (A, B) {
    fn on_update(&mut self, update: u64, loss: f64) {
        self.0.on_update(update, loss);
        self.1.on_update(update, loss);
    }
    fn on_eval(&mut self, record: &Record, improved: bool, model: &M) -> Result<(), TrainError> {
        self.0.on_eval(record, improved, model)?;
        self.1.on_eval(record, improved, model)
    }
    fn on_epoch_end(&mut self, trainer: &Trainer<'_, M>) -> Result<bool, TrainError> {
        Ok(self.0.on_epoch_end(trainer)? & self.1.on_epoch_end(trainer)?)
    }
    fn interrupted(&self) -> bool {
        self.0.interrupted() || self.1.interrupted()
    }
}
