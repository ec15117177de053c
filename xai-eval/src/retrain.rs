//! Retraining a model's architecture from scratch, for the metrics that compare explanations
//! across trained models: data randomization ([`sanity::data_randomization`](crate::sanity::data_randomization))
//! and remove-and-retrain ([`roar`](crate::roar)).

use crate::Result;
use xai_nn::layers::{self, Init};
use xai_nn::train::{train, TrainConfig};
use xai_nn::{Dataset, Forward, Graph, Node};
use xai_tensor::{Rng, Tensor};

/// A freshly initialised copy of `model`'s architecture: the same layers (from each layer's
/// model-file spec) and input normalisation, every parameter drawn as PyTorch initialises a new
/// layer (U(−1/√fan_in, 1/√fan_in) for linear/conv weights and biases, batch norm 1 and 0),
/// seeded. Optional tensors (biases) exist iff `model` has them. With the same seed this gives
/// the weights [`xai_nn::file::load_or_init`] draws for the architecture.
pub fn fresh_model(model: &Graph, seed: u64) -> Result<Graph> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(model.nodes().len());
    for (i, l) in model.nodes().iter().enumerate() {
        let have: Vec<&str> = l
            .layer
            .params()
            .iter()
            .map(|p| p.0)
            .chain(l.layer.buffers().iter().map(|b| b.0))
            .collect();
        let mut get = |suffix: &str,
                       shape: &[usize],
                       init: Init,
                       required: bool|
         -> xai_nn::Result<Option<Tensor>> {
            if !required && !have.contains(&suffix) {
                return Ok(None);
            }
            Ok(Some(init.draw(shape, &mut rng)?))
        };
        let layer = layers::build(&l.name, l.layer.op(), &l.layer.spec(), &mut get)?;
        out.push(Node::with_inputs(&l.name, layer, model.input_names(i)));
    }
    Ok(Graph::new(
        model.input_shape().to_vec(),
        out,
        model.outputs().clone(),
        model.normalize().cloned(),
    )?)
}

/// `model`'s architecture trained from scratch on `data` with the trainer: [`fresh_model`]
/// seeded by `cfg.seed`, then [`xai_nn::train::train`] with `cfg` (deterministic).
pub fn retrain(model: &Graph, data: &Dataset, cfg: &TrainConfig) -> Result<Graph> {
    let mut m = fresh_model(model, cfg.seed)?;
    train(&mut m, data, cfg, &mut |_| {})?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_nn::file;

    const MLP: &str = r#"{"format": "xai-model", "version": 1, "input_shape": [6], "weights": "w.safetensors",
        "layers": [{"name": "0", "op": "linear", "in_features": 6, "out_features": 8},
                   {"name": "bn", "op": "batchnorm1d", "num_features": 8},
                   {"name": "1", "op": "relu"},
                   {"name": "2", "op": "linear", "in_features": 8, "out_features": 3}]}"#;

    fn values(m: &Graph) -> Vec<Vec<f32>> {
        m.named_params()
            .iter()
            .map(|(_, v)| v.value().to_vec_f32().unwrap())
            .collect()
    }

    #[test]
    fn a_fresh_model_is_the_architecture_initialised_as_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, MLP).unwrap();
        let init = file::load_or_init(&p, 4).unwrap();
        let fresh = fresh_model(&init, 4).unwrap();
        assert_eq!(values(&fresh), values(&init));
        assert_eq!(fresh.node_shapes(), init.node_shapes());
        let other = fresh_model(&init, 5).unwrap();
        assert_ne!(values(&other), values(&init));
        // Batch norm starts at scale 1, shift 0.
        let bn = &values(&other)[2..4];
        assert!(bn[0].iter().all(|&v| v == 1.0) && bn[1].iter().all(|&v| v == 0.0));
    }
}
