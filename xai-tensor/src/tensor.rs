//! [`Tensor`]: an immutable, cheaply cloned n-dimensional array on a device.
//!
//! Every op returns a new tensor (`Result`, since shapes come from user data). Data is
//! row-major and contiguous; views are materialised.

use crate::backend::{
    BinaryOp, Conv2dParams, ConvTranspose2dParams, Pool2dParams, PoolBins, ReduceOp, UnaryOp,
};
use crate::cpu::CpuStorage;
use crate::shape::{self, numel};
use crate::storage::Storage;
use crate::{bail, DType, Device, Elem, Error, Result};
use std::fmt;
use std::sync::Arc;

/// An n-dimensional array of f32 or f64 on a [`Device`]. Cloning shares the data.
#[derive(Clone)]
pub struct Tensor(Arc<Inner>);

struct Inner {
    storage: Storage,
    shape: Vec<usize>,
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor{:?}[{:?}, {}]",
            self.shape(),
            self.dtype(),
            self.device()
        )
    }
}

impl Tensor {
    // ---- construction ------------------------------------------------------------------

    /// Wraps a storage of `shape`; errors if the element count differs.
    pub fn from_storage(storage: Storage, shape: &[usize]) -> Result<Self> {
        let n = match &storage {
            Storage::Cpu(c) => c.len(),
            Storage::Cuda(c) => c.len(),
        };
        if n != numel(shape) {
            bail!("from_storage", "{n} elements cannot have shape {shape:?}");
        }
        Ok(Self(Arc::new(Inner {
            storage,
            shape: shape.to_vec(),
        })))
    }

    /// A CPU tensor from a vector; errors if `data.len()` is not the product of `shape`.
    pub fn from_vec<T: Elem>(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        Self::from_storage(Storage::Cpu(CpuStorage::from_vec(data)), shape)
    }

    /// A CPU tensor copied from a slice.
    pub fn from_slice<T: Elem>(data: &[T], shape: &[usize]) -> Result<Self> {
        Self::from_vec(data.to_vec(), shape)
    }

    /// A tensor filled with `value`.
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Self {
        let n = numel(shape);
        let s = match dtype {
            DType::F32 => CpuStorage::F32(vec![value as f32; n]),
            DType::F64 => CpuStorage::F64(vec![value; n]),
        };
        Self(Arc::new(Inner {
            storage: Storage::Cpu(s),
            shape: shape.to_vec(),
        }))
    }

    /// Zeros.
    pub fn zeros(shape: &[usize], dtype: DType) -> Self {
        Self::full(shape, 0.0, dtype)
    }

    /// Ones.
    pub fn ones(shape: &[usize], dtype: DType) -> Self {
        Self::full(shape, 1.0, dtype)
    }

    /// A rank-0 tensor.
    pub fn scalar(value: f64, dtype: DType) -> Self {
        Self::full(&[], value, dtype)
    }

    /// `full` with this tensor's shape, dtype and device.
    pub fn full_like(&self, value: f64) -> Result<Self> {
        Self::full(self.shape(), value, self.dtype()).to_device(self.device())
    }

    /// Zeros like `self`.
    pub fn zeros_like(&self) -> Result<Self> {
        self.full_like(0.0)
    }

    /// Ones like `self`.
    pub fn ones_like(&self) -> Result<Self> {
        self.full_like(1.0)
    }

