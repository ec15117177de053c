//! Per-channel statistics and affine maps of `[N, C, ...]` tensors (axis 1 the channel), one
//! pass each: what batch normalisation (Ioffe & Szegedy 2015) needs in training, forward and
//! backward, instead of a chain of broadcast ops and permuted reductions.
//!
//! On the CPU each is one hand-written kernel, its sums taken in f64 in a fixed order (so the
//! bits never depend on the thread count); on other devices they are composed of the
//! tensor's ordinary ops.

use crate::cpu::{channel, CpuStorage};
use crate::{bail, DType, Device, Result, Storage, Tensor};

impl Tensor {
    /// `[N, C, inner]` of a tensor of rank ≥ 2, the channel axis 1.
    fn channel_dims(&self, op: &'static str) -> Result<[usize; 3]> {
        match self.shape() {
            [n, c, rest @ ..] => Ok([*n, *c, rest.iter().product()]),
            s => bail!(op, "expects an [N, C, ...] tensor, got shape {s:?}"),
        }
    }

    /// Axes summed over by the per-channel ops: all but 1.
    fn non_channel_axes(&self) -> Vec<usize> {
        [0].into_iter().chain(2..self.rank()).collect()
    }

    /// A `[C]` tensor of `self`'s dtype and device.
    fn channel_vector(&self, v: Vec<f64>) -> Result<Tensor> {
        let n = v.len();
        Tensor::from_vec(v, &[n])?
            .to_dtype(self.dtype())?
            .to_device(self.device())
    }

    /// Broadcast shape `[1, C, 1, ...]` of a `[C]` vector against `self`.
    fn channel_shape(&self) -> Vec<usize> {
        let mut s = vec![1; self.rank()];
        s[1] = self.shape()[1];
        s
    }

    fn check_channel_vector(&self, op: &'static str, v: &Tensor) -> Result<()> {
        if v.shape() != [self.shape()[1]] {
            bail!(
                op,
                "expects a [{}] vector for the channels of {:?}, got shape {:?}",
                self.shape()[1],
                self.shape(),
                v.shape()
            );
        }
        Ok(())
    }

    /// Per-channel mean `μ_c = (1/M) Σ x` and biased variance `σ²_c = (1/M) Σ (x − μ_c)²`
    /// over every axis but 1 (`M = N · H · W`), as two `[C]` tensors: batch normalisation's
    /// training statistics.
    pub fn channel_moments(&self) -> Result<(Tensor, Tensor)> {
        let dims = self.channel_dims("channel_moments")?;
        let (mean, var) = match self.storage() {
            Storage::Cpu(CpuStorage::F32(v)) => channel::moments(v, dims),
            Storage::Cpu(CpuStorage::F64(v)) => channel::moments(v, dims),
            Storage::Cuda(_) => {
                let axes = self.non_channel_axes();
                let mean = self.mean(&axes, true)?;
                let var = self.sub(&mean)?.square()?.mean(&axes, false)?;
                return Ok((mean.reshape(&[dims[1]])?, var));
            }
        };
        Ok((self.channel_vector(mean)?, self.channel_vector(var)?))
    }

    /// Per-channel `Σ self` and `Σ self · other` over every axis but 1, as two `[C]` tensors
    /// (`other` of `self`'s shape): the sums of batch normalisation's backward pass.
    pub fn channel_sums(&self, other: &Tensor) -> Result<(Tensor, Tensor)> {
        let dims = self.channel_dims("channel_sums")?;
        if other.shape() != self.shape() {
            bail!(
                "channel_sums",
                "shapes {:?} and {:?} differ",
                self.shape(),
                other.shape()
            );
        }
        let (s, sx) = match (self.storage(), other.storage()) {
            (Storage::Cpu(CpuStorage::F32(g)), Storage::Cpu(CpuStorage::F32(x))) => {
                channel::sums(g, x, dims)
            }
            (Storage::Cpu(CpuStorage::F64(g)), Storage::Cpu(CpuStorage::F64(x))) => {
                channel::sums(g, x, dims)
            }
            _ => {
                let axes = self.non_channel_axes();
                return Ok((self.sum(&axes, false)?, self.mul(other)?.sum(&axes, false)?));
            }
        };
        Ok((self.channel_vector(s)?, self.channel_vector(sx)?))
    }

