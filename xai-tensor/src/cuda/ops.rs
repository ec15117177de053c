//! [`CudaStorage`] and its ops: the launch code shared by the real and the emulated device
//! (grid and block sizes, argument packing, strides and broadcasting, chunking).

use super::gpu::{device, Arg, Gpu, LaunchDims};
use super::kernels::op_code;
use crate::backend::{
    BackendStorage, BinaryOp, Conv2dParams, Pool2dParams, PoolBins, ReduceOp, UnaryOp,
};
use crate::cpu::CpuStorage;
use crate::random::Dist;
use crate::shape::{broadcast_strides, numel, split_at_axis, strides};
use crate::{bail, DType, Error, Result};
use std::fmt;
use std::sync::Arc;

/// Threads per block of the one-dimensional (grid-stride) kernels.
const THREADS: u32 = 256;
/// Most blocks of a one-dimensional launch; larger tensors are covered by the grid-stride loop.
const MAX_BLOCKS: usize = 65_535;
/// Output tile of the GEMM kernel (`GEMM_TILE` in gemm.cu).
const GEMM_TILE: usize = 16;
/// Largest grid z (batch) of one GEMM launch.
const MAX_GRID_Z: usize = 65_535;
/// Rows up to this length are folded by one thread each (in the CPU's order); longer rows by
/// a block and a shared-memory tree.
const SERIAL_ROW: usize = 64;
/// Elements of im2col scratch per convolution chunk (256 MiB of f32).
const COL_ELEMS: usize = 1 << 26;
/// Axes a strided kernel accepts (`XAI_MAX_DIMS` in common.cuh).
const MAX_DIMS: usize = 8;

/// One device allocation, freed when the last storage sharing it drops.
struct Buffer {
    gpu: Arc<dyn Gpu>,
    ptr: u64,
    bytes: usize,
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.gpu.free(self.ptr, self.bytes);
        }
    }
}

impl Buffer {
    fn new(gpu: &Arc<dyn Gpu>, bytes: usize) -> Result<Self> {
        let ptr = if bytes > 0 { gpu.alloc(bytes)? } else { 0 };
        Ok(Self {
            gpu: gpu.clone(),
            ptr,
            bytes,
        })
    }

    /// A device copy of host indices, as the kernels' u32.
    fn indices(gpu: &Arc<dyn Gpu>, idx: &[usize]) -> Result<Self> {
        let v: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
        let b = Self::new(gpu, v.len() * 4)?;
        if !v.is_empty() {
            b.gpu.upload(b.ptr, bytes_of(&v))?;
        }
        Ok(b)
    }
}

/// Device memory of one tensor: a contiguous row-major buffer of `len` elements of `dtype`.
#[derive(Clone)]
pub struct CudaStorage {
    buf: Arc<Buffer>,
    dtype: DType,
    len: usize,
}

impl fmt::Debug for CudaStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CudaStorage[{} × {:?} on cuda:{}]",
            self.len,
            self.dtype,
            self.buf.gpu.ordinal()
        )
    }
}

fn bytes_of<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: plain-old-data numbers viewed as bytes, same length in bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), std::mem::size_of_val(v)) }
}

fn bytes_of_mut<T: Copy>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: as above; every byte pattern is a valid f32/f64.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), std::mem::size_of_val(v)) }
}

/// A size as the kernels' u32 (tensors are limited to 2³¹ elements on the device).
fn u32_of(n: usize) -> Result<u32> {
    if n > i32::MAX as usize {
        bail!("cuda", "{n} elements exceed the CUDA backend's 2^31 limit");
    }
    Ok(n as u32)
}

fn scalar(dtype: DType, v: f64) -> Arg {
    match dtype {
        DType::F32 => Arg::F32(v as f32),
        DType::F64 => Arg::F64(v),
    }
}

/// Grid-stride launch shape for `n` items.
fn linear(n: usize) -> LaunchDims {
    LaunchDims {
        grid: [
            n.div_ceil(THREADS as usize).clamp(1, MAX_BLOCKS) as u32,
            1,
            1,
        ],
        block: [THREADS, 1, 1],
    }
}

