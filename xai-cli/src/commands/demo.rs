//! `xai demo`: the bundled end-to-end run, offline. Trains the 8×8-digits CNN on the bundled
//! digits (30 epochs, a couple of seconds), explains held-out digits with the gradient-family
//! methods, and writes heatmaps and an HTML report.

use super::CliResult;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;
use xai_nn::train::{evaluate, train, TrainConfig};
use xai_nn::{file, Dataset, Forward, Layered};
use xai_passive::{registry, MethodOptions};
use xai_tensor::write_atomic;

const ARCHITECTURE: &[u8] = include_bytes!("../../../examples/digits_cnn.json");

/// Methods shown in the demo, in report order.
const METHODS: &[&str] = &[
    "saliency",
    "input-x-gradient",
    "integrated-gradients",
    "smoothgrad",
    "guided-backprop",
    "deconvnet",
    "grad-cam",
    "guided-grad-cam",
    "lrp",
    "deep-taylor",
    "deeplift",
];

/// Held-out digits explained.
const EXAMPLES: usize = 6;

/// Arguments of `xai demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder for the trained model, heatmaps and report.html (created if absent).
    #[arg(long, default_value = "demo-output")]
    pub output_dir: PathBuf,
    /// Training epochs of the digits CNN.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
}

/// Runs the demo and prints a summary and the report's path.
pub fn run(a: &Args) -> CliResult {
    let dir = &a.output_dir;
    std::fs::create_dir_all(dir.join("png")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let arch = dir.join("digits_cnn.json");
    write_atomic(&arch, ARCHITECTURE)?;
    let start = Instant::now();
    let mut model = file::load_or_init(&arch, 0)?;
    let data = Dataset::bundled("digits")?.with_input_shape(&[1, 8, 8])?;
    let (train_set, test_set) = data.stratified_split(0.2, 0)?;
    let cfg = TrainConfig {
        epochs: a.epochs,
        ..TrainConfig::default()
    };
    let bar = crate::progress::bar(a.epochs as u64, "epochs");
    bar.set_message("training");
    train(&mut model, &train_set, &cfg, None, &mut |p| {
        bar.set_position(p.epoch as u64 + 1)
    })?;
    bar.finish_and_clear();
    file::save(&model, dir.join("model.json"))?;
    let (acc, _) = evaluate(&model, &test_set)?;
    println!(
        "trained  digits CNN, {} epochs, held-out accuracy {:.1}% ({:.1} s)",
        a.epochs,
        100.0 * acc,
        start.elapsed().as_secs_f64()
    );

    // The first held-out example of each of EXAMPLES different classes.
    let mut picked: Vec<usize> = Vec::new();
    for (i, y) in test_set.y.iter().enumerate() {
        if picked.len() < EXAMPLES && !picked.iter().any(|&j| test_set.y[j] == *y) {
            picked.push(i);
        }
    }
    let x = test_set.x.index_select(0, &picked)?;
    let labels: Vec<usize> = picked.iter().map(|&i| test_set.y[i]).collect();
    let pred = model.predict(&x)?.argmax(1)?;
    x.write_npy(dir.join("inputs.npy"))?;
    crate::render::write_heatmaps(&dir.join("png"), "input", &x, &x, false)?;
    let m: &dyn Layered = &model;
    let mut rows = String::new();
    println!(
        "{:<22} {:>9}  completeness gap (mean |Σa − Δf|)",
        "method", "seconds"
    );
    let bar = crate::progress::bar(METHODS.len() as u64, "methods");
    for name in METHODS {
        bar.set_message(*name);
        let t = Instant::now();
        let e = registry::build(name, &MethodOptions::default())?.attribute(m, &x, &pred)?;
        let secs = t.elapsed().as_secs_f64();
        e.attributions.write_npy(dir.join(format!("{name}.npy")))?;
        crate::render::write_heatmaps(&dir.join("png"), name, &x, &e.attributions, true)?;
        let gap = e.completeness_gap.map(|g| {
            format!(
                "{:.2e}",
                g.iter().map(|v| v.abs()).sum::<f64>() / g.len().max(1) as f64
            )
        });
        bar.suspend(|| println!("{name:<22} {secs:>9.3}  {}", gap.as_deref().unwrap_or("-")));
        bar.inc(1);
        let _ = write!(rows, "<tr><th>{name}<br><small>{secs:.2} s</small></th>");
        for i in 0..picked.len() {
            let _ = write!(
                rows,
                "<td><img src=\"png/{name}_{i}.png\" alt=\"{name} {i}\"></td>"
            );
        }
        rows.push_str("</tr>\n");
    }
    bar.finish_and_clear();
    let mut head = String::from("<tr><th>input</th>");
    for (i, (l, p)) in labels.iter().zip(&pred).enumerate() {
        let _ = write!(head, "<td><img src=\"png/input_{i}.png\" alt=\"input {i}\"><br>label {l}, predicted {p}</td>");
    }
    head.push_str("</tr>\n");
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>xai demo</title><style>\
         body{{font-family:sans-serif}} td,th{{padding:4px;text-align:center}} img{{width:112px;image-rendering:pixelated}}</style></head>\
         <body><h1>xai demo: explaining a digits CNN</h1>\
         <p>CNN trained on the bundled 8×8 digits ({} epochs), held-out accuracy {:.1}%. Each heatmap explains the predicted class: \
         red supports it, blue speaks against it.</p><table>\n{head}{rows}</table></body></html>\n",
        a.epochs,
        100.0 * acc
    );
    write_atomic(&dir.join("report.html"), html.as_bytes())?;
    println!("report   {}", dir.join("report.html").display());
    Ok(())
}
