//! Every subcommand × every flag that takes a value, given values a hostile or careless user
//! passes (negative, zero, NaN, infinite, absurdly large): the run either succeeds or ends in
//! exactly one `error:` line with a non-zero exit, within a minute, and a failed run writes no
//! file (the runs start in an empty folder, so a stray output would show).

mod common;

use common::{fixture, names};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const VALUES: [&str; 6] = ["-1", "0", "nan", "inf", "1e300", "99999999999999999999"];

/// Flags naming files or folders (an output there could land anywhere) or choosing what runs
/// (their values are names, refused by name): not walked.
const SKIPPED: [&str; 14] = [
    "--model",
    "--input",
    "--output",
    "--output-dir",
    "--png",
    "--data",
    "--mask",
    "--reference",
    "--baselines",
    "--attributions",
    "--method",
    "--methods",
    "--metric",
    "--layer",
];

/// The flags of `xai <sub> --help` that take a value.
fn value_flags(sub: &str) -> Vec<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_xai"))
        .args([sub, "--help"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            match (w.next(), w.next()) {
                (Some(f), Some(v)) if f.starts_with("--") && v.starts_with('<') => {
                    Some(f.to_string())
                }
                _ => None,
            }
        })
        .filter(|f| !SKIPPED.contains(&f.as_str()))
        .collect()
}

/// Each method of `xai methods` with its flags.
fn method_flags() -> Vec<(String, Vec<String>)> {
    let o = Command::new(env!("CARGO_BIN_EXE_xai"))
        .arg("methods")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for l in text.lines().skip(1) {
        if let Some(flags) = l.trim().strip_prefix("flags:") {
            if let Some(last) = out.last_mut() {
                last.1 = flags
                    .split(',')
                    .filter_map(|f| f.split_whitespace().next().map(String::from))
                    .collect();
            }
        } else if !l.starts_with(' ') && !l.trim().is_empty() {
            out.push((l.split_whitespace().next().unwrap().to_string(), Vec::new()));
        }
    }
    out
}

/// Runs xai in `dir` with `args` (killed after a minute) and checks the promise; returns
/// whether it succeeded.
fn check(dir: &Path, args: &[String], allowed: &[&str]) -> bool {
    let before = names(dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_xai"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{args:?} ran for over a minute");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let after = names(dir);
    if status.success() {
        let new: Vec<&String> = after.iter().filter(|n| !before.contains(n)).collect();
        assert!(
            new.iter().all(|n| allowed.iter().any(|a| n.starts_with(a))),
            "{args:?} wrote {new:?}"
        );
    } else {
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(
            before, after,
            "{args:?} failed but changed the folder: {err}"
        );
    }
    status.success()
}

