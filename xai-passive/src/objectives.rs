//! What a gradient method differentiates: a target logit or a hidden unit, with respect to the
//! input or a layer; and finding layers and units of a model by name.

use crate::{PassiveError, Result};
use xai_autodiff::{enable_grad, grad_tensors, no_grad, Var};
use xai_nn::{Forward, Layered};
use xai_tensor::{DType, Tensor};

/// What a gradient is taken of, per row.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Objective<'a> {
    /// The logit `targets[row]` of the model output.
    Logit(&'a [usize]),
    /// Element `index` of layer `layer`'s flattened per-example output (a hidden unit).
    Neuron { layer: usize, index: usize },
}

/// The gradient of the objective (summed over rows) with respect to the input (`wrt` `None`)
/// or layer `wrt`'s output, and that layer's activation. Only the part of the graph between
/// the requested variable and the objective is differentiated (no parameter gradients).
pub(crate) fn layer_gradient<M: Layered + ?Sized>(
    model: &M,
    x: &Tensor,
    objective: Objective,
    wrt: Option<usize>,
) -> Result<(Tensor, Option<Tensor>)> {
    enable_grad(|| {
        let input = Var::leaf(x.clone());
        let outs = model.forward_trace(&input)?;
        let y = match objective {
            Objective::Logit(t) => {
                let out = &outs[model.output_layer()];
                out.gather(1, &index_column(t, out.value().dtype())?)?
            }
            Objective::Neuron { layer, index } => {
                outs[layer].flatten_from(1)?.narrow(1, index, 1)?
            }
        };
        let y = y.sum_all()?;
        match wrt {
            None => Ok((grad_tensors(&y, None, &[&input], None)?.remove(0), None)),
            Some(l) => {
                let a = &outs[l];
                let g = grad_tensors(&y, None, &[a], None)?.remove(0);
                Ok((g, Some(a.value().clone())))
            }
        }
    })
}

/// `[R, 1]` column of class indices for `gather`.
pub(crate) fn index_column(t: &[usize], dtype: DType) -> Result<Tensor> {
    Ok(Tensor::from_vec(
        t.iter().map(|&c| c as f32).collect::<Vec<_>>(),
        &[t.len(), 1],
    )?
    .to_dtype(dtype)?)
}

/// fₜ(x) per example (logit of each example's target), with nothing recorded.
pub(crate) fn target_logits<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    batch_size: usize,
) -> Result<Vec<f64>> {
    let out = crate::map_rows(x, batch_size, |c, _| Ok(model.predict(c)?))?;
    let k = out.shape()[1];
    let v = out.to_vec_f64()?;
    Ok(targets
        .iter()
        .enumerate()
        .map(|(i, &t)| v[i * k + t])
        .collect())
}

/// Every layer's output for `x`, with nothing recorded.
pub(crate) fn trace_values<M: Layered + ?Sized>(model: &M, x: &Tensor) -> Result<Vec<Tensor>> {
    let outs = no_grad(|| model.forward_trace(&Var::constant(x.clone())))?;
    Ok(outs.into_iter().map(|v| v.value().clone()).collect())
}

/// Index of the layer called `name`, or a one-line error listing the layers.
pub(crate) fn resolve_layer<M: Layered + ?Sized>(model: &M, name: &str) -> Result<usize> {
    let names = model.layer_names();
    names.iter().position(|n| n == name).ok_or_else(|| {
        PassiveError::BadArgument(format!(
            "unknown layer '{name}' (layers: {})",
            names.join(", ")
        ))
    })
}

/// The layer named by parameter `layer`, required by layer methods.
pub(crate) fn required_layer<M: Layered + ?Sized>(
    model: &M,
    layer: &Option<String>,
    method: &str,
) -> Result<usize> {
    match layer {
        Some(name) => resolve_layer(model, name),
        None => Err(crate::config::bad(
            "layer",
            format!(
                "is needed by {method}: a layer's name (layers: {})",
                model.layer_names().join(", ")
            ),
        )),
    }
}

/// Parses parameter `neuron`, `LAYER:INDEX` (flat index into one example's layer output) and checks it
/// against the model.
pub(crate) fn resolve_neuron<M: Layered + ?Sized>(
    model: &M,
    x: &Tensor,
    spec: &Option<String>,
    method: &str,
) -> Result<(usize, usize)> {
    let Some(spec) = spec else {
        return Err(crate::config::bad(
            "neuron",
            format!("is needed by {method}: LAYER:INDEX"),
        ));
    };
    let bad = || {
        crate::config::bad(
            "neuron",
            format!(
                "must be LAYER:INDEX (flat index into one example's layer output), got '{spec}'"
            ),
        )
    };
    let (name, index) = spec.rsplit_once(':').ok_or_else(bad)?;
    let index: usize = index.parse().map_err(|_| bad())?;
    let layer = resolve_layer(model, name)?;
    let shapes = trace_values(model, &x.narrow(0, 0, 1)?)?;
    let size = shapes[layer].numel();
    if index >= size {
        return Err(PassiveError::BadArgument(format!(
            "neuron index {index} is out of range for layer '{name}' with {size} units per example (shape {:?})",
            &shapes[layer].shape()[1..]
        )));
    }
    Ok((layer, index))
}
