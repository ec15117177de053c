//! Matrix products through BLAS (OpenBLAS, single-threaded; rayon splits the work).

use crate::Elem;
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};
use rayon::prelude::*;
use std::sync::Once;

extern "C" {
    fn openblas_set_num_threads(n: std::os::raw::c_int);
}

/// Rows per parallel task of a large product: fixed, so results never depend on thread count.
const ROWS_PER_TASK: usize = 128;

/// rayon owns the cores; OpenBLAS runs one thread per call (no oversubscription).
pub(crate) fn init_blas() {
    static ONCE: Once = Once::new();
    // SAFETY: a plain setter exported by the OpenBLAS we link; called once before any gemm.
    ONCE.call_once(|| {
        unsafe { openblas_set_num_threads(1) };
        super::tune_allocator();
    });
}

/// A row-major `rows × cols` matrix, optionally read transposed.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub trans: bool,
}

impl<'a, T: Elem> Mat<'a, T> {
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            trans: false,
        }
    }
    pub fn t(self) -> Self {
        Self {
            trans: !self.trans,
            ..self
        }
    }
    fn view(&self) -> ArrayView2<'a, T> {
        if self.trans {
            ArrayView2::from_shape((self.cols, self.rows).f(), self.data)
                .expect("matrix buffer length")
        } else {
            ArrayView2::from_shape((self.rows, self.cols), self.data).expect("matrix buffer length")
        }
    }
    /// Shape as read (after the optional transpose).
    fn dims(&self) -> (usize, usize) {
        if self.trans {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }
}

/// `c = a·b + beta·c` on one thread (BLAS), with `c` row-major.
pub(crate) fn gemm<T: Elem>(a: Mat<T>, b: Mat<T>, beta: T, c: &mut [T]) {
    init_blas();
    let (m, _) = a.dims();
    let (_, n) = b.dims();
    let mut cv = ArrayViewMut2::from_shape((m, n), c).expect("output buffer length");
    general_mat_mul(T::one(), &a.view(), &b.view(), beta, &mut cv);
}

/// `c = a·b`, split across rayon by fixed blocks of rows of `a` (not transposed).
pub(crate) fn gemm_par<T: Elem>(a: &[T], m: usize, k: usize, b: Mat<T>, c: &mut [T]) {
    let n = b.dims().1;
    if m <= ROWS_PER_TASK || n == 0 || m * k * n < super::PAR_WORK {
        return gemm(Mat::new(a, m, k), b, T::zero(), c);
    }
    c.par_chunks_mut(ROWS_PER_TASK * n)
        .enumerate()
        .for_each(|(i, cc)| {
            let rows = cc.len() / n;
            let start = i * ROWS_PER_TASK * k;
            gemm(
                Mat::new(&a[start..start + rows * k], rows, k),
                b,
                T::zero(),
                cc,
            );
        });
}

/// Batched `[ba, m, k] @ [bb, k, n]`; a batch of 1 is shared.
pub(crate) fn batched<T: Elem>(
    a: &[T],
    [ba, m, k]: [usize; 3],
    b: &[T],
    [bb, _, n]: [usize; 3],
) -> Vec<T> {
    let batch = ba.max(bb);
    let mut out = vec![T::zero(); batch * m * n];
    if batch == 1 {
        gemm_par(a, m, k, Mat::new(b, k, n), &mut out);
        return out;
    }
    super::for_each_chunk(
        &mut out,
        m * n,
        batch * m * k * n >= super::PAR_WORK,
        |i, c| {
            let ai = if ba == 1 { 0 } else { i };
            let bi = if bb == 1 { 0 } else { i };
            let am = Mat::new(&a[ai * m * k..(ai + 1) * m * k], m, k);
            let bm = Mat::new(&b[bi * k * n..(bi + 1) * k * n], k, n);
            gemm(am, bm, T::zero(), c);
        },
    );
    out
}