    // ---- inspection --------------------------------------------------------------------

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.0.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.0.shape)
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.0.storage.dtype()
    }

    /// Device holding the data.
    pub fn device(&self) -> Device {
        self.0.storage.device()
    }

    /// The underlying storage.
    pub fn storage(&self) -> &Storage {
        &self.0.storage
    }

    /// Size of axis `axis`.
    pub fn dim(&self, axis: usize) -> Result<usize> {
        shape::check_axis("dim", axis, self.rank())?;
        Ok(self.0.shape[axis])
    }

    /// Whether two handles share the same data.
    pub fn same_data(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Copies all elements to the host as f64.
    pub fn to_vec_f64(&self) -> Result<Vec<f64>> {
        self.0.storage.to_f64_vec()
    }

    /// Copies all elements to the host as f32.
    pub fn to_vec_f32(&self) -> Result<Vec<f32>> {
        match self.to_device(Device::Cpu)?.to_dtype(DType::F32)?.storage() {
            Storage::Cpu(CpuStorage::F32(v)) => Ok(v.clone()),
            _ => unreachable!("converted to a CPU f32 tensor above"),
        }
    }

    /// The value of a one-element tensor.
    pub fn to_scalar(&self) -> Result<f64> {
        if self.numel() != 1 {
            bail!(
                "to_scalar",
                "tensor of shape {:?} is not a single value",
                self.shape()
            );
        }
        Ok(self.to_vec_f64()?[0])
    }

    /// Whether any element is NaN or infinite.
    pub fn has_non_finite(&self) -> Result<bool> {
        Ok(self.to_vec_f64()?.iter().any(|x| !x.is_finite()))
    }

    // ---- conversion --------------------------------------------------------------------

    /// Converts the element type.
    pub fn to_dtype(&self, dtype: DType) -> Result<Self> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        self.with_storage(self.0.storage.to_dtype(dtype)?, self.shape())
    }

    /// Copies to `device`.
    pub fn to_device(&self, device: Device) -> Result<Self> {
        if device == self.device() {
            return Ok(self.clone());
        }
        self.with_storage(self.0.storage.to_device(device)?, self.shape())
    }

    fn with_storage(&self, storage: Storage, shape: &[usize]) -> Result<Self> {
        Self::from_storage(storage, shape)
    }

    // ---- elementwise -------------------------------------------------------------------

    /// Applies an elementwise map.
    pub fn unary(&self, op: UnaryOp) -> Result<Self> {
        self.with_storage(self.0.storage.unary(op)?, self.shape())
    }

    /// Applies a broadcast binary map.
    pub fn binary(&self, op: BinaryOp, rhs: &Tensor) -> Result<Self> {
        let out = shape::broadcast_shapes("binary", self.shape(), rhs.shape())?;
        let s = self
            .0
            .storage
            .binary(op, self.shape(), &rhs.0.storage, rhs.shape(), &out)?;
        self.with_storage(s, &out)
    }

    /// `mask != 0 ? on_true : on_false`, all three broadcast together.
    pub fn where_cond(&self, on_true: &Tensor, on_false: &Tensor) -> Result<Self> {
        let s = shape::broadcast_shapes("where", self.shape(), on_true.shape())?;
        let s = shape::broadcast_shapes("where", &s, on_false.shape())?;
        let (m, t, f) = (
            self.broadcast_to(&s)?,
            on_true.broadcast_to(&s)?,
            on_false.broadcast_to(&s)?,
        );
        self.with_storage(m.0.storage.where_cond(&t.0.storage, &f.0.storage)?, &s)
    }

    /// 0 where `x <= 0`, else `self`, for `x` of `self`'s shape: ReLU's gradient
    /// (`threshold_backward` in PyTorch) in one pass; NaN in x passes `self`, as there.
    pub fn gate_positive(&self, x: &Tensor) -> Result<Self> {
        if x.shape() != self.shape() {
            bail!(
                "gate_positive",
                "shapes {:?} and {:?} differ",
                self.shape(),
                x.shape()
            );
        }
        let v = match (self.storage(), x.storage()) {
            (Storage::Cpu(CpuStorage::F32(g)), Storage::Cpu(CpuStorage::F32(x))) => {
                CpuStorage::F32(crate::cpu::elementwise::gate_positive(g, x))
            }
            (Storage::Cpu(CpuStorage::F64(g)), Storage::Cpu(CpuStorage::F64(x))) => {
                CpuStorage::F64(crate::cpu::elementwise::gate_positive(g, x))
            }
            _ => return self.mul(&x.le(&x.zeros_like()?)?.affine(-1.0, 1.0)?),
        };
        self.with_storage(Storage::Cpu(v), self.shape())
    }

    // ---- reductions --------------------------------------------------------------------

    fn reduce(&self, op: ReduceOp, axes: &[usize], keepdim: bool) -> Result<Self> {
        let mut axes = axes.to_vec();
        axes.sort_unstable();
        axes.dedup();
        for &a in &axes {
            shape::check_axis("reduce", a, self.rank())?;
        }
        let kept: Vec<usize> = self
            .shape()
            .iter()
            .enumerate()
            .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
            .collect();
        let r = self.with_storage(self.0.storage.reduce(op, self.shape(), &axes)?, &kept)?;
        if keepdim {
            Ok(r)
        } else {
            let squeezed: Vec<usize> = self
                .shape()
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &d)| d)
                .collect();
            r.reshape(&squeezed)
        }
    }

    /// Sum along `axes`.
    pub fn sum(&self, axes: &[usize], keepdim: bool) -> Result<Self> {
        self.reduce(ReduceOp::Sum, axes, keepdim)
    }

    /// Sum of all elements (rank 0).
    pub fn sum_all(&self) -> Result<Self> {
        self.sum(&(0..self.rank()).collect::<Vec<_>>(), false)
    }

    /// Mean along `axes`.
    pub fn mean(&self, axes: &[usize], keepdim: bool) -> Result<Self> {
        let s = self.sum(axes, keepdim)?;
        let n = self.numel() / s.numel().max(1);
        s.mul_scalar(1.0 / n.max(1) as f64)
    }

    /// Maximum along `axes`.
    pub fn max(&self, axes: &[usize], keepdim: bool) -> Result<Self> {
        self.reduce(ReduceOp::Max, axes, keepdim)
    }

    /// Minimum along `axes`.
    pub fn min(&self, axes: &[usize], keepdim: bool) -> Result<Self> {
        self.reduce(ReduceOp::Min, axes, keepdim)
    }

    /// Index of the maximum along `axis` (first on ties), as floats; `axis` is kept with size 1.
    pub fn argmax_keepdim(&self, axis: usize) -> Result<Self> {
        shape::check_axis("argmax", axis, self.rank())?;
        let mut s = self.shape().to_vec();
        s[axis] = 1;
        self.with_storage(self.0.storage.argmax(self.shape(), axis)?, &s)
    }

    /// Indices of the maximum along `axis`, as integers in row-major order of the other axes.
    pub fn argmax(&self, axis: usize) -> Result<Vec<usize>> {
        Ok(self
            .argmax_keepdim(axis)?
            .to_vec_f64()?
            .into_iter()
            .map(|x| x as usize)
            .collect())
    }

    /// Broadcasts (copies) to `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let out = shape::broadcast_shapes("broadcast_to", self.shape(), shape)?;
        if out != shape {
            return Err(Error::ShapeMismatch {
                op: "broadcast_to",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            });
        }
        self.with_storage(self.0.storage.broadcast_to(self.shape(), shape)?, shape)
    }

    /// Sums the axes that broadcasting stretched, so the result has `shape` (adjoint of
    /// [`broadcast_to`](Self::broadcast_to)).
    pub fn sum_to(&self, shape: &[usize]) -> Result<Self> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self
            .rank()
            .checked_sub(shape.len())
            .ok_or_else(|| Error::ShapeMismatch {
                op: "sum_to",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            })?;
        let mut axes: Vec<usize> = (0..lead).collect();
        for (i, &d) in shape.iter().enumerate() {
            let have = self.shape()[lead + i];
            if d == 1 && have != 1 {
                axes.push(lead + i);
            } else if d != have {
                return Err(Error::ShapeMismatch {
                    op: "sum_to",
                    lhs: self.shape().to_vec(),
                    rhs: shape.to_vec(),
                });
            }
        }
        self.sum(&axes, false)?.reshape(shape)
    }

    // ---- products ----------------------------------------------------------------------

    /// Matrix product: `[m, k] @ [k, n]`, or batched `[..., m, k] @ [..., k, n]` with equal
    /// batch axes (or one operand of rank 2, shared by the batch).
    pub fn matmul(&self, rhs: &Tensor) -> Result<Self> {
        let (a, b) = (self.shape(), rhs.shape());
        let mismatch = || Error::ShapeMismatch {
            op: "matmul",
            lhs: a.to_vec(),
            rhs: b.to_vec(),
        };
        if a.len() < 2 || b.len() < 2 || a[a.len() - 1] != b[b.len() - 2] {
            return Err(mismatch());
        }
        let (ab, bb) = (&a[..a.len() - 2], &b[..b.len() - 2]);
        let batch = if ab == bb || bb.is_empty() {
            ab.to_vec()
        } else if ab.is_empty() {
            bb.to_vec()
        } else {
            return Err(mismatch());
        };
        let (m, k, n) = (a[a.len() - 2], a[a.len() - 1], b[b.len() - 1]);
        let l = [numel(ab), m, k];
        let r = [numel(bb), k, n];
        let mut out = batch;
        out.extend([m, n]);
        self.with_storage(self.0.storage.matmul(l, &rhs.0.storage, r)?, &out)
    }

    // ---- layout ------------------------------------------------------------------------

    /// Same data, new shape with the same element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if numel(shape) != self.numel() {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            });
        }
        Ok(Self(Arc::new(Inner {
            storage: self.0.storage.clone(),
            shape: shape.to_vec(),
        })))
    }

    /// Reorders axes: result axis i is input axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Result<Self> {
        let mut seen = perm.to_vec();
        seen.sort_unstable();
        if seen != (0..self.rank()).collect::<Vec<_>>() {
            bail!(
                "permute",
                "{perm:?} is not a permutation of the axes of a rank-{} tensor",
                self.rank()
            );
        }
        let out: Vec<usize> = perm.iter().map(|&p| self.shape()[p]).collect();
        self.with_storage(self.0.storage.permute(self.shape(), perm)?, &out)
    }

    /// Swaps two axes.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Self> {
        shape::check_axis("transpose", a.max(b), self.rank())?;
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Transpose of the last two axes.
    pub fn t(&self) -> Result<Self> {
        if self.rank() < 2 {
            bail!("t", "needs rank ≥ 2, got {:?}", self.shape());
        }
        self.transpose(self.rank() - 2, self.rank() - 1)
    }

    /// `len` entries of `axis` starting at `start`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Self> {
        shape::check_axis("narrow", axis, self.rank())?;
        let (o, s, i) = shape::split_at_axis(self.shape(), axis);
        if start + len > s {
            bail!(
                "narrow",
                "range {start}..{} out of bounds for axis {axis} of size {s}",
                start + len
            );
        }
        let mut out = self.shape().to_vec();
        out[axis] = len;
        self.with_storage(self.0.storage.narrow([o, s, i], start, len)?, &out)
    }

    /// Places `self` at `start` of a zero tensor whose `axis` has size `size` (adjoint of narrow).
    pub fn pad_axis(&self, axis: usize, start: usize, size: usize) -> Result<Self> {
        shape::check_axis("pad_axis", axis, self.rank())?;
        let len = self.shape()[axis];
        if start + len > size {
            bail!("pad_axis", "{len} entries at {start} do not fit in {size}");
        }
        let block = |n: usize| -> Result<Tensor> {
            let mut s = self.shape().to_vec();
            s[axis] = n;
            Self::zeros(&s, self.dtype()).to_device(self.device())
        };
        Self::cat(
            &[block(start)?, self.clone(), block(size - start - len)?],
            axis,
        )
    }

    /// Concatenates along `axis`; other axes must agree.
    pub fn cat(parts: &[Tensor], axis: usize) -> Result<Self> {
        let first = parts.first().ok_or_else(|| Error::BadArgument {
            op: "cat",
            msg: "nothing to concatenate".into(),
        })?;
        shape::check_axis("cat", axis, first.rank())?;
        let mut out = first.shape().to_vec();
        out[axis] = 0;
        for p in parts {
            let same = p.rank() == first.rank()
                && p.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .all(|(i, (a, b))| i == axis || a == b);
            if !same {
                return Err(Error::ShapeMismatch {
                    op: "cat",
                    lhs: first.shape().to_vec(),
                    rhs: p.shape().to_vec(),
                });
            }
            out[axis] += p.shape()[axis];
        }
        let (outer, _, inner) = shape::split_at_axis(first.shape(), axis);
        let list: Vec<(&Storage, usize)> = parts
            .iter()
            .map(|p| (&p.0.storage, p.shape()[axis]))
            .collect();
        Self::from_storage(Storage::cat(&list, outer, inner)?, &out)
    }

    /// Entries `index` of `axis`.
    pub fn index_select(&self, axis: usize, index: &[usize]) -> Result<Self> {
        shape::check_axis("index_select", axis, self.rank())?;
        let (o, s, i) = shape::split_at_axis(self.shape(), axis);
        let mut out = self.shape().to_vec();
        out[axis] = index.len();
        self.with_storage(self.0.storage.index_select([o, s, i], index)?, &out)
    }

    /// Adjoint of index_select: adds entry j of `axis` into entry `index[j]` of a zero tensor
    /// whose `axis` has size `size`.
    pub fn index_add(&self, axis: usize, index: &[usize], size: usize) -> Result<Self> {
        shape::check_axis("index_add", axis, self.rank())?;
        let (o, l, i) = shape::split_at_axis(self.shape(), axis);
        if l != index.len() {
            bail!(
                "index_add",
                "{} indices for an axis of size {l}",
                index.len()
            );
        }
        let mut out = self.shape().to_vec();
        out[axis] = size;
        self.with_storage(self.0.storage.index_add([o, l, i], index, size)?, &out)
    }

    /// PyTorch's gather: `out[..., j, ...] = self[..., index[..., j, ...], ...]` along `axis`;
    /// `index` (integers stored as floats) has `self`'s shape except along `axis`.
    pub fn gather(&self, axis: usize, index: &Tensor) -> Result<Self> {
        self.check_index_shape("gather", axis, index)?;
        let (o, s, i) = shape::split_at_axis(self.shape(), axis);
        let len = index.shape()[axis];
        self.with_storage(
            self.0.storage.gather([o, s, i], &index.0.storage, len)?,
            index.shape(),
        )
    }

    /// Adjoint of gather: adds `self` into a zero tensor whose `axis` has size `size`.
    pub fn scatter_add(&self, axis: usize, index: &Tensor, size: usize) -> Result<Self> {
        self.check_index_shape("scatter_add", axis, index)?;
        if index.shape() != self.shape() {
            return Err(Error::ShapeMismatch {
                op: "scatter_add",
                lhs: self.shape().to_vec(),
                rhs: index.shape().to_vec(),
            });
        }
        let (o, l, i) = shape::split_at_axis(self.shape(), axis);
        let mut out = self.shape().to_vec();
        out[axis] = size;
        self.with_storage(
            self.0
                .storage
                .scatter_add([o, l, i], &index.0.storage, size)?,
            &out,
        )
    }

    fn check_index_shape(&self, op: &'static str, axis: usize, index: &Tensor) -> Result<()> {
        shape::check_axis(op, axis, self.rank())?;
        let ok = index.rank() == self.rank()
            && index
                .shape()
                .iter()
                .zip(self.shape())
                .enumerate()
                .all(|(d, (a, b))| d == axis || a == b);
        if !ok {
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape().to_vec(),
                rhs: index.shape().to_vec(),
            });
        }
        Ok(())
    }

    // ---- softmax -----------------------------------------------------------------------

    /// Numerically stable softmax along `axis` (max subtracted first).
    pub fn softmax(&self, axis: usize) -> Result<Self> {
        self.softmax_impl(axis, false)
    }

    /// Numerically stable log-softmax along `axis`.
    pub fn log_softmax(&self, axis: usize) -> Result<Self> {
        self.softmax_impl(axis, true)
    }

    fn softmax_impl(&self, axis: usize, log: bool) -> Result<Self> {
        shape::check_axis("softmax", axis, self.rank())?;
        let (o, s, i) = shape::split_at_axis(self.shape(), axis);
        self.with_storage(self.0.storage.softmax([o, s, i], log)?, self.shape())
    }

    // ---- convolution and pooling -------------------------------------------------------

    pub(crate) fn dims4(&self, op: &'static str) -> Result<[usize; 4]> {
        match *self.shape() {
            [n, c, h, w] => Ok([n, c, h, w]),
            _ => bail!(
                op,
                "expects an [N, C, H, W] tensor, got shape {:?}",
                self.shape()
            ),
        }
    }

    /// 2-D cross-correlation (PyTorch's conv2d, no bias): `self: [N, C, H, W]`,
    /// `weight: [O, C, kh, kw]` → `[N, O, Ho, Wo]`, `Ho = ⌊(H + 2p − d(kh − 1) − 1)/s⌋ + 1`.
    pub fn conv2d(&self, weight: &Tensor, p: Conv2dParams) -> Result<Self> {
        self.conv2d_biased(weight, None, p)
    }

    /// [`conv2d`](Self::conv2d) plus a per-channel `bias: [O]`; on the CPU the bias is added
    /// as the product is written (no second pass).
    pub fn conv2d_biased(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        p: Conv2dParams,
    ) -> Result<Self> {
        let x = self.dims4("conv2d")?;
        let w = weight.dims4("conv2d")?;
        if x[1] != w[1] {
            bail!(
                "conv2d",
                "input has {} channels but the weight expects {} (weight shape {:?})",
                x[1],
                w[1],
                weight.shape()
            );
        }
        let (oh, ow) = match (p.out_size(0, x[2], w[2]), p.out_size(1, x[3], w[3])) {
            (Some(a), Some(b)) => (a, b),
            _ => bail!(
                "conv2d",
                "a {}x{} kernel does not fit a {}x{} input with {p:?}",
                w[2],
                w[3],
                x[2],
                x[3]
            ),
        };
        if let Some(b) = bias {
            if b.shape() != [w[0]] {
                bail!(
                    "conv2d",
                    "bias of shape {:?} for {} output channels",
                    b.shape(),
                    w[0]
                );
            }
        }
        let out = [x[0], w[0], oh, ow];
        let direct = match (self.storage(), weight.storage(), bias.map(|b| b.storage())) {
            (
                Storage::Cpu(CpuStorage::F32(a)),
                Storage::Cpu(CpuStorage::F32(k)),
                Some(Storage::Cpu(CpuStorage::F32(b))),
            ) => Some(CpuStorage::F32(crate::cpu::conv::conv2d(
                a,
                x,
                k,
                w,
                p,
                [oh, ow],
                Some(b),
            ))),
            (
                Storage::Cpu(CpuStorage::F64(a)),
                Storage::Cpu(CpuStorage::F64(k)),
                Some(Storage::Cpu(CpuStorage::F64(b))),
            ) => Some(CpuStorage::F64(crate::cpu::conv::conv2d(
                a,
                x,
                k,
                w,
                p,
                [oh, ow],
                Some(b),
            ))),
            _ => None,
        };
        if let Some(v) = direct {
            return self.with_storage(Storage::Cpu(v), &out);
        }
        let s = self
            .0
            .storage
            .conv2d(x, &weight.0.storage, w, p, [oh, ow])?;
        let y = self.with_storage(s, &out)?;
        match bias {
            Some(b) => y.add(&b.reshape(&[1, w[0], 1, 1])?),
            None => Ok(y),
        }
    }

    /// Gradient of [`conv2d`](Self::conv2d) with respect to its input, for upstream `self`
    /// of shape `[N, O, Ho, Wo]` and an input of spatial size `in_hw` (a transposed convolution).
    /// `in_hw` and `Ho×Wo` must be the two sides of the convolution as
    /// [`Conv2dParams::fits`] says (which admits a transposed convolution's output padding).
    pub fn conv2d_input_grad(
        &self,
        weight: &Tensor,
        p: Conv2dParams,
        in_hw: [usize; 2],
    ) -> Result<Self> {
        let g = self.dims4("conv2d_input_grad")?;
        let w = weight.dims4("conv2d_input_grad")?;
        if g[1] != w[0] || !p.fits(0, in_hw[0], w[2], g[2]) || !p.fits(1, in_hw[1], w[3], g[3]) {
            return Err(Error::ShapeMismatch {
                op: "conv2d_input_grad",
                lhs: g.to_vec(),
                rhs: w.to_vec(),
            });
        }
        let s = self
            .0
            .storage
            .conv2d_input_grad(g, &weight.0.storage, w, p, in_hw)?;
        self.with_storage(s, &[g[0], w[1], in_hw[0], in_hw[1]])
    }

    /// Gradient of [`conv2d`](Self::conv2d) with respect to its weight: input `self`,
    /// upstream `grad: [N, O, Ho, Wo]`, kernel size `k_hw` → `[O, C, kh, kw]`; the spatial
    /// sizes must fit as for [`conv2d_input_grad`](Self::conv2d_input_grad).
    pub fn conv2d_weight_grad(
        &self,
        grad: &Tensor,
        p: Conv2dParams,
        k_hw: [usize; 2],
    ) -> Result<Self> {
        let x = self.dims4("conv2d_weight_grad")?;
        let g = grad.dims4("conv2d_weight_grad")?;
        if x[0] != g[0] || !p.fits(0, x[2], k_hw[0], g[2]) || !p.fits(1, x[3], k_hw[1], g[3]) {
            return Err(Error::ShapeMismatch {
                op: "conv2d_weight_grad",
                lhs: x.to_vec(),
                rhs: g.to_vec(),
            });
        }
        let s = self
            .0
            .storage
            .conv2d_weight_grad(x, &grad.0.storage, g, p, k_hw)?;
        self.with_storage(s, &[g[1], x[1], k_hw[0], k_hw[1]])
    }

    /// Both gradients of [`conv2d`](Self::conv2d) from the upstream `self: [N, O, Ho, Wo]`:
    /// (input gradient `[N, C, H, W]`, weight gradient `[O, C, kh, kw]`) of the convolution of
    /// `input` with `weight` — the values of [`conv2d_input_grad`](Self::conv2d_input_grad) and
    /// [`conv2d_weight_grad`](Self::conv2d_weight_grad), computed in one pass where the backend
    /// fuses them (the CPU does).
    pub fn conv2d_backward(
        &self,
        input: &Tensor,
        weight: &Tensor,
        p: Conv2dParams,
    ) -> Result<(Self, Self)> {
        let g = self.dims4("conv2d_backward")?;
        let x = input.dims4("conv2d_backward")?;
        let w = weight.dims4("conv2d_backward")?;
        let fits = g[0] == x[0]
            && g[1] == w[0]
            && x[1] == w[1]
            && p.fits(0, x[2], w[2], g[2])
            && p.fits(1, x[3], w[3], g[3]);
        if !fits {
            return Err(Error::ShapeMismatch {
                op: "conv2d_backward",
                lhs: g.to_vec(),
                rhs: x.to_vec(),
            });
        }
        let (dx, dw) =
            self.0
                .storage
                .conv2d_backward(g, &input.0.storage, x, &weight.0.storage, w, p)?;
        Ok((self.with_storage(dx, &x)?, self.with_storage(dw, &w)?))
    }

    /// Transposed convolution (PyTorch's `conv_transpose2d`, no bias, groups = 1):
    /// `self: [N, C_in, H, W]`, `weight: [C_in, C_out, kh, kw]` → `[N, C_out, Ho, Wo]` with
    /// `Ho = (H − 1)·s − 2p + d(kh − 1) + op + 1`. It is
    /// [`conv2d_input_grad`](Self::conv2d_input_grad) of the convolution with this weight and
    /// `p.conv()` onto a `Ho×Wo` input, so it runs on every device with the convolution's
    /// kernels (CPU, CUDA and its host emulator).
    ///
    /// **Errors** if the ranks or channels do not match, or the sizes are refused by
    /// [`ConvTranspose2dParams::out_size`].
    pub fn conv_transpose2d(&self, weight: &Tensor, p: ConvTranspose2dParams) -> Result<Self> {
        let x = self.dims4("conv_transpose2d")?;
        let w = weight.dims4("conv_transpose2d")?;
        if x[1] != w[0] {
            bail!(
                "conv_transpose2d",
                "input has {} channels but the weight expects {} (weight shape {:?})",
                x[1],
                w[0],
                weight.shape()
            );
        }
        let out = [p.out_size(0, x[2], w[2])?, p.out_size(1, x[3], w[3])?];
        shape::alloc_numel("conv_transpose2d", &[x[0], w[1], out[0], out[1]])?;
        self.conv2d_input_grad(weight, p.conv(), out)
    }

    /// Max pooling (no padding, floor mode). Returns the values and, per output, the flat
    /// in-plane index `y·W + x` of the winner (first on ties) as floats.
    pub fn max_pool2d(&self, p: Pool2dParams) -> Result<(Self, Self)> {
        let x = self.dims4("max_pool2d")?;
        let bins = PoolBins::fixed([x[2], x[3]], p).ok_or_else(|| Error::BadArgument {
            op: "max_pool2d",
            msg: format!("window {p:?} does not fit a {}x{} input", x[2], x[3]),
        })?;
        let o = [bins.h.len(), bins.w.len()];
        let (v, i) = self.0.storage.max_pool2d(x, p, o)?;
        let s = [x[0], x[1], o[0], o[1]];
        Ok((self.with_storage(v, &s)?, self.with_storage(i, &s)?))
    }

    /// Mean over each window of `bins` (average and adaptive average pooling).
    pub fn avg_pool_bins(&self, bins: &PoolBins) -> Result<Self> {
        let x = self.dims4("avg_pool2d")?;
        let fits = bins.h.iter().all(|&(a, b)| a < b && b <= x[2])
            && bins.w.iter().all(|&(a, b)| a < b && b <= x[3]);
        if !fits {
            bail!(
                "avg_pool2d",
                "pooling windows do not fit a {}x{} input",
                x[2],
                x[3]
            );
        }
        let s = self.0.storage.avg_pool2d(x, bins)?;
        self.with_storage(s, &[x[0], x[1], bins.h.len(), bins.w.len()])
    }

    /// Adjoint of [`avg_pool_bins`](Self::avg_pool_bins) onto an `in_hw` plane.
    pub fn avg_pool_bins_backward(&self, bins: &PoolBins, in_hw: [usize; 2]) -> Result<Self> {
        let g = self.dims4("avg_pool2d_backward")?;
        let fits = bins.h.iter().all(|&(a, b)| a < b && b <= in_hw[0])
            && bins.w.iter().all(|&(a, b)| a < b && b <= in_hw[1]);
        if !fits || g[2] != bins.h.len() || g[3] != bins.w.len() {
            bail!(
                "avg_pool2d_backward",
                "gradient {:?} does not match the pooling windows",
                self.shape()
            );
        }
        let s = self.0.storage.avg_pool2d_backward(g, bins, in_hw)?;
        self.with_storage(s, &[g[0], g[1], in_hw[0], in_hw[1]])
    }

    /// Average pooling (no padding, floor mode).
    pub fn avg_pool2d(&self, p: Pool2dParams) -> Result<Self> {
        let x = self.dims4("avg_pool2d")?;
        let bins = PoolBins::fixed([x[2], x[3]], p).ok_or_else(|| Error::BadArgument {
            op: "avg_pool2d",
            msg: format!("window {p:?} does not fit a {}x{} input", x[2], x[3]),
        })?;
        self.avg_pool_bins(&bins)
    }

    /// Adaptive average pooling to `out` (PyTorch's bins).
    pub fn adaptive_avg_pool2d(&self, out: [usize; 2]) -> Result<Self> {
        let x = self.dims4("adaptive_avg_pool2d")?;
        let bins = PoolBins::adaptive([x[2], x[3]], out).ok_or_else(|| Error::BadArgument {
            op: "adaptive_avg_pool2d",
            msg: format!("cannot pool {}x{} to {out:?}", x[2], x[3]),
        })?;
        self.avg_pool_bins(&bins)
    }
}