/// `base` with `flag value` set (replacing the flag's value when `base` has it).
fn with(base: &[String], flag: &str, value: &str) -> Vec<String> {
    let mut a = base.to_vec();
    match a.iter().position(|x| x == flag) {
        Some(i) if i + 1 < a.len() => a[i + 1] = value.to_string(),
        _ => a.extend([flag.to_string(), value.to_string()]),
    }
    a
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_value_flag_of_every_subcommand_takes_hostile_numbers_in_one_line_or_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mlp = fixture("mlp");
    let (model, input) = (mlp.join("model.json"), mlp.join("input.npy"));
    let (model, input) = (model.to_str().unwrap(), input.to_str().unwrap());
    let lenet = fixture("lenet");
    let (image_model, images) = (lenet.join("model.json"), lenet.join("input.npy"));
    let (image_model, images) = (image_model.to_str().unwrap(), images.to_str().unwrap());
    let mut walked = 0;
    // Every flag of explain, on the first method that takes it and runs on a fixture (the
    // tabular MLP, else the image LeNet), with the flags some methods require.
    let methods = method_flags();
    assert!(methods.len() > 20, "{methods:?}");
    let required = |m: &str| -> Vec<&str> {
        match m {
            "occlusion" => vec!["--window", "2x2"],
            "pdp" | "ice" => vec!["--feature", "0"],
            "neuron-gradient" | "neuron-integrated-gradients" => vec!["--neuron", "0:0"],
            _ => vec![],
        }
    };
    let explain = |m: &str, (model, input): (&str, &str)| {
        let mut a = strings(&[
            "explain", "--model", model, "--input", input, "--method", m, "--output", "e.npy",
        ]);
        a.extend(strings(&required(m)));
        a
    };
    let runs = |a: &[String]| -> bool {
        let o = Command::new(env!("CARGO_BIN_EXE_xai"))
            .args(a)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let _ = std::fs::remove_file(dir.path().join("e.npy"));
        o.status.success()
    };
    let bases: Vec<(Vec<String>, &Vec<String>)> = methods
        .iter()
        .filter_map(|(m, flags)| {
            [(model, input), (image_model, images)]
                .into_iter()
                .map(|f| explain(m, f))
                .find(|a| runs(a))
                .map(|a| (a, flags))
        })
        .collect();
    assert!(bases.len() > 25, "{} methods run", bases.len());
    let mut unwalked = Vec::new();
    for flag in value_flags("explain") {
        let base = match bases.iter().find(|(_, f)| f.contains(&flag)) {
            Some((a, _)) => a.clone(),
            None if [
                "--target",
                "--batch-size",
                "--device",
                "--max-memory",
                "--format",
            ]
            .contains(&flag.as_str()) =>
            {
                explain("saliency", (model, input))
            }
            None => {
                unwalked.push(flag);
                continue;
            }
        };
        for v in VALUES {
            check(dir.path(), &with(&base, &flag, v), &["e.npy"]);
            let _ = std::fs::remove_file(dir.path().join("e.npy"));
            walked += 1;
        }
    }
    assert!(
        unwalked.is_empty(),
        "explain flags no method runs with: {unwalked:?}"
    );
    // The other subcommands, from a valid quick run each (rules on an iris model trained here).
    let iris = dir.path().join("iris_model.json");
    assert!(check(
        dir.path(),
        &strings(&[
            "train",
            "--model",
            common::example("iris_mlp.json").to_str().unwrap(),
            "--data",
            "iris",
            "--epochs",
            "2",
            "--output",
            iris.to_str().unwrap(),
        ]),
        &["iris_model."],
    ));
    let subcommands: [(&str, Vec<String>, &[&str]); 5] = [
        (
            "rules",
            strings(&[
                "rules",
                "--model",
                iris.to_str().unwrap(),
                "--data",
                "iris",
                "--output",
                "r.txt",
            ]),
            &["r.txt"],
        ),
        (
            "predict",
            strings(&[
                "predict", "--model", model, "--input", input, "--output", "p.npy",
            ]),
            &["p.npy"],
        ),
        (
            "train",
            strings(&[
                "train",
                "--model",
                common::example("iris_mlp.json").to_str().unwrap(),
                "--data",
                "iris",
                "--epochs",
                "1",
                "--output",
                "t.json",
            ]),
            &["t."],
        ),
        (
            "evaluate",
            strings(&[
                "evaluate", "--model", model, "--input", input, "--metric", "deletion", "--method",
                "saliency", "--steps", "4",
            ]),
            &[],
        ),
        (
            "league",
            strings(&[
                "league",
                "--model",
                model,
                "--input",
                input,
                "--methods",
                "saliency,input-x-gradient",
                "--fast",
                "--output-dir",
                "league",
            ]),
            &["league"],
        ),
    ];
    for (sub, base, allowed) in subcommands {
        assert!(
            check(dir.path(), &base, allowed),
            "the base run of {sub} fails"
        );
        for flag in value_flags(sub) {
            for v in VALUES {
                check(dir.path(), &with(&base, &flag, v), allowed);
                walked += 1;
            }
        }
        for a in allowed {
            let p = dir.path().join(a);
            let _ = std::fs::remove_dir_all(&p);
            for n in names(dir.path()).iter().filter(|n| n.starts_with(a)) {
                let _ = std::fs::remove_file(dir.path().join(n));
            }
        }
    }
    // The global --max-memory before the subcommand too.
    for v in VALUES {
        let mut a = strings(&["--max-memory", v]);
        a.extend(strings(&[
            "predict", "--model", model, "--input", input, "--output", "p.npy",
        ]));
        assert!(!check(dir.path(), &a, &[]), "--max-memory {v} accepted");
        walked += 1;
    }
    eprintln!("{walked} runs");
}
