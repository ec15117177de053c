//! Runs work over a batch in chunks, in parallel, results concatenated in order: every method
//! sends its inputs (or steps, samples, perturbations) through the model this way.

use crate::Result;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use xai_autodiff::RecordingContext;
use xai_tensor::Tensor;

static ROWS_DONE: AtomicU64 = AtomicU64::new(0);

/// Rows that [`map_batches`] has run through its function so far in this process (all
/// threads): a live count for progress displays.
pub fn rows_done() -> u64 {
    ROWS_DONE.load(Ordering::Relaxed)
}

/// Splits `x` along axis 0 into chunks of `batch_size`, runs `f(chunk, first_index)` on each
/// in parallel (rayon), and concatenates the results along axis 0. Deterministic: the chunking
/// depends only on `batch_size`.
pub fn map_batches(
    x: &Tensor,
    batch_size: usize,
    f: impl Fn(&Tensor, usize) -> Result<Tensor> + Sync,
) -> Result<Tensor> {
    let n = x.shape()[0];
    let bs = batch_size.max(1);
    if n <= bs {
        let out = f(x, 0);
        ROWS_DONE.fetch_add(n as u64, Ordering::Relaxed);
        return out;
    }
    // Each chunk runs under the caller's grad mode and scope, whichever worker takes it.
    let ctx = RecordingContext::current();
    let parts: Vec<Tensor> = (0..n.div_ceil(bs))
        .into_par_iter()
        .map(|i| {
            let start = i * bs;
            let len = bs.min(n - start);
            let out = ctx.enter(|| f(&x.narrow(0, start, len)?, start));
            ROWS_DONE.fetch_add(len as u64, Ordering::Relaxed);
            out
        })
        .collect::<Result<_>>()?;
    Ok(Tensor::cat(&parts, 0)?)
}

/// Runs `work` on the row ranges `0..rows` in chunks of `batch_size`, in parallel waves of
/// [`WAVE_PER_THREAD`] chunks per rayon thread, and hands each result to `consume` in row
/// order (so accumulations are deterministic and only one wave of results is held at a time).
/// Chunks per rayon thread in one wave of [`run_rows`]: each wave ends in a barrier (threads
/// park and wake), so a wave should hold several chunks per thread; results of one wave are
/// held at once.
const WAVE_PER_THREAD: usize = 8;

pub(crate) fn run_rows<T: Send>(
    rows: usize,
    batch_size: usize,
    work: impl Fn(Range<usize>) -> Result<T> + Sync,
    mut consume: impl FnMut(Range<usize>, T) -> Result<()>,
) -> Result<()> {
    let bs = batch_size.max(1);
    let chunks: Vec<Range<usize>> = (0..rows)
        .step_by(bs)
        .map(|s| s..(s + bs).min(rows))
        .collect();
    let wave = rayon::current_num_threads().max(1) * WAVE_PER_THREAD;
    // Each chunk runs under the caller's grad mode and scope, whichever worker takes it.
    let ctx = RecordingContext::current();
    for group in chunks.chunks(wave) {
        let results: Vec<T> = if group.len() == 1 {
            vec![work(group[0].clone())?]
        } else {
            group
                .par_iter()
                .map(|r| ctx.enter(|| work(r.clone())))
                .collect::<Result<_>>()?
        };
        for (r, t) in group.iter().zip(results) {
            consume(r.clone(), t)?;
        }
    }
    Ok(())
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
    fn map_batches_keeps_order_and_counts_rows() {
        let x = Tensor::from_vec((0..10).map(|i| i as f32).collect::<Vec<_>>(), &[10, 1]).unwrap();
        let before = rows_done();
        let y = map_batches(&x, 3, |c, start| {
            assert_eq!(c.to_vec_f32()?[0], start as f32);
            Ok(c.clone())
        })
        .unwrap();
        assert_eq!(y.to_vec_f32().unwrap(), x.to_vec_f32().unwrap());
        // Other tests may run batches meanwhile: at least these 10 rows were counted.
        assert!(rows_done() - before >= 10);
    }
}
