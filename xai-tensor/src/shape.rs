//! Shape arithmetic: element counts, strides, broadcasting.

use crate::{Error, Result};

/// Number of elements of a shape (1 for a scalar); `usize::MAX` when the product overflows,
/// so an overflowing shape never equals the length of real data (no tensor can be built with
/// it) and never wraps to a small count. Readers of declared shapes use [`checked_numel`].
pub fn numel(shape: &[usize]) -> usize {
    checked_numel(shape).unwrap_or(usize::MAX)
}

/// Number of elements of a shape, or `None` when the product overflows `usize` (a shape with
/// a zero axis has 0 elements, however large the others).
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// Number of elements of a shape an op is about to allocate.
///
/// **Errors** if the product, at 8 bytes an element, exceeds `isize::MAX` bytes (what an
/// allocation can address): a huge stride, padding or scale factor is an error, not a panic.
pub fn alloc_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    let n = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    match n {
        Some(n) if n.checked_mul(8).is_some_and(|b| b <= isize::MAX as usize) => Ok(n),
        _ => crate::bail!(op, "a tensor of shape {shape:?} has too many elements"),
    }
}

/// Row-major (C order) strides of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The NumPy broadcast of two shapes (aligned on the right; a size-1 axis stretches).
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: a.to_vec(),
                    rhs: b.to_vec(),
                })
            }
        };
    }
    Ok(out)
}

/// Strides with which `shape` is read when broadcast to `out` (0 on stretched axes).
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = strides(shape);
    let off = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < off || shape[i - off] == 1 {
                0
            } else {
                own[i - off]
            }
        })
        .collect()
}

/// Splits `shape` around `axis` into (outer, size, inner) element counts.
pub fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        numel(&shape[..axis]),
        shape[axis],
        numel(&shape[axis + 1..]),
    )
}

/// Checks that `axis` is a valid axis of a rank-`rank` tensor.
pub fn check_axis(op: &'static str, axis: usize, rank: usize) -> Result<()> {
    if axis >= rank {
        crate::bail!(op, "axis {axis} out of range for a tensor of rank {rank}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_shapes_never_wrap_to_a_small_count() {
        let big = 1usize << (usize::BITS / 2);
        assert_eq!(checked_numel(&[big, big]), None);
        assert_eq!(numel(&[big, big]), usize::MAX);
        assert_eq!(checked_numel(&[big, big, 0]), Some(0));
        assert_eq!((numel(&[]), numel(&[2, 3, 4])), (1, 24));
        // So no tensor claims that shape over the few values a wrapped product would allow.
        let e = crate::Tensor::from_vec(Vec::<f32>::new(), &[big, big, 1]).unwrap_err();
        assert!(e.to_string().contains("cannot have shape"), "{e}");
        let e = crate::Tensor::from_vec(vec![0f32; 4], &[2, 2])
            .unwrap()
            .reshape(&[4, big, big]);
        assert!(e.is_err());
    }

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(
            broadcast_shapes("t", &[2, 1, 3], &[4, 1]).unwrap(),
            vec![2, 4, 3]
        );
        assert_eq!(broadcast_shapes("t", &[], &[5]).unwrap(), vec![5]);
        assert!(broadcast_shapes("t", &[2, 3], &[4]).is_err());
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), vec![0, 1, 0]);
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
    }
}
