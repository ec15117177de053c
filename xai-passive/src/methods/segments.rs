//! Superpixels for the perturbation methods (`--segments`): a regular grid, or SLIC (Achanta,
//! Shaji, Smith, Lucchi, Fua & Süsstrunk, *SLIC Superpixels Compared to State-of-the-Art
//! Superpixel Methods*, TPAMI 2012). Labels are per pixel of the last two axes (H, W), shared
//! by every channel.
//!
//! SLIC is k-means in (colour, y, x) space with the distance
//! D = √(d_c² + (d_s / S)² m²), S = √(HW / K) the grid step for K requested segments and m the
//! compactness. Centres start on the S-grid, moved to the lowest-gradient pixel of their 3×3
//! neighbourhood; each iteration assigns every pixel within a centre's 2S × 2S window to the
//! nearest such centre, then moves each centre to the mean of its pixels (10 iterations, the
//! paper's). Connectivity is then enforced as the paper's code does: components smaller than
//! S²/4 are merged into the adjacent segment met first in raster order, every other component
//! gets its own label. The colour space is the input's channels (all leading axes), rescaled
//! so that the image's value range spans 100 (CIELAB's lightness range), so m keeps
//! scikit-image's meaning (default 10; larger is more compact).

use crate::{PassiveError, Result};
use std::collections::VecDeque;

/// SLIC's iterations (the paper's 10).
const SLIC_ITERATIONS: usize = 10;

/// A superpixel segmentation of image inputs `[.., H, W]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Segmentation {
    /// `grid:N`: an N × N grid of cells.
    Grid(usize),
    /// `slic:N[,M]`: about N SLIC superpixels with compactness M (default 10).
    Slic {
        /// Requested number of superpixels N (grid interval S = √(H·W/N)).
        segments: usize,
        /// Compactness m: weight of the spatial distance against the colour distance.
        compactness: f64,
    },
}

impl std::str::FromStr for Segmentation {
    type Err = PassiveError;
    /// Parses `grid:N`, `slic:N` or `slic:N,M` (N ≥ 1, M > 0).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            PassiveError::BadArgument(format!(
                "segments must be grid:N or slic:N[,M] with N ≥ 1 and compactness M > 0, got '{s}'"
            ))
        };
        let count = |v: &str| match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(bad()),
        };
        if let Some(n) = s.strip_prefix("grid:") {
            return Ok(Segmentation::Grid(count(n)?));
        }
        if let Some(rest) = s.strip_prefix("slic:") {
            let (n, m) = match rest.split_once(',') {
                Some((n, m)) => (n, m.parse::<f64>().map_err(|_| bad())?),
                None => (rest, 10.0),
            };
            if !(m > 0.0 && m.is_finite()) {
                return Err(bad());
            }
            return Ok(Segmentation::Slic {
                segments: count(n)?,
                compactness: m,
            });
        }
        Err(bad())
    }
}

impl Segmentation {
    /// Whether the segments depend on the image (SLIC), so that each example has its own.
    pub fn depends_on_image(&self) -> bool {
        matches!(self, Segmentation::Slic { .. })
    }

