//! The one chunk engine: every method (and metric) sends its rows — examples, path steps,
//! samples, perturbations — through the model as [`Chunks`] of `batch_size` rows, run in
//! parallel waves, their results handed back in row order. [`map_rows`] is the engine over a
//! tensor's rows; [`host_batch`] builds a chunk's input on the host, row by row.

use crate::Result;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use xai_autodiff::RecordingContext;
use xai_tensor::Tensor;

static ROWS_DONE: AtomicU64 = AtomicU64::new(0);

/// Rows that the chunk engine ([`Chunks::run`]) has run through its work so far in this
/// process (all threads): a live count for progress displays.
pub fn rows_done() -> u64 {
    ROWS_DONE.load(Ordering::Relaxed)
}

/// Chunks per rayon thread in one wave of [`Chunks::run`]: each wave ends in a barrier
/// (threads park and wake), so a wave should hold several chunks per thread; the results of
/// one wave are held at once.
const WAVE_PER_THREAD: usize = 8;

/// Rows `0..rows` of some work cut into chunks of `batch_size` rows (the last one shorter):
/// the chunking depends on nothing else (not on the thread count), so every result built from
/// the chunks in row order is deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunks {
    rows: usize,
    batch_size: usize,
}

impl Chunks {
    /// `rows` rows in chunks of `batch_size` (taken as 1 if 0).
    pub fn new(rows: usize, batch_size: usize) -> Self {
        Self {
            rows,
            batch_size: batch_size.max(1),
        }
    }

    /// The row range of each chunk, in order.
    pub fn ranges(&self) -> impl Iterator<Item = Range<usize>> {
        let (rows, bs) = (self.rows, self.batch_size);
        (0..rows).step_by(bs).map(move |s| s..(s + bs).min(rows))
    }

    /// The engine: runs `work` on each chunk's rows, in parallel (rayon) in waves of a few
    /// chunks per thread (8), and hands each result to `consume` in row order
    /// (so accumulations are deterministic, and only one wave of results is held at a time).
    /// A single chunk runs on the calling thread. Every task runs under the caller's grad mode
    /// and scope ([`RecordingContext`]), whichever worker takes it: a rayon worker that waits
    /// inside a parallel op steals queued tasks, and would otherwise run one under the flags
    /// of whatever it was doing (a `no_grad` of another caller) and record nothing.
    ///
    /// **Errors** with the first error of `work` or `consume`, in row order.
    pub fn run<T: Send>(
        &self,
        work: impl Fn(Range<usize>) -> Result<T> + Sync,
        mut consume: impl FnMut(Range<usize>, T) -> Result<()>,
    ) -> Result<()> {
        let chunks: Vec<Range<usize>> = self.ranges().collect();
        let counted = |r: Range<usize>| {
            let len = r.len() as u64;
            let out = work(r);
            ROWS_DONE.fetch_add(len, Ordering::Relaxed);
            out
        };
        if let [one] = &chunks[..] {
            return consume(one.clone(), counted(one.clone())?);
        }
        let wave = rayon::current_num_threads().max(1) * WAVE_PER_THREAD;
        let ctx = RecordingContext::current();
        for group in chunks.chunks(wave) {
            let results: Vec<T> = group
                .par_iter()
                .map(|r| ctx.enter(|| counted(r.clone())))
                .collect::<Result<_>>()?;
            for (r, t) in group.iter().zip(results) {
                consume(r.clone(), t)?;
            }
        }
        Ok(())
    }

    /// The tensors `work` gives for the chunks, concatenated along axis 0 in row order. With
    /// no rows, `work` runs once on the empty range (so the result keeps its shape beyond
    /// axis 0).
    ///
    /// **Errors** as [`Chunks::run`], or if the results do not concatenate.
    pub fn concat(&self, work: impl Fn(Range<usize>) -> Result<Tensor> + Sync) -> Result<Tensor> {
        if self.rows == 0 {
            return work(0..0);
        }
        let mut parts = Vec::new();
        self.run(work, |_, t| {
            parts.push(t);
            Ok(())
        })?;
        if parts.len() == 1 {
            return Ok(parts.swap_remove(0));
        }
        Ok(Tensor::cat(&parts, 0)?)
    }
}

/// `f(chunk, rows)` on the chunks of `x`'s rows (axis 0; `rows` is the chunk's range in `x`),
/// run by the engine ([`Chunks::concat`]) and concatenated along axis 0 in row order. A batch
/// of no rows goes through `f` as it is, once.
///
/// ```
/// use xai_passive::map_rows;
/// use xai_tensor::Tensor;
///
/// let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0], &[5, 1])?;
/// let y = map_rows(&x, 2, |chunk, rows| {
///     assert_eq!(chunk.shape()[0], rows.len());
///     Ok(chunk.mul_scalar(10.0)?)
/// })?;
/// assert_eq!(y.to_vec_f32()?, [10.0, 20.0, 30.0, 40.0, 50.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn map_rows(
    x: &Tensor,
    batch_size: usize,
    f: impl Fn(&Tensor, Range<usize>) -> Result<Tensor> + Sync,
) -> Result<Tensor> {
    let n = x.shape()[0];
    Chunks::new(n, batch_size).concat(|rows| {
        if rows.len() == n {
            f(x, rows)
        } else {
            f(&x.narrow(0, rows.start, rows.len())?, rows)
        }
    })
}

/// The input `[rows.len(), ...example]` of one chunk, built on the host: `fill(r, row)` writes
/// row `r` (one example, flat, zeroed) in row order.
pub(crate) fn host_batch(
    rows: Range<usize>,
    example: &[usize],
    mut fill: impl FnMut(usize, &mut [f32]),
) -> Result<Tensor> {
    let f: usize = example.iter().product();
    let mut v = vec![0.0f32; rows.len() * f];
    for (r, row) in rows.clone().zip(v.chunks_mut(f.max(1))) {
        fill(r, row);
    }
    Ok(Tensor::from_vec(v, &batch_shape(rows.len(), example))?)
}

/// Shape `[rows, ...example]`.
pub(crate) fn batch_shape(rows: usize, example: &[usize]) -> Vec<usize> {
    let mut s = vec![rows];
    s.extend(example);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_row_order_and_count_rows() {
        let c = Chunks::new(10, 3);
        assert_eq!(c.ranges().collect::<Vec<_>>(), [0..3, 3..6, 6..9, 9..10]);
        assert_eq!(Chunks::new(0, 0).ranges().count(), 0);
        let x = Tensor::from_vec((0..10).map(|i| i as f32).collect::<Vec<_>>(), &[10, 1]).unwrap();
        let before = rows_done();
        let y = map_rows(&x, 3, |c, rows| {
            assert_eq!(c.to_vec_f32()?[0], rows.start as f32);
            Ok(c.clone())
        })
        .unwrap();
        assert_eq!(y.to_vec_f32().unwrap(), x.to_vec_f32().unwrap());
        // Other tests may run batches meanwhile: at least these 10 rows were counted.
        assert!(rows_done() - before >= 10);
        // Many waves, consumed in row order.
        let mut seen = Vec::new();
        Chunks::new(1000, 1)
            .run(
                |r| Ok(r.start),
                |r, s| {
                    assert_eq!(r.start, s);
                    seen.push(s);
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        let b = host_batch(2..4, &[1, 2], |r, row| row.fill(r as f32)).unwrap();
        assert_eq!(b.shape(), [2, 1, 2]);
        assert_eq!(b.to_vec_f32().unwrap(), [2.0, 2.0, 3.0, 3.0]);
    }
}