/// Up to [`MAX_DIMS`] words of a `Dims` argument.
fn dims_arg(v: &[usize]) -> Result<Arg> {
    let mut w = vec![0u32; MAX_DIMS];
    for (d, &x) in w.iter_mut().zip(v) {
        *d = u32_of(x)?;
    }
    Ok(Arg::Words(w))
}

/// Merges adjacent axes that every stride set walks as one, so strided kernels see few axes.
fn coalesce(out: &[usize], sets: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let (mut o, mut s): (Vec<usize>, Vec<Vec<usize>>) = (vec![], vec![vec![]; sets.len()]);
    for d in 0..out.len() {
        let merge = !o.is_empty()
            && sets
                .iter()
                .zip(&s)
                .all(|(st, acc)| acc[acc.len() - 1] == st[d] * out[d]);
        if merge {
            let k = o.len() - 1;
            o[k] *= out[d];
            for (st, acc) in sets.iter().zip(s.iter_mut()) {
                acc[k] = st[d];
            }
        } else {
            o.push(out[d]);
            for (st, acc) in sets.iter().zip(s.iter_mut()) {
                acc.push(st[d]);
            }
        }
    }
    (o, s)
}

fn check_rank(op: &'static str, shape: &[usize]) -> Result<()> {
    if shape.len() > MAX_DIMS {
        bail!(
            op,
            "the CUDA backend handles up to {MAX_DIMS} (merged) axes, got {shape:?}"
        );
    }
    Ok(())
}

/// Host index values (stored as floats) as integers below `bound`, with the CPU's messages.
fn checked_indices(op: &'static str, v: &[f64], bound: usize) -> Result<Vec<usize>> {
    v.iter()
        .map(|&x| {
            if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0) {
                bail!(op, "index {x} is not a non-negative integer");
            }
            if x as usize >= bound {
                bail!(op, "index {x} out of range for an axis of size {bound}");
            }
            Ok(x as usize)
        })
        .collect()
}

/// Copies host data to CUDA device `ordinal` (the emulator for [`super::EMULATOR_ORDINAL`]).
pub fn upload(cpu: &CpuStorage, ordinal: usize) -> Result<CudaStorage> {
    let gpu = device(ordinal)?;
    let out = CudaStorage::alloc(&gpu, cpu.dtype(), cpu.len())?;
    if !cpu.is_empty() {
        let bytes = match cpu {
            CpuStorage::F32(v) => bytes_of(v),
            CpuStorage::F64(v) => bytes_of(v),
        };
        gpu.upload(out.ptr(), bytes)?;
    }
    Ok(out)
}

/// `shape` filled from Philox stream `stream` of `seed` on device `ordinal`, with the CPU's
/// counter layout (see `random.rs` and `random.cu`).
pub(crate) fn random(
    ordinal: usize,
    seed: u64,
    stream: u64,
    dist: Dist,
    shape: &[usize],
    dtype: DType,
) -> Result<CudaStorage> {
    let n = numel(shape);
    let out = CudaStorage::alloc(&device(ordinal)?, dtype, n)?;
    let (kind, p0, p1) = match dist {
        Dist::Uniform(lo, hi) => (0, lo, hi),
        Dist::Normal(mean, std) => (1, mean, std),
        Dist::Bernoulli(p) => (2, p, 0.0),
    };
    if n > 0 {
        out.run(
            "random",
            linear(n.div_ceil(2)),
            &[
                out.arg(),
                Arg::U32(n as u32),
                Arg::U32(seed as u32),
                Arg::U32((seed >> 32) as u32),
                Arg::U32(stream as u32),
                Arg::U32((stream >> 32) as u32),
                Arg::U32(kind),
                Arg::F64(p0),
                Arg::F64(p1),
            ],
        )?;
    }
    Ok(out)
}

impl CudaStorage {
    fn alloc(gpu: &Arc<dyn Gpu>, dtype: DType, len: usize) -> Result<Self> {
        u32_of(len)?;
        Ok(Self {
            buf: Arc::new(Buffer::new(gpu, len * dtype.size_in_bytes())?),
            dtype,
            len,
        })
    }

    fn like(&self, len: usize) -> Result<Self> {
        Self::alloc(&self.buf.gpu, self.dtype, len)
    }

