//! Sanity checks (Adebayo et al. 2018) on a digits CNN trained here: gradient and integrated
//! gradients must lose similarity to their original maps as the layers are randomized.

use std::path::Path;
use xai_eval::sanity::cascading_randomization;
use xai_nn::{file, train, Dataset, Forward, TrainConfig};
use xai_passive::{registry, Params};

fn trained_digits_cnn() -> (xai_nn::Graph, Dataset) {
    let arch = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/digits_cnn.json");
    let mut model = file::load_or_init(&arch, 0).unwrap();
    let data = Dataset::bundled("digits")
        .unwrap()
        .with_input_shape(&[1, 8, 8])
        .unwrap();
    // The digits are 0..16: scale to 0..1 for a quick, stable fit.
    let data = Dataset {
        x: data.x.mul_scalar(1.0 / 16.0).unwrap(),
        ..data
    };
    let cfg = TrainConfig {
        epochs: 5,
        lr: 3e-3,
        ..TrainConfig::default()
    };
    train::train(&mut model, &data, &cfg, &mut |_| {}).unwrap();
    (model, data)
}

#[test]
fn gradient_and_integrated_gradients_fail_to_survive_randomization() {
    let (model, data) = trained_digits_cnn();
    let x = data.x.narrow(0, 0, 16).unwrap();
    let pred = model.predict(&data.x).unwrap().argmax(1).unwrap();
    let acc = pred.iter().zip(&data.y).filter(|(p, y)| p == y).count() as f64 / data.len() as f64;
    assert!(acc > 0.85, "the CNN trained: accuracy {acc}");
    let targets = model.predict(&x).unwrap().argmax(1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut model = Some(model);
    for name in ["saliency", "integrated-gradients"] {
        let method = registry::build(name, &Params::default()).unwrap();
        // Retrain-free copy: reload the trained weights by saving once.
        let mut m = model
            .take()
            .unwrap_or_else(|| file::load(dir.path().join("m.json")).unwrap());
        if !dir.path().join("m.json").exists() {
            file::save(&m, dir.path().join("m.json")).unwrap();
        }
        let r = cascading_randomization(&mut m, method.as_ref(), &x, &targets, 7).unwrap();
        // original + 4 parameterised layers (9, 7, 3, 0).
        let layers: Vec<&str> = r.rows.iter().map(|r| r.layer.as_str()).collect();
        assert_eq!(layers, ["original", "9", "7", "3", "0"]);
        let m = r.means();
        // Integrated gradients with a zero baseline is 0 wherever the input is (the digits'
        // background), whatever the weights: the rank correlation of |a| stays high (≈ 0.9),
        // the input-structure effect Adebayo et al. report for IG and gradient ⊙ input. Its
        // signed Spearman and SSIM must drop.
        let measures: &[usize] = if name == "saliency" {
            &[0, 1, 2]
        } else {
            &[0, 2]
        };
        for &k in measures {
            assert!(
                (m[0][k] - 1.0).abs() < 1e-9,
                "{name}: original similarity {:?}",
                m[0]
            );
            // Fully randomized: the maps no longer resemble the original ones.
            let last = m[m.len() - 1][k];
            assert!(last.abs() < 0.3, "{name}, measure {k}: {m:?}");
        }
        // Rank correlation of |a| decays as randomization cascades down (signed Spearman and
        // SSIM already drop to about 0 after the first layer: they are only checked above).
        let abs: Vec<f64> = m.iter().map(|r| r[1]).collect();
        assert!(abs[abs.len() - 1] < 1.0, "{name}: {abs:?}");
        if name == "saliency" {
            assert!(
                abs[abs.len() - 1] < abs[1] && abs[1] < 0.9,
                "{name}: {abs:?}"
            );
        }
        r.write(&dir.path().join(name)).unwrap();
        let png = std::fs::read(dir.path().join(name).join("sanity.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let md = std::fs::read_to_string(dir.path().join(name).join("sanity.md")).unwrap();
        assert!(md.contains("| 4 | 0 |"), "{md}");
    }
}
