//! Elementwise ops (`elementwise.cu`): dtype casts, fills, unary and broadcast binary maps
//! (one kernel per family, the op as a code), `where`.

use super::launch::{check_rank, coalesce, dims_arg, linear, scalar};
use super::CudaStorage;
use crate::backend::{BackendStorage, BinaryOp, UnaryOp};
use crate::cuda::gpu::Arg;
use crate::cuda::kernels::op_code;
use crate::shape::{broadcast_strides, numel};
use crate::{DType, Result};

impl CudaStorage {
    /// `len` elements equal to `value`.
    pub(super) fn filled(&self, len: usize, value: f64) -> Result<Self> {
        let out = self.like(len)?;
        if len > 0 {
            out.run(
                "fill",
                linear(len),
                &[out.arg(), Arg::U32(len as u32), scalar(self.dtype, value)],
            )?;
        }
        Ok(out)
    }
}

pub(super) fn to_dtype(src: &CudaStorage, dtype: DType) -> Result<CudaStorage> {
    if dtype == src.dtype {
        return Ok(src.clone());
    }
    let out = CudaStorage::alloc(src.gpu(), dtype, src.len)?;
    if src.len > 0 {
        out.run(
            "cast",
            linear(src.len),
            &[src.arg(), out.arg(), Arg::U32(src.len as u32)],
        )?;
    }
    Ok(out)
}

pub(super) fn unary(src: &CudaStorage, op: UnaryOp) -> Result<CudaStorage> {
    let (code, a, b) = match op {
        UnaryOp::Neg => (op_code("UNARY_NEG"), 0.0, 0.0),
        UnaryOp::Exp => (op_code("UNARY_EXP"), 0.0, 0.0),
        UnaryOp::Log => (op_code("UNARY_LOG"), 0.0, 0.0),
        UnaryOp::Sqrt => (op_code("UNARY_SQRT"), 0.0, 0.0),
        UnaryOp::Abs => (op_code("UNARY_ABS"), 0.0, 0.0),
        UnaryOp::Sign => (op_code("UNARY_SIGN"), 0.0, 0.0),
        UnaryOp::Relu => (op_code("UNARY_RELU"), 0.0, 0.0),
        UnaryOp::Step => (op_code("UNARY_STEP"), 0.0, 0.0),
        UnaryOp::Sigmoid => (op_code("UNARY_SIGMOID"), 0.0, 0.0),
        UnaryOp::Tanh => (op_code("UNARY_TANH"), 0.0, 0.0),
        UnaryOp::Softplus => (op_code("UNARY_SOFTPLUS"), 0.0, 0.0),
        UnaryOp::Recip => (op_code("UNARY_RECIP"), 0.0, 0.0),
        UnaryOp::Square => (op_code("UNARY_SQUARE"), 0.0, 0.0),
        UnaryOp::Powf(p) => (op_code("UNARY_POWF"), p, 0.0),
        UnaryOp::Affine(a, b) => (op_code("UNARY_AFFINE"), a, b),
        UnaryOp::LeakyRelu(s) => (op_code("UNARY_LEAKY_RELU"), s, 0.0),
        UnaryOp::Clamp(lo, hi) => (op_code("UNARY_CLAMP"), lo, hi),
        UnaryOp::GtScalar(c) => (op_code("UNARY_GT_SCALAR"), c, 0.0),
    };
    let out = src.like(src.len)?;
    if src.len > 0 {
        src.run(
            "unary",
            linear(src.len),
            &[
                src.arg(),
                out.arg(),
                Arg::U32(src.len as u32),
                Arg::U32(code),
                scalar(src.dtype, a),
                scalar(src.dtype, b),
            ],
        )?;
    }
    Ok(out)
}

pub(super) fn binary(
    src: &CudaStorage,
    op: BinaryOp,
    ls: &[usize],
    rhs: &CudaStorage,
    rs: &[usize],
    out: &[usize],
) -> Result<CudaStorage> {
    src.check_peer("binary", rhs)?;
    let code = match op {
        BinaryOp::Add => op_code("BINARY_ADD"),
        BinaryOp::Sub => op_code("BINARY_SUB"),
        BinaryOp::Mul => op_code("BINARY_MUL"),
        BinaryOp::Div => op_code("BINARY_DIV"),
        BinaryOp::Maximum => op_code("BINARY_MAXIMUM"),
        BinaryOp::Minimum => op_code("BINARY_MINIMUM"),
        BinaryOp::Gt => op_code("BINARY_GT"),
        BinaryOp::Ge => op_code("BINARY_GE"),
        BinaryOp::Lt => op_code("BINARY_LT"),
        BinaryOp::Le => op_code("BINARY_LE"),
        BinaryOp::Eq => op_code("BINARY_EQ"),
    };
    let n = numel(out);
    let res = src.like(n)?;
    if n == 0 {
        return Ok(res);
    }
    let (shape, st) = coalesce(
        out,
        &[broadcast_strides(ls, out), broadcast_strides(rs, out)],
    );
    check_rank("binary", &shape)?;
    src.run(
        "binary",
        linear(n),
        &[
            src.arg(),
            rhs.arg(),
            res.arg(),
            Arg::U32(n as u32),
            Arg::U32(shape.len() as u32),
            dims_arg(&shape)?,
            dims_arg(&st[0])?,
            dims_arg(&st[1])?,
            Arg::U32(code),
        ],
    )?;
    Ok(res)
}

pub(super) fn where_cond(
    src: &CudaStorage,
    on_true: &CudaStorage,
    on_false: &CudaStorage,
) -> Result<CudaStorage> {
    on_true.check_peer("where", on_false)?;
    let mask = src.to_dtype(on_true.dtype)?;
    mask.check_peer("where", on_true)?;
    let out = on_true.like(on_true.len)?;
    if out.len > 0 {
        out.run(
            "where",
            linear(out.len),
            &[
                mask.arg(),
                on_true.arg(),
                on_false.arg(),
                out.arg(),
                Arg::U32(out.len as u32),
            ],
        )?;
    }
    Ok(out)
}