    fn gpu(&self) -> &Arc<dyn Gpu> {
        &self.buf.gpu
    }

    fn ptr(&self) -> u64 {
        self.buf.ptr
    }

    /// Device address of element `i`.
    fn at(&self, i: usize) -> Arg {
        Arg::Ptr(self.ptr() + (i * self.dtype.size_in_bytes()) as u64)
    }

    fn arg(&self) -> Arg {
        Arg::Ptr(self.ptr())
    }

    /// Runs kernel `name` over `n` items in place on the buffers in `args` (tests of the
    /// kernels that no op calls yet: the fused optimizer updates).
    #[cfg(all(test, feature = "cuda-emu"))]
    pub(crate) fn run_linear(&self, name: &str, n: usize, args: &[Arg]) -> Result<()> {
        self.run(name, linear(n), args)
    }

    /// Device address of this buffer, as a kernel argument.
    #[cfg(all(test, feature = "cuda-emu"))]
    pub(crate) fn ptr_arg(&self) -> Arg {
        self.arg()
    }

    /// Runs `name_f32` or `name_f64` (this storage's dtype).
    fn run(&self, name: &str, dims: LaunchDims, args: &[Arg]) -> Result<()> {
        let sfx = match self.dtype {
            DType::F32 => "f32",
            DType::F64 => "f64",
        };
        self.gpu().launch(&format!("{name}_{sfx}"), dims, args)
    }

    fn check_peer(&self, op: &'static str, other: &Self) -> Result<()> {
        if other.dtype != self.dtype {
            return Err(Error::DTypeMismatch {
                op,
                lhs: self.dtype,
                rhs: other.dtype,
            });
        }
        if !Arc::ptr_eq(self.gpu(), other.gpu()) {
            return Err(Error::DeviceMismatch {
                op,
                lhs: crate::Device::Cuda(self.ordinal()),
                rhs: crate::Device::Cuda(other.ordinal()),
            });
        }
        Ok(())
    }

    /// Copies back to the host.
    pub fn download(&self) -> Result<CpuStorage> {
        Ok(match self.dtype {
            DType::F32 => {
                let mut v = vec![0f32; self.len];
                if self.len > 0 {
                    self.gpu().download(self.ptr(), bytes_of_mut(&mut v))?;
                }
                CpuStorage::F32(v)
            }
            DType::F64 => {
                let mut v = vec![0f64; self.len];
                if self.len > 0 {
                    self.gpu().download(self.ptr(), bytes_of_mut(&mut v))?;
                }
                CpuStorage::F64(v)
            }
        })
    }

