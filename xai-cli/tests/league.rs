//! `xai league`: an end-to-end run on the digits CNN writes league.md and league.json and
//! prints the table; methods that cannot run are noted, bad values refused in one line.

mod common;
use common::{assert_one_line_error, train_digits, xai};
use xai_nn::Dataset;

/// Trains the digits CNN briefly and writes 4 digits as input; returns (model, input).
fn setup(dir: &std::path::Path) -> (String, String) {
    let model = train_digits(dir, "2");
    let data = Dataset::bundled("digits")
        .unwrap()
        .with_input_shape(&[1, 8, 8])
        .unwrap();
    let x = dir.join("x.npy");
    data.x.narrow(0, 0, 4).unwrap().write_npy(&x).unwrap();
    (model, x.to_str().unwrap().into())
}

#[test]
fn league_writes_markdown_and_json_and_notes_skipped_methods() {
    let dir = tempfile::tempdir().unwrap();
    let (m, x) = setup(dir.path());
    let out = dir.path().join("league");
    let o = xai(&[
        "league",
        "--model",
        &m,
        "--input",
        &x,
        "--methods",
        "saliency,integrated-gradients,grad-cam,neuron-gradient,lrp",
        "--fast",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let md = std::fs::read_to_string(out.join("league.md")).unwrap();
    assert_eq!(stdout, md);
    assert!(md.starts_with("Method league on 4 examples"), "{md}");
    // Four ranked rows, places 1–4, then the skipped one.
    for place in ["| 1 | ", "| 2 | ", "| 3 | ", "| 4 | "] {
        assert!(md.contains(place), "{md}");
    }
    assert!(md.contains("| – | neuron-gradient |"), "{md}");
    // A misspelt method is a one-line error, not a skipped row.
    let o = xai(&[
        "league",
        "--model",
        &m,
        "--input",
        &x,
        "--methods",
        "saliency,telepathy",
        "--fast",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success()
            && stderr.trim_end().lines().count() == 1
            && stderr.contains("unknown method 'telepathy'"),
        "{stderr}"
    );
    let json = std::fs::read_to_string(out.join("league.json")).unwrap();
    for key in [
        "\"metrics\"",
        "\"examples\": 4",
        "\"mean_rank\"",
        "\"randomization\"",
    ] {
        assert!(json.contains(key), "{key}: {json}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "league.md" && n != "league.json")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_league_values_are_one_line_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (m, x) = setup(dir.path());
    let out = dir.path().join("out");
    let o_s = out.to_str().unwrap();
    for (extra, expect) in [
        (vec!["--samples", "0"], "--samples must be at least 1"),
        (vec!["--radius", "-1"], "--radius must be a finite number"),
        (vec!["--targets", "1,x"], "--targets must be 'argmax'"),
        (vec!["--targets", "1,2"], "2 targets given for 4 examples"),
        (vec!["--targets", "12"], "out of range"),
        (vec!["--baseline", "nope"], "baseline must be"),
    ] {
        let mut args = vec!["league", "--model", &m, "--input", &x, "--output-dir", o_s];
        args.extend(extra);
        assert_one_line_error(&args, expect);
        assert!(!out.exists());
    }
}

#[test]
fn every_default_method_runs_on_the_digits_cnn() {
    let dir = tempfile::tempdir().unwrap();
    let (m, x) = setup(dir.path());
    let out = dir.path().join("league");
    let start = std::time::Instant::now();
    let o = xai(&[
        "league",
        "--model",
        &m,
        "--input",
        &x,
        "--fast",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    eprintln!("league, default methods, 4 digits: {:?}", start.elapsed());
    let md = std::fs::read_to_string(out.join("league.md")).unwrap();
    for method in xai_eval::league::DEFAULT_METHODS {
        assert!(md.contains(&format!(" | {method} | ")), "{method}: {md}");
    }
    assert!(!md.contains("| – |") && !md.contains("Notes:"), "{md}");
}
