//! The outputs of a run ([`Outputs`]: staged, then committed together at its end) and the
//! JSON report of `xai explain --format json` ([`ExplanationReport`]) with the SHA-256 digests
//! of the model files.

use crate::commands::CliResult;
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;
use xai_passive::report::{ExplanationReport, FileDigest, ModelDigest};
use xai_tensor::fs::Staged;

/// Every output of a run, written to temporary files (flushed to disk) as it is produced and
/// renamed into place together by [`commit`](Self::commit) after the last fallible step, so a
/// failed run changes no file (with `--output` equal to `--input`, the input survives a failed
/// `--png`). Dropped uncommitted (an error), it removes its temporary files.
#[derive(Default)]
pub struct Outputs {
    staged: Staged,
    /// What goes to standard output (`-`), printed after the files are in place.
    stdout: Vec<u8>,
}

impl Outputs {
    /// Nothing staged yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates the folder `dir` (and the missing ones above it) for outputs; removed again when
    /// the run fails and it is still empty.
    pub fn create_dir_all(&mut self, dir: &Path) -> CliResult {
        Ok(self.staged.create_dir_all(dir)?)
    }

    /// Stages `bytes` for `path`, or for standard output when `path` is `-`.
    pub fn add(&mut self, path: &Path, bytes: &[u8]) -> CliResult {
        if path == Path::new("-") {
            self.stdout.extend_from_slice(bytes);
        } else {
            self.staged.add(path, bytes)?;
        }
        Ok(())
    }

    /// Renames every staged file into place, then prints what goes to standard output.
    pub fn commit(self) -> CliResult {
        self.staged.commit()?;
        if !self.stdout.is_empty() {
            std::io::stdout().lock().write_all(&self.stdout)?;
        }
        Ok(())
    }
}

/// SHA-256 of a file's bytes, lowercase hex.
pub fn sha256_file(path: &Path) -> CliResult<FileDigest> {
    let bytes = xai_tensor::fs::read_file(path, u64::MAX)?;
    let hash = Sha256::digest(&bytes);
    Ok(FileDigest {
        path: path.display().to_string(),
        sha256: hash.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

/// Digests of a model's JSON and of the weights file it names (beside it).
pub fn model_digest(json: &Path) -> CliResult<ModelDigest> {
    let spec = xai_nn::file::read_spec(json)?;
    let weights = json.parent().unwrap_or(Path::new(".")).join(&spec.weights);
    Ok(ModelDigest {
        json: sha256_file(json)?,
        weights: sha256_file(&weights)?,
    })
}

/// The report as pretty JSON, with the total time since `start` stamped.
pub fn json_text(report: &ExplanationReport, start: Instant) -> CliResult<String> {
    let mut report = report.clone();
    report.timings.total_seconds = start.elapsed().as_secs_f64();
    Ok(serde_json::to_string_pretty(&report)? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_strings() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        // FIPS 180-2, appendix B.1.
        assert_eq!(
            sha256_file(&p).unwrap().sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(sha256_file(&dir.path().join("missing")).is_err());
    }
}
