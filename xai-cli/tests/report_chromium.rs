//! The demo report as a person sees it: headless Chromium (Debian's `chromium`, offline
//! flags) renders `report.html` via `tools/check_report.sh`, which fails unless Chromium
//! loaded and decoded every `<img>`; the screenshot must show the heatmaps and charts, not a
//! blank page. Skipped, with a printed reason, where `/usr/bin/chromium` is missing.

use std::path::Path;
use std::process::Command;

mod common;
use common::run_demo;

#[test]
fn chromium_renders_every_image_of_the_demo_report() {
    if !Path::new("/usr/bin/chromium").exists() {
        eprintln!("skipped: /usr/bin/chromium is missing (apt-get install chromium)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/check_report.sh");
    let shot = dir.path().join("shot.png");
    let check = Command::new("bash")
        .arg(&script)
        .arg(dir.path().join("report.html"))
        .arg(&shot)
        .arg("1280x4950")
        .output()
        .expect("run check_report.sh");
    let said = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "{said}");
    assert!(said.contains("BAD 0"), "{said}");
    let img = image::open(&shot).expect("a PNG screenshot").to_rgb8();
    assert_eq!(img.dimensions(), (1280, 4950));
    let pixels = img.pixels().count() as f64;
    let count = |f: &dyn Fn(&image::Rgb<u8>) -> bool| img.pixels().filter(|p| f(p)).count();
    let non_white = count(&|p| p.0 != [255, 255, 255]) as f64 / pixels;
    assert!(non_white > 0.05, "blank page? {non_white:.3} non-white");
    // Heatmaps drawn: saturated red (positive evidence) over many pixels; charts drawn: the
    // first series colour of the curves (tab10 blue).
    let red = count(&|p| p[0] > 200 && p[1] < 60 && p[2] < 60);
    assert!(red > 2_000, "{red} red pixels: heatmaps not rendered");
    let blue = count(&|p| p.0 == [31, 119, 180]);
    assert!(blue > 200, "{blue} chart-blue pixels: charts not rendered");
}
