//! VIA interval rules on an iris MLP and on the digits CNN: every certified box, sampled at
//! 10⁴ points inside it, gives its class at every point.

use std::path::Path;
use xai_nn::train::{fit_normalize, train, TrainConfig};
use xai_nn::{file, Dataset, Forward, Graph};
use xai_passive::rules::{self, Comparison, RuleData};
use xai_passive::Params;
use xai_tensor::{DType, Rng, Tensor};

fn trained(arch: &str, data: &Dataset, cfg: &TrainConfig, standardize: bool) -> Graph {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(arch);
    let mut model = file::load_or_init(&path, 0).unwrap();
    if standardize {
        model
            .set_normalize(Some(fit_normalize(data).unwrap()))
            .unwrap();
    }
    train(&mut model, data, cfg, &mut |_| {}).unwrap();
    model
}

/// Samples `n` points in each rule's box (its conditions, the training range on the sides it
/// leaves open) and checks the model's class at each.
fn check_boxes(model: &Graph, data: &Dataset, params: Params) -> usize {
    let x = data.x.to_vec_f32().unwrap();
    let f = data.x.numel() / data.len();
    let (mut min, mut max) = (vec![f32::INFINITY; f], vec![f32::NEG_INFINITY; f]);
    for row in x.chunks(f) {
        for j in 0..f {
            min[j] = min[j].min(row[j]);
            max[j] = max[j].max(row[j]);
        }
    }
    let method = rules::build("via", &params).unwrap();
    let found = method
        .extract(
            model,
            &RuleData {
                x: &data.x,
                feature_names: &data.feature_names,
                seed: 0,
            },
        )
        .unwrap();
    assert!(!found.rules.rules.is_empty());
    let n = 10_000;
    let mut rng = Rng::new(1);
    for (k, rule) in found.rules.rules.iter().enumerate() {
        let (mut lo, mut hi) = (min.clone(), max.clone());
        for c in &rule.conditions {
            match c.comparison {
                // x > t: the next f32 above t is the least value the rule admits.
                Comparison::Above => lo[c.feature] = (c.threshold as f32).next_up(),
                Comparison::AtMost => hi[c.feature] = c.threshold as f32,
            }
        }
        let u = rng
            .uniform(&[n, f], 0.0, 1.0, DType::F32)
            .unwrap()
            .to_vec_f32()
            .unwrap();
        let mut pts: Vec<f32> = u
            .chunks(f)
            .flat_map(|r| {
                (0..f)
                    .map(|j| lo[j] + r[j] * (hi[j] - lo[j]))
                    .collect::<Vec<_>>()
            })
            .collect();
        // The corners nearest and farthest too.
        pts[..f].copy_from_slice(&lo);
        pts[f..2 * f].copy_from_slice(&hi);
        let mut shape = vec![n];
        shape.extend(data.example_shape());
        let p = model
            .predict(&Tensor::from_vec(pts, &shape).unwrap())
            .unwrap()
            .argmax(1)
            .unwrap();
        let wrong = p.iter().filter(|&&c| c != rule.class).count();
        assert_eq!(
            wrong, 0,
            "rule {k} ({rule}): {wrong} of {n} points get another class"
        );
        assert_eq!(rule.precision, 1.0);
    }
    found.rules.rules.len()
}

#[test]
fn iris_mlp_boxes_hold_at_every_sampled_point() {
    let data = Dataset::bundled("iris").unwrap();
    let cfg = TrainConfig {
        epochs: 100,
        batch_size: 16,
        lr: 0.01,
        ..TrainConfig::default()
    };
    let model = trained("iris_mlp.json", &data, &cfg, true);
    let rules = check_boxes(&model, &data, Params::default());
    assert!(rules >= 3, "{rules} rules");
}

#[test]
fn digits_cnn_boxes_hold_at_every_sampled_point() {
    let data = Dataset::bundled("digits")
        .unwrap()
        .with_input_shape(&[1, 8, 8])
        .unwrap();
    let cfg = TrainConfig {
        epochs: 10,
        ..TrainConfig::default()
    };
    let model = trained("digits_cnn.json", &data, &cfg, false);
    let rules = check_boxes(
        &model,
        &data,
        Params::default().with("candidates", 32).with("steps", 8),
    );
    assert!(rules >= 1, "{rules} rules");
}
