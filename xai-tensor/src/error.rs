//! The one error type of the tensor crate.

use crate::{DType, Device};

/// Everything a tensor operation can refuse. Structured fields say what and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two operands whose shapes cannot be combined by `op`.
    #[error("{op}: shapes {lhs:?} and {rhs:?} do not match")]
    ShapeMismatch {
        op: &'static str,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
    },
    /// An argument that does not fit the tensor it is applied to.
    #[error("{op}: {msg}")]
    BadArgument { op: &'static str, msg: String },
    /// Operands of different dtypes.
    #[error("{op}: dtypes {lhs:?} and {rhs:?} differ")]
    DTypeMismatch {
        op: &'static str,
        lhs: DType,
        rhs: DType,
    },
    /// Operands on different devices.
    #[error("{op}: devices {lhs:?} and {rhs:?} differ")]
    DeviceMismatch {
        op: &'static str,
        lhs: Device,
        rhs: Device,
    },
    /// The CUDA device was asked for in a build without the `cuda` feature.
    #[error("built without CUDA support (rebuild with the `cuda` feature)")]
    NotCompiledWithCuda,
    /// The CUDA backend cannot run: a missing driver, device or libnvrtc (named in the
    /// message), or a failed CUDA call.
    #[error("CUDA: {0}")]
    Cuda(String),
    /// A `.npy` file that cannot be read or written.
    #[error("{path}: {msg}")]
    Npy { path: String, msg: String },
    /// A file that cannot be read or written, or is not a regular file ([`crate::fs`]).
    #[error("{path}: {msg}")]
    File { path: String, msg: String },
    /// Input/output failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Result alias of the tensor crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Returns early with [`Error::BadArgument`].
#[macro_export]
macro_rules! bail {
    ($op:expr, $($arg:tt)*) => {
        return Err($crate::Error::BadArgument { op: $op, msg: format!($($arg)*) })
    };
}
