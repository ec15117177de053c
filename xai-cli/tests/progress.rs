//! Progress bars go to stderr, only when it is a terminal, and `--quiet` (accepted by every
//! subcommand) silences them; stdout carries results only.

use std::process::Command;

mod common;
use common::{example, fixture, xai};

/// Runs `xai ARGS` with a pseudo-terminal as stdin/stdout/stderr (util-linux `script`), and
/// returns what the terminal showed; `None` (with a printed reason) when `script` is missing.
fn on_terminal(args: &[&str]) -> Option<String> {
    if !std::path::Path::new("/usr/bin/script").exists() {
        eprintln!("skipped: /usr/bin/script (util-linux) is missing");
        return None;
    }
    let cmd = std::iter::once(env!("CARGO_BIN_EXE_xai"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("/usr/bin/script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("run script");
    assert!(out.status.success(), "{cmd}: {out:?}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn train_draws_a_bar_on_a_terminal_and_quiet_silences_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let arch = example("iris_mlp.json");
    let args = [
        "train",
        "--model",
        arch.to_str().unwrap(),
        "--data",
        "iris",
        "--epochs",
        "20",
        "--output",
        out.to_str().unwrap(),
    ];
    let Some(shown) = on_terminal(&args) else {
        return;
    };
    assert!(shown.contains("batches"), "no bar drawn: {shown}");
    let mut quiet = args.to_vec();
    quiet.push("--quiet");
    let shown = on_terminal(&quiet).unwrap();
    assert!(
        !shown.contains("batches"),
        "bar drawn with --quiet: {shown}"
    );
    assert!(shown.contains("test_accuracy"), "{shown}");
    // Off a terminal: nothing on stderr, the summary alone on stdout.
    let o = xai(&args);
    assert!(o.status.success());
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
}

#[test]
fn every_subcommand_accepts_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("lenet");
    let (model, input) = (f.join("model.json"), f.join("input.npy"));
    let (model, input) = (model.to_str().unwrap(), input.to_str().unwrap());
    let out = dir.path().join("o.npy");
    let out = out.to_str().unwrap();
    let runs: [&[&str]; 4] = [
        &[
            "predict", "--model", model, "--input", input, "--output", out,
        ],
        &[
            "explain", "--model", model, "--input", input, "--output", out,
        ],
        &[
            "evaluate",
            "--model",
            model,
            "--input",
            input,
            "--metric",
            "sparseness",
            "--method",
            "saliency",
        ],
        &["methods"],
    ];
    for args in runs {
        for quiet in [false, true] {
            let mut a = args.to_vec();
            if quiet {
                a.push("--quiet");
            }
            let o = xai(&a);
            assert!(
                o.status.success(),
                "{a:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                o.stderr.is_empty(),
                "{a:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    for cmd in ["train", "demo"] {
        let o = xai(&[cmd, "--quiet", "--help"]);
        assert!(o.status.success(), "{cmd}");
    }
}
