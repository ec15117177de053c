//! `xai explain --method pdp|ice`: partial dependence and ICE curves of the target logit on
//! `--feature I` or a pair `I,J` over the rows of `--input` (grid from their quantiles,
//! `--grid N` points per feature), as JSON on stdout or in `--output FILE.json` (written
//! atomically), and with `--png DIR` a plot: the PD line (pdp) or the ICE curves with the PD
//! drawn last (ice) for one feature, a heat map of the PD surface for a pair.

use super::CliResult;
use crate::report::Outputs;
use image::{Rgb, RgbImage};
use std::path::Path;
use xai_eval::plot::{line_chart, LineChart, Series};
use xai_passive::methods::Dependence;
use xai_passive::registry::OutputKind;

/// ICE curves drawn at most in the PNG (all are in the JSON).
const MAX_PLOTTED_CURVES: usize = 50;
/// Side of one grid cell of a pair's heat map, in pixels.
const CELL: u32 = 16;

/// The plot of `d` as PNG bytes.
fn plot(method: &str, individual: bool, d: &Dependence) -> CliResult<Vec<u8>> {
    if d.grid.len() == 1 {
        // ICE curves (pale) first, the partial dependence (black) drawn last, on top.
        let mut series: Vec<Vec<f64>> = if individual {
            d.ice.iter().take(MAX_PLOTTED_CURVES).cloned().collect()
        } else {
            Vec::new()
        };
        series.push(d.pd.clone());
        let (lo, hi) = series
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
        let lines: Vec<Series> = series
            .iter()
            .enumerate()
            .map(|(k, ys)| {
                let pts = d.grid[0].iter().copied().zip(ys.iter().copied()).collect();
                if k + 1 == series.len() {
                    Series::new("partial dependence", pts).with_colour([0, 0, 0])
                } else {
                    Series::new("", pts).with_colour([150, 170, 210])
                }
            })
            .collect();
        let chart = LineChart {
            title: format!("{method} of feature {}, class {}", d.features[0], d.target),
            x_label: format!("feature {}", d.features[0]),
            y_label: "logit".into(),
            series: lines,
            y_range: Some((lo - pad, hi + pad)),
            size: (640, 400),
            ..LineChart::default()
        };
        return Ok(line_chart(&chart)?.to_png()?);
    }
    let (rows, cols) = (d.grid[0].len(), d.grid[1].len());
    let (lo, hi) =
        d.pd.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let img = RgbImage::from_fn(cols as u32 * CELL, rows as u32 * CELL, |x, y| {
        let v = d.pd[(y / CELL) as usize * cols + (x / CELL) as usize];
        let Rgb(c) = crate::render::sequential(((v - lo) / span) as f32);
        Rgb(c)
    });
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )?;
    Ok(bytes)
}

/// Stages in `out` the plot of curves `d` of `method` in `dir`: the PD line (pdp) or the ICE
/// curves with the PD drawn last (ice) for one feature, a heat map of the PD surface for a pair.
pub fn write_plot(
    out: &mut Outputs,
    dir: &Path,
    method: &str,
    kind: OutputKind,
    d: &Dependence,
) -> CliResult {
    let individual = kind == (OutputKind::Curves { individual: true });
    let ids: Vec<String> = d.features.iter().map(usize::to_string).collect();
    let name = format!("{method}_feature_{}.png", ids.join("_"));
    out.create_dir_all(dir)?;
    out.add(&dir.join(name), &plot(method, individual, d)?)
}
