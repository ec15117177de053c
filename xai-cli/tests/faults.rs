//! Faults against the release binary: signals during a run, special files as inputs, outputs
//! that cannot be written. The promise: one `error:` line, a non-zero exit, no temporary file
//! left, and every output either as it was or completely new.
#![cfg(unix)]

mod common;

use common::{fixture, names, xai};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Every temporary file under `dir` (the marker of `xai_tensor::fs`).
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(temp_files(&p));
        } else if p.to_string_lossy().contains(xai_tensor::fs::TEMP_MARKER) {
            out.push(p);
        }
    }
    out
}

/// Starts the binary with the default action for SIGINT and SIGTERM (a test harness or a
/// background shell may have them ignored, and xai keeps an ignored signal ignored).
fn spawn(args: &[&str]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xai"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    cmd.spawn().expect("start xai")
}

/// Whether the process has its handler for `sig` installed (Linux: `SigCgt` in
/// /proc/PID/status; elsewhere assumed after a moment).
fn catches(pid: u32, sig: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(s) => s
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (sig - 1)) != 0),
        Err(_) => {
            std::thread::sleep(Duration::from_millis(300));
            true
        }
    }
}

/// Waits at most `limit` for the child; kills it (and fails) if it does not end.
fn wait_for(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("xai did not end within {limit:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stderr_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
    s
}

fn send(child: &Child, sig: i32) {
    // SAFETY: a signal to our own child, by its id.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

#[test]
fn sigint_or_sigterm_during_a_long_explain_is_one_line_and_leaves_the_old_output() {
    let lenet = fixture("lenet");
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.npy");
        std::fs::write(&out, b"old output").unwrap();
        // Seconds of work: integrated gradients with the most steps it takes (10,000).
        let mut child = spawn(&[
            "explain",
            "--model",
            lenet.join("model.json").to_str().unwrap(),
            "--input",
            lenet.join("input.npy").to_str().unwrap(),
            "--method",
            "integrated-gradients",
            "--steps",
            "10000",
            "--png",
            dir.path().join("png").to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        let start = Instant::now();
        while !catches(child.id(), sig) {
            assert!(start.elapsed() < Duration::from_secs(20), "no handler");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(300)); // into the computation
        send(&child, sig);
        let status = wait_for(&mut child, Duration::from_secs(20));
        let err = stderr_of(&mut child);
        assert_eq!(status.code(), Some(128 + sig), "{name}: {status:?} {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(
            err.starts_with(&format!("error: interrupted by {name}")),
            "{err}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), b"old output");
        assert_eq!(names(dir.path()), ["out.npy"], "{name}: nothing else");
    }
}

#[test]
fn signals_at_random_moments_leave_old_or_new_complete_outputs_and_no_temp_file() {
    let lenet = fixture("lenet");
    let (model, input) = (lenet.join("model.json"), lenet.join("input.npy"));
    let args = |dir: &Path| -> Vec<String> {
        [
            "explain",
            "--model",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--png",
            dir.join("png").to_str().unwrap(),
            "--output",
            dir.join("out.npy").to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    // The new outputs, from an uninterrupted run (saliency is deterministic).
    let reference = tempfile::tempdir().unwrap();
    let a = args(reference.path());
    let t = Instant::now();
    let o = xai(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let full = t.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let new_files = ["out.npy", "png/saliency_0.png", "png/saliency_3.png"];
    let read = |dir: &Path, f: &str| std::fs::read(dir.join(f)).ok();
    let (mut old_kept, mut new_whole) = (0, 0);
    for run in 0..24u32 {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("png")).unwrap();
        std::fs::write(dir.path().join("out.npy"), b"old").unwrap();
        std::fs::write(dir.path().join("png/saliency_0.png"), b"old").unwrap();
        let a = args(dir.path());
        let mut child = spawn(&a.iter().map(String::as_str).collect::<Vec<_>>());
        // Spread over the run and past it (Weyl sequence: no two runs alike).
        let at = full.mul_f64(2.0 * ((run as f64 * 0.618_034) % 1.0));
        std::thread::sleep(at);
        let sig = if run % 2 == 0 {
            libc::SIGINT
        } else {
            libc::SIGTERM
        };
        let _ = unsafe { libc::kill(child.id() as i32, sig) }; // it may have ended already
        let status = wait_for(&mut child, Duration::from_secs(30));
        let err = stderr_of(&mut child);
        let ctx = format!("run {run}, signal after {at:?}: {status:?} {err}");
        assert!(temp_files(dir.path()).is_empty(), "{ctx}");
        let now: Vec<Option<Vec<u8>>> = new_files.iter().map(|f| read(dir.path(), f)).collect();
        let want: Vec<Option<Vec<u8>>> = new_files
            .iter()
            .map(|f| read(reference.path(), f))
            .collect();
        let old = vec![Some(b"old".to_vec()), Some(b"old".to_vec()), None];
        if now == want {
            new_whole += 1;
            assert!(
                status.success() || status.code() == Some(128 + sig),
                "{ctx}"
            );
        } else {
            assert_eq!(now, old, "neither the old nor the new outputs: {ctx}");
            assert!(!status.success(), "{ctx}");
            old_kept += 1;
            // Before its handler is installed the process dies of the signal, silently;
            // after, it says so in one line.
            if status.signal().is_none() {
                assert_eq!(status.code(), Some(128 + sig), "{ctx}");
                assert_eq!(err.lines().count(), 1, "{ctx}");
            }
        }
    }
    assert!(
        old_kept > 0 && new_whole > 0,
        "{old_kept} old, {new_whole} new"
    );
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Runs xai with `args` (killed after 30 s: a FIFO opened for reading would block forever)
/// and asserts a one-line refusal containing `needle` and no file written into `dir`.
fn refused_quickly(dir: &Path, args: &[&str], needle: &str) {
    let before = names(dir);
    let mut child = spawn(args);
    let status = wait_for(&mut child, Duration::from_secs(30));
    let err = stderr_of(&mut child);
    assert!(!status.success(), "{args:?}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "{args:?}: {err}"
    );
    assert_eq!(names(dir), before, "{args:?}: nothing written");
}

#[test]
fn fifos_and_devices_are_refused_as_models_weights_inputs_and_data_in_one_line() {
    let mlp = fixture("mlp");
    let (model, input) = (mlp.join("model.json"), mlp.join("input.npy"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out.npy");
    let fifo = d.join("fifo.npy");
    mkfifo(&fifo);
    // A model folder whose weights file is a FIFO.
    std::fs::create_dir(d.join("m")).unwrap();
    std::fs::copy(&model, d.join("m/model.json")).unwrap();
    mkfifo(&d.join("m/model.safetensors"));
    let (m, i, o, f) = (
        model.to_str().unwrap(),
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        fifo.to_str().unwrap(),
    );
    let fifo_weights = d.join("m/model.json");
    let w = fifo_weights.to_str().unwrap();
    let is_fifo = "is a FIFO (named pipe), not a regular file";
    for args in [
        vec!["predict", "--model", m, "--input", f, "--output", o],
        vec!["predict", "--model", f, "--input", i, "--output", o],
        vec!["predict", "--model", w, "--input", i, "--output", o],
        vec!["explain", "--model", w, "--input", i, "--output", o],
        vec![
            "explain",
            "--model",
            m,
            "--input",
            i,
            "--method",
            "integrated-gradients",
            "--baseline",
            f,
            "--output",
            o,
        ],
        vec![
            "evaluate", "--model", m, "--input", f, "--method", "saliency", "--metric", "deletion",
        ],
        vec![
            "evaluate",
            "--model",
            m,
            "--input",
            i,
            "--attributions",
            f,
            "--metric",
            "deletion",
        ],
    ] {
        refused_quickly(d, &args, is_fifo);
    }
    let csv = d.join("fifo.csv");
    mkfifo(&csv);
    let arch = common::example("iris_mlp.json");
    let trained = d.join("t.json");
    refused_quickly(
        d,
        &[
            "train",
            "--model",
            arch.to_str().unwrap(),
            "--data",
            csv.to_str().unwrap(),
            "--output",
            trained.to_str().unwrap(),
        ],
        is_fifo,
    );
    refused_quickly(
        d,
        &[
            "predict",
            "--model",
            m,
            "--input",
            "/dev/zero",
            "--output",
            o,
        ],
        "/dev/zero: is a character device, not a regular file",
    );
    refused_quickly(
        d,
        &[
            "predict",
            "--model",
            m,
            "--input",
            d.to_str().unwrap(),
            "--output",
            o,
        ],
        "is a folder, not a regular file",
    );
}

#[test]
fn a_failed_png_or_npy_write_changes_no_file_not_even_the_input_that_is_also_the_output() {
    let lenet = fixture("lenet");
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    std::fs::copy(lenet.join("input.npy"), &x).unwrap();
    let before = std::fs::read(&x).unwrap();
    // The PNG folder would be inside a regular file.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let png = blocker.join("png");
    let o = xai(&[
        "explain",
        "--model",
        lenet.join("model.json").to_str().unwrap(),
        "--input",
        x.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
        "--output",
        x.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&x).unwrap(), before, "the input survives");
    assert_eq!(names(dir.path()), ["file", "x.npy"]);
    // The pictures can be written but the .npy cannot: no picture is left either (nor the
    // folder made for them).
    let o = xai(&[
        "explain",
        "--model",
        lenet.join("model.json").to_str().unwrap(),
        "--input",
        x.to_str().unwrap(),
        "--png",
        dir.path().join("png").to_str().unwrap(),
        "--output",
        blocker.join("a.npy").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        names(dir.path()),
        ["file", "x.npy"],
        "no PNG without its .npy"
    );
}

#[test]
fn a_legal_250_byte_output_name_is_written_without_a_leftover() {
    let mlp = fixture("mlp");
    let dir = tempfile::tempdir().unwrap();
    let name = format!("{}.npy", "l".repeat(246));
    let out = dir.path().join(&name);
    let o = xai(&[
        "predict",
        "--model",
        mlp.join("model.json").to_str().unwrap(),
        "--input",
        mlp.join("input.npy").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(names(dir.path()), [name]);
    assert_eq!(xai_tensor::Tensor::read_npy(&out).unwrap().shape()[0], 4);
}

#[test]
fn a_headerless_numeric_csv_keeps_its_first_row() {
    let mlp = fixture("mlp");
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = (0..3)
        .map(|r| {
            (0..30)
                .map(|j| format!("{}", (r * 30 + j) as f32 / 90.0))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, rows.join("\n") + "\n").unwrap();
    let out = dir.path().join("logits.npy");
    let o = xai(&[
        "predict",
        "--model",
        mlp.join("model.json").to_str().unwrap(),
        "--input",
        csv.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let logits = xai_tensor::Tensor::read_npy(&out).unwrap();
    assert_eq!(logits.shape()[0], 3, "all three rows predicted");
}

/// What a kill test compares: every output file's bytes (`None`: absent).
type Outputs = Vec<Option<Vec<u8>>>;

/// Kills `runs` runs of `args(dir)` at moments spread over a run and past it, alternately with
/// SIGKILL and SIGINT, each in a folder `prepare` filled with the old outputs, and checks that
/// the folder then holds the old outputs or the new ones, never a mix (`state` reads them);
/// that SIGINT leaves no temporary file; and that the next run into the folder ends with the
/// new outputs and no temporary file, the leftovers of a SIGKILL included.
fn kill_at_random_moments(
    what: &str,
    runs: u32,
    args: impl Fn(&Path) -> Vec<String>,
    prepare: impl Fn(&Path),
    state: impl Fn(&Path) -> Outputs,
) {
    let run_in = |dir: &Path| {
        let a = args(dir);
        let o = xai(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            o.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let reference = tempfile::tempdir().unwrap();
    prepare(reference.path());
    let old = state(reference.path());
    let t = Instant::now();
    run_in(reference.path());
    let full = t.elapsed();
    let new = state(reference.path());
    assert_ne!(old, new, "{what}: the run changes its outputs");
    let (mut old_kept, mut new_whole, mut leftovers) = (0, 0, 0);
    for run in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path());
        let a = args(dir.path());
        let mut child = spawn(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let at = full.mul_f64(1.5 * ((run as f64 * 0.618_034 + 0.1) % 1.0));
        std::thread::sleep(at);
        let sig = if run % 2 == 0 {
            libc::SIGKILL
        } else {
            libc::SIGINT
        };
        let _ = unsafe { libc::kill(child.id() as i32, sig) }; // it may have ended already
        let status = wait_for(&mut child, Duration::from_secs(60));
        let ctx = format!("{what}, run {run}, signal {sig} after {at:?}: {status:?}");
        let now = state(dir.path());
        if now == new {
            new_whole += 1;
        } else {
            assert_eq!(now, old, "neither the old nor the new outputs: {ctx}");
            old_kept += 1;
        }
        let temps = temp_files(dir.path());
        if sig == libc::SIGINT {
            assert!(temps.is_empty(), "{ctx}: {temps:?}");
        }
        leftovers += temps.len();
        run_in(dir.path());
        assert_eq!(state(dir.path()), new, "{ctx}: the next run");
        assert!(
            temp_files(dir.path()).is_empty(),
            "{ctx}: after the next run"
        );
    }
    eprintln!("{what}: {old_kept} old, {new_whole} new, {leftovers} SIGKILL leftovers swept");
    assert!(old_kept > 0, "{what}: no kill landed during the run");
}

/// The model JSON at `json` and the weights file it names.
fn model_files(json: &Path) -> Outputs {
    let text = std::fs::read(json).ok();
    let weights = text.as_ref().map(|t| {
        let spec: serde_json::Value = serde_json::from_slice(t).unwrap();
        let w = json.with_file_name(spec["weights"].as_str().unwrap());
        std::fs::read(w).ok()
    });
    vec![text, weights.flatten()]
}

#[test]
fn train_killed_at_random_moments_leaves_the_old_model_or_the_new_one_whole() {
    let arch = common::example("digits_cnn.json");
    let train = |out: &Path, seed: &str| -> Vec<String> {
        [
            "train",
            "--model",
            arch.to_str().unwrap(),
            "--data",
            "digits",
            "--epochs",
            "2",
            "--seed",
            seed,
            "--quiet",
            "--output",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    // The old model: another seed's, trained once and copied into each folder.
    let old = tempfile::tempdir().unwrap();
    let a = train(&old.path().join("m.json"), "9");
    assert!(xai(&a.iter().map(String::as_str).collect::<Vec<_>>())
        .status
        .success());
    let prepare = |dir: &Path| {
        for e in std::fs::read_dir(old.path()).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    };
    kill_at_random_moments(
        "train",
        16,
        |dir| train(&dir.join("m.json"), "0"),
        prepare,
        |dir| model_files(&dir.join("m.json")),
    );
}

#[test]
fn explain_png_and_predict_killed_at_random_moments_leave_old_or_new_outputs() {
    let lenet = fixture("lenet");
    let (model, input) = (lenet.join("model.json"), lenet.join("input.npy"));
    let (model, input) = (model.to_str().unwrap(), input.to_str().unwrap());
    let prepare = |dir: &Path| {
        std::fs::create_dir(dir.join("png")).unwrap();
        std::fs::write(dir.join("out.npy"), b"old").unwrap();
        std::fs::write(dir.join("png/saliency_0.png"), b"old").unwrap();
    };
    let files = ["out.npy", "png/saliency_0.png", "png/saliency_3.png"];
    let state = |dir: &Path| -> Outputs {
        files
            .iter()
            .map(|f| std::fs::read(dir.join(f)).ok())
            .collect()
    };
    kill_at_random_moments(
        "explain --png",
        16,
        |dir| {
            let (png, out) = (dir.join("png"), dir.join("out.npy"));
            ["explain", "--model", model, "--input", input, "--png"]
                .into_iter()
                .map(String::from)
                .chain([png.to_str().unwrap().into(), "--output".into()])
                .chain([out.to_str().unwrap().into()])
                .collect()
        },
        prepare,
        state,
    );
    kill_at_random_moments(
        "predict",
        12,
        |dir| {
            let out = dir.join("out.npy");
            ["predict", "--model", model, "--input", input, "--output"]
                .into_iter()
                .map(String::from)
                .chain([out.to_str().unwrap().into()])
                .collect()
        },
        |dir| std::fs::write(dir.join("out.npy"), b"old").unwrap(),
        |dir| vec![std::fs::read(dir.join("out.npy")).ok()],
    );
}

#[test]
fn an_allocation_past_the_memory_budget_ends_the_run_in_one_line_with_no_output() {
    let dir = tempfile::tempdir().unwrap();
    // A layer of 4·10¹² weights (16 TB) under the default budget (90% of physical memory).
    let arch = dir.path().join("big.json");
    std::fs::write(
        &arch,
        r#"{"format": "xai-model", "version": 1, "input_shape": [4], "weights": "big.safetensors",
            "layers": [{"name": "0", "op": "linear", "in_features": 4, "out_features": 1000000000000}]}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = out.join("m.json");
    let (arch, o) = (arch.to_str().unwrap(), o.to_str().unwrap());
    common::assert_one_line_error(
        &["train", "--model", arch, "--data", "iris", "--output", o],
        "TiB would take this run to",
    );
    // A real run under a budget too small for it, the flag after or before the subcommand.
    let resnet = common::example("mnist_resnet.json");
    let resnet = resnet.to_str().unwrap();
    let train = ["train", "--model", resnet, "--data", "mnist", "--output", o];
    let budget = ["--max-memory", "4M"];
    for args in [
        [&train[..], &budget].concat(),
        [&budget[..], &train].concat(),
    ] {
        common::assert_one_line_error(&args, "past its memory limit of 4.0 MiB (--max-memory)");
    }
    assert!(names(&out).is_empty(), "{:?}", names(&out));
    for bad in ["0", "-1G", "1K", "lots", "nanG"] {
        common::assert_one_line_error(
            &[
                "--max-memory",
                bad,
                "train",
                "--model",
                resnet,
                "--data",
                "mnist",
                "--output",
                o,
            ],
            "--max-memory must be a size",
        );
    }
}
