//! [`Graph`]: a model as a DAG of named nodes (layers and merges), with optional input
//! normalisation and several named outputs (heads), shape-checked at construction so a bad
//! architecture fails on load, naming the node. A chain (PyTorch's `nn.Sequential`) is the
//! special case where every node takes the previous one's output ([`Graph::sequential`]).

use crate::error::{arch, NnError};
use crate::layers::{Ctx, Module};
use crate::model::{Differentiable, Forward, Layered};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use xai_autodiff::{no_grad, with_scope, Var};
use xai_tensor::{DType, Device, Tensor};

/// The name by which a node takes the model input (after normalisation).
pub const INPUT: &str = "input";

/// A node: an op with its model-file name (the PyTorch module path, `block1.conv1`, or the
/// `torch.fx` name of a functional op, `add_1`) and the nodes whose outputs it takes.
#[derive(Debug)]
pub struct Node {
    pub name: Arc<str>,
    pub layer: Box<dyn Module>,
    /// The names of the nodes it takes, in order ([`INPUT`] for the model input). Empty: the
    /// previous node's output (the model input for the first node).
    pub inputs: Vec<String>,
}

impl Node {
    /// A node taking the previous node's output (a chain's link).
    pub fn new(name: &str, layer: Box<dyn Module>) -> Self {
        Self::with_inputs(name, layer, Vec::new())
    }
    /// A node taking the outputs of the nodes named `inputs`.
    pub fn with_inputs(name: &str, layer: Box<dyn Module>, inputs: Vec<String>) -> Self {
        Self {
            name: name.into(),
            layer,
            inputs,
        }
    }
}

/// Input standardisation applied before the first layer: x' = (x − mean)/std, per feature
/// (one value per input element) or per channel (one per `input_shape[0]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalize {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// The named outputs of a graph as declared (model format version 2's `"outputs"` and
/// `"output"`). Empty: the last node is the single output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outputs {
    /// Head name → node name, in order.
    pub heads: Vec<(String, String)>,
    /// The head explanations and predictions use; the first head when `None`.
    pub default: Option<String>,
}

/// Where a node's input comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Input,
    Node(usize),
}

/// A feed-forward model: normalisation, then its nodes in topological order.
#[derive(Debug)]
pub struct Graph {
    input_shape: Vec<usize>,
    nodes: Vec<Node>,
    /// Resolved inputs of each node.
    sources: Vec<Vec<Source>>,
    normalize: Option<Normalize>,
    /// Per-example output shape of each node.
    shapes: Vec<Vec<usize>>,
    outputs: Outputs,
    /// (head name, node index) of every output; the default first.
    heads: Vec<(String, usize)>,
}

impl Graph {
    /// A graph whose last node is the single output: a chain (PyTorch's `nn.Sequential`) when
    /// its nodes are made by [`Node::new`].
    ///
    /// **Errors** naming the first node that cannot take its input, or a malformed `normalize`.
    pub fn sequential(
        input_shape: Vec<usize>,
        nodes: Vec<Node>,
        normalize: Option<Normalize>,
    ) -> Result<Self> {
        Self::new(input_shape, nodes, Outputs::default(), normalize)
    }