    /// `self · p_c + r_c`, or with `other = Some((b, m, q))` `self · p_c + (b − m_c) · q_c +
    /// r_c`, for `[C]` vectors along axis 1: one pass. Batch normalisation's forward map
    /// `x · γ/σ + (β − μ γ/σ)` and its input gradient `g · γ/σ + (x − μ) · q + r` are both of
    /// this form.
    pub fn channel_affine(
        &self,
        p: &Tensor,
        r: &Tensor,
        other: Option<(&Tensor, &Tensor, &Tensor)>,
    ) -> Result<Tensor> {
        let op = "channel_affine";
        let dims = self.channel_dims(op)?;
        self.check_channel_vector(op, p)?;
        self.check_channel_vector(op, r)?;
        if let Some((b, m, q)) = other {
            self.check_channel_vector(op, m)?;
            self.check_channel_vector(op, q)?;
            if b.shape() != self.shape() {
                bail!(op, "shapes {:?} and {:?} differ", self.shape(), b.shape());
            }
        }
        let mut all = vec![self, p, r];
        if let Some((b, m, q)) = other {
            all.extend([b, m, q]);
        }
        let fast = all
            .iter()
            .all(|t| t.dtype() == self.dtype() && t.device() == Device::Cpu);
        if !fast {
            let cs = self.channel_shape();
            let mut y = self.mul(&p.reshape(&cs)?)?.add(&r.reshape(&cs)?)?;
            if let Some((b, m, q)) = other {
                y = y.add(&b.sub(&m.reshape(&cs)?)?.mul(&q.reshape(&cs)?)?)?;
            }
            return Ok(y);
        }
        fn slice<T: crate::Elem>(t: &Tensor) -> &[T] {
            let any: &dyn std::any::Any = match t.storage() {
                Storage::Cpu(CpuStorage::F32(v)) => v,
                Storage::Cpu(CpuStorage::F64(v)) => v,
                Storage::Cuda(_) => unreachable!("checked on the CPU above"),
            };
            any.downcast_ref::<Vec<T>>()
                .map(|v| &v[..])
                .expect("dtypes checked equal above")
        }
        fn run<T: crate::Elem>(
            a: &Tensor,
            p: &Tensor,
            r: &Tensor,
            other: Option<(&Tensor, &Tensor, &Tensor)>,
            dims: [usize; 3],
        ) -> Vec<T> {
            let other = other.map(|(b, m, q)| (slice::<T>(b), slice::<T>(m), slice::<T>(q)));
            channel::affine(slice::<T>(a), other, dims, slice::<T>(p), slice::<T>(r))
        }
        let storage = match self.dtype() {
            DType::F32 => CpuStorage::F32(run::<f32>(self, p, r, other, dims)),
            DType::F64 => CpuStorage::F64(run::<f64>(self, p, r, other, dims)),
        };
        Tensor::from_storage(Storage::Cpu(storage), self.shape())
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    fn close(a: &Tensor, b: &Tensor, tol: f64) {
        let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    fn sample(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0 + 3.0)
            .collect();
        Tensor::from_vec(v, shape).unwrap()
    }

    #[test]
    fn moments_equal_the_composed_mean_and_variance() {
        for shape in [&[5, 3, 4, 6][..], &[7, 2], &[2, 3, 5]] {
            let x = sample(shape);
            let axes: Vec<usize> = [0].into_iter().chain(2..shape.len()).collect();
            let (m, v) = x.channel_moments().unwrap();
            let mean = x.mean(&axes, true).unwrap();
            let var = x
                .sub(&mean)
                .unwrap()
                .square()
                .unwrap()
                .mean(&axes, false)
                .unwrap();
            close(&m, &mean.reshape(&[shape[1]]).unwrap(), 1e-12);
            close(&v, &var, 1e-12);
            let x32 = x.to_dtype(crate::DType::F32).unwrap();
            let (m32, v32) = x32.channel_moments().unwrap();
            assert_eq!(m32.dtype(), crate::DType::F32);
            close(&m32, &m, 1e-6);
            close(&v32, &v, 1e-6);
        }
    }

    #[test]
    fn sums_and_affine_equal_their_broadcast_definitions() {
        // The second shape is large enough to run in parallel.
        for shape in [[4, 3, 5, 2], [64, 3, 30, 30]] {
            sums_and_affine(shape);
        }
    }

    fn sums_and_affine(shape: [usize; 4]) {
        let (g, x) = (sample(&shape), sample(&shape).affine(0.5, -1.0).unwrap());
        let (s, sx) = g.channel_sums(&x).unwrap();
        close(&s, &g.sum(&[0, 2, 3], false).unwrap(), 1e-12);
        close(
            &sx,
            &g.mul(&x).unwrap().sum(&[0, 2, 3], false).unwrap(),
            1e-12,
        );
        let p = Tensor::from_vec(vec![0.5, -2.0, 3.0], &[3]).unwrap();
        let q = Tensor::from_vec(vec![1.5, 0.25, -1.0], &[3]).unwrap();
        let r = Tensor::from_vec(vec![-1.0, 4.0, 0.0], &[3]).unwrap();
        let m = Tensor::from_vec(vec![0.5, 1.0, -2.0], &[3]).unwrap();
        let cs = [1, 3, 1, 1];
        let want = g
            .mul(&p.reshape(&cs).unwrap())
            .unwrap()
            .add(
                &x.sub(&m.reshape(&cs).unwrap())
                    .unwrap()
                    .mul(&q.reshape(&cs).unwrap())
                    .unwrap(),
            )
            .unwrap()
            .add(&r.reshape(&cs).unwrap())
            .unwrap();
        close(
            &g.channel_affine(&p, &r, Some((&x, &m, &q))).unwrap(),
            &want,
            1e-14,
        );
        let want1 = g
            .mul(&p.reshape(&cs).unwrap())
            .unwrap()
            .add(&r.reshape(&cs).unwrap())
            .unwrap();
        close(&g.channel_affine(&p, &r, None).unwrap(), &want1, 1e-14);
        assert!(g
            .channel_affine(&p.reshape(&[1, 3]).unwrap(), &r, None)
            .is_err());
        assert!(Tensor::from_vec(vec![1.0], &[1])
            .unwrap()
            .channel_moments()
            .is_err());
    }
}
