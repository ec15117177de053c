//! [`Var`]: a tensor with the recorded op that produced it.

use crate::mode::{current_scope, is_grad_enabled};
use crate::op::Op;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use xai_tensor::{Result, Tensor};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A differentiable value. Leaves are constants or variables that require a gradient; the rest
/// remember their op and inputs. Cloning is cheap and shares the node.
#[derive(Clone)]
pub struct Var(Arc<Inner>);

struct Inner {
    id: u64,
    value: Tensor,
    requires_grad: bool,
    node: Option<Node>,
}

/// How a non-leaf value was made.
pub(crate) struct Node {
    pub op: Op,
    pub inputs: Vec<Var>,
    pub scope: Option<Arc<str>>,
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self
            .op()
            .map(|o| o.name())
            .unwrap_or(if self.requires_grad() {
                "leaf"
            } else {
                "const"
            });
        write!(f, "Var#{}({op}, {:?})", self.id(), self.value())
    }
}

impl Var {
    fn make(value: Tensor, requires_grad: bool, node: Option<Node>) -> Self {
        Self(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            value,
            requires_grad,
            node,
        }))
    }

    /// A constant: never differentiated.
    pub fn constant(value: Tensor) -> Self {
        Self::make(value, false, None)
    }

    /// A leaf whose gradient can be asked for (an input or a parameter).
    pub fn leaf(value: Tensor) -> Self {
        Self::make(value, true, None)
    }

    /// Records `op` on `inputs` producing `value`, unless recording is off or no input needs a
    /// gradient (then the result is a constant).
    pub(crate) fn from_op(value: Tensor, op: Op, inputs: Vec<Var>) -> Self {
        if is_grad_enabled() && inputs.iter().any(Var::requires_grad) {
            Self::make(
                value,
                true,
                Some(Node {
                    op,
                    inputs,
                    scope: current_scope(),
                }),
            )
        } else {
            Self::constant(value)
        }
    }

    /// A unique id.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The value.
    pub fn value(&self) -> &Tensor {
        &self.0.value
    }

    /// The shape of the value.
    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }

    /// Whether gradients flow through this value.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// The op that produced this value (`None` for leaves and constants).
    pub fn op(&self) -> Option<&Op> {
        self.0.node.as_ref().map(|n| &n.op)
    }

    /// The inputs of the op that produced this value.
    pub fn inputs(&self) -> &[Var] {
        self.0.node.as_ref().map(|n| &n.inputs[..]).unwrap_or(&[])
    }

    /// The scope (layer name) the producing op ran in.
    pub fn scope(&self) -> Option<&str> {
        self.0.node.as_ref().and_then(|n| n.scope.as_deref())
    }

    /// The same value as a constant, cut from the graph.
    pub fn detach(&self) -> Var {
        Var::constant(self.value().clone())
    }

    /// A constant of this var's shape, dtype and device filled with `v`.
    pub fn full_like(&self, v: f64) -> Result<Var> {
        Ok(Var::constant(self.value().full_like(v)?))
    }
}
