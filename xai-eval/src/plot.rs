//! Charts of evaluation results as PNG images, drawn with `plotters` (bitmap backend) and
//! encoded with `image`: line charts (several named series, legend, axis labels; the
//! sanity-check and deletion/insertion curves) and horizontal bar charts of signed values
//! with feature names (tabular attributions). Text uses the bundled DejaVu Sans
//! (`assets/DejaVuSans.ttf`, Bitstream Vera licence), so no system font is needed.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;
use std::sync::Once;
use xai_passive::rules::DecisionTree;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Series colours, in order (Matplotlib's tab10: blue, orange, green, red, purple, brown,
/// pink, grey, olive, cyan; then light orange and black).
pub const COLOURS: [[u8; 3]; 12] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
    [255, 187, 120],
    [0, 0, 0],
];

/// Positive bars of [`bar_chart`] (red, as positive attributions in the heatmaps).
pub const POSITIVE: [u8; 3] = [214, 39, 40];
/// Negative bars of [`bar_chart`] (blue).
pub const NEGATIVE: [u8; 3] = [31, 119, 180];

/// An RGB image, row-major, 3 bytes per pixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width·height·3` bytes.
    pub rgb: Vec<u8>,
}

impl Image {
    /// The PNG encoding (8-bit RGB).
    pub fn to_png(&self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut out),
            &self.rgb,
            self.width,
            self.height,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(std::io::Error::other)?;
        Ok(out)
    }

    /// Writes the PNG file atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        xai_tensor::write_atomic(path, &self.to_png()?).map_err(std::io::Error::other)
    }
}

/// One named line of a [`LineChart`]: points (x, y); non-finite y values are left out.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// Its colour; `None`: the series' place in [`COLOURS`].
    pub colour: Option<[u8; 3]>,
}

impl Series {
    /// A series of the points `(x, y)`.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            colour: None,
        }
    }

    /// A series of `ys` at x = 0, 1, 2, …
    pub fn indexed(name: impl Into<String>, ys: &[f64]) -> Self {
        Self::new(
            name,
            ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect(),
        )
    }

    /// The same series drawn in `colour`.
    pub fn with_colour(self, colour: [u8; 3]) -> Self {
        Self {
            colour: Some(colour),
            ..self
        }
    }
}

/// A line chart: title, axis labels, series in [`COLOURS`] order with a legend of the named
/// series to the right of the plot (unnamed series, e.g. ICE curves, are drawn unlisted).
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    /// Caption above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Y axis range; `None`: the data's range (with a margin).
    pub y_range: Option<(f64, f64)>,
    /// Names of the integer x positions 0, 1, … (e.g. layer names); empty: numeric ticks.
    pub x_ticks: Vec<String>,
    /// Size in pixels.
    pub size: (u32, u32),
}

impl Default for LineChart {
    fn default() -> Self {
        Self {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            series: Vec::new(),
            y_range: None,
            x_ticks: Vec::new(),
            size: (640, 400),
        }
    }
}

/// A horizontal bar chart of signed values, one bar per named feature, top to bottom in the
/// given order; positive bars [`POSITIVE`], negative [`NEGATIVE`].
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    /// Caption above the plot.
    pub title: String,
    /// Label of the value axis.
    pub x_label: String,
    /// (feature name, value), drawn top to bottom.
    pub bars: Vec<(String, f64)>,
    /// Size in pixels.
    pub size: (u32, u32),
}

fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

fn font_ready() {
    static REGISTER: Once = Once::new();
    // The bundled font is a valid TrueType file (checked by the tests); if it were not,
    // plotters reports the missing font as a drawing error.
    REGISTER.call_once(|| {
        let _ = register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

fn draw_err<E: std::error::Error + Send + Sync + 'static>(e: E) -> std::io::Error {
    std::io::Error::other(format!("plot: {e}"))
}

/// `(lo, hi)` with a 5% margin, or ±1 around a single value; (0, 1) without finite values.
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 1.0, hi + 1.0)
    } else {
        let m = 0.05 * (hi - lo);
        (lo - m, hi + m)
    }
}

