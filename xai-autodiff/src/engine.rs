//! The backward pass: topological order, the needed subgraph, gradient rules, accumulation.

use crate::backward::default_backward;
use crate::mode::with_grad_mode;
use crate::op::Op;
use crate::var::Var;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use xai_tensor::{bail, Result, Tensor};

/// What a gradient rule sees of one node during the backward pass.
pub struct RuleCtx<'a> {
    /// The op that produced `output`.
    pub op: &'a Op,
    /// Its inputs, in the op's order.
    pub inputs: &'a [Var],
    /// The op's output.
    pub output: &'a Var,
    /// The gradient (or, for relevance rules, the relevance) arriving at `output`.
    pub grad: &'a Var,
    /// For each input, whether its gradient is needed.
    pub needs: &'a [bool],
    /// The scope (layer name) the op ran in.
    pub scope: Option<&'a str>,
}

/// A replacement for the backward of some ops during one backward pass (survey Table IV:
/// guided backprop, DeconvNet, LRP and DeepLIFT are the chain rule with g in place of σ′).
pub trait GradRule: Send + Sync {
    /// Input gradients for this node, or `None` to use the ordinary chain rule
    /// ([`default_backward`]).
    fn backward(&self, ctx: &RuleCtx) -> Result<Option<Vec<Option<Var>>>>;
}

/// Options of one backward pass.
#[derive(Clone, Default)]
pub struct GradOptions {
    /// Record the backward pass, so the returned gradients can be differentiated again.
    pub create_graph: bool,
    /// Replace the backward of some ops for this pass.
    pub rule: Option<Arc<dyn GradRule>>,
}

/// Post-order (inputs before outputs) of the differentiable part of the graph under `root`.
fn topo_order(root: &Var) -> Vec<Var> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((v, expanded)) = stack.pop() {
        if expanded {
            order.push(v);
            continue;
        }
        if !v.requires_grad() || !seen.insert(v.id()) {
            continue;
        }
        stack.push((v.clone(), true));
        for i in v.inputs() {
            if i.requires_grad() && !seen.contains(&i.id()) {
                stack.push((i.clone(), false));
            }
        }
    }
    order
}

/// Gradients of `output` (weighted by `seed`, default ones) with respect to each of `wrt`,
/// which may be leaves or any intermediate value. Only the subgraph between `output` and
/// `wrt` is differentiated. A `wrt` that `output` does not depend on gets zeros.
pub fn grad(
    output: &Var,
    seed: Option<&Tensor>,
    wrt: &[&Var],
    opts: &GradOptions,
) -> Result<Vec<Var>> {
    let seed = match seed {
        Some(s) if s.shape() != output.shape() => {
            bail!(
                "grad",
                "seed shape {:?} differs from the output shape {:?}",
                s.shape(),
                output.shape()
            )
        }
        Some(s) => s.clone(),
        None => output.value().ones_like()?,
    };
    let targets: HashSet<u64> = wrt.iter().map(|v| v.id()).collect();
    let order = topo_order(output);
    // reach: nodes whose gradient is needed (on a path from a wrt var to the output).
    let mut reach = HashSet::new();
    for v in &order {
        if targets.contains(&v.id()) || v.inputs().iter().any(|i| reach.contains(&i.id())) {
            reach.insert(v.id());
        }
    }
    let mut grads: HashMap<u64, Var> = HashMap::new();
    grads.insert(output.id(), Var::constant(seed));
    with_grad_mode(opts.create_graph, || -> Result<()> {
        for v in order.iter().rev() {
            let Some(op) = v.op() else { continue };
            let needs: Vec<bool> = v.inputs().iter().map(|i| reach.contains(&i.id())).collect();
            if !needs.iter().any(|&n| n) {
                continue;
            }
            let g = if targets.contains(&v.id()) {
                grads.get(&v.id()).cloned()
            } else {
                grads.remove(&v.id())
            };
            let Some(g) = g else { continue };
            let ctx = RuleCtx {
                op,
                inputs: v.inputs(),
                output: v,
                grad: &g,
                needs: &needs,
                scope: v.scope(),
            };
            let replaced = match &opts.rule {
                Some(rule) => rule.backward(&ctx)?,
                None => None,
            };
            let input_grads = match replaced {
                Some(gs) => gs,
                None => default_backward(&ctx)?,
            };
            for ((input, gi), need) in v.inputs().iter().zip(input_grads).zip(&needs) {
                let (Some(gi), true) = (gi, *need) else {
                    continue;
                };
                if gi.shape() != input.shape() {
                    bail!(
                        "grad",
                        "{} backward gave shape {:?} for an input of shape {:?}",
                        op.name(),
                        gi.shape(),
                        input.shape()
                    );
                }
                let acc = match grads.remove(&input.id()) {
                    Some(prev) => prev.add(&gi)?,
                    None => gi,
                };
                grads.insert(input.id(), acc);
            }
        }
        Ok(())
    })?;
    wrt.iter()
        .map(|v| match grads.get(&v.id()) {
            Some(g) => Ok(g.clone()),
            None => Ok(Var::constant(v.value().zeros_like()?)),
        })
        .collect()
}

/// [`grad`] without graph recording, returning plain tensors.
pub fn grad_tensors(
    output: &Var,
    seed: Option<&Tensor>,
    wrt: &[&Var],
    rule: Option<Arc<dyn GradRule>>,
) -> Result<Vec<Tensor>> {
    let opts = GradOptions {
        create_graph: false,
        rule,
    };
    Ok(grad(output, seed, wrt, &opts)?
        .into_iter()
        .map(|v| v.value().clone())
        .collect())
}
