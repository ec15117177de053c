//! Separable resampling of the two spatial axes of `[N, C, H, W]` tensors: nearest and
//! bilinear upsampling as PyTorch's `F.interpolate` computes them (`mode='nearest'`;
//! `mode='bilinear'`, with or without `align_corners`), and its adjoint, their gradient.
//!
//! Both modes are separable, `out = A_h · x · A_wᵀ` per plane, with one sparse matrix per axis
//! ([`AxisTaps`]: one or two taps per output). A matrix is applied with
//! [`index_select`](Tensor::index_select), a broadcast product and a sum, its transpose with
//! [`index_add`](Tensor::index_add). So there are no kernels of their own: they run on every
//! device (CPU, CUDA and its host emulator) in O(output) work, and a NaN or an infinity
//! reaches only the outputs that read it (a dense product would spread `0·∞` over a row).
//!
//! PyTorch's index arithmetic (`ATen/native/UpSample.h`), for output `i` of an axis of `n`
//! inputs and `m` outputs, with `r = 1/scale_factor` when a scale is given, else `r = n/m`:
//!
//! - **nearest**: `src = min(⌊i·r⌋, n − 1)`, in f32 whatever the dtype; `src = i` when `m = n`
//!   and `src = ⌊i/2⌋` when `m = 2n`.
//! - **bilinear**: the coordinate `x = max(r·(i + ½) − ½, 0)`, or with `align_corners`
//!   `x = i·(n − 1)/(m − 1)` (0 when `m = 1`); `i₀ = min(⌊x⌋, n − 1)`, `i₁ = i₀ + [i₀ < n − 1]`,
//!   `λ₁ = clamp(x − i₀, 0, 1)`, `λ₀ = 1 − λ₁`, `out[i] = λ₀·in[i₀] + λ₁·in[i₁]`; the identity
//!   when `m = n`. Computed in the tensor's precision (f32 for f32), the floor taken of `x`
//!   rounded to f32 (PyTorch's `floorf`); W is interpolated first, then H, as PyTorch does.

use crate::shape;
use crate::{bail, DType, Elem, Result, Tensor};

/// How large the output of an upsampling is: PyTorch's `size` or `scale_factor`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UpsampleSize {
    /// `[H_out, W_out]`; source coordinates scale by `n/m`.
    Size([usize; 2]),
    /// Factors `[s_h, s_w]`, finite and positive: `m = ⌊n·s⌋`, and source coordinates scale by
    /// `1/s` (PyTorch's `scale_factor` with `recompute_scale_factor` off, its default).
    Scale([f64; 2]),
}

impl UpsampleSize {
    /// The output size of an `in_hw` plane.
    ///
    /// **Errors** if a side of `in_hw` or of the output is 0, a scale factor is not finite and
    /// positive, or the output has too many elements.
    pub fn resolve(&self, in_hw: [usize; 2]) -> Result<[usize; 2]> {
        Ok(self.resolve_with_scales(in_hw)?.0)
    }

    /// The output size, and the scale factors PyTorch hands its kernel (none for a size).
    fn resolve_with_scales(&self, in_hw: [usize; 2]) -> Result<([usize; 2], [Option<f64>; 2])> {
        let op = "upsample";
        if in_hw.contains(&0) {
            bail!(
                op,
                "cannot resample an empty {}x{} plane",
                in_hw[0],
                in_hw[1]
            );
        }
        let (out, scales) = match *self {
            UpsampleSize::Size(s) => (s, [None; 2]),
            UpsampleSize::Scale(f) => {
                if !f.iter().all(|s| s.is_finite() && *s > 0.0) {
                    bail!(op, "scale factors must be finite and positive, got {f:?}");
                }
                // Saturating: a size beyond usize is refused by the element count below.
                let side = |a: usize| (in_hw[a] as f64 * f[a]).floor() as usize;
                ([side(0), side(1)], [Some(f[0]), Some(f[1])])
            }
        };
        if out.contains(&0) {
            bail!(
                op,
                "{self:?} of a {}x{} plane has an empty side {out:?}",
                in_hw[0],
                in_hw[1]
            );
        }
        shape::alloc_numel(op, &out)?;
        Ok((out, scales))
    }
}

/// One axis of a separable resampling: the inputs each output reads, and their weights.
#[derive(Clone, Debug, PartialEq)]
pub enum AxisTaps {
    /// `out[i] = in[i]`.
    Identity,
    /// `out[i] = in[index[i]]`.
    Nearest(Vec<usize>),
    /// `out[i] = λ₀[i]·in[i₀[i]] + λ₁[i]·in[i₁[i]]` (weights in f64, exact for an f32 plan).
    Linear {
        i0: Vec<usize>,
        i1: Vec<usize>,
        l0: Vec<f64>,
        l1: Vec<f64>,
    },
}

