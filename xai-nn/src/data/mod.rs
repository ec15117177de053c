//! Datasets: CSV files (header row, integer class in the last column `target`), the real sets
//! bundled in the repository's `data/` (embedded in the binary: nothing to download), seeded
//! synthetic sets with ground truth ([`synthetic`]), and the seeded stratified split.

pub mod synthetic;

use crate::error::NnError;
use crate::Result;
use std::io::Read;
use std::path::Path;
use xai_tensor::{Rng, Tensor};

/// A labelled dataset: features `[N, ...]` (f32) and one class per row.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// A name for messages (`iris`, a file name, …).
    pub name: String,
    /// Features `[N, F]`, or `[N, ...input_shape]` after [`with_input_shape`](Self::with_input_shape).
    pub x: Tensor,
    /// Class of each row.
    pub y: Vec<usize>,
    /// Column names of the features.
    pub feature_names: Vec<String>,
    /// Number of classes (max label + 1, or the bundled set's count).
    pub num_classes: usize,
}

/// The bundled real datasets: name, embedded CSV (gzip for MNIST), number of classes.
const BUNDLED: &[(&str, &[u8], usize)] = &[
    ("iris", include_bytes!("../../../data/iris.csv"), 3),
    ("wine", include_bytes!("../../../data/wine.csv"), 3),
    (
        "breast_cancer",
        include_bytes!("../../../data/breast_cancer.csv"),
        2,
    ),
    ("digits", include_bytes!("../../../data/digits.csv"), 10),
    ("mnist", include_bytes!("../../../data/mnist_5k.csv.gz"), 10),
];

fn data_err(name: &str, msg: impl Into<String>) -> NnError {
    NnError::Data(format!("{name}: {}", msg.into()))
}

impl Dataset {
    /// Names of the bundled datasets.
    pub fn bundled_names() -> Vec<&'static str> {
        BUNDLED.iter().map(|b| b.0).collect()
    }

    /// A bundled dataset by name (`breast-cancer` and `mnist_5k` are accepted spellings).
    pub fn bundled(name: &str) -> Result<Self> {
        let key = match name {
            "breast-cancer" => "breast_cancer",
            "mnist_5k" => "mnist",
            n => n,
        };
        let (_, bytes, k) = BUNDLED.iter().find(|b| b.0 == key).ok_or_else(|| {
            data_err(
                name,
                format!(
                    "unknown dataset (bundled: {}; or give a .csv file)",
                    Self::bundled_names().join(", ")
                ),
            )
        })?;
        let text = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut s = String::new();
            flate2::read::GzDecoder::new(*bytes)
                .read_to_string(&mut s)
                .map_err(|e| data_err(name, e.to_string()))?;
            s
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        };
        let mut d = Self::from_csv_str(key, &text)?;
        d.num_classes = d.num_classes.max(*k);
        Ok(d)
    }

    /// A bundled name or a path to a CSV file.
    pub fn load(name_or_path: &str) -> Result<Self> {
        if Path::new(name_or_path)
            .extension()
            .is_some_and(|e| e == "csv" || e == "gz")
            || name_or_path.contains('/')
        {
            Self::from_csv_path(Path::new(name_or_path))
        } else {
            Self::bundled(name_or_path)
        }
    }

    /// Reads a CSV file (plain or gzip).
    pub fn from_csv_path(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| NnError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let text = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut s = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut s)
                .map_err(|e| data_err(&path.display().to_string(), e.to_string()))?;
            s
        } else {
            String::from_utf8(bytes)
                .map_err(|_| data_err(&path.display().to_string(), "not UTF-8 text"))?
        };
        Self::from_csv_str(&path.display().to_string(), &text)
    }

    /// Parses CSV text: a header row, numeric feature columns, the class last.
    ///
    /// **Errors** on ragged rows, non-numeric cells or labels that are not non-negative
    /// integers, naming the line and column.
    pub fn from_csv_str(name: &str, text: &str) -> Result<Self> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines.next().ok_or_else(|| data_err(name, "empty file"))?;
        let cols: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
        if cols.len() < 2 {
            return Err(data_err(
                name,
                "needs at least one feature column and a target column",
            ));
        }
        let f = cols.len() - 1;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (i, line) in lines {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            if cells.len() != cols.len() {
                return Err(data_err(
                    name,
                    format!(
                        "line {}: expected {} columns, found {}",
                        i + 1,
                        cols.len(),
                        cells.len()
                    ),
                ));
            }
            for (j, c) in cells[..f].iter().enumerate() {
                let v: f32 = c.parse().map_err(|_| {
                    data_err(
                        name,
                        format!(
                            "line {}, column '{}': '{c}' is not a number",
                            i + 1,
                            cols[j]
                        ),
                    )
                })?;
                x.push(v);
            }
            let t = cells[f];
            let label = t
                .parse::<f64>()
                .ok()
                .filter(|v| *v >= 0.0 && v.fract() == 0.0 && v.is_finite());
            let label = label.ok_or_else(|| {
                data_err(
                    name,
                    format!(
                        "line {}: label '{t}' is not a non-negative integer class",
                        i + 1
                    ),
                )
            })?;
            y.push(label as usize);
        }
        if y.is_empty() {
            return Err(data_err(name, "no data rows"));
        }
        let num_classes = y.iter().max().map_or(0, |m| m + 1);
        Ok(Self {
            name: name.into(),
            x: Tensor::from_vec(x, &[y.len(), f])?,
            y,
            feature_names: cols[..f].to_vec(),
            num_classes,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Shape of one example.
    pub fn example_shape(&self) -> &[usize] {
        &self.x.shape()[1..]
    }

    /// Views each row as `shape` (e.g. `[1, 8, 8]` for the digits).
    ///
    /// **Errors** if `shape` does not have as many elements as a row.
    pub fn with_input_shape(mut self, shape: &[usize]) -> Result<Self> {
        let f: usize = self.example_shape().iter().product();
        if shape.iter().product::<usize>() != f || shape.is_empty() {
            return Err(data_err(
                &self.name,
                format!("input shape {shape:?} does not match the {f} feature columns"),
            ));
        }
        let mut s = vec![self.len()];
        s.extend(shape);
        self.x = self.x.reshape(&s)?;
        Ok(self)
    }

    /// The rows `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Result<Self> {
        Ok(Self {
            name: self.name.clone(),
            x: self.x.index_select(0, idx)?,
            y: idx.iter().map(|&i| self.y[i]).collect(),
            feature_names: self.feature_names.clone(),
            num_classes: self.num_classes,
        })
    }

    /// Seeded stratified split: the rows are shuffled (Philox, `seed`); of each class, the last
    /// ⌊fraction·n_c + ½⌋ rows in shuffled order form the second part. Both parts keep the
    /// shuffled order. Returns (first, second) row indices.
    pub fn stratified_indices(&self, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
        let order = Rng::new(seed).permutation(self.len());
        let mut count = vec![0usize; self.num_classes.max(1)];
        for &c in &self.y {
            count[c] += 1;
        }
        let take: Vec<usize> = count
            .iter()
            .map(|&n| (fraction * n as f64).round() as usize)
            .collect();
        let mut seen = vec![0usize; count.len()];
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for &i in &order {
            let c = self.y[i];
            seen[c] += 1;
            if seen[c] > count[c] - take[c] {
                b.push(i);
            } else {
                a.push(i);
            }
        }
        (a, b)
    }

    /// [`stratified_indices`](Self::stratified_indices) as two datasets.
    pub fn stratified_split(&self, fraction: f64, seed: u64) -> Result<(Self, Self)> {
        let (a, b) = self.stratified_indices(fraction, seed);
        Ok((self.subset(&a)?, self.subset(&b)?))
    }
}