/// Named elementwise ops, one line each.
macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {
        impl Tensor {
            $($(#[$doc])* pub fn $name(&self) -> Result<Self> { self.unary($op) })*
        }
    };
}

unary_methods! {
    /// −x.
    neg => UnaryOp::Neg;
    /// eˣ.
    exp => UnaryOp::Exp;
    /// ln x.
    log => UnaryOp::Log;
    /// √x.
    sqrt => UnaryOp::Sqrt;
    /// |x|.
    abs => UnaryOp::Abs;
    /// sign(x) ∈ {−1, 0, 1}.
    sign => UnaryOp::Sign;
    /// max(x, 0).
    relu => UnaryOp::Relu;
    /// 1 where x > 0, else 0.
    step => UnaryOp::Step;
    /// 1 / (1 + e⁻ˣ).
    sigmoid => UnaryOp::Sigmoid;
    /// tanh x.
    tanh => UnaryOp::Tanh;
    /// ln(1 + eˣ).
    softplus => UnaryOp::Softplus;
    /// 1 / x.
    recip => UnaryOp::Recip;
    /// x².
    square => UnaryOp::Square;
}

macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {
        impl Tensor {
            $($(#[$doc])* pub fn $name(&self, rhs: &Tensor) -> Result<Self> { self.binary($op, rhs) })*
        }
    };
}

binary_methods! {
    /// Broadcast sum.
    add => BinaryOp::Add;
    /// Broadcast difference.
    sub => BinaryOp::Sub;
    /// Broadcast product.
    mul => BinaryOp::Mul;
    /// Broadcast quotient.
    div => BinaryOp::Div;
    /// Broadcast elementwise maximum.
    maximum => BinaryOp::Maximum;
    /// Broadcast elementwise minimum.
    minimum => BinaryOp::Minimum;
    /// 1 where lhs > rhs.
    gt => BinaryOp::Gt;
    /// 1 where lhs ≥ rhs.
    ge => BinaryOp::Ge;
    /// 1 where lhs < rhs.
    lt => BinaryOp::Lt;
    /// 1 where lhs ≤ rhs.
    le => BinaryOp::Le;
    /// 1 where lhs = rhs.
    eq_mask => BinaryOp::Eq;
}

impl Tensor {
    /// xᵖ.
    pub fn powf(&self, p: f64) -> Result<Self> {
        self.unary(UnaryOp::Powf(p))
    }
    /// a·x + b.
    pub fn affine(&self, a: f64, b: f64) -> Result<Self> {
        self.unary(UnaryOp::Affine(a, b))
    }
    /// x + c.
    pub fn add_scalar(&self, c: f64) -> Result<Self> {
        self.affine(1.0, c)
    }
    /// c·x.
    pub fn mul_scalar(&self, c: f64) -> Result<Self> {
        self.affine(c, 0.0)
    }
    /// Leaky ReLU with `slope` for x ≤ 0.
    pub fn leaky_relu(&self, slope: f64) -> Result<Self> {
        self.unary(UnaryOp::LeakyRelu(slope))
    }
    /// Clamps to `[lo, hi]`.
    pub fn clamp(&self, lo: f64, hi: f64) -> Result<Self> {
        self.unary(UnaryOp::Clamp(lo, hi))
    }
    /// 1 where x > c.
    pub fn gt_scalar(&self, c: f64) -> Result<Self> {
        self.unary(UnaryOp::GtScalar(c))
    }
}
