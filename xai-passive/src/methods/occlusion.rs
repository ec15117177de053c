//! Occlusion (Zeiler & Fergus, *Visualizing and Understanding Convolutional Networks*, ECCV
//! 2014; Captum's `Occlusion`): a window of shape `w` slides over the example with strides
//! `s` (start positions 0, s, 2s, … up to ⌈(D − w)/s⌉·s on each axis, the last window clipped
//! at the border, as Captum); each window is replaced by the baseline b and
//! aⱼ(x) = (1/|Wⱼ|) Σ_{W ∈ Wⱼ} [f_c(x) − f_c(x with W replaced by b)],
//! the mean output drop over the set Wⱼ of windows covering feature j (0 for a feature that no
//! window covers, where Captum gives NaN). Needs only `Forward`.

use super::perturbation::eval_rows;
use crate::attribution::{Attribution, Explanation};
use crate::baseline::Baseline;
use crate::config::{at_least_one, bad, MethodConfig};
use crate::DEFAULT_BATCH_SIZE;
use crate::{PassiveError, Result};
use xai_nn::Forward;
use xai_tensor::{DType, Tensor};

/// Occlusion with `window` / `stride` and `baseline`; every window position of every example
/// goes through the model as rows of one batch, in chunks of `batch_size`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Occlusion {
    /// The sliding window: `HxW` or `C,H,W`, or `N` for flat inputs (missing leading axes
    /// span the example; required).
    pub window: Option<String>,
    /// Its strides, the same form (default 1 on every axis).
    pub stride: Option<String>,
    /// What an occluded window becomes.
    pub baseline: Baseline,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for Occlusion {
    fn default() -> Self {
        Self {
            window: None,
            stride: None,
            baseline: Baseline::Zeros,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for Occlusion {
    fn validate(&self) -> Result<()> {
        if let Some(w) = &self.window {
            parse_dims("window", w)?;
        }
        if let Some(s) = &self.stride {
            parse_dims("stride", s)?;
        }
        at_least_one("batch_size", self.batch_size)
    }
}

/// Parses `HxW`, `C,H,W` or `N` into sizes ≥ 1.
fn parse_dims(flag: &str, s: &str) -> Result<Vec<usize>> {
    let parts: Vec<&str> = s.split(['x', 'X', ',']).map(str::trim).collect();
    let v: Option<Vec<usize>> = parts
        .iter()
        .map(|p| p.parse::<usize>().ok().filter(|&v| v >= 1))
        .collect();
    match v {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(bad(
            flag,
            format!("must be sizes ≥ 1 like 3x3 or 1,3,3, got '{s}'"),
        )),
    }
}

/// The window and strides for examples of shape `example`: given axes apply to the last axes;
/// missing leading axes span the whole axis (window) with stride 1.
pub fn occlusion_geometry(
    window: &str,
    stride: Option<&str>,
    example: &[usize],
) -> Result<(Vec<usize>, Vec<usize>)> {
    let w = parse_dims("window", window)?;
    let s = match stride {
        Some(s) => parse_dims("stride", s)?,
        None => vec![1; w.len()],
    };
    let r = example.len();
    if w.len() > r || s.len() > r {
        return Err(PassiveError::BadArgument(format!(
            "the occlusion window or stride has more axes than the example shape {example:?}"
        )));
    }
    let mut win = example.to_vec();
    win[r - w.len()..].copy_from_slice(&w);
    let mut st = vec![1; r];
    st[r - s.len()..].copy_from_slice(&s);
    if let Some(a) = (0..r).find(|&a| win[a] > example[a]) {
        return Err(PassiveError::BadArgument(format!(
            "window {win:?} is larger than the example shape {example:?} on axis {a}"
        )));
    }
    Ok((win, st))
}

/// Flat indices of every window position: for each position, the features it covers.
fn windows(example: &[usize], win: &[usize], st: &[usize]) -> Vec<Vec<usize>> {
    let r = example.len();
    let counts: Vec<usize> = (0..r)
        .map(|a| (example[a] - win[a]).div_ceil(st[a]) + 1)
        .collect();
    let total: usize = counts.iter().product();
    let mut strides = vec![1usize; r];
    for a in (0..r.saturating_sub(1)).rev() {
        strides[a] = strides[a + 1] * example[a + 1];
    }
    (0..total)
        .map(|p| {
            // Row-major position index → start on each axis.
            let mut rem = p;
            let mut start = vec![0; r];
            for a in (0..r).rev() {
                start[a] = (rem % counts[a]) * st[a];
                rem /= counts[a];
            }
            let mut idx = vec![0usize];
            for a in 0..r {
                let (lo, end, sa) = (start[a], (start[a] + win[a]).min(example[a]), strides[a]);
                idx = idx
                    .iter()
                    .flat_map(|&base| (lo..end).map(move |k| base + k * sa))
                    .collect();
            }
            idx
        })
        .collect()
}

impl<M: Forward + ?Sized> Attribution<M> for Occlusion {
    fn name(&self) -> &'static str {
        "occlusion"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let o = self;
        let x = x.to_dtype(DType::F32)?;
        let example = x.shape()[1..].to_vec();
        let Some(window) = &o.window else {
            return Err(bad("window", "is needed by occlusion: HxW (or C,H,W)"));
        };
        let (win, st) = occlusion_geometry(window, o.stride.as_deref(), &example)?;
        let wins = windows(&example, &win, &st);
        let (n, f) = (x.shape()[0], x.numel() / x.shape()[0].max(1));
        let p = wins.len();
        let xv = x.to_vec_f32()?;
        let bv = o.baseline.resolve(&x)?.to_vec_f32()?;
        let fx = eval_rows(
            model,
            &example,
            n,
            o.batch_size,
            |i, buf| buf.copy_from_slice(&xv[i * f..(i + 1) * f]),
            |i| targets[i],
        )?;
        let y = eval_rows(
            model,
            &example,
            n * p,
            o.batch_size,
            |r, buf| {
                let (i, w) = (r / p, &wins[r % p]);
                buf.copy_from_slice(&xv[i * f..(i + 1) * f]);
                for &j in w {
                    buf[j] = bv[i * f + j];
                }
            },
            |r| targets[r / p],
        )?;
        let mut count = vec![0u32; f];
        for w in &wins {
            for &j in w {
                count[j] += 1;
            }
        }
        let mut a = vec![0.0f64; n * f];
        for (r, yr) in y.iter().enumerate() {
            let i = r / p;
            let drop = fx[i] - yr;
            for &j in &wins[r % p] {
                a[i * f + j] += drop;
            }
        }
        for (k, v) in a.iter_mut().enumerate() {
            let c = count[k % f];
            *v = if c == 0 { 0.0 } else { *v / c as f64 };
        }
        Ok(Explanation {
            attributions: Tensor::from_vec(a, x.shape())?.to_dtype(DType::F32)?,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::Baseline;
    use crate::testing::models::*;
    use xai_tensor::Rng;

    /// Direct loop: every window start on each axis of a [C, H, W] example, written out.
    fn direct(
        m: &dyn Forward,
        x: &Tensor,
        t: &[usize],
        win: [usize; 3],
        st: [usize; 3],
        b: f32,
    ) -> Vec<f64> {
        let s = x.shape().to_vec();
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        let f = c * h * w;
        let xv = x.to_vec_f32().unwrap();
        let logit = |v: Vec<f32>, i: usize| {
            let y = m
                .predict(&Tensor::from_vec(v, &[1, c, h, w]).unwrap())
                .unwrap();
            y.to_vec_f64().unwrap()[t[i]]
        };
        let starts = |d: usize, k: usize, s: usize| -> Vec<usize> {
            let mut v = vec![];
            let mut p = 0;
            loop {
                v.push(p);
                if p + k >= d {
                    break;
                }
                p += s;
            }
            v
        };
        let mut out = vec![0.0; n * f];
        for i in 0..n {
            let xi = xv[i * f..(i + 1) * f].to_vec();
            let fx = logit(xi.clone(), i);
            let mut sum = vec![0.0; f];
            let mut cnt = vec![0.0; f];
            for &c0 in &starts(c, win[0], st[0]) {
                for &h0 in &starts(h, win[1], st[1]) {
                    for &w0 in &starts(w, win[2], st[2]) {
                        let mut v = xi.clone();
                        let mut cov = vec![];
                        for cc in c0..(c0 + win[0]).min(c) {
                            for hh in h0..(h0 + win[1]).min(h) {
                                for ww in w0..(w0 + win[2]).min(w) {
                                    let j = (cc * h + hh) * w + ww;
                                    v[j] = b;
                                    cov.push(j);
                                }
                            }
                        }
                        let d = fx - logit(v, i);
                        for j in cov {
                            sum[j] += d;
                            cnt[j] += 1.0;
                        }
                    }
                }
            }
            for j in 0..f {
                // Uncovered features (a stride longer than the window) are 0.
                out[i * f + j] = if cnt[j] > 0.0 { sum[j] / cnt[j] } else { 0.0 };
            }
        }
        out
    }

    #[test]
    fn equals_a_direct_loop() {
        let m = cnn(3);
        let x = randn(&mut Rng::new(4), &[3, 2, 5, 5], 1.0);
        let t = [0, 2, 1];
        for (win, st, spec, stride, bs) in [
            ([2, 2, 2], [1, 1, 1], "2x2", None, 7),
            ([1, 3, 2], [1, 2, 3], "1,3,2", Some("1,2,3"), 256),
            ([2, 1, 1], [1, 1, 1], "1x1", None, 1),
        ] {
            let e = Occlusion {
                window: Some(spec.into()),
                stride: stride.map(Into::into),
                baseline: Baseline::Constant(0.3),
                batch_size: bs,
            }
            .attribute(&m, &x, &t)
            .unwrap();
            let want = direct(&m, &x, &t, win, st, 0.3);
            for (a, b) in e.attributions.to_vec_f32().unwrap().iter().zip(&want) {
                assert!(
                    (*a as f64 - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn bad_windows_are_refused() {
        let ex = [2, 5, 5];
        assert!(occlusion_geometry("0x2", None, &ex).is_err());
        assert!(occlusion_geometry("6x2", None, &ex).is_err());
        assert!(occlusion_geometry("1,1,1,1", None, &ex).is_err());
        assert!(occlusion_geometry("ax2", None, &ex).is_err());
        let (w, s) = occlusion_geometry("3x2", Some("2"), &ex).unwrap();
        assert_eq!((w, s), (vec![2, 3, 2], vec![1, 1, 2]));
    }
}
