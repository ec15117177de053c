//! Heatmaps of attributions as PNG: a diverging colormap (blue–white–red) for signed
//! attributions, a sequential one (black–red–yellow–white) for magnitudes, blended over the
//! input in grey. Small images are enlarged (nearest neighbour) so a person can see them.

use crate::report::Outputs;
use image::{Rgb, RgbImage};
use std::path::{Path, PathBuf};
use xai_tensor::Tensor;

/// Smallest side of a written image, in pixels.
const MIN_SIDE: u32 = 168;

/// Colour of a signed value in [−1, 1]: blue (−1), white (0), red (1).
pub fn diverging(v: f32) -> Rgb<u8> {
    let v = v.clamp(-1.0, 1.0);
    let fade = |t: f32| (255.0 * (1.0 - t)) as u8;
    if v >= 0.0 {
        Rgb([255, fade(v), fade(v)])
    } else {
        Rgb([fade(-v), fade(-v), 255])
    }
}

/// Colour of a magnitude in [0, 1]: black, red, yellow, white (the "hot" map).
pub fn sequential(v: f32) -> Rgb<u8> {
    let v = v.clamp(0.0, 1.0) * 3.0;
    let c = |x: f32| (255.0 * x.clamp(0.0, 1.0)) as u8;
    Rgb([c(v), c(v - 1.0), c(v - 2.0)])
}

/// The 99th percentile of |a| (robust scale; 1 when all zero).
fn robust_scale(a: &[f32]) -> f32 {
    let mut m: Vec<f32> = a
        .iter()
        .map(|x| x.abs())
        .filter(|x| x.is_finite())
        .collect();
    if m.is_empty() {
        return 1.0;
    }
    let k = ((m.len() - 1) as f32 * 0.99) as usize;
    let (_, v, _) = m.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    if *v > 0.0 {
        *v
    } else {
        1.0
    }
}

/// One heatmap of a `h`×`w` map over a `h`×`w` input drawn as ink on paper (high values
/// dark), enlarged by an integer factor to at least [`MIN_SIDE`] pixels. Each pixel blends
/// the input with the attribution's colour in proportion to |a| (scaled by its 99th
/// percentile), so strong evidence is saturated and the input shows where there is none.
pub fn overlay(input: &[f32], attr: &[f32], h: usize, w: usize, signed: bool) -> RgbImage {
    let scale = robust_scale(attr);
    let (lo, hi) = input
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let f = (MIN_SIDE as usize).div_ceil(h.max(w).max(1)).max(1) as u32;
    RgbImage::from_fn(w as u32 * f, h as u32 * f, |x, y| {
        let p = (y / f) as usize * w + (x / f) as usize;
        let a = (attr[p] / scale).clamp(-1.0, 1.0);
        let full = if signed {
            diverging(a.signum())
        } else {
            sequential(0.35 + 0.65 * a.abs())
        };
        let paper = 255.0 - 0.6 * (input[p] - lo) / span * 255.0;
        let alpha = a.abs();
        let mix = |k: u8| ((1.0 - alpha) * paper + alpha * k as f32) as u8;
        Rgb([mix(full[0]), mix(full[1]), mix(full[2])])
    })
}

/// Stages `DIR/{stem}_{i}.png` in `out` for every example of an image batch `[N, C, H, W]` (or
/// `[N, H, W]` attributions of a layer map with the input's size): the attribution summed over
/// channels over the input averaged over channels. Returns the paths staged.
pub fn write_heatmaps(
    out: &mut Outputs,
    dir: &Path,
    stem: &str,
    input: &Tensor,
    attr: &Tensor,
    signed: bool,
) -> Result<Vec<PathBuf>, String> {
    let [n, c, h, w] = *input.shape() else {
        return Err(format!(
            "--png needs image inputs [N, C, H, W], got {:?}",
            input.shape()
        ));
    };
    let a_c = match attr.shape() {
        [an, ac, ah, aw] if (*an, *ah, *aw) == (n, h, w) => *ac,
        [an, ah, aw] if (*an, *ah, *aw) == (n, h, w) => 1,
        s => {
            return Err(format!(
                "--png: attributions of shape {s:?} are not maps of the {h}x{w} input"
            ))
        }
    };
    out.create_dir_all(dir).map_err(|e| e.to_string())?;
    let (x, a) = (
        input.to_vec_f32().map_err(|e| e.to_string())?,
        attr.to_vec_f32().map_err(|e| e.to_string())?,
    );
    let plane = h * w;
    let mut written = Vec::with_capacity(n);
    for i in 0..n {
        let fold = |v: &[f32], ch: usize, mean: bool| -> Vec<f32> {
            (0..plane)
                .map(|p| {
                    (0..ch).map(|k| v[(i * ch + k) * plane + p]).sum::<f32>()
                        / if mean { ch as f32 } else { 1.0 }
                })
                .collect()
        };
        let img = overlay(&fold(&x, c, true), &fold(&a, a_c, false), h, w, signed);
        let mut bytes = Vec::new();
        img.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| e.to_string())?;
        let path = dir.join(format!("{stem}_{i}.png"));
        out.add(&path, &bytes).map_err(|e| e.to_string())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormaps_hit_their_anchors() {
        assert_eq!(diverging(1.0), Rgb([255, 0, 0]));
        assert_eq!(diverging(0.0), Rgb([255, 255, 255]));
        assert_eq!(diverging(-1.0), Rgb([0, 0, 255]));
        assert_eq!(sequential(0.0), Rgb([0, 0, 0]));
        assert_eq!(sequential(1.0), Rgb([255, 255, 255]));
    }

    #[test]
    fn heatmaps_are_written_enlarged_one_per_example() {
        let dir = tempfile::tempdir().unwrap();
        let x = Tensor::from_vec(
            (0..2 * 64).map(|i| i as f32).collect::<Vec<_>>(),
            &[2, 1, 8, 8],
        )
        .unwrap();
        let a = x.affine(1.0, -64.0).unwrap();
        let mut out = Outputs::new();
        let paths = write_heatmaps(&mut out, dir.path(), "saliency", &x, &a, true).unwrap();
        out.commit().unwrap();
        assert_eq!(paths.len(), 2);
        let img = image::open(&paths[1]).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (168, 168));
        // Strongly positive corner is red-dominated, the most negative blue-dominated.
        let (hi, lo) = (
            img.get_pixel(167, 167),
            image::open(&paths[0])
                .unwrap()
                .to_rgb8()
                .get_pixel(0, 0)
                .to_owned(),
        );
        assert!(hi[0] > hi[2] && lo[2] > lo[0], "{hi:?} {lo:?}");
        assert!(write_heatmaps(
            &mut Outputs::new(),
            dir.path(),
            "x",
            &Tensor::zeros(&[2, 30], xai_tensor::DType::F32),
            &a,
            true
        )
        .is_err());
    }
}