    /// One label per feature of `image` (one example, flat, of shape `example` = `[.., H, W]`).
    pub fn labels(&self, image: &[f32], example: &[usize]) -> Result<Vec<i64>> {
        let name = match self {
            Segmentation::Grid(_) => "grid:N",
            Segmentation::Slic { .. } => "slic:N",
        };
        if example.len() < 2 {
            return Err(PassiveError::BadArgument(format!(
                "--segments {name} needs image inputs [.., H, W], got example shape {example:?}"
            )));
        }
        let (h, w) = (example[example.len() - 2], example[example.len() - 1]);
        let f: usize = example.iter().product();
        let pixel = match *self {
            Segmentation::Grid(n) => {
                if n > h.min(w) {
                    return Err(PassiveError::BadArgument(format!(
                        "--segments grid:{n} has more cells than the image's {h}×{w} pixels"
                    )));
                }
                (0..h * w)
                    .map(|p| ((p / w) * n / h * n + (p % w) * n / w) as i64)
                    .collect::<Vec<_>>()
            }
            Segmentation::Slic {
                segments,
                compactness,
            } => {
                if segments > h * w {
                    return Err(PassiveError::BadArgument(format!(
                        "--segments slic:{segments} asks for more superpixels than the image's \
                         {h}×{w} pixels"
                    )));
                }
                if image.len() != f || image.iter().any(|v| !v.is_finite()) {
                    return Err(PassiveError::BadArgument(
                        "slic needs a finite image".into(),
                    ));
                }
                slic(image, f / (h * w), h, w, segments, compactness)
                    .into_iter()
                    .map(|l| l as i64)
                    .collect()
            }
        };
        Ok((0..f).map(|j| pixel[j % (h * w)]).collect())
    }
}

/// SLIC superpixels of a channels-first image `[c, h, w]` (flat): about `k` labels `0..`, each
/// a 4-connected region (see the module doc for the algorithm).
pub fn slic(image: &[f32], c: usize, h: usize, w: usize, k: usize, m: f64) -> Vec<usize> {
    let hw = h * w;
    // Colour features per pixel, pixel-major, rescaled so the value range spans 100.
    let (lo, hi) = image
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v as f64), hi.max(v as f64))
        });
    let scale = if hi > lo { 100.0 / (hi - lo) } else { 0.0 };
    let col: Vec<f64> = (0..hw * c)
        .map(|q| {
            let (p, ch) = (q / c, q % c);
            (image[ch * hw + p] as f64 - lo) * scale
        })
        .collect();
    let colour = |p: usize| &col[p * c..(p + 1) * c];
    let dist2 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| (u - v).powi(2)).sum::<f64>();
    let step = ((hw as f64) / k as f64).sqrt();
    let ny = ((h as f64 / step).round() as usize).clamp(1, h);
    let nx = ((w as f64 / step).round() as usize).clamp(1, w);
    // Gradient ‖I(y, x+1) − I(y, x−1)‖² + ‖I(y+1, x) − I(y−1, x)‖² (clamped at the border).
    let grad = |y: usize, x: usize| {
        let at = |yy: usize, xx: usize| colour(yy * w + xx);
        dist2(at(y, (x + 1).min(w - 1)), at(y, x.saturating_sub(1)))
            + dist2(at((y + 1).min(h - 1), x), at(y.saturating_sub(1), x))
    };
    // Centres: [colour…, y, x].
    let dim = c + 2;
    let mut centres: Vec<f64> = Vec::with_capacity(ny * nx * dim);
    for i in 0..ny {
        for j in 0..nx {
            let (cy, cx) = ((2 * i + 1) * h / (2 * ny), (2 * j + 1) * w / (2 * nx));
            let mut best = (grad(cy, cx), cy, cx);
            for y in cy.saturating_sub(1)..=(cy + 1).min(h - 1) {
                for x in cx.saturating_sub(1)..=(cx + 1).min(w - 1) {
                    let g = grad(y, x);
                    if g < best.0 {
                        best = (g, y, x);
                    }
                }
            }
            centres.extend_from_slice(colour(best.1 * w + best.2));
            centres.push(best.1 as f64);
            centres.push(best.2 as f64);
        }
    }
    let nc = centres.len() / dim;
    let spatial = (m / step).powi(2);
    let reach = step.ceil() as isize;
    let mut label = vec![usize::MAX; hw];
    let mut best = vec![f64::INFINITY; hw];
    for _ in 0..SLIC_ITERATIONS {
        best.iter_mut().for_each(|d| *d = f64::INFINITY);
        for (ci, ctr) in centres.chunks(dim).enumerate() {
            let (cy, cx) = (ctr[c].round() as isize, ctr[c + 1].round() as isize);
            let (y0, y1) = ((cy - reach).max(0), (cy + reach).min(h as isize - 1));
            let (x0, x1) = ((cx - reach).max(0), (cx + reach).min(w as isize - 1));
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let p = y as usize * w + x as usize;
                    let ds2 = (y as f64 - ctr[c]).powi(2) + (x as f64 - ctr[c + 1]).powi(2);
                    let d = dist2(colour(p), &ctr[..c]) + ds2 * spatial;
                    if d < best[p] {
                        best[p] = d;
                        label[p] = ci;
                    }
                }
            }
        }
        let mut sums = vec![0.0f64; nc * dim];
        let mut counts = vec![0usize; nc];
        for (p, &l) in label.iter().enumerate() {
            if l == usize::MAX {
                continue;
            }
            let s = &mut sums[l * dim..(l + 1) * dim];
            for (a, v) in s.iter_mut().zip(colour(p)) {
                *a += v;
            }
            s[c] += (p / w) as f64;
            s[c + 1] += (p % w) as f64;
            counts[l] += 1;
        }
        for (ci, &n) in counts.iter().enumerate() {
            if n > 0 {
                for t in 0..dim {
                    centres[ci * dim + t] = sums[ci * dim + t] / n as f64;
                }
            }
        }
    }
    // A pixel no window reached (impossible with windows of 2S around an S-grid, kept safe):
    // its nearest centre in space.
    for (p, l) in label.iter_mut().enumerate() {
        if *l == usize::MAX {
            let (y, x) = ((p / w) as f64, (p % w) as f64);
            *l = (0..nc)
                .min_by(|&a, &b| {
                    let da =
                        (centres[a * dim + c] - y).powi(2) + (centres[a * dim + c + 1] - x).powi(2);
                    let db =
                        (centres[b * dim + c] - y).powi(2) + (centres[b * dim + c + 1] - x).powi(2);
                    da.total_cmp(&db)
                })
                .unwrap_or(0);
        }
    }
    enforce_connectivity(&label, h, w, ((step * step) / 4.0) as usize)
}