    /// The device ordinal.
    pub fn ordinal(&self) -> usize {
        self.gpu().ordinal()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `len` elements equal to `value`.
    fn filled(&self, len: usize, value: f64) -> Result<Self> {
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

    /// `out[i] = self[Σ k_d·st_d]` over the multi-index k of `out`.
    fn strided_copy(&self, st: &[usize], out: &[usize]) -> Result<Self> {
        let n = numel(out);
        let res = self.like(n)?;
        if n == 0 {
            return Ok(res);
        }
        let (shape, sets) = coalesce(out, &[st.to_vec()]);
        check_rank("strided copy", &shape)?;
        self.run(
            "strided_copy",
            linear(n),
            &[
                self.arg(),
                res.arg(),
                Arg::U32(n as u32),
                Arg::U32(shape.len() as u32),
                dims_arg(&shape)?,
                dims_arg(&sets[0])?,
            ],
        )?;
        Ok(res)
    }

    /// `blocks` runs of `len` from `src` (offset, stride) into `self` (offset, stride).
    #[allow(clippy::too_many_arguments)]
    fn copy_blocks_from(
        &self,
        src: &Self,
        blocks: usize,
        len: usize,
        src_stride: usize,
        src_off: usize,
        dst_stride: usize,
        dst_off: usize,
    ) -> Result<()> {
        if blocks * len == 0 {
            return Ok(());
        }
        self.run(
            "copy_blocks",
            linear(blocks * len),
            &[
                src.arg(),
                self.arg(),
                Arg::U32(u32_of(blocks)?),
                Arg::U32(u32_of(len)?),
                Arg::U32(u32_of(src_stride)?),
                Arg::U32(u32_of(src_off)?),
                Arg::U32(u32_of(dst_stride)?),
                Arg::U32(u32_of(dst_off)?),
            ],
        )
    }

    /// Batched `c_b = op(a_b)·op(b_b) (+ beta·c_b)`, offsets and batch strides in elements
    /// (stride 0 shares an operand), split into launches of at most [`MAX_GRID_Z`] batches.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        a: (&Self, usize, usize, bool),
        b: (&Self, usize, usize, bool),
        c: (&Self, usize, usize),
        [m, n, k]: [usize; 3],
        batch: usize,
        beta: f64,
    ) -> Result<()> {
        if m * n * batch == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < batch {
            let nb = (batch - done).min(MAX_GRID_Z);
            let dims = LaunchDims {
                grid: [
                    n.div_ceil(GEMM_TILE) as u32,
                    m.div_ceil(GEMM_TILE) as u32,
                    nb as u32,
                ],
                block: [GEMM_TILE as u32, GEMM_TILE as u32, 1],
            };
            c.0.run(
                "gemm",
                dims,
                &[
                    a.0.at(a.1 + done * a.2),
                    b.0.at(b.1 + done * b.2),
                    c.0.at(c.1 + done * c.2),
                    Arg::U32(u32_of(m)?),
                    Arg::U32(u32_of(n)?),
                    Arg::U32(u32_of(k)?),
                    Arg::U64(a.2 as u64),
                    Arg::U64(b.2 as u64),
                    Arg::U64(c.2 as u64),
                    Arg::U32(a.3 as u32),
                    Arg::U32(b.3 as u32),
                    scalar(c.0.dtype, beta),
                ],
            )?;
            done += nb;
        }
        Ok(())
    }

    /// Folds rows of `len` contiguous elements: serial for short rows, a block per row for
    /// long ones.
    fn reduce_rows(&self, op: ReduceOp, rows: usize, len: usize) -> Result<Self> {
        let (code, init) = match op {
            ReduceOp::Sum => (op_code("REDUCE_SUM"), 0.0),
            ReduceOp::Max => (op_code("REDUCE_MAX"), f64::NEG_INFINITY),
            ReduceOp::Min => (op_code("REDUCE_MIN"), f64::INFINITY),
        };
        if len == 0 {
            return self.filled(rows, 0.0);
        }
        let out = self.like(rows)?;
        if rows == 0 {
            return Ok(out);
        }
        let args = [
            self.arg(),
            out.arg(),
            Arg::U32(u32_of(rows)?),
            Arg::U32(u32_of(len)?),
            Arg::U32(code),
            scalar(self.dtype, init),
        ];
        if len <= SERIAL_ROW {
            self.run("reduce_rows_serial", linear(rows), &args)?;
        } else {
            let threads = len.next_power_of_two().clamp(32, 256) as u32;
            let dims = LaunchDims {
                grid: [rows.min(MAX_BLOCKS) as u32, 1, 1],
                block: [threads, 1, 1],
            };
            self.run("reduce_rows_tree", dims, &args)?;
        }
        Ok(out)
    }

    fn conv_geom(
        n: usize,
        x: [usize; 4],
        k: [usize; 2],
        o: [usize; 2],
        p: Conv2dParams,
    ) -> Result<Arg> {
        let v = [
            n,
            x[1],
            x[2],
            x[3],
            k[0],
            k[1],
            o[0],
            o[1],
            p.stride[0],
            p.stride[1],
            p.padding[0],
            p.padding[1],
            p.dilation[0],
            p.dilation[1],
        ];
        Ok(Arg::Words(
            v.iter().map(|&x| u32_of(x)).collect::<Result<_>>()?,
        ))
    }

    /// im2col of images `b0..b0 + nb` of `x: [n, c, h, w]` into `col: [nb, c·kh·kw, oh·ow]`.
    fn im2col(
        &self,
        x: [usize; 4],
        b0: usize,
        nb: usize,
        k: [usize; 2],
        o: [usize; 2],
        p: Conv2dParams,
    ) -> Result<Self> {
        let rows = x[1] * k[0] * k[1];
        let n = nb * rows * o[0] * o[1];
        let col = self.like(n)?;
        if n > 0 {
            self.run(
                "im2col",
                linear(n),
                &[
                    self.at(b0 * x[1] * x[2] * x[3]),
                    col.arg(),
                    Self::conv_geom(nb, x, k, o, p)?,
                ],
            )?;
        }
        Ok(col)
    }

    /// Images per im2col chunk.
    fn conv_chunk(n: usize, col_per_image: usize) -> usize {
        (COL_ELEMS / col_per_image.max(1)).clamp(1, n.max(1))
    }

    fn pool_bins(&self, bins: &PoolBins) -> Result<(Buffer, Buffer)> {
        let flat =
            |v: &[(usize, usize)]| -> Vec<usize> { v.iter().flat_map(|&(a, b)| [a, b]).collect() };
        Ok((
            Buffer::indices(self.gpu(), &flat(&bins.h))?,
            Buffer::indices(self.gpu(), &flat(&bins.w))?,
        ))
    }

    /// Launches the average-pooling kernel `kernel` (forward or backward: both take the
    /// input, the output, the bins and N·C, H, W, OH, OW) over `m` outputs.
    fn run_avg_pool(
        &self,
        kernel: &str,
        m: usize,
        dims: [usize; 5],
        bins: &PoolBins,
    ) -> Result<Self> {
        let out = self.like(m)?;
        if m > 0 {
            let (hb, wb) = self.pool_bins(bins)?;
            let mut args = vec![self.arg(), out.arg(), Arg::Ptr(hb.ptr), Arg::Ptr(wb.ptr)];
            for d in dims {
                args.push(Arg::U32(u32_of(d)?));
            }
            self.run(kernel, linear(m), &args)?;
        }
        Ok(out)
    }
}

impl BackendStorage for CudaStorage {
    fn dtype(&self) -> DType {
        self.dtype
    }

