//! `fs::abandon_temp_files` (what the CLI's signal handler calls) is final for the process, so
//! it is tested in a binary of its own.

use std::path::Path;
use xai_tensor::fs::{abandon_temp_files, write_atomic, Staged};

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn after_abandon_no_temp_file_remains_and_no_destination_changes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.npy");
    write_atomic(&out, b"old").unwrap();
    // Staged (written and flushed) but not yet renamed, as when a signal comes mid-run.
    let mut staged = Staged::new();
    staged.add(&out, b"new").unwrap();
    staged.add(dir.path().join("b.png"), b"png").unwrap();
    assert_eq!(
        names(dir.path()).len(),
        3,
        "two temporary files beside out.npy"
    );
    assert_eq!(abandon_temp_files(), 2);
    assert_eq!(names(dir.path()), ["out.npy"]);
    let e = staged.commit().unwrap_err().to_string();
    assert!(e.ends_with("not written: the run was interrupted"), "{e}");
    assert!(write_atomic(&out, b"newer").is_err());
    assert!(Staged::new().add(dir.path().join("c"), b"c").is_err());
    assert_eq!(names(dir.path()), ["out.npy"]);
    assert_eq!(std::fs::read(&out).unwrap(), b"old");
}