/// Draws `c` on a white canvas and returns it.
///
/// **Errors** (as `std::io::Error`) when plotters fails to draw.
pub fn line_chart(c: &LineChart) -> std::io::Result<Image> {
    font_ready();
    let (w, h) = c.size;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let named = c.series.iter().any(|s| !s.name.is_empty());
        let longest = c
            .series
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(0);
        let legend_width = if named {
            (longest as u32 * 7 + 44).min(w / 3)
        } else {
            0
        };
        let (plot, legend) = root.split_horizontally(w - legend_width);
        let (x0, x1) = if c.x_ticks.is_empty() {
            padded_range(c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)))
        } else {
            (-0.2, c.x_ticks.len().max(2) as f64 - 0.8)
        };
        let (y0, y1) = c.y_range.unwrap_or_else(|| {
            padded_range(c.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)))
        });
        let mut chart = ChartBuilder::on(&plot)
            .caption(&c.title, (FAMILY, 18))
            .margin(12)
            .x_label_area_size(if c.x_ticks.is_empty() { 40 } else { 60 })
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(draw_err)?;
        let ticks = &c.x_ticks;
        let tick_name = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < ticks.len() {
                ticks[i as usize].clone()
            } else {
                String::new()
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(&c.x_label)
            .y_desc(&c.y_label)
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .max_light_lines(1)
            .light_line_style(RGBColor(240, 240, 240));
        if !ticks.is_empty() {
            mesh.x_labels(ticks.len() * 2 + 1)
                .x_label_formatter(&tick_name)
                .disable_x_mesh();
        }
        mesh.draw().map_err(draw_err)?;
        if y0 < 0.0 && y1 > 0.0 {
            chart
                .draw_series(LineSeries::new(
                    [(x0, 0.0), (x1, 0.0)],
                    RGBColor(150, 150, 150),
                ))
                .map_err(draw_err)?;
        }
        let colour = |k: usize, s: &Series| rgb(s.colour.unwrap_or(COLOURS[k % COLOURS.len()]));
        for (k, s) in c.series.iter().enumerate() {
            let col = colour(k, s);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))
                .map_err(draw_err)?;
            // Point markers on short named series (unnamed ones are background curves).
            if pts.len() <= 40 && !s.name.is_empty() {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, col.filled())))
                    .map_err(draw_err)?;
            }
        }
        // The legend: a swatch and the name per named series, top down, beside the plot.
        let listed = c
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.name.is_empty());
        for (row, (k, s)) in listed.enumerate() {
            let col = colour(k, s);
            let y = 44 + 20 * row as i32;
            legend
                .draw(&PathElement::new(
                    vec![(4, y), (26, y)],
                    col.stroke_width(3),
                ))
                .map_err(draw_err)?;
            legend
                .draw(&Text::new(
                    s.name.clone(),
                    (32, y - 7),
                    (FAMILY, 13).into_font().color(&BLACK),
                ))
                .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(Image {
        width: w,
        height: h,
        rgb: buf,
    })
}

/// Draws `c` on a white canvas and returns it.
///
/// **Errors** (as `std::io::Error`) when plotters fails to draw.
pub fn bar_chart(c: &BarChart) -> std::io::Result<Image> {
    font_ready();
    let (w, h) = c.size;
    let n = c.bars.len();
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (lo, hi) = padded_range(c.bars.iter().map(|b| b.1).chain([0.0]));
        let longest = c
            .bars
            .iter()
            .map(|b| b.0.chars().count())
            .max()
            .unwrap_or(0);
        let mut chart = ChartBuilder::on(&root)
            .caption(&c.title, (FAMILY, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size((longest as u32 * 7 + 16).clamp(40, w / 2))
            // Integer ranges include their end: 0..n−1 makes n segments.
            .build_cartesian_2d(lo..hi, (0..n.max(1) - 1).into_segmented())
            .map_err(draw_err)?;
        // Row i of the chart (counted from the bottom) shows bar n − 1 − i.
        let name = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => c.bars[n - 1 - i].0.clone(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .x_desc(&c.x_label)
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .y_labels(n.max(1))
            .y_label_formatter(&name)
            .disable_y_mesh()
            .max_light_lines(1)
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(draw_err)?;
        chart
            .draw_series(c.bars.iter().enumerate().map(|(k, (_, v))| {
                let row = n - 1 - k;
                let col = rgb(if *v >= 0.0 { POSITIVE } else { NEGATIVE });
                let v = if v.is_finite() { *v } else { 0.0 };
                let mut bar = Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(row)),
                        (v, SegmentValue::Exact(row + 1)),
                    ],
                    col.filled(),
                );
                bar.set_margin(3, 3, 0, 0);
                bar
            }))
            .map_err(draw_err)?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, SegmentValue::Exact(0)), (0.0, SegmentValue::Exact(n))],
                BLACK,
            ))
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(Image {
        width: w,
        height: h,
        rgb: buf,
    })
}

/// Width of one leaf's column in [`tree_chart`], pixels.
const TREE_COLUMN: u32 = 150;
/// Height of one depth level in [`tree_chart`], pixels.
const TREE_LEVEL: u32 = 90;
/// Most leaves [`tree_chart`] draws (a larger tree is refused: it would not be readable).
pub const MAX_DRAWN_LEAVES: usize = 64;

