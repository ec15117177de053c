//! A two-head model (encoder → decoder reconstruction head + classifier head, model format
//! version 2) trained with the weighted objective 20·CE + 1·reconstruction: one SGD step and
//! three Adam steps equal PyTorch's on the same weights and batch (references from
//! `tools/make_two_head_fixture.py`, in `tests/fixtures/two_head/`).

use std::path::{Path, PathBuf};
use xai_nn::objective::{CrossEntropy, Reconstruction, Weighted};
use xai_nn::optim::OptimizerKind;
use xai_nn::{file, train_with, Dataset, Forward, Graph, ParamGroup, TrainConfig, Trainable};
use xai_tensor::Tensor;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/two_head")
}

fn data() -> Dataset {
    let x = Tensor::read_npy(dir().join("x.npy")).unwrap();
    let y: Vec<usize> = Tensor::read_npy(dir().join("y.npy"))
        .unwrap()
        .to_vec_f64()
        .unwrap()
        .into_iter()
        .map(|v| v as usize)
        .collect();
    Dataset {
        name: "two-head batch".into(),
        x,
        y,
        feature_names: (0..12).map(|i| format!("x{i}")).collect(),
        num_classes: 3,
    }
}

/// The fixture model with the weights of `weights` (a safetensors file of the fixture).
fn model_with(weights: &str, tmp: &Path) -> Graph {
    let text = std::fs::read_to_string(dir().join("model.json")).unwrap();
    let abs = dir().join(weights);
    let json = tmp.join(format!("{weights}.json"));
    std::fs::write(
        &json,
        text.replace("model.safetensors", abs.to_str().unwrap()),
    )
    .unwrap();
    file::load(&json).unwrap()
}

fn objective() -> Weighted {
    Weighted::new(vec![
        (20.0, Box::new(CrossEntropy::default())),
        (
            1.0,
            Box::new(Reconstruction {
                head: "reconstruction".into(),
            }),
        ),
    ])
}

fn max_rel_error(a: &Graph, b: &Graph) -> f64 {
    let (pa, pb) = (a.parameters(), b.parameters());
    assert_eq!(pa.len(), pb.len());
    pa.iter()
        .zip(&pb)
        .map(|((na, va), (nb, vb))| {
            assert_eq!(na, nb);
            let (x, y) = (
                va.value().to_vec_f64().unwrap(),
                vb.value().to_vec_f64().unwrap(),
            );
            let num: f64 = x.iter().zip(&y).map(|(p, q)| (p - q).powi(2)).sum();
            (num / y.iter().map(|q| q * q).sum::<f64>()).sqrt()
        })
        .fold(0.0, f64::max)
}

fn trained(optimizer: OptimizerKind, lr: f64, epochs: usize, tmp: &Path) -> Graph {
    let mut m = model_with("model.safetensors", tmp);
    let d = data();
    let cfg = TrainConfig {
        epochs,
        batch_size: d.len(),
        lr,
        optimizer,
        ..TrainConfig::default()
    };
    train_with(&mut m, &d, &cfg, &mut objective(), &mut |_| {}).unwrap();
    m
}

#[test]
fn the_weighted_objective_steps_as_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    let m = model_with("model.safetensors", tmp.path());
    assert_eq!(m.heads()[0].0, "logits");
    assert_eq!(m.predict(&data().x).unwrap().shape(), &[16, 3]);
    let sgd = OptimizerKind::Sgd {
        momentum: 0.0,
        nesterov: false,
    };
    let got = trained(sgd, 0.1, 1, tmp.path());
    let want = model_with("sgd.safetensors", tmp.path());
    let e = max_rel_error(&got, &want);
    eprintln!("one SGD step: largest relative L2 over the parameters {e:.2e}");
    assert!(e < 1e-5, "SGD step vs PyTorch: {e:e}");
    // The update itself (new − old) equals PyTorch's, not only the new weights.
    let before = model_with("model.safetensors", tmp.path());
    let delta = |a: &Graph| -> Vec<f64> {
        a.parameters()
            .iter()
            .zip(before.parameters())
            .flat_map(|((_, v), (_, b))| {
                let (v, b) = (
                    v.value().to_vec_f64().unwrap(),
                    b.value().to_vec_f64().unwrap(),
                );
                v.into_iter().zip(b).map(|(p, q)| p - q).collect::<Vec<_>>()
            })
            .collect()
    };
    let (dg, dw) = (delta(&got), delta(&want));
    let num: f64 = dg.iter().zip(&dw).map(|(p, q)| (p - q).powi(2)).sum();
    let e = (num / dw.iter().map(|q| q * q).sum::<f64>()).sqrt();
    eprintln!("one SGD step: relative L2 of the update {e:.2e}");
    assert!(e < 1e-5, "SGD update vs PyTorch: {e:e}");
    let adam = OptimizerKind::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let got = trained(adam, 0.01, 3, tmp.path());
    let e = max_rel_error(&got, &model_with("adam.safetensors", tmp.path()));
    eprintln!("three Adam steps: largest relative L2 {e:.2e}");
    assert!(e < 1e-5, "Adam steps vs PyTorch: {e:e}");
}

#[test]
fn frozen_groups_do_not_move_and_scaled_groups_move_by_their_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let d = data();
    let before = model_with("model.safetensors", tmp.path());
    let sgd = OptimizerKind::Sgd {
        momentum: 0.0,
        nesterov: false,
    };
    let run = |groups: Vec<ParamGroup>| {
        let mut m = model_with("model.safetensors", tmp.path());
        let cfg = TrainConfig {
            epochs: 1,
            batch_size: d.len(),
            lr: 0.1,
            optimizer: sgd.clone(),
            groups,
            ..TrainConfig::default()
        };
        train_with(&mut m, &d, &cfg, &mut objective(), &mut |_| {}).unwrap();
        m
    };
    let plain = run(Vec::new());
    let staged = run(vec![
        ParamGroup {
            prefix: "enc".into(),
            lr_scale: 1.0,
            frozen: true,
        },
        ParamGroup {
            prefix: "cls".into(),
            lr_scale: 0.5,
            frozen: false,
        },
    ]);
    let value = |m: &Graph, name: &str| -> Vec<f64> {
        m.parameters()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .value()
            .to_vec_f64()
            .unwrap()
    };
    assert_eq!(value(&staged, "enc.weight"), value(&before, "enc.weight"));
    assert_eq!(value(&staged, "dec.bias"), value(&plain, "dec.bias"));
    // SGD: half the rate, half the step (the gradient is the same: the encoder is only frozen).
    for ((s, p), b) in value(&staged, "cls.weight")
        .iter()
        .zip(value(&plain, "cls.weight"))
        .zip(value(&before, "cls.weight"))
    {
        assert!(((s - b) - 0.5 * (p - b)).abs() < 1e-6, "{s} {p} {b}");
    }
}

#[test]
fn an_objective_naming_no_head_is_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let mut m = model_with("model.safetensors", tmp.path());
    let d = data();
    let mut bad = Reconstruction {
        head: "recon".into(),
    };
    let e = train_with(&mut m, &d, &TrainConfig::default(), &mut bad, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("output 'recon': is no output of the model (outputs: logits, reconstruction)"),
        "{e}"
    );
}
