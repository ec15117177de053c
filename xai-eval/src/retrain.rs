//! Retraining a model's architecture from scratch, for the metrics that compare explanations
//! across trained models: data randomization ([`sanity::data_randomization`](crate::sanity::data_randomization))
//! and remove-and-retrain ([`roar`](crate::roar)).

use crate::Result;
use xai_nn::train::{train, TrainConfig};
use xai_nn::{Dataset, Reinitialize};

/// `model`'s architecture trained from scratch on `data` with the trainer: a fresh copy
/// ([`Reinitialize::reinitialized`], seeded by `cfg.seed`), then [`xai_nn::train::train`] with
/// `cfg` (deterministic).
pub fn retrain<M: Reinitialize>(model: &M, data: &Dataset, cfg: &TrainConfig) -> Result<M> {
    let mut m = model.reinitialized(cfg.seed)?;
    train(&mut m, data, cfg, &mut |_| {})?;
    Ok(m)
}