    fn to_dtype(&self, dtype: DType) -> Result<Self> {
        if dtype == self.dtype {
            return Ok(self.clone());
        }
        let out = Self::alloc(self.gpu(), dtype, self.len)?;
        if self.len > 0 {
            out.run(
                "cast",
                linear(self.len),
                &[self.arg(), out.arg(), Arg::U32(self.len as u32)],
            )?;
        }
        Ok(out)
    }

    fn unary(&self, op: UnaryOp) -> Result<Self> {
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
        let out = self.like(self.len)?;
        if self.len > 0 {
            self.run(
                "unary",
                linear(self.len),
                &[
                    self.arg(),
                    out.arg(),
                    Arg::U32(self.len as u32),
                    Arg::U32(code),
                    scalar(self.dtype, a),
                    scalar(self.dtype, b),
                ],
            )?;
        }
        Ok(out)
    }

    fn binary(
        &self,
        op: BinaryOp,
        ls: &[usize],
        rhs: &Self,
        rs: &[usize],
        out: &[usize],
    ) -> Result<Self> {
        self.check_peer("binary", rhs)?;
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
        let res = self.like(n)?;
        if n == 0 {
            return Ok(res);
        }
        let (shape, st) = coalesce(
            out,
            &[broadcast_strides(ls, out), broadcast_strides(rs, out)],
        );
        check_rank("binary", &shape)?;
        self.run(
            "binary",
            linear(n),
            &[
                self.arg(),
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

    fn where_cond(&self, on_true: &Self, on_false: &Self) -> Result<Self> {
        on_true.check_peer("where", on_false)?;
        let mask = self.to_dtype(on_true.dtype)?;
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

    fn reduce(&self, op: ReduceOp, shape: &[usize], axes: &[usize]) -> Result<Self> {
        let rank = shape.len();
        let keep: Vec<usize> = (0..rank).filter(|d| !axes.contains(d)).collect();
        let group: usize = axes.iter().map(|&a| shape[a]).product();
        let groups = numel(shape)
            .checked_div(group)
            .unwrap_or_else(|| keep.iter().map(|&d| shape[d]).product());
        let trailing = axes
            .iter()
            .enumerate()
            .all(|(i, &a)| a == rank - axes.len() + i);
        if trailing || group == 0 {
            return self.reduce_rows(op, groups, group);
        }
        let perm: Vec<usize> = keep.iter().chain(axes).copied().collect();
        let st = strides(shape);
        let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let pst: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
        self.strided_copy(&pst, &out)?
            .reduce_rows(op, groups, group)
    }

    fn argmax(&self, shape: &[usize], axis: usize) -> Result<Self> {
        let (outer, size, inner) = split_at_axis(shape, axis);
        let n = outer * inner;
        if size == 0 {
            return self.filled(n, 0.0);
        }
        let out = self.like(n)?;
        if n > 0 {
            self.run(
                "argmax",
                linear(n),
                &[
                    self.arg(),
                    out.arg(),
                    Arg::U32(u32_of(outer)?),
                    Arg::U32(u32_of(size)?),
                    Arg::U32(u32_of(inner)?),
                ],
            )?;
        }
        Ok(out)
    }

    fn broadcast_to(&self, shape: &[usize], out: &[usize]) -> Result<Self> {
        self.strided_copy(&broadcast_strides(shape, out), out)
    }

    fn matmul(&self, l: [usize; 3], rhs: &Self, r: [usize; 3]) -> Result<Self> {
        self.check_peer("matmul", rhs)?;
        let ([ba, m, k], [bb, _, n]) = (l, r);
        let batch = ba.max(bb);
        let out = self.like(batch * m * n)?;
        let sa = if ba == 1 { 0 } else { m * k };
        let sb = if bb == 1 { 0 } else { k * n };
        Self::gemm(
            (self, 0, sa, false),
            (rhs, 0, sb, false),
            (&out, 0, m * n),
            [m, n, k],
            batch,
            0.0,
        )?;
        Ok(out)
    }

    fn permute(&self, shape: &[usize], perm: &[usize]) -> Result<Self> {
        let st = strides(shape);
        let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let pst: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
        self.strided_copy(&pst, &out)
    }

    fn narrow(&self, [outer, size, inner]: [usize; 3], start: usize, len: usize) -> Result<Self> {
        let out = self.like(outer * len * inner)?;
        out.copy_blocks_from(
            self,
            outer,
            len * inner,
            size * inner,
            start * inner,
            len * inner,
            0,
        )?;
        Ok(out)
    }

    fn cat(parts: &[(&Self, usize)], outer: usize, inner: usize) -> Result<Self> {
        let (first, _) = parts.first().ok_or_else(|| Error::BadArgument {
            op: "cat",
            msg: "nothing to concatenate".into(),
        })?;
        let total: usize = parts.iter().map(|(_, n)| n).sum();
        let out = first.like(outer * total * inner)?;
        let mut at = 0;
        for (p, n) in parts {
            first.check_peer("cat", p)?;
            out.copy_blocks_from(p, outer, n * inner, n * inner, 0, total * inner, at * inner)?;
            at += n;
        }
        Ok(out)
    }

    fn softmax(&self, [outer, size, inner]: [usize; 3], log: bool) -> Result<Self> {
        let out = self.like(self.len)?;
        if self.len > 0 {
            self.run(
                "softmax",
                linear(outer * inner),
                &[
                    self.arg(),
                    out.arg(),
                    Arg::U32(u32_of(outer)?),
                    Arg::U32(u32_of(size)?),
                    Arg::U32(u32_of(inner)?),
                    Arg::U32(log as u32),
                ],
            )?;
        }
        Ok(out)
    }

    fn gather(&self, [outer, size, inner]: [usize; 3], index: &Self, len: usize) -> Result<Self> {
        let idx = checked_indices("gather", &index.to_f64_vec()?, size)?;
        let n = outer * len * inner;
        let out = self.like(n)?;
        if n > 0 {
            let ib = Buffer::indices(self.gpu(), &idx)?;
            self.run(
                "gather",
                linear(n),
                &[
                    self.arg(),
                    Arg::Ptr(ib.ptr),
                    out.arg(),
                    Arg::U32(u32_of(outer)?),
                    Arg::U32(u32_of(size)?),
                    Arg::U32(u32_of(inner)?),
                    Arg::U32(u32_of(len)?),
                ],
            )?;
        }
        Ok(out)
    }

    fn scatter_add(
        &self,
        [outer, len, inner]: [usize; 3],
        index: &Self,
        size: usize,
    ) -> Result<Self> {
        let idx = checked_indices("scatter_add", &index.to_f64_vec()?, size)?;
        let n = outer * size * inner;
        let out = self.like(n)?;
        if n > 0 {
            let ib = Buffer::indices(self.gpu(), &idx)?;
            self.run(
                "scatter_add",
                linear(n),
                &[
                    self.arg(),
                    Arg::Ptr(ib.ptr),
                    out.arg(),
                    Arg::U32(u32_of(outer)?),
                    Arg::U32(u32_of(len)?),
                    Arg::U32(u32_of(inner)?),
                    Arg::U32(u32_of(size)?),
                ],
            )?;
        }
        Ok(out)
    }

    fn index_select(&self, [outer, size, inner]: [usize; 3], index: &[usize]) -> Result<Self> {
        if let Some(&bad) = index.iter().find(|&&i| i >= size) {
            bail!(
                "index_select",
                "index {bad} out of range for an axis of size {size}"
            );
        }
        let n = outer * index.len() * inner;
        let out = self.like(n)?;
        if n > 0 {
            let ib = Buffer::indices(self.gpu(), index)?;
            self.run(
                "index_select",
                linear(n),
                &[
                    self.arg(),
                    Arg::Ptr(ib.ptr),
                    out.arg(),
                    Arg::U32(u32_of(outer)?),
                    Arg::U32(u32_of(size)?),
                    Arg::U32(u32_of(inner)?),
                    Arg::U32(u32_of(index.len())?),
                ],
            )?;
        }
        Ok(out)
    }

    fn index_add(
        &self,
        [outer, len, inner]: [usize; 3],
        index: &[usize],
        size: usize,
    ) -> Result<Self> {
        if let Some(&bad) = index.iter().find(|&&i| i >= size) {
            bail!(
                "index_add",
                "index {bad} out of range for an axis of size {size}"
            );
        }
        let n = outer * size * inner;
        let out = self.like(n)?;
        if n > 0 {
            let ib = Buffer::indices(self.gpu(), &index[..len.min(index.len())])?;
            self.run(
                "index_add",
                linear(n),
                &[
                    self.arg(),
                    Arg::Ptr(ib.ptr),
                    out.arg(),
                    Arg::U32(u32_of(outer)?),
                    Arg::U32(u32_of(len.min(index.len()))?),
                    Arg::U32(u32_of(inner)?),
                    Arg::U32(u32_of(size)?),
                ],
            )?;
        }
        Ok(out)
    }

    fn conv2d(
        &self,
        x: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
        o: [usize; 2],
    ) -> Result<Self> {
        self.check_peer("conv2d", w)?;
        let (n, oc, kk) = (x[0], wd[0], [wd[2], wd[3]]);
        let (k, plane) = (x[1] * kk[0] * kk[1], o[0] * o[1]);
        let out = self.like(n * oc * plane)?;
        let chunk = Self::conv_chunk(n, k * plane);
        for b0 in (0..n).step_by(chunk) {
            let nb = chunk.min(n - b0);
            let col = self.im2col(x, b0, nb, kk, o, p)?;
            // out[b] = w [o, k] · col[b] [k, plane], the weight shared by the batch.
            Self::gemm(
                (w, 0, 0, false),
                (&col, 0, k * plane, false),
                (&out, b0 * oc * plane, oc * plane),
                [oc, plane, k],
                nb,
                0.0,
            )?;
        }
        Ok(out)
    }

    fn conv2d_input_grad(
        &self,
        g: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
        hw: [usize; 2],
    ) -> Result<Self> {
        self.check_peer("conv2d_input_grad", w)?;
        let (n, oc, c) = (g[0], g[1], wd[1]);
        let (kk, o) = ([wd[2], wd[3]], [g[2], g[3]]);
        let (k, plane, img) = (c * kk[0] * kk[1], o[0] * o[1], c * hw[0] * hw[1]);
        let dx = self.like(n * img)?;
        let chunk = Self::conv_chunk(n, k * plane);
        for b0 in (0..n).step_by(chunk) {
            let nb = chunk.min(n - b0);
            // col[b] = wᵀ [k, o] · g[b] [o, plane], then col2im.
            let col = self.like(nb * k * plane)?;
            Self::gemm(
                (w, 0, 0, true),
                (self, b0 * oc * plane, oc * plane, false),
                (&col, 0, k * plane),
                [k, plane, oc],
                nb,
                0.0,
            )?;
            let m = nb * img;
            if m > 0 {
                self.run(
                    "col2im",
                    linear(m),
                    &[
                        col.arg(),
                        dx.at(b0 * img),
                        Self::conv_geom(nb, [n, c, hw[0], hw[1]], kk, o, p)?,
                    ],
                )?;
            }
        }
        Ok(dx)
    }

    fn conv2d_weight_grad(
        &self,
        x: [usize; 4],
        g: &Self,
        gd: [usize; 4],
        p: Conv2dParams,
        kk: [usize; 2],
    ) -> Result<Self> {
        self.check_peer("conv2d_weight_grad", g)?;
        let (n, oc, o) = (x[0], gd[1], [gd[2], gd[3]]);
        let (k, plane) = (x[1] * kk[0] * kk[1], o[0] * o[1]);
        let mut dw: Option<Self> = None;
        let chunk = Self::conv_chunk(n, k * plane + oc * k);
        for b0 in (0..n).step_by(chunk) {
            let nb = chunk.min(n - b0);
            let col = self.im2col(x, b0, nb, kk, o, p)?;
            // partial[b] = g[b] [o, plane] · col[b]ᵀ [plane, k], summed over the chunk.
            let partial = self.like(nb * oc * k)?;
            Self::gemm(
                (g, b0 * oc * plane, oc * plane, false),
                (&col, 0, k * plane, true),
                (&partial, 0, oc * k),
                [oc, k, plane],
                nb,
                0.0,
            )?;
            let sum = partial.reduce(ReduceOp::Sum, &[nb, oc * k], &[0])?;
            dw = Some(match dw {
                None => sum,
                Some(acc) => acc.binary(BinaryOp::Add, &[oc * k], &sum, &[oc * k], &[oc * k])?,
            });
        }
        match dw {
            Some(d) => Ok(d),
            None => self.filled(oc * k, 0.0),
        }
    }

    fn max_pool2d(
        &self,
        [n, c, h, w]: [usize; 4],
        p: Pool2dParams,
        [oh, ow]: [usize; 2],
    ) -> Result<(Self, Self)> {
        let m = n * c * oh * ow;
        let (vals, idx) = (self.like(m)?, self.like(m)?);
        if m > 0 {
            let u = |v: usize| u32_of(v).map(Arg::U32);
            self.run(
                "max_pool",
                linear(m),
                &[
                    self.arg(),
                    vals.arg(),
                    idx.arg(),
                    u(n * c)?,
                    u(h)?,
                    u(w)?,
                    u(oh)?,
                    u(ow)?,
                    u(p.kernel[0])?,
                    u(p.kernel[1])?,
                    u(p.stride[0])?,
                    u(p.stride[1])?,
                ],
            )?;
        }
        Ok((vals, idx))
    }

    fn avg_pool2d(&self, [n, c, h, w]: [usize; 4], bins: &PoolBins) -> Result<Self> {
        let (oh, ow) = (bins.h.len(), bins.w.len());
        self.run_avg_pool("avg_pool", n * c * oh * ow, [n * c, h, w, oh, ow], bins)
    }

    fn avg_pool2d_backward(
        &self,
        [n, c, oh, ow]: [usize; 4],
        bins: &PoolBins,
        [h, w]: [usize; 2],
    ) -> Result<Self> {
        self.run_avg_pool(
            "avg_pool_backward",
            n * c * h * w,
            [n * c, h, w, oh, ow],
            bins,
        )
    }

    fn to_f64_vec(&self) -> Result<Vec<f64>> {
        self.download()?.to_f64_vec()
    }
}
