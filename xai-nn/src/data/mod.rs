//! Datasets: CSV files (integer class in the last column), the real sets bundled in the
//! repository's `data/` (embedded in the binary: nothing to download), seeded synthetic sets
//! with ground truth ([`synthetic`]), and the seeded stratified split.
//!
//! # CSV files
//!
//! Comma-separated numbers, one row per line; blank lines are skipped; plain or gzip.
//!
//! - **Header.** The first non-blank line is a header of column names *unless every one of its
//!   cells parses as a number* (Rust's `f64` syntax: `3`, `-0.5`, `1e-3`, `nan`, `inf`), in
//!   which case it is the first data row and the columns are named `x0`, `x1`, … (the last, in
//!   a dataset, `target`). A header therefore needs one non-numeric name.
//! - **Cells.** Every feature cell is a number that is finite in f32 (so `1e39` is refused, as
//!   are `nan` and `inf`) unless [`CsvOptions::allow_non_finite`].
//! - **Labels** (the last column of a dataset) are class indices: integers from 0 to
//!   [`MAX_CLASSES`] − 1 (`3` or `3.0`); `-1`, `0.5`, `1e9` or `nan` are refused.
//! - **Size.** At most [`MAX_CSV_BYTES`] of text (after decompression).
//!
//! Every refusal is one line naming the file, the line number and the column (its number and
//! name): `f.csv: line 7, column 3 ('petal_length'): 'abc' is not a number`.

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

/// Most classes a CSV label may name (labels are 0 … `MAX_CLASSES` − 1): a label is an index
/// into per-class buffers, so `1e9` must not become a billion-class model.
pub const MAX_CLASSES: usize = 1 << 16;

/// Most bytes of CSV text read (after decompression: a gzip bomb stops here).
pub const MAX_CSV_BYTES: u64 = 4 << 30;

/// How CSV cells are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// Accept NaN and infinite feature cells (refused by default, naming line and column).
    pub allow_non_finite: bool,
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

    /// Reads a CSV file (plain or gzip); see the [module documentation](self) for the format.
    ///
    /// **Errors** if the path is not a regular file, holds more than [`MAX_CSV_BYTES`] of text,
    /// or breaks the format (naming line and column).
    pub fn from_csv_path(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        Self::from_csv_str(&name, &read_csv_text(path)?)
    }

    /// Parses CSV text (see the [module documentation](self)): numeric feature columns, the
    /// class last. Non-finite feature cells are refused.
    ///
    /// **Errors** on ragged rows, non-numeric or non-finite cells, or labels that are not class
    /// indices, naming the line and column.
    pub fn from_csv_str(name: &str, text: &str) -> Result<Self> {
        Self::from_csv_str_with(name, text, CsvOptions::default())
    }

    /// [`from_csv_str`](Self::from_csv_str) with options.
    pub fn from_csv_str_with(name: &str, text: &str, opts: CsvOptions) -> Result<Self> {
        let table = Table::new(name, text, true)?;
        let f = table.names.len() - 1;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        table.rows(|line, cells| {
            for (j, c) in cells[..f].iter().enumerate() {
                x.push(table.feature(line, j, c, opts)?);
            }
            y.push(table.label(line, f, cells[f])?);
            Ok(())
        })?;
        if y.is_empty() {
            return Err(data_err(name, "no data rows"));
        }
        let num_classes = y.iter().max().map_or(0, |m| m + 1);
        Ok(Self {
            name: name.into(),
            x: Tensor::from_vec(x, &[y.len(), f])?,
            y,
            feature_names: table.names[..f].to_vec(),
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

/// The text of a CSV file (plain or gzip), at most [`MAX_CSV_BYTES`] of it.
fn read_csv_text(path: &Path) -> Result<String> {
    let name = path.display().to_string();
    let mut bytes = xai_tensor::fs::read_file(path, MAX_CSV_BYTES)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::read::GzDecoder::new(&bytes[..]);
        bytes = xai_tensor::fs::read_bounded(gz, MAX_CSV_BYTES, 0, path)?;
    }
    String::from_utf8(bytes).map_err(|_| data_err(&name, "not UTF-8 text"))
}

/// Reads the feature columns of a CSV file as `[N, F]`: a last column named `target` is
/// dropped (so a dataset file can be predicted directly); a file without a header (its first
/// row all numbers, see the [module documentation](self)) is all features.
///
/// **Errors** as [`Dataset::from_csv_path`] does.
pub fn read_csv_features(path: &Path, opts: CsvOptions) -> Result<Tensor> {
    parse_csv_features(&path.display().to_string(), &read_csv_text(path)?, opts)
}

/// [`read_csv_features`] of CSV text; `name` names it in errors.
pub fn parse_csv_features(name: &str, text: &str, opts: CsvOptions) -> Result<Tensor> {
    let table = Table::new(name, text, false)?;
    let f = match table.names.last() {
        Some(t) if table.has_header && t == "target" && table.names.len() > 1 => {
            table.names.len() - 1
        }
        _ => table.names.len(),
    };
    let (mut x, mut rows) = (Vec::new(), 0usize);
    table.rows(|line, cells| {
        for (j, c) in cells[..f].iter().enumerate() {
            x.push(table.feature(line, j, c, opts)?);
        }
        rows += 1;
        Ok(())
    })?;
    if rows == 0 {
        return Err(data_err(name, "no data rows"));
    }
    Ok(Tensor::from_vec(x, &[rows, f])?)
}

/// A CSV text split into its column names and data lines.
struct Table<'a> {
    name: &'a str,
    names: Vec<String>,
    /// Whether the first non-blank line is a header (else it is the first data row).
    has_header: bool,
    text: &'a str,
}

/// Non-blank lines with their 0-based line numbers.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
}