/// The most lines an m-of-n test adds to a box of [`tree_chart`] beyond two.
fn extra_lines(tree: &DecisionTree) -> u32 {
    tree.nodes
        .iter()
        .filter_map(|n| match n.split.as_ref().map(|s| &s.test) {
            Some(xai_passive::rules::Test::AtLeast(g)) => Some(g.literals.len() as u32 - 1),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// A decision tree drawn top-down: each decision node a box with its test
/// (`feature <= t`), each leaf a box in its class's colour ([`COLOURS`]) with its class and
/// training rows, edges to the left child (test holds) and the right one. Leaves sit in
/// columns in preorder; a decision node is centred over its leaves.
///
/// **Errors** (as `std::io::Error`) for a tree of more than [`MAX_DRAWN_LEAVES`] leaves, or
/// when plotters fails to draw.
pub fn tree_chart(tree: &DecisionTree, title: &str) -> std::io::Result<Image> {
    use xai_passive::rules::{shown_threshold, Test};
    font_ready();
    let leaves = tree.leaves();
    if leaves > MAX_DRAWN_LEAVES {
        return Err(std::io::Error::other(format!(
            "a tree of {leaves} leaves is too large to draw (at most {MAX_DRAWN_LEAVES}); limit its depth"
        )));
    }
    // x of each node: leaves in preorder columns, decision nodes at the mean of their children.
    let n = tree.nodes.len();
    let mut x = vec![0.0f64; n];
    let mut next_leaf = 0.0;
    for (xi, node) in x.iter_mut().zip(&tree.nodes) {
        if node.split.is_none() {
            *xi = next_leaf;
            next_leaf += 1.0;
        }
    }
    for i in (0..n).rev() {
        if let Some(s) = &tree.nodes[i].split {
            x[i] = (x[s.left] + x[s.right]) / 2.0;
        }
    }
    let (w, h) = (
        (leaves as u32 * TREE_COLUMN).max(320),
        (tree.depth() as u32 + 1) * TREE_LEVEL + 50 + 13 * extra_lines(tree),
    );
    let px = |i: usize| (x[i] * f64::from(TREE_COLUMN) + f64::from(TREE_COLUMN) / 2.0) as i32;
    let py = |i: usize| (tree.nodes[i].depth as u32 * TREE_LEVEL + 70) as i32;
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let style = (FAMILY, 12).into_font().color(&BLACK);
        root.draw(&Text::new(
            title.to_string(),
            (10, 10),
            (FAMILY, 16).into_font(),
        ))
        .map_err(draw_err)?;
        for (i, node) in tree.nodes.iter().enumerate() {
            if let Some(s) = &node.split {
                for (child, label) in [(s.left, "true"), (s.right, "false")] {
                    root.draw(&PathElement::new(
                        vec![(px(i), py(i) + 14), (px(child), py(child) - 14)],
                        BLACK,
                    ))
                    .map_err(draw_err)?;
                    let mid = ((px(i) + px(child)) / 2, (py(i) + py(child)) / 2 - 6);
                    root.draw(&Text::new(
                        label,
                        mid,
                        (FAMILY, 11).into_font().color(&RGBColor(110, 110, 110)),
                    ))
                    .map_err(draw_err)?;
                }
            }
        }
        let half = TREE_COLUMN as i32 / 2 - 6;
        for (i, node) in tree.nodes.iter().enumerate() {
            let (cx, cy) = (px(i), py(i));
            let (fill, lines) = match node.split.as_ref().map(|s| &s.test) {
                Some(Test::Threshold { feature, threshold }) => (
                    RGBColor(245, 245, 245),
                    vec![
                        tree.feature_name(*feature),
                        format!("<= {}", shown_threshold(*threshold)),
                    ],
                ),
                Some(Test::AtLeast(g)) => (
                    RGBColor(245, 245, 245),
                    std::iter::once(format!("{} of", g.m))
                        .chain(g.literals.iter().map(ToString::to_string))
                        .collect(),
                ),
                None => {
                    let k = tree.node_class(i);
                    let [r, g, b] = COLOURS[k % COLOURS.len()];
                    let pale = |c: u8| ((u16::from(c) + 2 * 255) / 3) as u8;
                    (
                        RGBColor(pale(r), pale(g), pale(b)),
                        vec![format!("class {k}"), format!("{} rows", node.samples)],
                    )
                }
            };
            // Two lines fit the standard box; an m-of-n test's extra lines extend it down.
            let extra = 13 * (lines.len().max(2) as i32 - 2);
            let rect = [(cx - half, cy - 14), (cx + half, cy + 14 + extra)];
            root.draw(&Rectangle::new(rect, fill.filled()))
                .map_err(draw_err)?;
            root.draw(&Rectangle::new(rect, BLACK)).map_err(draw_err)?;
            for (k, line) in lines.iter().enumerate() {
                // Long feature names are cut to fit the box.
                let shown: String = if line.chars().count() > 22 {
                    line.chars().take(21).chain(['…']).collect()
                } else {
                    line.clone()
                };
                let tw = shown.chars().count() as i32 * 6;
                root.draw(&Text::new(
                    shown,
                    (cx - tw / 2, cy - 12 + 13 * k as i32),
                    style.clone(),
                ))
                .map_err(draw_err)?;
            }
        }
        root.present().map_err(draw_err)?;
    }
    Ok(Image {
        width: w,
        height: h,
        rgb: buf,
    })
}

/// Writes `chart` as a PNG file (see [`line_chart`]).
pub fn write_line_chart(path: &Path, chart: &LineChart) -> std::io::Result<()> {
    line_chart(chart)?.save(path)
}

/// Writes `chart` as a PNG file (see [`bar_chart`]).
pub fn write_bar_chart(path: &Path, chart: &BarChart) -> std::io::Result<()> {
    bar_chart(chart)?.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(img: &Image, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * img.width + x) * 3) as usize;
        [img.rgb[i], img.rgb[i + 1], img.rgb[i + 2]]
    }

    fn count(img: &Image, c: [u8; 3]) -> usize {
        img.rgb.chunks(3).filter(|p| *p == c).count()
    }

    #[test]
    fn line_chart_draws_each_series_in_its_colour_and_encodes_png() {
        let chart = LineChart {
            title: "deletion".into(),
            x_label: "fraction removed".into(),
            y_label: "probability".into(),
            series: vec![
                Series::indexed("a", &[1.0, 0.5, 0.2]),
                Series::indexed("b", &[1.0, 0.9, f64::NAN, -0.1]),
                Series::indexed("c", &[0.5, 0.5]).with_colour([1, 2, 3]),
            ],
            y_range: Some((-0.2, 1.0)),
            ..LineChart::default()
        };
        let img = line_chart(&chart).unwrap();
        assert_eq!((img.width, img.height), (640, 400));
        assert_eq!(img.rgb.len(), 640 * 400 * 3);
        assert!(count(&img, COLOURS[0]) > 100, "series a missing");
        assert!(count(&img, COLOURS[1]) > 100, "series b missing");
        assert_eq!(
            count(&img, COLOURS[2]),
            0,
            "an explicit colour replaces the third"
        );
        assert!(count(&img, [1, 2, 3]) > 100, "series c missing");
        // Text was rendered with the bundled font: dark pixels in the caption band.
        let dark_top = (0..640)
            .flat_map(|x| (0..30).map(move |y| (x, y)))
            .filter(|&(x, y)| pixel(&img, x, y)[0] < 100)
            .count();
        assert!(dark_top > 20, "no caption text drawn");
        let png = img.to_png().unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (640, 400));
        assert_eq!(back.into_raw(), img.rgb);
    }

    #[test]
    fn bar_chart_colours_bars_by_sign_and_orders_them_top_down() {
        let chart = BarChart {
            title: "kernel-shap".into(),
            x_label: "attribution".into(),
            bars: vec![("mean radius".into(), 2.0), ("worst area".into(), -1.0)],
            size: (480, 240),
        };
        let img = bar_chart(&chart).unwrap();
        let rows = |c: [u8; 3]| -> Vec<u32> {
            (0..img.height)
                .filter(|&y| (0..img.width).any(|x| pixel(&img, x, y) == c))
                .collect()
        };
        let (pos, neg) = (rows(POSITIVE), rows(NEGATIVE));
        assert!(!pos.is_empty() && !neg.is_empty());
        // The first bar (positive) is above the second (negative).
        assert!(pos.iter().max() < neg.iter().min(), "{pos:?} {neg:?}");
        // The positive bar is twice as long as the negative one.
        let width = |c: [u8; 3]| {
            let y = rows(c)[rows(c).len() / 2];
            (0..img.width).filter(|&x| pixel(&img, x, y) == c).count() as f64
        };
        let ratio = width(POSITIVE) / width(NEGATIVE);
        assert!((ratio - 2.0).abs() < 0.1, "{ratio}");
        for bars in [vec![], vec![("only".to_string(), -3.0)]] {
            let one = BarChart {
                bars,
                ..chart.clone()
            };
            assert!(bar_chart(&one).is_ok());
        }
    }

    #[test]
    fn charts_are_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.png");
        write_line_chart(&p, &LineChart::default()).unwrap();
        assert!(image::open(&p).is_ok());
        // A folder that cannot be made (a file in its place): an error, nothing left behind.
        std::fs::write(dir.path().join("blocker"), b"x").unwrap();
        assert!(
            write_line_chart(&dir.path().join("blocker/c.png"), &LineChart::default()).is_err()
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
