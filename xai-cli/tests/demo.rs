//! `xai demo` end to end (2 epochs, a few seconds): heatmaps, deletion/insertion charts, the
//! sanity-check plots, the breast-cancer bar charts, the league-table placeholder, and a
//! summary on stdout with every method's metrics.

use std::path::Path;

mod common;
use common::run_demo;

/// The `src="…"` targets of a page.
fn image_sources(html: &str) -> Vec<String> {
    html.split("src=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect()
}

fn decodes(path: &Path) -> bool {
    image::open(path).is_ok_and(|i| i.width() > 0 && i.height() > 0)
}

#[test]
fn demo_evaluates_the_digit_maps_and_explains_the_tabular_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_demo(dir.path());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let sources = image_sources(&html);
    for src in &sources {
        assert!(
            decodes(&dir.path().join(src)),
            "{src} is not a readable PNG"
        );
    }
    for want in [
        "charts/deletion_gradient.png",
        "charts/insertion_gradient.png",
        "charts/deletion_perturbation.png",
        "charts/insertion_perturbation.png",
        "png/kernel-shap_0.png",
        "png/occlusion_5.png",
        "sanity/saliency/sanity.png",
        "sanity/integrated-gradients/sanity.png",
    ] {
        assert!(sources.iter().any(|s| s == want), "{want} not linked");
    }
    for method in ["kernel-shap", "lime", "integrated-gradients"] {
        for row in 0..3 {
            let want = format!("charts/{method}_row{row}.png");
            assert!(sources.contains(&want), "{want} not linked");
        }
    }
    // The league table: one row per ranked method, with the files it links.
    assert!(html.contains("<h2 id=\"league\">Method league table</h2>"));
    for method in ["saliency", "integrated-gradients", "kernel-shap"] {
        assert!(
            html.contains(&format!("<td>{method}</td>")),
            "{method} not in the league"
        );
    }
    for file in ["league/league.md", "league/league.json"] {
        assert!(dir.path().join(file).is_file(), "{file} not written");
    }
    // Summary: one row per method plus the random reference, with finite AUCs in [0, 1].
    let stdout = String::from_utf8_lossy(&out.stdout);
    for method in [
        "saliency",
        "grad-cam",
        "deeplift",
        "occlusion",
        "lime",
        "random",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(method))
            .unwrap_or_else(|| panic!("{method} missing from the summary:\n{stdout}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        for auc in &cols[3..5] {
            let v: f64 = auc.parse().unwrap();
            assert!((0.0..=1.0).contains(&v), "{line}");
        }
    }
    assert!(stdout.contains("breast-cancer MLP"), "{stdout}");
    assert!(stdout.lines().last().unwrap().starts_with("report"));
}
