//! Runs work over a batch in chunks, in parallel, results concatenated in order: every method
//! sends its inputs (or steps, samples, perturbations) through the model this way.

use crate::Result;
use rayon::prelude::*;
use xai_tensor::Tensor;

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
        return f(x, 0);
    }
    let parts: Vec<Tensor> = (0..n.div_ceil(bs))
        .into_par_iter()
        .map(|i| {
            let start = i * bs;
            f(&x.narrow(0, start, bs.min(n - start))?, start)
        })
        .collect::<Result<_>>()?;
    Ok(Tensor::cat(&parts, 0)?)
}