/// Relabels `label` (`h × w`) into 4-connected components, numbered in raster order;
/// components smaller than `min_size` join the adjacent component met first (the one
/// containing a neighbour of the component's first pixel labelled before it).
fn enforce_connectivity(label: &[usize], h: usize, w: usize, min_size: usize) -> Vec<usize> {
    let mut out = vec![usize::MAX; h * w];
    let mut next = 0;
    let mut queue = VecDeque::new();
    let mut comp = Vec::new();
    let neighbours = |p: usize| {
        let (y, x) = (p / w, p % w);
        let mut v = [usize::MAX; 4];
        if x > 0 {
            v[0] = p - 1;
        }
        if y > 0 {
            v[1] = p - w;
        }
        if x + 1 < w {
            v[2] = p + 1;
        }
        if y + 1 < h {
            v[3] = p + w;
        }
        v
    };
    for start in 0..h * w {
        if out[start] != usize::MAX {
            continue;
        }
        let adjacent = neighbours(start)
            .into_iter()
            .find(|&q| q != usize::MAX && out[q] != usize::MAX)
            .map(|q| out[q]);
        comp.clear();
        out[start] = next;
        queue.push_back(start);
        while let Some(p) = queue.pop_front() {
            comp.push(p);
            for q in neighbours(p) {
                if q != usize::MAX && out[q] == usize::MAX && label[q] == label[start] {
                    out[q] = next;
                    queue.push_back(q);
                }
            }
        }
        match adjacent {
            Some(a) if comp.len() < min_size => comp.iter().for_each(|&p| out[p] = a),
            _ => next += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Number of distinct labels and whether each label is one 4-connected region.
    fn count_and_connected(l: &[usize], h: usize, w: usize) -> (usize, bool) {
        let relabelled = enforce_connectivity(l, h, w, 0);
        let distinct = |v: &[usize]| {
            let mut u = v.to_vec();
            u.sort_unstable();
            u.dedup();
            u.len()
        };
        (distinct(l), distinct(&relabelled) == distinct(l))
    }

    /// Three-channel image with flat-colour rectangles: label of each pixel's colour too.
    fn rectangles(h: usize, w: usize) -> (Vec<f32>, Vec<usize>) {
        let colours = [
            [0.9f32, 0.1, 0.1],
            [0.1, 0.8, 0.2],
            [0.2, 0.2, 0.9],
            [0.7, 0.7, 0.1],
        ];
        let region = |y: usize, x: usize| {
            if y < 13 {
                usize::from(x >= 19)
            } else if x < 9 {
                2
            } else {
                3
            }
        };
        let mut img = vec![0.0f32; 3 * h * w];
        let mut truth = vec![0; h * w];
        for y in 0..h {
            for x in 0..w {
                let r = region(y, x);
                truth[y * w + x] = r;
                for ch in 0..3 {
                    img[ch * h * w + y * w + x] = colours[r][ch];
                }
            }
        }
        (img, truth)
    }

    #[test]
    fn slic_segments_do_not_cross_colour_edges() {
        let (h, w) = (30, 32);
        let (img, truth) = rectangles(h, w);
        let l = slic(&img, 3, h, w, 24, 10.0);
        let (n, connected) = count_and_connected(&l, h, w);
        assert!(connected);
        assert!((12..=36).contains(&n), "{n} segments for 24");
        for p in 0..h * w {
            for q in 0..h * w {
                if l[p] == l[q] {
                    assert_eq!(truth[p], truth[q], "segment {} crosses an edge", l[p]);
                }
            }
        }
    }

    #[test]
    fn slic_count_is_near_n_labels_connected_and_deterministic() {
        let (h, w) = (40, 36);
        let mut r = xai_tensor::Rng::new(5);
        let noise = r
            .uniform(&[3 * h * w], 0.0, 1.0, xai_tensor::DType::F32)
            .unwrap()
            .to_vec_f32()
            .unwrap();
        // A smooth ramp plus noise.
        let img: Vec<f32> = noise
            .iter()
            .enumerate()
            .map(|(q, v)| 0.2 * v + ((q % (h * w)) % w) as f32 / w as f32)
            .collect();
        for k in [9, 30, 60] {
            let l = slic(&img, 3, h, w, k, 10.0);
            let (n, connected) = count_and_connected(&l, h, w);
            assert!(connected, "k = {k}");
            assert!(
                (k as f64 * 0.5..=k as f64 * 1.5).contains(&(n as f64)),
                "{n} segments for {k}"
            );
            assert_eq!(l, slic(&img, 3, h, w, k, 10.0));
        }
        // A flat image gives the S-grid.
        let l = slic(&vec![0.5; h * w], 1, h, w, 36, 10.0);
        assert_eq!(count_and_connected(&l, h, w), (36, true));
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!(
            "grid:3".parse::<Segmentation>().unwrap(),
            Segmentation::Grid(3)
        );
        assert_eq!(
            "slic:50,20".parse::<Segmentation>().unwrap(),
            Segmentation::Slic {
                segments: 50,
                compactness: 20.0
            }
        );
        for bad in [
            "slic:0",
            "slic:x",
            "slic:5,-1",
            "slic:5,nan",
            "grid:0",
            "voronoi:3",
        ] {
            let e = bad.parse::<Segmentation>().unwrap_err().to_string();
            assert!(e.contains("grid:N or slic:N"), "{e}");
        }
        let s = Segmentation::Slic {
            segments: 4,
            compactness: 10.0,
        };
        assert!(s.labels(&[0.0; 6], &[6]).is_err());
        assert!(s.labels(&[0.0; 4], &[2, 2]).is_ok());
        assert!(s.labels(&[0.0; 4], &[1, 2, 2]).unwrap().len() == 4);
        let grid = Segmentation::Grid(2).labels(&[0.0; 8], &[2, 2, 2]).unwrap();
        assert_eq!(grid, vec![0, 1, 2, 3, 0, 1, 2, 3]);
    }
}