impl AxisTaps {
    /// PyTorch's nearest source indices for `m` outputs of `n` inputs.
    fn nearest(n: usize, m: usize, scale: Option<f64>) -> Self {
        if m == n {
            return AxisTaps::Identity;
        }
        if n.checked_mul(2) == Some(m) {
            return AxisTaps::Nearest((0..m).map(|i| i >> 1).collect());
        }
        let r = match scale {
            Some(s) if s > 0.0 => (1.0 / s) as f32,
            _ => n as f32 / m as f32,
        };
        AxisTaps::Nearest(
            (0..m)
                .map(|i| ((i as f32 * r).floor() as usize).min(n - 1))
                .collect(),
        )
    }

    /// PyTorch's linear indices and weights for `m` outputs of `n` inputs, in `T`'s precision.
    fn linear<T: Elem>(n: usize, m: usize, align_corners: bool, scale: Option<f64>) -> Self {
        if m == n {
            return AxisTaps::Identity;
        }
        let f = |i: usize| T::from_f64(i as f64);
        let ratio = match (align_corners, scale) {
            (true, _) if m > 1 => f(n - 1) / f(m - 1),
            (true, _) => T::zero(),
            (false, Some(s)) if s > 0.0 => T::from_f64(1.0 / s),
            (false, _) => f(n) / f(m),
        };
        let half = T::from_f64(0.5);
        let (mut i0, mut i1) = (Vec::with_capacity(m), Vec::with_capacity(m));
        let (mut l0, mut l1) = (Vec::with_capacity(m), Vec::with_capacity(m));
        for i in 0..m {
            let x = if align_corners {
                ratio * f(i)
            } else {
                (ratio * (f(i) + half) - half).max(T::zero())
            };
            let lo = ((x.to_f64() as f32).floor() as usize).min(n - 1);
            let lambda = (x - f(lo)).max(T::zero()).min(T::one());
            i0.push(lo);
            i1.push(lo + usize::from(lo < n - 1));
            l1.push(lambda.to_f64());
            l0.push((T::one() - lambda).to_f64());
        }
        AxisTaps::Linear { i0, i1, l0, l1 }
    }

    /// The weights `l` as a tensor broadcasting along `axis` (2 or 3) of `like`.
    fn weights(like: &Tensor, axis: usize, l: &[f64]) -> Result<Tensor> {
        let shape: &[usize] = if axis == 2 { &[l.len(), 1] } else { &[l.len()] };
        Tensor::from_slice(l, shape)?
            .to_dtype(like.dtype())?
            .to_device(like.device())
    }

    /// This axis's matrix applied along `axis` of `x`.
    fn apply(&self, x: &Tensor, axis: usize) -> Result<Tensor> {
        match self {
            AxisTaps::Identity => Ok(x.clone()),
            AxisTaps::Nearest(index) => x.index_select(axis, index),
            AxisTaps::Linear { i0, i1, l0, l1 } => {
                let a = x
                    .index_select(axis, i0)?
                    .mul(&Self::weights(x, axis, l0)?)?;
                a.add(
                    &x.index_select(axis, i1)?
                        .mul(&Self::weights(x, axis, l1)?)?,
                )
            }
        }
    }

    /// The transpose of this axis's matrix applied along `axis` of `g`, onto `n` inputs.
    fn adjoint(&self, g: &Tensor, axis: usize, n: usize) -> Result<Tensor> {
        match self {
            AxisTaps::Identity => Ok(g.clone()),
            AxisTaps::Nearest(index) => g.index_add(axis, index, n),
            AxisTaps::Linear { i0, i1, l0, l1 } => {
                let a = g
                    .mul(&Self::weights(g, axis, l0)?)?
                    .index_add(axis, i0, n)?;
                a.add(
                    &g.mul(&Self::weights(g, axis, l1)?)?
                        .index_add(axis, i1, n)?,
                )
            }
        }
    }
}

/// A separable resampling of `in_hw` planes to `out_hw` ones (PyTorch's nearest or bilinear
/// interpolation, see the module documentation), built once per input size and applied with
/// [`Tensor::resample2d`]; its transpose is [`Tensor::resample2d_adjoint`].
#[derive(Clone, Debug, PartialEq)]
pub struct Resample2d {
    in_hw: [usize; 2],
    out_hw: [usize; 2],
    taps: [AxisTaps; 2],
}

impl Resample2d {
    /// PyTorch's `F.interpolate(mode='nearest')` of an `in_hw` plane:
    /// `out[y, x] = in[min(⌊y·r_h⌋, H − 1), min(⌊x·r_w⌋, W − 1)]`.
    ///
    /// **Errors** as [`UpsampleSize::resolve`].
    pub fn nearest(in_hw: [usize; 2], size: UpsampleSize) -> Result<Self> {
        let (out_hw, s) = size.resolve_with_scales(in_hw)?;
        let taps = [0, 1].map(|a| AxisTaps::nearest(in_hw[a], out_hw[a], s[a]));
        Ok(Self {
            in_hw,
            out_hw,
            taps,
        })
    }

