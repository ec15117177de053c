//! Seeded random tensors from the Philox4x32-10 counter-based generator (Salmon et al.,
//! *Parallel random numbers: as easy as 1, 2, 3*, SC 2011). Element i of draw s depends only
//! on (seed, s, i): results never depend on thread count or launch shape, and a CUDA kernel can
//! reproduce them bit for bit.

use crate::{DType, Device, Result, Tensor};

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox4x32 with 10 rounds: four 32-bit outputs for a 128-bit counter and a 64-bit key.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for _ in 0..10 {
        let p0 = (M0 as u64) * (c[0] as u64);
        let p1 = (M1 as u64) * (c[2] as u64);
        c = [
            ((p1 >> 32) as u32) ^ c[1] ^ k[0],
            p1 as u32,
            ((p0 >> 32) as u32) ^ c[3] ^ k[1],
            p0 as u32,
        ];
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
    }
    c
}

/// A seeded source of random tensors. Each draw uses a fresh stream, so draws are independent
/// and the sequence of draws is reproducible from the seed.
#[derive(Clone, Debug)]
pub struct Rng {
    seed: u64,
    stream: u64,
    device: Device,
}

/// A distribution of [`Rng`]'s draws, as the CUDA kernel takes it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Dist {
    Uniform(f64, f64),
    Normal(f64, f64),
    Bernoulli(f64),
}

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            stream: 0,
            device: Device::Cpu,
        }
    }

    /// The same generator drawing its tensors on `device` (a CUDA device draws with the same
    /// Philox counters: uniform and Bernoulli values are bit-identical to the CPU's, normal
    /// ones equal up to the device's `log`/`cos`/`sin` rounding).
    pub fn on_device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// A draw on a CUDA device: the next stream, filled by the `random` kernel.
    fn device_draw(
        &mut self,
        ordinal: usize,
        shape: &[usize],
        dist: Dist,
        dtype: DType,
    ) -> Result<Tensor> {
        let stream = self.next_stream();
        let s = crate::cuda::random(ordinal, self.seed, stream, dist, shape, dtype)?;
        Tensor::from_storage(crate::Storage::Cuda(s), shape)
    }

    fn next_stream(&mut self) -> u64 {
        self.stream += 1;
        self.stream
    }

    /// Two 53-bit uniforms in [0, 1) for element pair `block` of `stream`.
    fn uniform_pair(&self, stream: u64, block: u64) -> [f64; 2] {
        let r = philox4x32(
            [
                block as u32,
                (block >> 32) as u32,
                stream as u32,
                (stream >> 32) as u32,
            ],
            [self.seed as u32, (self.seed >> 32) as u32],
        );
        let u = |hi: u32, lo: u32| {
            ((((hi as u64) << 32) | lo as u64) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
        };
        [u(r[0], r[1]), u(r[2], r[3])]
    }

    /// Element pair `b` depends only on (seed, stream, b), so large fills run on rayon with a
    /// result independent of the thread count.
    fn fill(&mut self, n: usize, f: impl Fn([f64; 2]) -> [f64; 2] + Sync) -> Vec<f64> {
        use rayon::prelude::*;
        /// Pairs per parallel task.
        const PAIRS: usize = 1 << 14;
        let s = self.next_stream();
        let mut out = vec![0.0; n.div_ceil(2) * 2];
        let run = |(c, dst): (usize, &mut [f64])| {
            for (j, pair) in dst.chunks_exact_mut(2).enumerate() {
                pair.copy_from_slice(&f(self.uniform_pair(s, (c * PAIRS + j) as u64)));
            }
        };
        if n >= crate::cpu::PAR_MIN {
            out.par_chunks_mut(2 * PAIRS).enumerate().for_each(run);
        } else {
            out.chunks_mut(2 * PAIRS).enumerate().for_each(run);
        }
        out.truncate(n);
        out
    }

    fn tensor(v: Vec<f64>, shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::from_vec(v, shape)?.to_dtype(dtype)
    }

    /// A tensor of `shape` drawn from `dist`, on this generator's device.
    fn draw(&mut self, shape: &[usize], dist: Dist, dtype: DType) -> Result<Tensor> {
        if let Device::Cuda(i) = self.device {
            return self.device_draw(i, shape, dist, dtype);
        }
        let n = crate::shape::numel(shape);
        let v = match dist {
            Dist::Uniform(lo, hi) => {
                self.fill(n, |[a, b]| [lo + (hi - lo) * a, lo + (hi - lo) * b])
            }
            Dist::Normal(mean, std) => self.fill(n, |u| box_muller(u, mean, std)),
            Dist::Bernoulli(p) => {
                self.fill(n, |[a, b]| [(a < p) as u8 as f64, (b < p) as u8 as f64])
            }
        };
        Self::tensor(v, shape, dtype)
    }

    /// Uniform on [lo, hi).
    pub fn uniform(&mut self, shape: &[usize], lo: f64, hi: f64, dtype: DType) -> Result<Tensor> {
        self.draw(shape, Dist::Uniform(lo, hi), dtype)
    }

    /// A normal draw too large to hold at once, taken in parts: reserves the next stream, as
    /// [`normal`](Self::normal) would; [`NormalDraw::part`] gives any range of the values that
    /// `normal` with that many values would have drawn (on the CPU).
    pub fn normal_draw(&mut self, mean: f64, std: f64) -> NormalDraw {
        NormalDraw {
            rng: Rng::new(self.seed),
            stream: self.next_stream(),
            mean,
            std,
        }
    }

    /// Normal with mean `mean` and standard deviation `std` (Box–Muller).
    pub fn normal(&mut self, shape: &[usize], mean: f64, std: f64, dtype: DType) -> Result<Tensor> {
        self.draw(shape, Dist::Normal(mean, std), dtype)
    }

    /// 1 with probability `p`, else 0.
    pub fn bernoulli(&mut self, shape: &[usize], p: f64, dtype: DType) -> Result<Tensor> {
        self.draw(shape, Dist::Bernoulli(p), dtype)
    }

    /// A uniform integer in `0..n` (n > 0), for host-side sampling such as shuffles.
    pub fn below(&mut self, n: usize) -> usize {
        let s = self.next_stream();
        ((self.uniform_pair(s, 0)[0] * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// A seeded Fisher–Yates permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let s = self.next_stream();
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let u = self.uniform_pair(s, i as u64)[0];
            p.swap(i, ((u * (i + 1) as f64) as usize).min(i));
        }
        p
    }
}

/// Two normal values from two uniforms in [0, 1) (Box–Muller).
fn box_muller([a, b]: [f64; 2], mean: f64, std: f64) -> [f64; 2] {
    let r = (-2.0 * (1.0 - a).ln()).sqrt();
    let t = 2.0 * std::f64::consts::PI * b;
    [mean + std * r * t.cos(), mean + std * r * t.sin()]
}

/// One normal draw of [`Rng`], read in parts ([`Rng::normal_draw`]).
#[derive(Clone, Debug)]
pub struct NormalDraw {
    rng: Rng,
    stream: u64,
    mean: f64,
    std: f64,
}

impl NormalDraw {
    /// Values `offset..offset + len` of the draw: element k is the one [`Rng::normal`] puts at
    /// flat index k, whatever the parts.
    pub fn part(&self, offset: usize, len: usize) -> Vec<f64> {
        use rayon::prelude::*;
        let (first, last) = (offset / 2, (offset + len).div_ceil(2));
        let pair = |b: usize| {
            box_muller(
                self.rng.uniform_pair(self.stream, b as u64),
                self.mean,
                self.std,
            )
        };
        let pairs: Vec<[f64; 2]> = if len >= crate::cpu::PAR_MIN {
            (first..last).into_par_iter().map(pair).collect()
        } else {
            (first..last).map(pair).collect()
        };
        let skip = offset - 2 * first;
        pairs.into_iter().flatten().skip(skip).take(len).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_normal_draw_read_in_parts_gives_the_values_of_one_draw() {
        let n = 40_001;
        let mut a = Rng::new(9);
        let _ = a.uniform(&[3], 0.0, 1.0, DType::F64).unwrap(); // draws keep their order
        let whole = a
            .normal(&[n], 0.5, 2.0, DType::F64)
            .unwrap()
            .to_vec_f64()
            .unwrap();
        let mut b = Rng::new(9);
        let _ = b.uniform(&[3], 0.0, 1.0, DType::F64).unwrap();
        let draw = b.normal_draw(0.5, 2.0);
        let mut parts = Vec::new();
        // Odd and even offsets, one value, a parallel-sized part, the tail.
        for (at, len) in [(0, 7), (7, 1), (8, 33_000), (33_008, 6_993)] {
            assert_eq!(parts.len(), at);
            parts.extend(draw.part(at, len));
        }
        assert_eq!(parts, whole);
        assert!(draw.part(5, 0).is_empty());
    }

    #[test]
    fn philox_matches_the_published_known_answer() {
        // Random123's kat_vectors: philox4x32_10, counter and key all ones (0xffffffff).
        let r = philox4x32([u32::MAX; 4], [u32::MAX; 2]);
        assert_eq!(r, [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
        let r = philox4x32([0; 4], [0; 2]);
        assert_eq!(r, [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    }

    #[test]
    fn same_seed_same_numbers_and_sane_moments() {
        let a = Rng::new(7)
            .normal(&[10001], 0.0, 1.0, DType::F64)
            .unwrap()
            .to_vec_f64()
            .unwrap();
        let b = Rng::new(7)
            .normal(&[10001], 0.0, 1.0, DType::F64)
            .unwrap()
            .to_vec_f64()
            .unwrap();
        assert_eq!(a, b);
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        let var = a.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / a.len() as f64;
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
            "mean {mean} var {var}"
        );
        let c = Rng::new(8)
            .normal(&[10], 0.0, 1.0, DType::F64)
            .unwrap()
            .to_vec_f64()
            .unwrap();
        assert_ne!(a[..10], c[..]);
        let mut p = Rng::new(3).permutation(50);
        p.sort_unstable();
        assert_eq!(p, (0..50).collect::<Vec<_>>());
    }
}
