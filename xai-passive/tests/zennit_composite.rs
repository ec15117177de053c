//! A composite written by a user, as Zennit's `SpecialFirstLayerMapComposite` would be
//! (ε on dense layers, γ = 0.25 on convolutions, z^B on the first layer), and Zennit's
//! `EpsilonGammaBox` preset, against Zennit on the LeNet fixture: references made by
//! `tools/make_rule_fixtures.py` (`tests/fixtures/rules/lenet/lrp_spec.npy`,
//! `lrp_epsilon-gamma-box.npy` in xai-cli), each example's argmax class explained.

use xai_nn::{file, Forward, Graph};
use xai_passive::methods::{
    Bounds, Composite, CompositeKind, Lrp, LrpComposite, LrpRule, SpecialLayer,
};
use xai_passive::Attribution;
use xai_tensor::Tensor;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../xai-cli/tests/fixtures");

fn lenet() -> (Graph, Tensor, Vec<usize>) {
    let m = file::load(format!("{FIXTURES}/lenet/model.json")).unwrap();
    let x = Tensor::read_npy(format!("{FIXTURES}/lenet/input.npy")).unwrap();
    let t = m.predict(&x).unwrap().argmax(1).unwrap();
    (m, x, t)
}

fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    assert_eq!(a.len(), b.len());
    let num: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
    (num / b.iter().map(|y| y * y).sum::<f64>()).sqrt()
}

fn zennit(name: &str) -> Tensor {
    Tensor::read_npy(format!("{FIXTURES}/rules/lenet/{name}.npy")).unwrap()
}

#[test]
fn a_users_composite_equals_zennits_on_lenet() {
    let (m, x, t) = lenet();
    let want = zennit("lrp_spec");
    // Built in code: the kinds' rules, then z^B on the first layer.
    let composite = Composite {
        dense: LrpRule::Epsilon(1e-6),
        conv: LrpRule::Gamma(0.25),
        ..Composite::uniform(LrpRule::Epsilon(1e-6))
    }
    .with_first(LrpRule::ZBox(
        Tensor::scalar(-4.0, xai_tensor::DType::F32),
        Tensor::scalar(4.0, xai_tensor::DType::F32),
    ));
    let by_hand = Lrp {
        name: "lrp",
        composite,
        zbox: None,
        abs: false,
        batch_size: 256,
    };
    let e = rel_l2(&by_hand.attribute(&m, &x, &t).unwrap().attributions, &want);
    assert!(e < 1e-5, "composite in code vs Zennit: relative L2 {e:e}");
    // Written as a spec, and with the bounds resolved per batch (batch size 1 and 3).
    let spec: CompositeKind = "linear=epsilon:1e-6,conv=gamma:0.25,first=zb:-4:4"
        .parse()
        .unwrap();
    for batch_size in [1, 3] {
        let o = LrpComposite {
            composite: spec.clone(),
            batch_size,
            ..LrpComposite::default()
        };
        let a = o.method("lrp").unwrap().attribute(&m, &x, &t).unwrap();
        let e = rel_l2(&a.attributions, &want);
        assert!(e < 1e-5, "spec, batch size {batch_size}: relative L2 {e:e}");
    }
    let zbox = Lrp {
        zbox: Some((SpecialLayer::First, Bounds::Given(-4.0, 4.0))),
        ..LrpComposite {
            composite: "linear=epsilon:1e-6,conv=gamma:0.25".parse().unwrap(),
            ..LrpComposite::default()
        }
        .method("lrp")
        .unwrap()
    };
    let e = rel_l2(&zbox.attribute(&m, &x, &t).unwrap().attributions, &want);
    assert!(e < 1e-5, "z^B given as bounds: relative L2 {e:e}");
    // The test can fail: z^B left out is another attribution.
    let o = LrpComposite {
        composite: "linear=epsilon:1e-6,conv=gamma:0.25".parse().unwrap(),
        ..LrpComposite::default()
    };
    let a = o.method("lrp").unwrap().attribute(&m, &x, &t).unwrap();
    assert!(rel_l2(&a.attributions, &want) > 1e-2);
}

#[test]
fn epsilon_gamma_box_equals_zennits_preset() {
    let (m, x, t) = lenet();
    let o = LrpComposite {
        composite: CompositeKind::EpsilonGammaBox,
        low: Some(-4.0),
        high: Some(4.0),
        ..LrpComposite::default()
    };
    let a = o.method("lrp").unwrap().attribute(&m, &x, &t).unwrap();
    let e = rel_l2(&a.attributions, &zennit("lrp_epsilon-gamma-box"));
    assert!(e < 1e-5, "epsilon-gamma-box vs Zennit: relative L2 {e:e}");
}
