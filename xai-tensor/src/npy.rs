//! `.npy` files (NumPy's format) through ndarray-npy: f32 or f64 in, f32 or f64 out.
//! Writes go to a temporary file in the same folder, then rename: never a half-written file.

use crate::{DType, Error, Result, Tensor};
use ndarray::ArrayD;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::io::Cursor;
use std::path::Path;

fn npy_err(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Npy {
        path: path.display().to_string(),
        msg: msg.to_string(),
    }
}

impl Tensor {
    /// Reads an f32 or f64 `.npy` file into a CPU tensor of that dtype; an integer one
    /// (`i1`…`i8`, `u1`…`u8`, as NumPy writes `np.int64` group ids or labels) into an f64
    /// tensor, exactly.
    ///
    /// **Errors** if the file is missing, is not `.npy`, holds another element type, or holds
    /// an integer beyond ±2⁵³ (which f64 cannot hold exactly).
    pub fn read_npy(path: impl AsRef<Path>) -> Result<Tensor> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| npy_err(path, e))?;
        if !bytes.starts_with(b"\x93NUMPY") {
            return Err(npy_err(
                path,
                "not a .npy file (missing the NumPy magic header)",
            ));
        }
        let from = |a: ArrayD<f32>| Tensor::from_vec(a.iter().copied().collect(), a.shape());
        if let Ok(a) = ArrayD::<f32>::read_npy(Cursor::new(&bytes)) {
            return from(a);
        }
        let e = match ArrayD::<f64>::read_npy(Cursor::new(&bytes)) {
            Ok(a) => return Tensor::from_vec(a.iter().copied().collect(), a.shape()),
            Err(e) => e,
        };
        macro_rules! integers {
            ($($t:ty),*) => {$(
                if let Ok(a) = ArrayD::<$t>::read_npy(Cursor::new(&bytes)) {
                    return integer_tensor(path, a.iter().map(|&v| v as i128), a.shape());
                }
            )*};
        }
        integers!(i64, i32, i16, i8, u64, u32, u16, u8);
        Err(npy_err(
            path,
            format!("cannot read as an f32, f64 or integer array: {e}"),
        ))
    }

    /// Writes the tensor as `.npy` in its dtype, atomically (temporary file, then rename).
    pub fn write_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut buf = Vec::new();
        let shape = self.shape().to_vec();
        let res = match self.dtype() {
            DType::F32 => {
                ArrayD::from_shape_vec(shape, self.to_vec_f32()?).map(|a| a.write_npy(&mut buf))
            }
            DType::F64 => {
                ArrayD::from_shape_vec(shape, self.to_vec_f64()?).map(|a| a.write_npy(&mut buf))
            }
        };
        res.map_err(|e| npy_err(path, e))?
            .map_err(|e| npy_err(path, e))?;
        write_atomic(path, &buf)
    }
}

/// An f64 tensor of integers, each exactly representable (|v| ≤ 2⁵³).
fn integer_tensor(
    path: &Path,
    values: impl Iterator<Item = i128>,
    shape: &[usize],
) -> Result<Tensor> {
    const EXACT: i128 = 1 << 53;
    let mut out = Vec::with_capacity(shape.iter().product());
    for v in values {
        if v.abs() > EXACT {
            return Err(npy_err(
                path,
                format!("integer {v} is beyond ±2^53 and has no exact f64 value"),
            ));
        }
        out.push(v as f64);
    }
    Tensor::from_vec(out, shape)
}

/// Writes `bytes` to `path` through a temporary sibling file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| npy_err(path, "not a file path"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(npy_err(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_both_dtypes_and_rejects_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let t = Tensor::from_vec(vec![1.5f32, -2.0, 3.25, 0.0, 7.0, 8.0], &[2, 3]).unwrap();
        t.write_npy(&p).unwrap();
        let r = Tensor::read_npy(&p).unwrap();
        assert_eq!(r.shape(), &[2, 3]);
        assert_eq!(r.to_vec_f32().unwrap(), t.to_vec_f32().unwrap());
        let t64 = t.to_dtype(DType::F64).unwrap();
        t64.write_npy(&p).unwrap();
        assert_eq!(Tensor::read_npy(&p).unwrap().dtype(), DType::F64);
        let bad = dir.path().join("b.npy");
        std::fs::write(&bad, b"hello").unwrap();
        assert!(Tensor::read_npy(&bad)
            .unwrap_err()
            .to_string()
            .contains("not a .npy"));
        assert!(Tensor::read_npy(dir.path().join("missing.npy")).is_err());
        // Integers (NumPy's default int64 group ids, and a byte mask) read exactly as f64.
        let ids = dir.path().join("ids.npy");
        ndarray::arr2(&[[0i64, 1, 1], [2, -3, 9_007_199_254_740_992]])
            .into_dyn()
            .write_npy(std::fs::File::create(&ids).unwrap())
            .unwrap();
        let r = Tensor::read_npy(&ids).unwrap();
        assert_eq!((r.dtype(), r.shape()), (DType::F64, &[2, 3][..]));
        assert_eq!(
            r.to_vec_f64().unwrap(),
            [0.0, 1.0, 1.0, 2.0, -3.0, 9_007_199_254_740_992.0]
        );
        ndarray::arr1(&[1u8, 0, 255])
            .into_dyn()
            .write_npy(std::fs::File::create(&ids).unwrap())
            .unwrap();
        assert_eq!(
            Tensor::read_npy(&ids).unwrap().to_vec_f64().unwrap(),
            [1.0, 0.0, 255.0]
        );
        ndarray::arr1(&[9_007_199_254_740_993i64])
            .into_dyn()
            .write_npy(std::fs::File::create(&ids).unwrap())
            .unwrap();
        let e = Tensor::read_npy(&ids).unwrap_err().to_string();
        assert!(e.contains("beyond ±2^53"), "{e}");
        std::fs::remove_file(&ids).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary files left"
        );
    }
}
