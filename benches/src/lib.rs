//! Shared set-up of the workspace benchmarks: seeded data and the reference models.

use xai_autodiff::Var;
use xai_nn::layers::{Activation, ActivationKind, Conv2d, Flatten, Linear, MaxPool2d};
use xai_nn::{Graph, Node};
use xai_tensor::{Conv2dParams, DType, Pool2dParams, Rng, Tensor};

/// Seeded standard-normal f32 data.
pub fn randn(shape: &[usize], seed: u64) -> Tensor {
    Rng::new(seed)
        .normal(shape, 0.0, 1.0, DType::F32)
        .expect("valid shape")
}

/// LeNet-5 as in the fixtures: conv(1→6, 5, pad 2), relu, maxpool 2, conv(6→16, 5), relu,
/// maxpool 2, flatten, linear 400→120, relu, 120→84, relu, 84→10.
pub fn lenet() -> Graph {
    let mut seed = 0;
    let mut param = |shape: &[usize]| {
        seed += 1;
        Var::leaf(randn(shape, seed).mul_scalar(0.1).expect("scale"))
    };
    let conv = |w: Var, b: Var, pad: usize| -> Box<dyn xai_nn::Module> {
        Box::new(Conv2d {
            weight: w,
            bias: Some(b),
            params: Conv2dParams {
                padding: [pad, pad],
                ..Default::default()
            },
        })
    };
    let relu = || -> Box<dyn xai_nn::Module> { Box::new(Activation::new(ActivationKind::Relu)) };
    let pool = || -> Box<dyn xai_nn::Module> {
        Box::new(MaxPool2d {
            params: Pool2dParams {
                kernel: [2, 2],
                stride: [2, 2],
            },
        })
    };
    let mut linear = |i: usize, o: usize| -> Box<dyn xai_nn::Module> {
        Box::new(Linear {
            weight: param(&[o, i]),
            bias: Some(param(&[o])),
        })
    };
    let layers: Vec<Box<dyn xai_nn::Module>> = vec![
        conv(
            Var::leaf(randn(&[6, 1, 5, 5], 101).mul_scalar(0.2).expect("scale")),
            Var::leaf(Tensor::zeros(&[6], DType::F32)),
            2,
        ),
        relu(),
        pool(),
        conv(
            Var::leaf(randn(&[16, 6, 5, 5], 102).mul_scalar(0.08).expect("scale")),
            Var::leaf(Tensor::zeros(&[16], DType::F32)),
            0,
        ),
        relu(),
        pool(),
        Box::new(Flatten),
        linear(400, 120),
        relu(),
        linear(120, 84),
        relu(),
        linear(84, 10),
    ];
    let named = layers
        .into_iter()
        .enumerate()
        .map(|(i, layer)| Node::new(&i.to_string(), layer))
        .collect();
    Graph::sequential(vec![1, 28, 28], named, None).expect("LeNet shapes are consistent")
}

/// Multiply-adds ×2 of one LeNet-5 forward pass per example.
pub const LENET_FORWARD_FLOPS: u64 =
    2 * (6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10);
