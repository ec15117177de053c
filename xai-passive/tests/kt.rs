//! KT and M-of-N recover a Boolean formula from a network trained on its truth table: the rules agree
//! with the formula on all 64 inputs.

use xai_nn::train::{train, TrainConfig};
use xai_nn::{file, Dataset, Forward, Graph};
use xai_passive::rules::{self, RuleData, RuleSet};
use xai_passive::Params;
use xai_tensor::Tensor;

/// x₁ ∧ x₃ ∧ ¬x₂ ∧ ¬x₅ over x₁…x₆ (features 0…5).
fn formula(r: &[f32]) -> usize {
    usize::from(r[0] == 1.0 && r[2] == 1.0 && r[1] == 0.0 && r[4] == 0.0)
}

fn truth_table() -> Dataset {
    table(formula)
}

/// The 64-row truth table of `formula` over x1…x6.
fn table(formula: fn(&[f32]) -> usize) -> Dataset {
    let mut csv = String::from("x1,x2,x3,x4,x5,x6,target\n");
    for i in 0..64u32 {
        let bits: Vec<f32> = (0..6).map(|j| ((i >> j) & 1) as f32).collect();
        let cells: Vec<String> = bits.iter().map(|b| b.to_string()).collect();
        csv.push_str(&format!("{},{}\n", cells.join(","), formula(&bits)));
    }
    Dataset::from_csv_str("formula", &csv).unwrap()
}

fn trained(hidden_op: &str, seed: u64) -> Graph {
    trained_on(&truth_table(), hidden_op, seed)
}

fn trained_on(data: &Dataset, hidden_op: &str, seed: u64) -> Graph {
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("net.json");
    std::fs::write(
        &arch,
        format!(
            r#"{{"format": "xai-model", "version": 1, "input_shape": [6], "weights": "net.safetensors",
 "layers": [
  {{"name": "0", "op": "linear", "in_features": 6, "out_features": 4}},
  {{"name": "1", "op": "{hidden_op}"}},
  {{"name": "2", "op": "linear", "in_features": 4, "out_features": 2}}]}}"#
        ),
    )
    .unwrap();
    let mut model = file::load_or_init(&arch, seed).unwrap();
    let cfg = TrainConfig {
        epochs: 400,
        batch_size: 8,
        lr: 0.03,
        seed,
        ..TrainConfig::default()
    };
    train(&mut model, data, &cfg, &mut |_| {}).unwrap();
    model
}

/// Rule method `name` on `model` over every row of `data`: the rules and the class they
/// give each row.
fn extracted(name: &str, model: &Graph, data: &Dataset) -> (RuleSet, Vec<usize>) {
    let method = rules::build(name, &Params::default()).unwrap();
    let rd = RuleData {
        x: &data.x,
        feature_names: &data.feature_names,
        seed: 0,
    };
    let found = method.extract(model, &rd).unwrap();
    let got = found
        .rules
        .predict(&data.x)
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    (found.rules, got)
}

#[test]
fn kt_and_m_of_n_recover_the_formula_on_all_64_inputs() {
    let data = truth_table();
    let x = data.x.to_vec_f32().unwrap();
    for (op, seed) in [("sigmoid", 0), ("tanh", 1), ("relu", 2)] {
        let model = trained(op, seed);
        let net = model.predict(&data.x).unwrap().argmax(1).unwrap();
        assert_eq!(net, data.y, "{op}: the network itself learned the formula");
        for name in ["kt", "m-of-n"] {
            let (found, got) = extracted(name, &model, &data);
            let want: Vec<usize> = x.chunks(6).map(formula).collect();
            let agree = got.iter().zip(&want).filter(|(a, b)| a == b).count();
            eprintln!("{name} on {op}:\n{}", found.to_text());
            assert_eq!(
                agree,
                64,
                "{name} on {op}: {agree} of 64\n{}",
                found.to_text()
            );
        }
    }
}

/// A concept M-of-N states in one rule: at least 2 of x1, x2, x3.
#[test]
fn m_of_n_states_a_two_of_three_concept_as_one() {
    let two_of_three = |r: &[f32]| usize::from(r[..3].iter().filter(|&&v| v == 1.0).count() >= 2);
    let data = table(two_of_three);
    let model = trained_on(&data, "sigmoid", 3);
    assert_eq!(model.predict(&data.x).unwrap().argmax(1).unwrap(), data.y);
    let (found, got) = extracted("m-of-n", &model, &data);
    let text = found.to_text();
    assert_eq!(got, data.y, "{text}");
    assert_eq!(
        text,
        "if 2 of (x1 > 0.5, x2 > 0.5, x3 > 0.5) then 1\nelse then 0\n"
    );
}

#[test]
fn kt_refuses_non_boolean_inputs() {
    let model = trained("sigmoid", 0);
    let x = Tensor::from_vec(vec![0.0f32, 1.0, 0.5, 1.0, 0.0, 1.0], &[1, 6]).unwrap();
    let method = rules::build("kt", &Params::default()).unwrap();
    let e = method
        .extract(
            &model,
            &RuleData {
                x: &x,
                feature_names: &[],
                seed: 0,
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "kt: needs Boolean inputs (0 or 1); row 0, feature 2 is 0.5"
    );
}
