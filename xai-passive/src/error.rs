//! Errors of explanation methods.

/// What an explanation method can refuse.
#[derive(Debug, thiserror::Error)]
pub enum PassiveError {
    /// An option or target that does not fit the model or input.
    #[error("{0}")]
    BadArgument(String),
    /// A named parameter with a bad value: `{name} {msg}` ("steps must be at least 1, got
    /// 0"); a front end may show the name as its own (a CLI flag).
    #[error("{name} {msg}")]
    BadParameter {
        /// The parameter, in snake case.
        name: String,
        /// What is wrong, starting with a verb ("must be …").
        msg: String,
    },
    /// A parameter the method does not take: `{name} is not a parameter of {method} (its
    /// parameters: …)`; a front end may show the names as its own (CLI flags).
    #[error("{name} is not a parameter of {method} (its parameters: {})", known.join(", "))]
    UnknownParameter {
        /// The parameter given, in snake case.
        name: String,
        /// The method (or metric) it was given to.
        method: String,
        /// The parameters it takes.
        known: Vec<String>,
    },
    /// The model failed.
    #[error(transparent)]
    Nn(#[from] xai_nn::NnError),
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] xai_tensor::Error),
}

/// Result alias of the passive crate.
pub type Result<T> = std::result::Result<T, PassiveError>;
