//! Localisation metrics on planted-patch images (the class is decided by the patch alone): a
//! CNN trained on them (3×3 convolution, global max pooling: position invariant) is explained by saliency, whose |a| must point at the patch far more
//! often than chance.

use xai_eval::localisation::{pointing_game, relevance_mass_accuracy, relevance_rank_accuracy};
use xai_eval::mean_std;
use xai_nn::data::synthetic::planted_patch;
use xai_nn::{file, train, Forward, TrainConfig};
use xai_passive::{registry, Params};

#[test]
fn saliency_of_a_trained_cnn_finds_the_planted_patch() {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("cnn.json");
    std::fs::write(
        &arch,
        r#"{"format": "xai-model", "version": 1, "input_shape": [1, 10, 10], "weights": "cnn.safetensors",
 "layers": [
  {"name": "0", "op": "conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1]},
  {"name": "1", "op": "relu"},
  {"name": "2", "op": "maxpool2d", "kernel_size": [10, 10], "stride": [10, 10]},
  {"name": "3", "op": "flatten"},
  {"name": "4", "op": "linear", "in_features": 8, "out_features": 2}]}"#,
    )
    .unwrap();
    let mut model = file::load_or_init(&arch, 0).unwrap();
    let (data, _) = planted_patch(1000, 2, 10, 3, 1).unwrap();
    let cfg = TrainConfig {
        epochs: 20,
        lr: 1e-2,
        ..TrainConfig::default()
    };
    train::train(&mut model, &data, &cfg, &mut |_| {}).unwrap();
    let (test, mask) = planted_patch(100, 2, 10, 3, 2).unwrap();
    let pred = model.predict(&test.x).unwrap().argmax(1).unwrap();
    let acc = pred.iter().zip(&test.y).filter(|(p, y)| p == y).count() as f64 / 100.0;
    let sal = registry::build("saliency", &Params::default().with("abs", true)).unwrap();
    let m: &dyn xai_nn::Layered = &model;
    let a = sal.attribute(m, &test.x, &test.y).unwrap().attributions;
    // The patch covers 9 of 100 pixels: chance is 0.09 for all three metrics.
    let pg = mean_std(&pointing_game(&a, &mask).unwrap()).0;
    let mass = mean_std(&relevance_mass_accuracy(&a, &mask).unwrap()).0;
    let rank = mean_std(&relevance_rank_accuracy(&a, &mask).unwrap()).0;
    assert!(acc > 0.9, "accuracy {acc}");
    assert!(
        pg > 0.3 && mass > 0.15 && rank > 0.2,
        "pointing {pg}, mass {mass}, rank {rank}"
    );
}
