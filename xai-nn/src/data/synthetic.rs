//! Seeded synthetic datasets whose ground truth is known, for evaluating explanations.

use super::Dataset;
use crate::Result;
use xai_tensor::{DType, Rng, Tensor};

/// Tabular data where the label depends only on the first `relevant` of `features` columns:
/// x ~ N(0, 1)^d, y = 1[Σ_{j<k} w_j x_j > 0] with w_j = (−1)^j (1 + j/k). Returns the data and
/// the ground-truth relevance mask (true for the first k features).
pub fn relevant_features(
    n: usize,
    features: usize,
    relevant: usize,
    seed: u64,
) -> Result<(Dataset, Vec<bool>)> {
    let k = relevant.min(features).max(1);
    let x = Rng::new(seed).normal(&[n, features], 0.0, 1.0, DType::F64)?;
    let v = x.to_vec_f64()?;
    let w: Vec<f64> = (0..k)
        .map(|j| if j % 2 == 0 { 1.0 } else { -1.0 } * (1.0 + j as f64 / k as f64))
        .collect();
    let y = (0..n)
        .map(|i| {
            (w.iter()
                .enumerate()
                .map(|(j, wj)| wj * v[i * features + j])
                .sum::<f64>()
                > 0.0) as usize
        })
        .collect();
    let names = (0..features).map(|j| format!("x{j}")).collect();
    let data = Dataset {
        name: "synthetic-tabular".into(),
        x: x.to_dtype(DType::F32)?,
        y,
        feature_names: names,
        num_classes: 2,
    };
    Ok((data, (0..features).map(|j| j < k).collect()))
}

/// Value of class `c`'s patch pattern at patch pixel (i, j): stripes, columns, checkerboard
/// or a solid block (cycling), always positive so the patch stands out of the noise.
fn pattern(c: usize, i: usize, j: usize) -> f64 {
    let base = 1.5 + 0.5 * (c / 4) as f64;
    let on = match c % 4 {
        0 => i.is_multiple_of(2),
        1 => j.is_multiple_of(2),
        2 => (i + j).is_multiple_of(2),
        _ => true,
    };
    if on {
        base
    } else {
        0.5 * base
    }
}

/// Images `[N, 1, size, size]` of N(0, 0.5²) noise with a `patch`×`patch` pattern planted at a
/// uniformly random position; the pattern alone determines the class (0..classes). Returns the
/// data and the patch masks `[N, 1, size, size]` (1 inside the patch): ground truth for
/// localisation metrics.
pub fn planted_patch(
    n: usize,
    classes: usize,
    size: usize,
    patch: usize,
    seed: u64,
) -> Result<(Dataset, Tensor)> {
    let mut rng = Rng::new(seed);
    let mut x = rng
        .normal(&[n, 1, size, size], 0.0, 0.5, DType::F64)?
        .to_vec_f64()?;
    let pos = rng.uniform(&[n, 2], 0.0, 1.0, DType::F64)?.to_vec_f64()?;
    let y: Vec<usize> = (0..n).map(|i| i % classes.max(1)).collect();
    let mut mask = vec![0.0f64; n * size * size];
    let span = size.saturating_sub(patch) + 1;
    for i in 0..n {
        let (r0, c0) = (
            (pos[2 * i] * span as f64) as usize,
            (pos[2 * i + 1] * span as f64) as usize,
        );
        for a in 0..patch.min(size) {
            for b in 0..patch.min(size) {
                let o = i * size * size + (r0 + a) * size + c0 + b;
                x[o] = pattern(y[i], a, b);
                mask[o] = 1.0;
            }
        }
    }
    let shape = [n, 1, size, size];
    let data = Dataset {
        name: "synthetic-patch".into(),
        x: Tensor::from_vec(x, &shape)?.to_dtype(DType::F32)?,
        y,
        feature_names: (0..size * size).map(|p| format!("px{p}")).collect(),
        num_classes: classes,
    };
    Ok((data, Tensor::from_vec(mask, &shape)?.to_dtype(DType::F32)?))
}

/// The concepts of [`concept_images`], in mask-channel order.
pub const CONCEPTS: [&str; 9] = [
    "shape:square",
    "shape:circle",
    "shape:triangle",
    "colour:red",
    "colour:green",
    "colour:blue",
    "texture:solid",
    "texture:stripes",
    "texture:dots",
];

