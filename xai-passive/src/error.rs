//! Errors of explanation methods.

/// What an explanation method can refuse.
#[derive(Debug, thiserror::Error)]
pub enum PassiveError {
    /// An option or target that does not fit the model or input.
    #[error("{0}")]
    BadArgument(String),
    /// The model failed.
    #[error(transparent)]
    Nn(#[from] xai_nn::NnError),
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] xai_tensor::Error),
}

/// Result alias of the passive crate.
pub type Result<T> = std::result::Result<T, PassiveError>;
