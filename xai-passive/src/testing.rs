//! Helpers of the crate's tests: a relative L2 distance and small models built in Rust.

use xai_tensor::Tensor;

/// Relative L2 distance ‖a − b‖/‖b‖.
pub(crate) fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    assert_eq!(a.len(), b.len());
    let num: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den.max(1e-300)).sqrt()
}

/// Small models built in Rust for the methods' tests.
pub(crate) mod models {
    use xai_autodiff::Var;
    use xai_nn::layers::{Activation, ActivationKind, Conv2d, Flatten, Linear};
    use xai_nn::{Graph, Module, Node};
    use xai_tensor::{Conv2dParams, DType, Rng, Tensor};

    pub fn layer(name: &str, layer: Box<dyn Module>) -> Node {
        Node::new(name, layer)
    }

    pub fn randn(rng: &mut Rng, shape: &[usize], std: f64) -> Tensor {
        rng.normal(shape, 0.0, std, DType::F32).unwrap()
    }

    pub fn linear(w: Tensor, b: Option<Tensor>) -> Box<dyn Module> {
        Box::new(Linear {
            weight: Var::leaf(w),
            bias: b.map(Var::leaf),
        })
    }

    pub fn act(k: ActivationKind) -> Box<dyn Module> {
        Box::new(Activation::new(k))
    }

    /// 6 → 16 → tanh → 16 → relu → 3.
    pub fn mlp(seed: u64) -> Graph {
        mlp_with(seed, ActivationKind::Relu)
    }

    /// 6 → 16 → tanh → 16 → softplus → 3: smooth, so quadrature errors are small.
    pub fn smooth_mlp(seed: u64) -> Graph {
        mlp_with(seed, ActivationKind::Softplus)
    }

    fn mlp_with(seed: u64, second: ActivationKind) -> Graph {
        let mut r = Rng::new(seed);
        Graph::sequential(
            vec![6],
            vec![
                layer(
                    "0",
                    linear(
                        randn(&mut r, &[16, 6], 0.5),
                        Some(randn(&mut r, &[16], 0.1)),
                    ),
                ),
                layer("1", act(ActivationKind::Tanh)),
                layer(
                    "2",
                    linear(
                        randn(&mut r, &[16, 16], 0.4),
                        Some(randn(&mut r, &[16], 0.1)),
                    ),
                ),
                layer("3", act(second)),
                layer(
                    "4",
                    linear(randn(&mut r, &[3, 16], 0.5), Some(randn(&mut r, &[3], 0.1))),
                ),
            ],
            None,
        )
        .unwrap()
    }

    /// conv(2→4, 3×3, pad 1) → relu → flatten → linear(4·5·5 → 3) on [2, 5, 5] inputs.
    /// A 3×3 convolution 2 → 4 channels, "same" padding, random weights and bias.
    fn conv3x3(r: &mut Rng) -> Conv2d {
        Conv2d {
            weight: Var::leaf(randn(r, &[4, 2, 3, 3], 0.4)),
            bias: Some(Var::leaf(randn(r, &[4], 0.1))),
            params: Conv2dParams {
                stride: [1, 1],
                padding: [1, 1],
                dilation: [1, 1],
            },
        }
    }

    pub fn cnn(seed: u64) -> Graph {
        let mut r = Rng::new(seed);
        let conv = conv3x3(&mut r);
        Graph::sequential(
            vec![2, 5, 5],
            vec![
                layer("conv", Box::new(conv)),
                layer("relu", act(ActivationKind::Relu)),
                layer("flat", Box::new(Flatten)),
                layer("fc", linear(randn(&mut r, &[3, 100], 0.2), None)),
            ],
            None,
        )
        .unwrap()
    }

    /// The convolution and ReLU of [`cnn`] without its head: outputs `[4, 5, 5]` per example,
    /// not class scores.
    pub fn conv_features(seed: u64) -> Graph {
        let mut r = Rng::new(seed);
        let conv = conv3x3(&mut r);
        Graph::sequential(
            vec![2, 5, 5],
            vec![
                layer("conv", Box::new(conv)),
                layer("relu", act(ActivationKind::Relu)),
            ],
            None,
        )
        .unwrap()
    }
}