    /// PyTorch's `F.interpolate(mode='bilinear', align_corners)` of an `in_hw` plane, its
    /// coordinates and weights computed in `dtype`'s precision as PyTorch's are.
    ///
    /// **Errors** as [`UpsampleSize::resolve`].
    pub fn bilinear(
        in_hw: [usize; 2],
        size: UpsampleSize,
        align_corners: bool,
        dtype: DType,
    ) -> Result<Self> {
        let (out_hw, s) = size.resolve_with_scales(in_hw)?;
        let taps = [0, 1].map(|a| match dtype {
            DType::F32 => AxisTaps::linear::<f32>(in_hw[a], out_hw[a], align_corners, s[a]),
            DType::F64 => AxisTaps::linear::<f64>(in_hw[a], out_hw[a], align_corners, s[a]),
        });
        Ok(Self {
            in_hw,
            out_hw,
            taps,
        })
    }

    /// The input plane `[H, W]`.
    pub fn in_hw(&self) -> [usize; 2] {
        self.in_hw
    }

    /// The output plane `[H_out, W_out]`.
    pub fn out_hw(&self) -> [usize; 2] {
        self.out_hw
    }

    /// The taps along H (`axis = 0`) or W (`axis = 1`).
    ///
    /// **Panics** if `axis > 1`.
    pub fn taps(&self, axis: usize) -> &AxisTaps {
        &self.taps[axis]
    }
}

impl Tensor {
    /// PyTorch's `F.interpolate(self, size, mode='nearest')` of `self: [N, C, H, W]`:
    /// `out[y, x] = in[min(⌊y·r_h⌋, H − 1), min(⌊x·r_w⌋, W − 1)]` with `r = 1/scale_factor`
    /// for [`UpsampleSize::Scale`], else `r = in/out` (see [`resample`](crate::resample)).
    /// Runs on every device (index copies only).
    ///
    /// **Errors** if `self` is not rank 4, or as [`UpsampleSize::resolve`].
    pub fn upsample_nearest2d(&self, size: UpsampleSize) -> Result<Self> {
        let hw = self.plane_for("upsample_nearest2d", size)?;
        self.resample2d(&Resample2d::nearest(hw, size)?)
    }

    /// PyTorch's `F.interpolate(self, size, mode='bilinear', align_corners)` of
    /// `self: [N, C, H, W]`: `out[y, x] = Σ λ_h·λ_w·in[i_h, i_w]` over the two taps of each axis,
    /// with the coordinates of [`resample`](crate::resample). Runs on every device.
    ///
    /// **Errors** if `self` is not rank 4, or as [`UpsampleSize::resolve`].
    pub fn upsample_bilinear2d(&self, size: UpsampleSize, align_corners: bool) -> Result<Self> {
        let hw = self.plane_for("upsample_bilinear2d", size)?;
        self.resample2d(&Resample2d::bilinear(
            hw,
            size,
            align_corners,
            self.dtype(),
        )?)
    }

    /// The `[H, W]` plane of `self`, once the output of upsampling it to `size` is known to
    /// have a countable number of elements.
    fn plane_for(&self, op: &'static str, size: UpsampleSize) -> Result<[usize; 2]> {
        let x = self.dims4(op)?;
        let out = size.resolve([x[2], x[3]])?;
        shape::alloc_numel(op, &[x[0], x[1], out[0], out[1]])?;
        Ok([x[2], x[3]])
    }

    /// `plan` applied to `self: [N, C, H, W]` with `[H, W] = plan.in_hw()`: `A_h · x · A_wᵀ`
    /// per plane → `[N, C, H_out, W_out]`.
    ///
    /// **Errors** if `self` is not rank 4 or its plane is not `plan.in_hw()`.
    pub fn resample2d(&self, plan: &Resample2d) -> Result<Self> {
        let x = self.dims4("resample2d")?;
        if [x[2], x[3]] != plan.in_hw {
            bail!(
                "resample2d",
                "a plan for {:?} planes applied to a tensor of shape {:?}",
                plan.in_hw,
                self.shape()
            );
        }
        shape::alloc_numel("resample2d", &[x[0], x[1], plan.out_hw[0], plan.out_hw[1]])?;
        let t = plan.taps[1].apply(self, 3)?;
        plan.taps[0].apply(&t, 2)
    }

    /// The transpose of [`resample2d`](Self::resample2d) (its gradient): `g = self` of shape
    /// `[N, C, H_out, W_out]` → `A_hᵀ · g · A_w`, `[N, C, H, W]`. Each input pixel receives the
    /// upstream of every output that reads it, times its weight there (for nearest, the sum
    /// over its copies).
    ///
    /// **Errors** if `self` is not rank 4 or its plane is not `plan.out_hw()`.
    pub fn resample2d_adjoint(&self, plan: &Resample2d) -> Result<Self> {
        let g = self.dims4("resample2d_adjoint")?;
        if [g[2], g[3]] != plan.out_hw {
            bail!(
                "resample2d_adjoint",
                "a plan to {:?} planes applied to a gradient of shape {:?}",
                plan.out_hw,
                self.shape()
            );
        }
        let t = plan.taps[0].adjoint(self, 2, plan.in_hw[0])?;
        plan.taps[1].adjoint(&t, 3, plan.in_hw[1])
    }
}