/// RGB images `[N, 3, size, size]` of one object on a dark background: a shape (square,
/// circle, triangle) × a colour (red, green, blue) × a texture (solid, stripes, dots), drawn
/// uniformly. The class is the shape. Returns the data and per-pixel concept masks
/// `[N, 9, size, size]` in [`CONCEPTS`] order (1 where the object shows that concept), for
/// network dissection.
pub fn concept_images(n: usize, size: usize, seed: u64) -> Result<(Dataset, Tensor)> {
    let mut rng = Rng::new(seed);
    let u = rng.uniform(&[n, 6], 0.0, 1.0, DType::F64)?.to_vec_f64()?;
    let mut x = rng
        .normal(&[n, 3, size, size], 0.05, 0.02, DType::F64)?
        .to_vec_f64()?;
    let mut masks = vec![0.0f64; n * 9 * size * size];
    let mut y = Vec::with_capacity(n);
    let plane = size * size;
    for i in 0..n {
        let pick = |k: usize| ((u[i * 6 + k] * 3.0) as usize).min(2);
        let (shape, colour, texture) = (pick(0), pick(1), pick(2));
        let half = (size as f64 * (0.2 + 0.15 * u[i * 6 + 3])).max(2.0);
        let cy = half + u[i * 6 + 4] * (size as f64 - 2.0 * half);
        let cx = half + u[i * 6 + 5] * (size as f64 - 2.0 * half);
        y.push(shape);
        for r in 0..size {
            for c in 0..size {
                let (dy, dx) = (r as f64 + 0.5 - cy, c as f64 + 0.5 - cx);
                let inside = match shape {
                    0 => dy.abs() <= half && dx.abs() <= half,
                    1 => dy * dy + dx * dx <= half * half,
                    _ => dy >= -half && dy <= half && dx.abs() <= (dy + half) / 2.0,
                };
                if !inside {
                    continue;
                }
                let lit = match texture {
                    0 => true,
                    1 => r % 3 != 0,
                    _ => !(r % 3 == 1 && c % 3 == 1),
                };
                let p = r * size + c;
                x[(i * 3 + colour) * plane + p] = if lit { 0.9 } else { 0.3 };
                for concept in [shape, 3 + colour, 6 + texture] {
                    masks[(i * 9 + concept) * plane + p] = 1.0;
                }
            }
        }
    }
    let data = Dataset {
        name: "synthetic-concepts".into(),
        x: Tensor::from_vec(x, &[n, 3, size, size])?.to_dtype(DType::F32)?,
        y,
        feature_names: (0..3 * plane).map(|p| format!("px{p}")).collect(),
        num_classes: 3,
    };
    Ok((
        data,
        Tensor::from_vec(masks, &[n, 9, size, size])?.to_dtype(DType::F32)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabular_label_depends_only_on_the_relevant_features() {
        let (d, rel) = relevant_features(400, 6, 2, 1).unwrap();
        assert_eq!(rel, vec![true, true, false, false, false, false]);
        let v = d.x.to_vec_f64().unwrap();
        for i in 0..400 {
            assert_eq!(d.y[i], (v[i * 6] - 1.5 * v[i * 6 + 1] > 0.0) as usize);
        }
        let ones = d.y.iter().sum::<usize>();
        assert!((120..280).contains(&ones), "balanced-ish: {ones}");
        assert_eq!(
            relevant_features(400, 6, 2, 1)
                .unwrap()
                .0
                .x
                .to_vec_f32()
                .unwrap(),
            d.x.to_vec_f32().unwrap()
        );
    }

    #[test]
    fn patches_are_planted_where_the_mask_says() {
        let (d, m) = planted_patch(20, 4, 12, 4, 3).unwrap();
        let (x, m) = (d.x.to_vec_f64().unwrap(), m.to_vec_f64().unwrap());
        for i in 0..20 {
            let inside: Vec<f64> = (0..144)
                .filter(|&p| m[i * 144 + p] == 1.0)
                .map(|p| x[i * 144 + p])
                .collect();
            assert_eq!(inside.len(), 16);
            assert!(inside.iter().all(|&v| v >= 0.75));
        }
    }

    #[test]
    fn concept_masks_cover_the_object_once_per_family() {
        let (d, m) = concept_images(12, 16, 5).unwrap();
        let m = m.to_vec_f64().unwrap();
        for i in 0..12 {
            let area = |k: usize| {
                (0..256)
                    .filter(|&p| m[(i * 9 + k) * 256 + p] == 1.0)
                    .count()
            };
            let fam = |ks: [usize; 3]| ks.iter().map(|&k| area(k)).collect::<Vec<_>>();
            let (s, c, t) = (fam([0, 1, 2]), fam([3, 4, 5]), fam([6, 7, 8]));
            assert_eq!(s.iter().filter(|&&a| a > 0).count(), 1);
            assert_eq!(s.iter().sum::<usize>(), c.iter().sum::<usize>());
            assert_eq!(c.iter().sum::<usize>(), t.iter().sum::<usize>());
            assert!(s[d.y[i]] > 0);
        }
    }
}
