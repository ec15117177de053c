//! Filling and writing the JSON report of `xai explain --format json`
//! ([`ExplanationReport`]): SHA-256 digests of the model files and the atomic write.

use crate::commands::CliResult;
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;
use xai_passive::report::{ExplanationReport, FileDigest, ModelDigest};
use xai_tensor::write_atomic;

/// SHA-256 of a file's bytes, lowercase hex.
pub fn sha256_file(path: &Path) -> CliResult<FileDigest> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
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

/// Stamps the total time since `start` and writes the report as pretty JSON to `path`
/// (atomically), or to standard output when `path` is `-`.
pub fn write_json(path: &Path, report: &ExplanationReport, start: Instant) -> CliResult {
    let mut report = report.clone();
    report.timings.total_seconds = start.elapsed().as_secs_f64();
    let text = serde_json::to_string_pretty(&report)? + "\n";
    if path == Path::new("-") {
        std::io::stdout().lock().write_all(text.as_bytes())?;
    } else {
        write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}

/// Writes `text` to `path` (atomically), or to standard output when `path` is `-`.
pub fn write_text(path: &Path, text: &str) -> CliResult {
    if path == Path::new("-") {
        std::io::stdout().lock().write_all(text.as_bytes())?;
    } else {
        write_atomic(path, text.as_bytes())?;
    }
    Ok(())
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