/// Reads the feature columns of a CSV file as `[N, F]`; a last column named `target` is
/// dropped (so a dataset file can be predicted directly).
pub fn read_csv_features(path: &Path) -> Result<Tensor> {
    let text = std::fs::read_to_string(path).map_err(|e| NnError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if header.rsplit(',').next().map(str::trim) == Some("target") {
        return Ok(Dataset::from_csv_str(&path.display().to_string(), &text)?.x);
    }
    // No target column: parse with a dummy one.
    let with_target: String = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},target\n")
            } else {
                format!("{l},0\n")
            }
        })
        .collect();
    Ok(Dataset::from_csv_str(&path.display().to_string(), &with_target)?.x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_sets_load_with_their_shapes() {
        for (name, rows, features) in [
            ("iris", 150, 4),
            ("wine", 178, 13),
            ("breast_cancer", 569, 30),
            ("digits", 1797, 64),
        ] {
            let d = Dataset::bundled(name).unwrap();
            assert_eq!((d.len(), d.example_shape()[0]), (rows, features), "{name}");
        }
        let m = Dataset::bundled("mnist")
            .unwrap()
            .with_input_shape(&[1, 28, 28])
            .unwrap();
        assert_eq!(m.x.shape(), &[5000, 1, 28, 28]);
        assert_eq!(m.num_classes, 10);
        assert!(Dataset::bundled("imagenet")
            .unwrap_err()
            .to_string()
            .contains("unknown dataset"));
    }

    #[test]
    fn csv_errors_name_line_and_column() {
        let e = |t: &str| Dataset::from_csv_str("f.csv", t).unwrap_err().to_string();
        assert!(e("a,b,target\n1,2,0\n1,2\n").contains("line 3: expected 3 columns, found 2"));
        assert!(e("a,b,target\n1,x,0\n").contains("column 'b': 'x' is not a number"));
        assert!(e("a,target\n1,0.5\n").contains("label '0.5' is not a non-negative integer"));
        assert!(e("a,target\n1,-1\n").contains("label '-1'"));
    }

    #[test]
    fn stratified_split_is_seeded_and_keeps_class_proportions() {
        let d = Dataset::bundled("iris").unwrap();
        let (a, b) = d.stratified_indices(0.2, 7);
        assert_eq!((a.len(), b.len()), (120, 30));
        for c in 0..3 {
            assert_eq!(b.iter().filter(|&&i| d.y[i] == c).count(), 10);
        }
        assert_eq!(d.stratified_indices(0.2, 7), (a.clone(), b.clone()));
        assert_ne!(d.stratified_indices(0.2, 8).1, b);
        let mut all: Vec<usize> = a.into_iter().chain(b).collect();
        all.sort_unstable();
        assert_eq!(all, (0..150).collect::<Vec<_>>());
    }
}
