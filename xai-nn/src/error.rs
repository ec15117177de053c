//! Errors of models and model files: each says what is wrong and where (file, node, shape).

/// What loading or running a model can refuse.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A model JSON that cannot be parsed or breaks the contract.
    #[error("{path}: {msg}")]
    ModelFile { path: String, msg: String },
    /// A layer whose op this version does not know.
    #[error("layer '{layer}': unknown op '{op}' (known: {known})")]
    UnknownOp {
        layer: String,
        op: String,
        known: String,
    },
    /// The weights file named by the model JSON is absent.
    #[error("{path}: weights file not found (a model.json without weights is an architecture: train it first)")]
    MissingWeights { path: String },
    /// A tensor the layer needs is not in the weights file.
    #[error("{path}: tensor '{name}' for layer '{layer}' is missing")]
    MissingTensor {
        path: String,
        layer: String,
        name: String,
    },
    /// A weight whose shape contradicts the layer's declaration.
    #[error("{path}: tensor '{name}' has shape {got:?} but layer '{layer}' needs {expected:?}")]
    WeightShape {
        path: String,
        layer: String,
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    /// A layer that cannot take the shape arriving at it.
    #[error("layer '{layer}' ({op}): {msg}")]
    Architecture {
        layer: String,
        op: String,
        msg: String,
    },
    /// A declared output (head) of a graph that is wrong.
    #[error("output '{head}': {msg}")]
    Output { head: String, msg: String },
    /// An input that does not match the model.
    #[error("input: {0}")]
    Input(String),
    /// A dataset that cannot be read or used.
    #[error("{0}")]
    Data(String),
    /// A training setting that cannot work.
    #[error("{0}")]
    Config(String),
    /// Training stopped (a non-finite loss or parameter), saying where.
    #[error("training: {0}")]
    Training(String),
    /// A parameter selection, or a vector over parameters, that does not fit the model.
    #[error("parameter '{name}': {msg}")]
    Parameter { name: String, msg: String },
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] xai_tensor::Error),
    /// Input/output failure.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Result alias of the nn crate.
pub type Result<T> = std::result::Result<T, NnError>;

/// Shorthand for an [`NnError::Architecture`].
pub(crate) fn arch(layer: &str, op: &str, msg: impl Into<String>) -> NnError {
    NnError::Architecture {
        layer: layer.into(),
        op: op.into(),
        msg: msg.into(),
    }
}