fn cells(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(str::trim)
}

impl<'a> Table<'a> {
    /// The columns of `text`; `labelled`: the last column is the class (needs a feature too).
    fn new(name: &'a str, text: &'a str, labelled: bool) -> Result<Self> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (_, first) = lines(text)
            .next()
            .ok_or_else(|| data_err(name, "empty file"))?;
        let has_header = !cells(first).all(|c| c.parse::<f64>().is_ok());
        let width = cells(first).count();
        let names: Vec<String> = if has_header {
            cells(first).map(str::to_string).collect()
        } else {
            (0..width)
                .map(|j| {
                    if labelled && j + 1 == width {
                        "target".to_string()
                    } else {
                        format!("x{j}")
                    }
                })
                .collect()
        };
        if labelled && names.len() < 2 {
            return Err(data_err(
                name,
                "needs at least one feature column and a target column",
            ));
        }
        Ok(Self {
            name,
            names,
            has_header,
            text,
        })
    }

    /// Calls `row` with the 1-based line number and the cells of every data row, after
    /// checking its width.
    fn rows(&self, mut row: impl FnMut(usize, &[&str]) -> Result<()>) -> Result<()> {
        let mut buf: Vec<&str> = Vec::with_capacity(self.names.len());
        for (i, line) in lines(self.text).skip(self.has_header as usize) {
            buf.clear();
            buf.extend(cells(line));
            if buf.len() != self.names.len() {
                return Err(data_err(
                    self.name,
                    format!(
                        "line {}: expected {} columns, found {}",
                        i + 1,
                        self.names.len(),
                        buf.len()
                    ),
                ));
            }
            row(i + 1, &buf)?;
        }
        Ok(())
    }

    /// "line L, column C ('name')" of column `j` (0-based) on line `line` (1-based).
    fn at(&self, line: usize, j: usize) -> String {
        format!(
            "line {line}, column {} ('{}')",
            j + 1,
            self.names[j].escape_debug()
        )
    }

    fn cell_err(&self, line: usize, j: usize, msg: impl std::fmt::Display) -> NnError {
        data_err(self.name, format!("{}: {msg}", self.at(line, j)))
    }

    /// A feature cell: a number, finite in f32 unless `opts` allow otherwise.
    fn feature(&self, line: usize, j: usize, c: &str, opts: CsvOptions) -> Result<f32> {
        let quoted = c.escape_debug();
        let v: f32 = c
            .parse()
            .map_err(|_| self.cell_err(line, j, format!("'{quoted}' is not a number")))?;
        if !v.is_finite() && !opts.allow_non_finite {
            let why = if c.parse::<f64>().is_ok_and(f64::is_finite) {
                "is beyond the range of f32"
            } else {
                "is not finite (NaN and infinity are refused)"
            };
            return Err(self.cell_err(line, j, format!("'{quoted}' {why}")));
        }
        Ok(v)
    }

    /// A label cell: an integer class index below [`MAX_CLASSES`] (`3` or `3.0`).
    fn label(&self, line: usize, j: usize, c: &str) -> Result<usize> {
        let v = c.parse::<usize>().ok().or_else(|| {
            c.parse::<f64>()
                .ok()
                .filter(|v| *v >= 0.0 && v.fract() == 0.0 && *v < MAX_CLASSES as f64)
                .map(|v| v as usize)
        });
        match v {
            Some(k) if k < MAX_CLASSES => Ok(k),
            _ => Err(self.cell_err(
                line,
                j,
                format!(
                    "label '{}' is not a class index (an integer from 0 to {})",
                    c.escape_debug(),
                    MAX_CLASSES - 1
                ),
            )),
        }
    }
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
        assert_eq!(
            e("a,b,target\n1,x,0\n"),
            "f.csv: line 2, column 2 ('b'): 'x' is not a number"
        );
        assert!(e("a,target\n1,0.5\n").contains("label '0.5' is not a class index"));
        assert!(e("a,target\n1,-1\n").contains("label '-1'"));
        assert_eq!(e(""), "f.csv: empty file");
        assert_eq!(e("a,target\n"), "f.csv: no data rows");
    }

    #[test]
    fn huge_negative_or_fractional_labels_are_one_line_errors_naming_row_and_column() {
        for label in [
            "1e9", "1e19", "1e300", "-1", "-0.5", "0.5", "2.5", "nan", "inf", "65536", "x",
        ] {
            let text = format!("a,target\n1,0\n2,{label}\n");
            let e = Dataset::from_csv_str("f.csv", &text)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("f.csv: line 3, column 2 ('target'): label '")
                    && e.ends_with("is not a class index (an integer from 0 to 65535)")
                    && e.lines().count() == 1,
                "{label}: {e}"
            );
        }
        // The largest class index and an integral float are classes.
        let d = Dataset::from_csv_str("f.csv", "a,target\n1,65535\n2,3.0\n").unwrap();
        assert_eq!((d.y.clone(), d.num_classes), (vec![65535, 3], MAX_CLASSES));
    }

    #[test]
    fn a_first_row_of_numbers_is_data_and_a_first_row_with_a_name_is_a_header() {
        // No header: every cell of the first row is a number.
        let d = Dataset::from_csv_str("f.csv", "1,2,0\n3,4,1\n").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.feature_names, ["x0", "x1"]);
        assert_eq!(d.x.to_vec_f32().unwrap(), [1.0, 2.0, 3.0, 4.0]);
        let x = parse_csv_features("f.csv", "1,2\n-3,4e0\n", CsvOptions::default()).unwrap();
        assert_eq!(
            (x.shape(), x.to_vec_f32().unwrap()),
            (&[2, 2][..], vec![1.0, 2.0, -3.0, 4.0])
        );
        // One name makes the row a header (even beside numeric names).
        let d = Dataset::from_csv_str("f.csv", "1,b,target\n3,4,1\n").unwrap();
        assert_eq!(
            (d.len(), d.feature_names.clone()),
            (1, vec!["1".to_string(), "b".into()])
        );
        // A header's last column named target is dropped from features; without one, none is.
        let with = "a,b,target\n1,2,0\n";
        let x = parse_csv_features("f.csv", with, CsvOptions::default()).unwrap();
        assert_eq!(x.shape(), &[1, 2]);
        let x = parse_csv_features("f.csv", "1,2,0\n", CsvOptions::default()).unwrap();
        assert_eq!(x.shape(), &[1, 3]);
        // A byte-order mark does not become part of the first name.
        let d = Dataset::from_csv_str("f.csv", "\u{feff}a,target\n1,0\n").unwrap();
        assert_eq!(d.feature_names, ["a"]);
    }

    #[test]
    fn non_finite_cells_are_refused_naming_row_and_column_unless_allowed() {
        let strict = CsvOptions::default();
        for (cell, why) in [
            ("nan", "is not finite"),
            ("-inf", "is not finite"),
            ("1e39", "is beyond the range of f32"),
        ] {
            let text = format!("a,b,target\n1,2,0\n3,{cell},1\n");
            let e = Dataset::from_csv_str("f.csv", &text)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!("f.csv: line 3, column 2 ('b'): '{cell}' {why}")),
                "{e}"
            );
            let e = parse_csv_features("f.csv", &text, strict)
                .unwrap_err()
                .to_string();
            assert!(e.contains("line 3, column 2 ('b')"), "{e}");
            let allow = CsvOptions {
                allow_non_finite: true,
            };
            let d = Dataset::from_csv_str_with("f.csv", &text, allow).unwrap();
            assert!(!d.x.to_vec_f32().unwrap()[3].is_finite());
            assert!(parse_csv_features("f.csv", &text, allow).is_ok());
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_device_is_refused_before_it_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("data.csv");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        extern "C" {
            fn mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
        }
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = Dataset::from_csv_path(&fifo).unwrap_err().to_string();
        assert!(
            e.ends_with("is a FIFO (named pipe), not a regular file"),
            "{e}"
        );
        let e = read_csv_features(Path::new("/dev/zero"), CsvOptions::default()).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        // A gzip file still reads.
        use std::io::Write;
        let gz = dir.path().join("d.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(b"a,target\n1,0\n2,1\n").unwrap();
        enc.finish().unwrap();
        assert_eq!(Dataset::from_csv_path(&gz).unwrap().len(), 2);
    }

    use proptest::prelude::*;

    /// A valid CSV: a header or none, 1–3 feature columns, 0–5 rows, labels below 4.
    fn valid_csv() -> impl Strategy<Value = String> {
        let row = |f: usize| {
            (
                prop::collection::vec(-1000i32..1000, f),
                0usize..4,
                any::<bool>(),
            )
        };
        (1usize..4, any::<bool>())
            .prop_flat_map(move |(f, header)| {
                (Just(f), Just(header), prop::collection::vec(row(f), 0..6))
            })
            .prop_map(|(f, header, rows)| {
                let mut s = String::new();
                if header {
                    let names: Vec<String> = (0..f).map(|j| format!("f{j}")).collect();
                    s += &format!("{},target\n", names.join(","));
                }
                for (x, y, frac) in rows {
                    let cells: Vec<String> = x
                        .iter()
                        .map(|v| {
                            if frac {
                                format!("{}.25", v)
                            } else {
                                v.to_string()
                            }
                        })
                        .collect();
                    s += &format!("{},{y}\n", cells.join(","));
                }
                s
            })
    }

    /// A valid CSV with a few characters replaced, inserted or deleted (from an alphabet of
    /// what numbers, names and separators are made of); or random text of that alphabet.
    fn mutated_csv() -> impl Strategy<Value = String> {
        let alphabet: Vec<char> = "0123456789.,-+eE \nnaifxt\r\"".chars().collect();
        let edit = (
            any::<prop::sample::Index>(),
            prop::sample::select(alphabet),
            0u8..4,
        );
        let big = prop::sample::select(vec!["1e9", "1e19", "1e300", "-1", "nan", "1e39", "65536"]);
        prop_oneof![
            1 => "[0-9.,eE+\\-naif \n]{0,60}",
            6 => (valid_csv(), prop::collection::vec(edit, 1..4)).prop_map(|(s, edits)| {
                let mut c: Vec<char> = s.chars().collect();
                for (at, ch, op) in edits {
                    let i = at.index(c.len() + 1);
                    match op {
                        0 | 1 if i < c.len() => c[i] = ch,
                        2 if i < c.len() => {
                            c.remove(i);
                        }
                        _ => c.insert(i, ch),
                    }
                }
                c.into_iter().collect()
            }),
            2 => (valid_csv(), big, any::<prop::sample::Index>()).prop_map(|(s, v, at)| {
                // One cell (a label or a feature) replaced by a hostile number.
                let ends: Vec<usize> = s.match_indices([',', '\n']).map(|(i, _)| i).collect();
                if ends.is_empty() {
                    return s;
                }
                let i = ends[at.index(ends.len())];
                let j = s[..i].rfind([',', '\n']).map_or(0, |k| k + 1);
                format!("{}{v}{}", &s[..j], &s[i..])
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Never a panic: an error of one line, or a dataset whose shapes agree, whose labels
        /// index its classes, and whose features are finite.
        #[test]
        fn fuzzed_csv_gives_an_error_or_a_dataset_matching_its_shape(text in mutated_csv()) {
            match Dataset::from_csv_str("f.csv", &text) {
                Ok(d) => {
                    prop_assert_eq!(d.x.shape(), &[d.y.len(), d.feature_names.len()][..]);
                    prop_assert!(d.num_classes <= MAX_CLASSES);
                    prop_assert!(d.y.iter().all(|&c| c < d.num_classes));
                    prop_assert!(d.x.to_vec_f32().unwrap().iter().all(|v| v.is_finite()));
                    prop_assert!(!d.is_empty());
                }
                Err(e) => prop_assert_eq!(e.to_string().lines().count(), 1, "{}", e),
            }
            match parse_csv_features("f.csv", &text, CsvOptions::default()) {
                Ok(x) => {
                    prop_assert_eq!(x.rank(), 2);
                    let v = x.to_vec_f32().unwrap();
                    prop_assert_eq!(v.len(), x.shape()[0] * x.shape()[1]);
                    prop_assert!(v.iter().all(|v| v.is_finite()) && x.shape()[0] > 0);
                }
                Err(e) => prop_assert_eq!(e.to_string().lines().count(), 1, "{}", e),
            }
        }

        /// Unmutated, every valid file with rows reads, all of its rows.
        #[test]
        fn valid_csv_reads_every_row(text in valid_csv()) {
            let rows = text.lines().filter(|l| !l.starts_with('f')).count();
            match Dataset::from_csv_str("f.csv", &text) {
                Ok(d) => prop_assert_eq!(d.len(), rows),
                Err(e) => prop_assert!(rows == 0, "{}", e),
            }
        }
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
