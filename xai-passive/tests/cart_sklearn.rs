//! CART against scikit-learn's `DecisionTreeClassifier` on iris, wine and breast cancer
//! (fixtures from `tools/make_cart_fixtures.py`): the same tree node for node (features and
//! threshold bits in preorder), the same predictions on every held-out and training row, the
//! same depth and leaf count — with scikit-learn's choices among tied features replayed, and,
//! where scikit-learn has a tree that breaks ties by the lowest feature index as xai does,
//! with no replay at all.

use serde_json::Value;
use xai_nn::Dataset;
use xai_passive::rules::{Cart, Criterion, DecisionTree};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/cart/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap() as usize)
        .collect()
}

fn cart_of(params: &Value) -> Cart {
    let get = |k: &str| params.get(k).and_then(Value::as_u64).map(|v| v as usize);
    Cart {
        criterion: match params["criterion"].as_str().unwrap() {
            "gini" => Criterion::Gini,
            _ => Criterion::Entropy,
        },
        max_depth: get("max_depth"),
        min_samples_leaf: get("min_samples_leaf").unwrap_or(1),
        min_samples_split: get("min_samples_split").unwrap_or(2),
        ccp_alpha: params
            .get("ccp_alpha")
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        ..Cart::default()
    }
}

/// The tree in the fixture's form: per node in preorder, `[feature, threshold bits]` or null.
fn preorder(t: &DecisionTree) -> Value {
    t.nodes
        .iter()
        .map(|n| match &n.split {
            Some(s) => {
                let (f, t) = s.feature_threshold().unwrap();
                serde_json::json!([f, t.to_bits()])
            }
            None => Value::Null,
        })
        .collect()
}

fn check(t: &DecisionTree, want: &Value, data: (&Dataset, &Dataset), what: &str) {
    let (train, test) = data;
    assert_eq!(preorder(t), want["nodes"], "{what}: nodes");
    assert_eq!(
        t.depth() as u64,
        want["depth"].as_u64().unwrap(),
        "{what}: depth"
    );
    assert_eq!(
        t.leaves() as u64,
        want["leaves"].as_u64().unwrap(),
        "{what}: leaves"
    );
    assert_eq!(
        t.predict(&test.x).unwrap(),
        indices(&want["predict_test"]),
        "{what}: test"
    );
    assert_eq!(
        t.predict(&train.x).unwrap(),
        indices(&want["predict_train"]),
        "{what}: train"
    );
    // The tree's rules give exactly its predictions.
    let by_rules: Vec<usize> = t
        .to_rule_set()
        .predict(&test.x)
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(by_rules, t.predict(&test.x).unwrap(), "{what}: rules");
}

#[test]
fn cart_equals_scikit_learn() {
    let mut checked = (0, 0);
    for name in ["iris", "wine", "breast_cancer"] {
        let f = fixture(name);
        let data = Dataset::bundled(name).unwrap();
        let train = data.subset(&indices(&f["train"])).unwrap();
        let test = data.subset(&indices(&f["test"])).unwrap();
        for case in f["cases"].as_array().unwrap() {
            let what = format!("{name} {}", case["params"]);
            let cart = cart_of(&case["params"]);
            let w: Option<Vec<f64>> = case["weights"]
                .as_bool()
                .unwrap()
                .then(|| (0..train.len()).map(|i| 1.0 + (i % 3) as f64).collect());
            let grown = case["grown"].as_array().unwrap();
            let mut off_script = Vec::new();
            let mut choose = |id: usize, tied: &[usize]| {
                let want = grown.get(id).and_then(Value::as_u64).map(|f| f as usize);
                match want {
                    Some(f) if tied.contains(&f) => f,
                    _ => {
                        off_script.push((id, want, tied.to_vec()));
                        tied[0]
                    }
                }
            };
            let k = data.num_classes;
            let t = cart
                .fit_breaking_ties(&train.x, &train.y, k, w.as_deref(), &mut choose)
                .unwrap();
            assert!(
                off_script.is_empty(),
                "{what}: scikit-learn's choice is not tied-best: {off_script:?}"
            );
            check(&t, case, (&train, &test), &what);
            checked.0 += 1;
            if let Some(c) = case["canonical"].as_object() {
                let t = cart
                    .fit_classes(&train.x, &train.y, k, w.as_deref())
                    .unwrap();
                check(
                    &t,
                    &Value::Object(c.clone()),
                    (&train, &test),
                    &format!("{what} canonical"),
                );
                checked.1 += 1;
            }
        }
    }
    assert_eq!(checked, (21, 17));
}