    /// Builds a graph, checking it once: names unique (and not [`INPUT`]), every input naming
    /// an earlier node or the model input (so there is no cycle), every op getting as many
    /// inputs as it takes and shapes it accepts, every output naming a node.
    ///
    /// **Errors** naming the offending node (for an unknown input, the node that declares it)
    /// or output.
    pub fn new(
        input_shape: Vec<usize>,
        nodes: Vec<Node>,
        outputs: Outputs,
        normalize: Option<Normalize>,
    ) -> Result<Self> {
        if input_shape.is_empty() || input_shape.contains(&0) {
            return Err(NnError::Input(format!(
                "input_shape {input_shape:?} must be non-empty and positive"
            )));
        }
        if nodes.is_empty() {
            return Err(NnError::Input("a model needs at least one layer".into()));
        }
        check_normalize(&input_shape, normalize.as_ref())?;
        let position: HashMap<&str, usize> = {
            let mut m = HashMap::with_capacity(nodes.len());
            for (i, n) in nodes.iter().enumerate() {
                let node_err = |msg: &str| arch(&n.name, n.layer.op(), msg);
                if n.name.is_empty() {
                    return Err(node_err("a node needs a non-empty name"));
                }
                if &*n.name == INPUT {
                    return Err(node_err(
                        "'input' names the model input; a node cannot take that name",
                    ));
                }
                if m.insert(&*n.name, i).is_some() {
                    return Err(node_err("two nodes have this name"));
                }
            }
            m
        };
        let mut sources = Vec::with_capacity(nodes.len());
        let mut shapes: Vec<Vec<usize>> = Vec::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            let node_err = |msg: String| arch(&n.name, n.layer.op(), msg);
            let src: Vec<Source> = if n.inputs.is_empty() {
                vec![if i == 0 {
                    Source::Input
                } else {
                    Source::Node(i - 1)
                }]
            } else {
                n.inputs
                    .iter()
                    .map(|name| match position.get(name.as_str()) {
                        _ if name == INPUT => Ok(Source::Input),
                        Some(&j) if j < i => Ok(Source::Node(j)),
                        Some(&j) if j == i => {
                            Err(node_err(format!("takes its own output '{name}' (a cycle)")))
                        }
                        Some(_) => Err(node_err(format!(
                            "takes '{name}', which comes after it: nodes are listed in \
                             topological order, so this is a cycle or a misordered file"
                        ))),
                        None => Err(node_err(format!(
                            "takes '{name}', which is no node (nor '{INPUT}', the model input)"
                        ))),
                    })
                    .collect::<Result<_>>()?
            };
            let arity = n.layer.arity();
            if !arity.admits(src.len()) {
                return Err(node_err(format!(
                    "takes {} input(s), but {} needs {}",
                    src.len(),
                    n.layer.op(),
                    match arity {
                        crate::layers::Arity::One => "one",
                        crate::layers::Arity::Many => "two or more",
                    }
                )));
            }
            let in_shapes: Vec<&[usize]> = src
                .iter()
                .map(|s| match s {
                    Source::Input => input_shape.as_slice(),
                    Source::Node(j) => shapes[*j].as_slice(),
                })
                .collect();
            let out = n.layer.out_shape(&in_shapes).map_err(node_err)?;
            shapes.push(out);
            sources.push(src);
        }
        let heads = resolve_heads(&outputs, &nodes, &position)?;
        Ok(Self {
            input_shape,
            nodes,
            sources,
            normalize,
            shapes,
            outputs,
            heads,
        })
    }

    /// Shape of one example (owned).
    pub fn input_shape_vec(&self) -> Vec<usize> {
        self.input_shape.clone()
    }

    /// Sets (or removes) the input normalisation. **Errors** if its length fits neither the
    /// channels nor the features.
    pub fn set_normalize(&mut self, normalize: Option<Normalize>) -> Result<()> {
        check_normalize(&self.input_shape, normalize.as_ref())?;
        self.normalize = normalize;
        Ok(())
    }

    /// The nodes in topological order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Mutable nodes (optimizers and re-initialisations replace parameters through these).
    pub fn nodes_mut(&mut self) -> &mut [Node] {
        &mut self.nodes
    }

    /// The input normalisation, if any.
    pub fn normalize(&self) -> Option<&Normalize> {
        self.normalize.as_ref()
    }

    /// Per-example output shape of each node.
    pub fn node_shapes(&self) -> &[Vec<usize>] {
        &self.shapes
    }

    /// Index of the node called `name`.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|l| &*l.name == name)
    }

    /// The outputs as declared (empty for a single-output model).
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// Every output as (head name, node index), the default output first.
    pub fn heads(&self) -> &[(String, usize)] {
        &self.heads
    }

    /// Index of the node whose output is the model's default output.
    pub fn output_node(&self) -> usize {
        self.heads[0].1
    }

    /// Whether the model is a chain with one output (what model format version 1 holds).
    pub fn is_chain(&self) -> bool {
        self.outputs.heads.is_empty()
            && self.sources.iter().enumerate().all(|(i, s)| {
                s.as_slice()
                    == [if i == 0 {
                        Source::Input
                    } else {
                        Source::Node(i - 1)
                    }]
            })
            && self.output_node() == self.nodes.len() - 1
    }

    /// The names of the nodes that node `i` takes ([`INPUT`] for the model input).
    pub fn input_names(&self, i: usize) -> Vec<String> {
        self.sources[i]
            .iter()
            .map(|s| match s {
                Source::Input => INPUT.to_string(),
                Source::Node(j) => self.nodes[*j].name.to_string(),
            })
            .collect()
    }

    /// Number of outputs per example of the default output.
    pub fn num_outputs(&self) -> usize {
        self.shapes[self.output_node()].iter().product()
    }
    /// Checks a batch `[N, ...input_shape]` (or one example `input_shape`, which gets a batch
    /// axis) and converts it to f32. NaN or infinite values are refused unless allowed.
    pub fn check_input(&self, x: &Tensor, allow_non_finite: bool) -> Result<Tensor> {
        let x = if x.shape() == self.input_shape.as_slice() {
            let mut s = vec![1];
            s.extend(&self.input_shape);
            x.reshape(&s)?
        } else if x.rank() == self.input_shape.len() + 1 && x.shape()[1..] == self.input_shape[..] {
            x.clone()
        } else {
            return Err(NnError::Input(format!(
                "shape {:?} does not match the model's input shape {:?} (expected [N, {}])",
                x.shape(),
                self.input_shape,
                self.input_shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        // Checked after the conversion: an f64 value beyond f32's range becomes infinite.
        let x = x.to_dtype(DType::F32)?;
        if !allow_non_finite && x.has_non_finite()? {
            return Err(NnError::Input(
                "contains NaN or infinite values (in f32, the compute type)".into(),
            ));
        }
        Ok(x)
    }

    /// This model with every parameter and buffer (batch norm's running statistics) on
    /// `device`; its input normalisation follows the input's device. Parameters stay leaves
    /// that require gradients.
    ///
    /// **Errors** if the device cannot hold them (a build without CUDA, no usable GPU).
    pub fn to_device(mut self, device: Device) -> Result<Self> {
        for l in &mut self.nodes {
            for (_, p) in l.layer.params_mut() {
                *p = Var::leaf(p.value().to_device(device)?);
            }
            for (_, b) in l.layer.buffers_mut() {
                *b = b.to_device(device)?;
            }
        }
        Ok(self)
    }

    /// This model with every parameter and buffer converted to `dtype`: `F64` for
    /// finite-difference checks and second-order references (its inputs must then be f64
    /// too). Parameters stay leaves that require gradients.
    ///
    /// **Errors** if a tensor cannot be converted on its device.
    pub fn to_dtype(mut self, dtype: DType) -> Result<Self> {
        for l in &mut self.nodes {
            for (_, p) in l.layer.params_mut() {
                *p = Var::leaf(p.value().to_dtype(dtype)?);
            }
            for (_, b) in l.layer.buffers_mut() {
                *b = b.to_dtype(dtype)?;
            }
        }
        Ok(self)
    }

    pub(crate) fn normalized(&self, x: &Var) -> xai_tensor::Result<Var> {
        let Some(n) = &self.normalize else {
            return Ok(x.clone());
        };
        let mut shape = vec![1; self.input_shape.len() + 1];
        if n.mean.len() == self.input_shape.iter().product::<usize>() {
            shape[1..].copy_from_slice(&self.input_shape);
        } else {
            shape[1] = n.mean.len();
        }
        let (dtype, device) = (x.value().dtype(), x.value().device());
        let mean = Tensor::from_slice(&n.mean, &shape)?
            .to_dtype(dtype)?
            .to_device(device)?;
        let std = Tensor::from_slice(&n.std, &shape)?
            .to_dtype(dtype)?
            .to_device(device)?;
        x.sub(&Var::constant(mean))?.div(&Var::constant(std))
    }

    /// Forward pass returning every node's output in node order, each node run in its own
    /// scope (its name tags the recorded ops, for gradient rules).
    pub fn forward_trace_ctx(&self, x: &Var, ctx: &mut Ctx) -> Result<Vec<Var>> {
        self.trace_normalized(&self.normalized(x)?, ctx)
    }

    /// Every node's output for the already normalised input `input`.
    pub(crate) fn trace_normalized(&self, input: &Var, ctx: &mut Ctx) -> Result<Vec<Var>> {
        let all = vec![true; self.nodes.len()];
        let outs = self.run(input, ctx, None, &all)?;
        Ok(outs.into_iter().flatten().collect())
    }

    /// Runs the nodes marked in `wanted`, in order, node `substitute.0`'s output replaced by
    /// `substitute.1`. Unwanted nodes give `None`.
    fn run(
        &self,
        input: &Var,
        ctx: &mut Ctx,
        substitute: Option<(usize, &Var)>,
        wanted: &[bool],
    ) -> Result<Vec<Option<Var>>> {
        let mut outs: Vec<Option<Var>> = Vec::with_capacity(self.nodes.len());
        for (i, (n, src)) in self.nodes.iter().zip(&self.sources).enumerate() {
            if !wanted[i] {
                outs.push(None);
                continue;
            }
            if let Some((j, a)) = substitute {
                if i == j {
                    outs.push(Some(a.clone()));
                    continue;
                }
            }
            let inputs: Vec<Var> = src
                .iter()
                .map(|s| match s {
                    Source::Input => input.clone(),
                    Source::Node(j) => outs[*j].clone().expect("a wanted node's inputs are run"),
                })
                .collect();
            let y = with_scope(&n.name, || n.layer.forward(&inputs, ctx))
                .map_err(|e| arch(&n.name, n.layer.op(), e.to_string()))?;
            outs.push(Some(y));
        }
        Ok(outs)
    }

    /// Bounds of the default output over every input in the box `lo ≤ x ≤ hi` (`[N, ...]`
    /// each, the model's input shape), by interval bound propagation through each node's
    /// rule ([`Module::interval`]; the input normalisation is monotone).
    ///
    /// **Errors** if a needed node's op has no interval rule (naming it), or for boxes of
    /// different shapes.
    pub fn interval(&self, lo: &Tensor, hi: &Tensor) -> Result<crate::interval::Interval> {
        use crate::interval::Interval;
        if lo.shape() != hi.shape() {
            return Err(NnError::Data(format!(
                "the box's lower and upper corners have shapes {:?} and {:?}",
                lo.shape(),
                hi.shape()
            )));
        }
        let norm = |t: &Tensor| -> Result<Tensor> {
            Ok(self.normalized(&Var::constant(t.clone()))?.value().clone())
        };
        let input = Interval {
            lo: norm(lo)?,
            hi: norm(hi)?,
        };
        let mut wanted = vec![false; self.nodes.len()];
        self.mark_needed(self.output_node(), None, &mut wanted);
        let mut outs: Vec<Option<Interval>> = Vec::with_capacity(self.nodes.len());
        for (i, (n, src)) in self.nodes.iter().zip(&self.sources).enumerate() {
            if !wanted[i] {
                outs.push(None);
                continue;
            }
            let inputs: Vec<Interval> = src
                .iter()
                .map(|s| match s {
                    Source::Input => input.clone(),
                    Source::Node(j) => outs[*j].clone().expect("a wanted node's inputs are run"),
                })
                .collect();
            let y = n
                .layer
                .interval(&inputs)
                .ok_or_else(|| {
                    arch(
                        &n.name,
                        n.layer.op(),
                        "has no interval rule (interval bounds)",
                    )
                })?
                .map_err(|e| arch(&n.name, n.layer.op(), e.to_string()))?;
            outs.push(Some(y));
        }
        Ok(outs[self.output_node()]
            .take()
            .expect("the output node is wanted"))
    }

    /// Forward pass with a given context (training or inference): the default output.
    pub fn forward_ctx(&self, x: &Var, ctx: &mut Ctx) -> Result<Var> {
        let mut wanted = vec![false; self.nodes.len()];
        self.mark_needed(self.output_node(), None, &mut wanted);
        let mut outs = self.run(&self.normalized(x)?, ctx, None, &wanted)?;
        Ok(outs[self.output_node()]
            .take()
            .expect("the output node is wanted"))
    }

    /// Marks in `wanted` node `target` and every node it depends on, stopping at `cut` (whose
    /// output is given, so its own inputs are not needed).
    fn mark_needed(&self, target: usize, cut: Option<usize>, wanted: &mut [bool]) {
        wanted[target] = true;
        for i in (0..=target).rev() {
            if wanted[i] && Some(i) != cut {
                for s in &self.sources[i] {
                    if let Source::Node(j) = s {
                        wanted[*j] = true;
                    }
                }
            }
        }
    }

    /// Updates every node's non-trainable state (batch norm's running statistics) from the
    /// inputs it received and the outputs it gave in a training forward pass: `input` the
    /// normalised model input, `trace` every node's output, in node order.
    pub fn update_running_stats(&mut self, input: &Tensor, trace: &[&Var]) -> Result<()> {
        for ((i, n), src) in self.nodes.iter_mut().enumerate().zip(&self.sources) {
            if let [s] = src.as_slice() {
                let x = match s {
                    Source::Input => input,
                    Source::Node(j) => trace[*j].value(),
                };
                n.layer.update_running_stats(x, trace[i])?;
            }
        }
        Ok(())
    }

    /// All trainable parameters as (`node.suffix`, var), in node order: the state-dict names.
    pub fn named_params(&self) -> Vec<(String, &Var)> {
        self.nodes
            .iter()
            .flat_map(|l| {
                l.layer
                    .params()
                    .into_iter()
                    .map(move |(s, v)| (format!("{}.{s}", l.name), v))
            })
            .collect()
    }
}

/// The heads as (name, node index), the default first; a single unnamed head (the last node)
/// when none are declared.
fn resolve_heads(
    outputs: &Outputs,
    nodes: &[Node],
    position: &HashMap<&str, usize>,
) -> Result<Vec<(String, usize)>> {
    let out_err = |head: &str, msg: String| NnError::Output {
        head: head.into(),
        msg,
    };
    if outputs.heads.is_empty() {
        if let Some(d) = &outputs.default {
            return Err(out_err(
                d,
                "is the default output, but no outputs are declared".into(),
            ));
        }
        return Ok(vec![("output".into(), nodes.len() - 1)]);
    }
    let mut heads = Vec::with_capacity(outputs.heads.len());
    for (head, node) in &outputs.heads {
        if heads.iter().any(|(h, _): &(String, usize)| h == head) {
            return Err(out_err(head, "is declared twice".into()));
        }
        let &i = position
            .get(node.as_str())
            .ok_or_else(|| out_err(head, format!("names no node '{node}'")))?;
        heads.push((head.clone(), i));
    }
    if let Some(d) = &outputs.default {
        let k = heads.iter().position(|(h, _)| h == d).ok_or_else(|| {
            out_err(
                d,
                format!(
                    "is the default output, but no output has that name (outputs: {})",
                    outputs
                        .heads
                        .iter()
                        .map(|(h, _)| h.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        let h = heads.remove(k);
        heads.insert(0, h);
    }
    Ok(heads)
}

fn check_normalize(input_shape: &[usize], normalize: Option<&Normalize>) -> Result<()> {
    if let Some(n) = normalize {
        let ok_len = |l: usize| l == input_shape[0] || l == input_shape.iter().product::<usize>();
        if n.mean.len() != n.std.len() || !ok_len(n.mean.len()) {
            return Err(NnError::Input(format!(
                    "normalize needs one mean and std per channel ({}) or per feature ({}), got {} and {}",
                    input_shape[0],
                    input_shape.iter().product::<usize>(),
                    n.mean.len(),
                    n.std.len()
                )));
        }
        if n.std.iter().any(|&s| s <= 0.0 || !s.is_finite()) {
            return Err(NnError::Input(
                "normalize: every std must be positive".into(),
            ));
        }
    }
    Ok(())
}

impl Forward for Graph {
    fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }
    fn predict(&self, x: &Tensor) -> Result<Tensor> {
        no_grad(|| self.forward_ctx(&Var::constant(x.clone()), &mut Ctx::eval()))
            .map(|v| v.value().clone())
    }
    /// The default head's shape, inferred when the graph was built.
    fn output_shape(&self) -> Option<Vec<usize>> {
        self.shapes.get(self.output_node()).cloned()
    }
    /// The device of the first parameter (the CPU for a model without parameters).
    fn device(&self) -> Device {
        self.named_params()
            .first()
            .map_or(Device::Cpu, |(_, v)| v.value().device())
    }
}

impl Differentiable for Graph {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_ctx(x, &mut Ctx::eval())
    }
}

impl Layered for Graph {
    fn layer_names(&self) -> Vec<String> {
        self.nodes.iter().map(|l| l.name.to_string()).collect()
    }
    fn output_layer(&self) -> usize {
        self.output_node()
    }
    fn forward_trace(&self, x: &Var) -> Result<Vec<Var>> {
        self.forward_trace_ctx(x, &mut Ctx::eval())
    }
    fn forward_from(&self, layer: &str, x: &Var, activation: &Var) -> Result<Var> {
        let l = self.node_index(layer).ok_or_else(|| {
            NnError::Input(format!(
                "unknown layer '{layer}' (layers: {})",
                self.layer_names().join(", ")
            ))
        })?;
        let out = self.output_node();
        let mut wanted = vec![false; self.nodes.len()];
        self.mark_needed(out, Some(l), &mut wanted);
        if !wanted[l] {
            // The output does not depend on the layer.
            return self.forward(x);
        }
        // The model input is normalised only if a node other than `l`'s ancestors takes it.
        let needs_input = self
            .sources
            .iter()
            .enumerate()
            .any(|(i, s)| wanted[i] && i != l && s.contains(&Source::Input));
        let input = if needs_input {
            self.normalized(x)?
        } else {
            x.clone()
        };
        let mut outs = self.run(&input, &mut Ctx::eval(), Some((l, activation)), &wanted)?;
        Ok(outs[out].take().expect("the output node is wanted"))
    }
    fn interval(&self, lo: &Tensor, hi: &Tensor) -> Result<crate::interval::Interval> {
        Graph::interval(self, lo, hi)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Activation, ActivationKind, BatchNorm, Dropout, Linear};
    use xai_autodiff::grad_tensors;
    use xai_tensor::Rng;

    fn t(v: &[f64], s: &[usize]) -> Tensor {
        Tensor::from_slice(v, s)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
    }

    fn layer(name: &str, layer: Box<dyn Module>) -> Node {
        Node::new(name, layer)
    }

    #[test]
    fn normalisation_is_part_of_the_model_so_gradients_stay_in_raw_input_space() {
        // f(x) = w·(x − m)/s: ∂f/∂x = w/s.
        let lin = Linear {
            weight: Var::leaf(t(&[1.0, 2.0, 3.0], &[1, 3])),
            bias: None,
        };
        let norm = Normalize {
            mean: vec![1.0, 2.0, 3.0],
            std: vec![2.0, 4.0, 0.5],
        };
        let m = Graph::sequential(vec![3], vec![layer("l", Box::new(lin))], Some(norm)).unwrap();
        let x = Var::leaf(t(&[1.0, 1.0, 1.0], &[1, 3]));
        let y = m.forward(&x).unwrap();
        assert_eq!(
            y.value().to_vec_f32().unwrap(),
            vec![(0.0 * 1.0 + -1.0 / 4.0 * 2.0 + -2.0 / 0.5 * 3.0) as f32]
        );
        let g = grad_tensors(&y, None, &[&x], None).unwrap();
        assert_eq!(g[0].to_vec_f32().unwrap(), vec![0.5, 0.5, 6.0]);
    }

    #[test]
    fn batchnorm_uses_running_statistics_at_inference_and_batch_statistics_in_training() {
        let bn = BatchNorm {
            weight: Var::leaf(t(&[2.0], &[1])),
            bias: Var::leaf(t(&[1.0], &[1])),
            running_mean: t(&[1.0], &[1]),
            running_var: t(&[4.0], &[1]),
            eps: 0.0,
            spatial: false,
        };
        let m = Graph::sequential(vec![1], vec![layer("bn", Box::new(bn))], None).unwrap();
        let x = Var::constant(t(&[3.0, 5.0], &[2, 1]));
        let eval = m
            .forward_ctx(&x, &mut Ctx::eval())
            .unwrap()
            .value()
            .to_vec_f32()
            .unwrap();
        assert_eq!(eval, vec![3.0, 5.0], "(x − 1)/2·2 + 1");
        let train = m
            .forward_ctx(&x, &mut Ctx::train(0))
            .unwrap()
            .value()
            .to_vec_f32()
            .unwrap();
        assert_eq!(train, vec![-1.0, 3.0], "batch mean 4, variance 1");
    }

    #[test]
    fn to_dtype_converts_parameters_and_buffers_and_keeps_the_function() {
        let bn = BatchNorm {
            weight: Var::leaf(t(&[2.0, 0.5], &[2])),
            bias: Var::leaf(t(&[1.0, -1.0], &[2])),
            running_mean: t(&[1.0, 0.0], &[2]),
            running_var: t(&[4.0, 1.0], &[2]),
            eps: 1e-5,
            spatial: false,
        };
        let lin = Linear {
            weight: Var::leaf(t(&[1.0, -2.0], &[1, 2])),
            bias: Some(Var::leaf(t(&[0.25], &[1]))),
        };
        let layers = vec![layer("bn", Box::new(bn)), layer("l", Box::new(lin))];
        let m = Graph::sequential(vec![2], layers, None).unwrap();
        let x = t(&[3.0, 5.0, -1.0, 2.0], &[2, 2]);
        let y32 = m.predict(&x).unwrap().to_vec_f64().unwrap();
        let m = m.to_dtype(DType::F64).unwrap();
        assert!(m
            .named_params()
            .iter()
            .all(|(_, p)| p.value().dtype() == DType::F64 && p.requires_grad()));
        assert!(m.nodes()[0]
            .layer
            .buffers()
            .iter()
            .all(|(_, b)| b.dtype() == DType::F64));
        let y64 = m.predict(&x.to_dtype(DType::F64).unwrap()).unwrap();
        assert_eq!(y64.dtype(), DType::F64);
        for (a, b) in y64.to_vec_f64().unwrap().iter().zip(y32) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn dropout_is_identity_at_inference_and_seeded_inverted_dropout_in_training() {
        let m = Graph::sequential(
            vec![1000],
            vec![layer("d", Box::new(Dropout { p: 0.25 }))],
            None,
        )
        .unwrap();
        let x = Var::constant(Tensor::ones(&[1, 1000], DType::F32));
        assert!(m
            .forward(&x)
            .unwrap()
            .value()
            .to_vec_f32()
            .unwrap()
            .iter()
            .all(|&v| v == 1.0));
        let a = m
            .forward_ctx(&x, &mut Ctx::train(5))
            .unwrap()
            .value()
            .to_vec_f32()
            .unwrap();
        let b = m
            .forward_ctx(&x, &mut Ctx::train(5))
            .unwrap()
            .value()
            .to_vec_f32()
            .unwrap();
        assert_eq!(a, b);
        let kept = a.iter().filter(|&&v| v != 0.0).count();
        assert!(
            (700..800).contains(&kept)
                && a.iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6)
        );
    }

    #[test]
    fn inputs_are_checked_and_traces_tap_every_layer() {
        let lin = Linear {
            weight: Var::leaf(Rng::new(1).normal(&[2, 3], 0.0, 1.0, DType::F32).unwrap()),
            bias: None,
        };
        let m = Graph::sequential(
            vec![3],
            vec![
                layer("l", Box::new(lin)),
                layer("r", Box::new(Activation::new(ActivationKind::Relu))),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            m.check_input(&t(&[1.0, 2.0, 3.0], &[3]), false)
                .unwrap()
                .shape(),
            &[1, 3]
        );
        assert!(m.check_input(&t(&[1.0, 2.0], &[2]), false).is_err());
        assert!(m
            .check_input(&t(&[1.0, f64::NAN, 3.0], &[1, 3]), false)
            .is_err());
        assert!(m
            .check_input(&t(&[1.0, f64::NAN, 3.0], &[1, 3]), true)
            .is_ok());
        // Finite in f64, infinite in f32: refused too.
        let huge = Tensor::from_slice(&[1.0f64, 1e300, 3.0], &[1, 3]).unwrap();
        let e = m.check_input(&huge, false).unwrap_err().to_string();
        assert!(e.contains("NaN or infinite values (in f32"), "{e}");
        let x = Var::leaf(t(&[1.0, -2.0, 0.5], &[1, 3]));
        let trace = m.forward_trace(&x).unwrap();
        assert_eq!(trace.len(), 2);
        assert_eq!(
            trace[1].value().to_vec_f32().unwrap(),
            trace[0].value().relu().unwrap().to_vec_f32().unwrap()
        );
        assert_eq!(trace[1].scope(), Some("r"));
        let from = m.forward_from("l", &x, &trace[0]).unwrap();
        assert_eq!(
            from.value().to_vec_f32().unwrap(),
            trace[1].value().to_vec_f32().unwrap()
        );
    }
}
