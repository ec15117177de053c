//! `.npy` files (NumPy's format): f32, f64 and integer arrays in, f32 or f64 out.
//!
//! The reader parses the header itself (a restricted grammar: a dict of `descr`,
//! `fortran_order` and `shape`, no recursion) and checks what it declares against the bytes
//! that follow before allocating anything: an overflowing shape, a truncated file or trailing
//! bytes are one-line errors saying what is wrong, never an allocation abort. Writes go to a
//! temporary file in the same folder, then rename ([`crate::fs`]): never a half-written file.

use crate::{DType, Error, Result, Tensor};
use ndarray::ArrayD;
use ndarray_npy::WriteNpyExt;
use std::path::Path;

/// Longest header accepted, in bytes (NumPy itself refuses more than 10 000 by default).
const MAX_HEADER_BYTES: usize = 1 << 16;

fn npy_err(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Npy {
        path: path.display().to_string(),
        msg: msg.to_string(),
    }
}

impl Tensor {
    /// Reads an f32 or f64 `.npy` file into a CPU tensor of that dtype; an integer one
    /// (`i1`…`i8`, `u1`…`u8`, as NumPy writes `np.int64` group ids or labels) into an f64
    /// tensor, exactly. Little- and big-endian, C and Fortran order.
    ///
    /// **Errors** if the path is not a regular file ([`crate::fs::check_regular_file`]), is
    /// not `.npy`, holds another element type, declares a shape its bytes do not hold
    /// (truncated, trailing bytes, an overflowing element count), or holds an integer beyond
    /// ±2⁵³ (which f64 cannot hold exactly). Each error is one line naming the file.
    pub fn read_npy(path: impl AsRef<Path>) -> Result<Tensor> {
        let path = path.as_ref();
        let bytes = crate::fs::read_file(path, u64::MAX)?;
        decode(&bytes).map_err(|msg| npy_err(path, msg))
    }

    /// [`read_npy`](Self::read_npy) of the bytes of a `.npy` file.
    ///
    /// **Errors** as `read_npy` does (as [`Error::BadArgument`] of op `npy`).
    pub fn from_npy_bytes(bytes: &[u8]) -> Result<Tensor> {
        decode(bytes).map_err(|msg| Error::BadArgument { op: "npy", msg })
    }

    /// The tensor as the bytes of a `.npy` file in its dtype (C order, little-endian).
    pub fn to_npy_bytes(&self) -> Result<Vec<u8>> {
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
        let bad = |e: &dyn std::fmt::Display| Error::BadArgument {
            op: "npy",
            msg: e.to_string(),
        };
        res.map_err(|e| bad(&e))?.map_err(|e| bad(&e))?;
        Ok(buf)
    }

    /// Writes the tensor as `.npy` in its dtype, atomically (temporary file, then rename).
    pub fn write_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_npy_bytes().map_err(|e| npy_err(path, e))?;
        crate::fs::write_atomic(path, &bytes)
    }
}

/// Element type of the data: kind, bytes per element, byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Descr {
    kind: Kind,
    size: usize,
    little: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Float,
    Signed,
    Unsigned,
}

/// What the header declares, and where the data starts.
#[derive(Debug)]
struct Header {
    descr: Descr,
    fortran_order: bool,
    shape: Vec<usize>,
    data_start: usize,
}

/// The tensor of a whole `.npy` file, or what is wrong with it.
fn decode(bytes: &[u8]) -> std::result::Result<Tensor, String> {
    let h = header(bytes)?;
    let count = crate::shape::checked_numel(&h.shape).ok_or_else(|| {
        format!(
            "header declares shape {:?}, whose element count overflows",
            h.shape
        )
    })?;
    let need = count
        .checked_mul(h.descr.size)
        .ok_or_else(|| format!("header declares {count} values, whose byte count overflows"))?;
    let data = &bytes[h.data_start..];
    if data.len() != need {
        let what = if data.len() < need {
            "truncated".to_string()
        } else {
            format!("{} trailing bytes", data.len() - need)
        };
        return Err(format!(
            "{what}: header declares {count} values ({need} bytes), file has {} bytes of data",
            data.len()
        ));
    }
    // Fortran order: the data is the C-order array of the reversed shape, transposed.
    let stored: Vec<usize> = if h.fortran_order {
        h.shape.iter().rev().copied().collect()
    } else {
        h.shape.clone()
    };
    let t = values(h.descr, data, count, &stored)?;
    if h.fortran_order && h.shape.len() > 1 {
        let rev: Vec<usize> = (0..h.shape.len()).rev().collect();
        return t.permute(&rev).map_err(|e| e.to_string());
    }
    Ok(t)
}

/// A vector of `n` elements, reserved fallibly.
fn reserve<T>(n: usize) -> std::result::Result<Vec<T>, String> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| format!("cannot allocate memory for {n} values"))?;
    Ok(v)
}

/// The tensor of `count` elements of type `d` in `data` (exactly `count · d.size` bytes).
fn values(
    d: Descr,
    data: &[u8],
    count: usize,
    shape: &[usize],
) -> std::result::Result<Tensor, String> {
    let tensor = |r: Result<Tensor>| r.map_err(|e| e.to_string());
    fn word<const N: usize>(b: &[u8], little: bool) -> [u8; N] {
        let mut w: [u8; N] = b.try_into().expect("chunks of N bytes");
        if little != cfg!(target_endian = "little") {
            w.reverse();
        }
        w
    }
    let chunks = data.chunks_exact(d.size);
    match (d.kind, d.size) {
        (Kind::Float, 4) => {
            let mut v = reserve(count)?;
            v.extend(chunks.map(|b| f32::from_ne_bytes(word(b, d.little))));
            tensor(Tensor::from_vec(v, shape))
        }
        (Kind::Float, 8) => {
            let mut v = reserve(count)?;
            v.extend(chunks.map(|b| f64::from_ne_bytes(word(b, d.little))));
            tensor(Tensor::from_vec(v, shape))
        }
        (kind, size) => {
            let int = |b: &[u8]| -> i128 {
                match (kind, size) {
                    (Kind::Signed, 1) => b[0] as i8 as i128,
                    (Kind::Signed, 2) => i16::from_ne_bytes(word(b, d.little)) as i128,
                    (Kind::Signed, 4) => i32::from_ne_bytes(word(b, d.little)) as i128,
                    (Kind::Signed, _) => i64::from_ne_bytes(word(b, d.little)) as i128,
                    (_, 1) => b[0] as i128,
                    (_, 2) => u16::from_ne_bytes(word(b, d.little)) as i128,
                    (_, 4) => u32::from_ne_bytes(word(b, d.little)) as i128,
                    (_, _) => u64::from_ne_bytes(word(b, d.little)) as i128,
                }
            };
            const EXACT: i128 = 1 << 53;
            let mut v = reserve(count)?;
            for b in chunks {
                let x = int(b);
                if x.abs() > EXACT {
                    return Err(format!(
                        "integer {x} is beyond ±2^53 and has no exact f64 value"
                    ));
                }
                v.push(x as f64);
            }
            tensor(Tensor::from_vec(v, shape))
        }
    }
}

/// Magic, version, header length and the header dict.
fn header(bytes: &[u8]) -> std::result::Result<Header, String> {
    if !bytes.starts_with(b"\x93NUMPY") {
        return Err("not a .npy file (missing the NumPy magic header)".into());
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[a, b]) => (a, b),
        _ => return Err("truncated: the file ends inside the .npy preamble".into()),
    };
    let (len_bytes, start) = match (major, minor) {
        (1, 0) => (2, 10),
        (2, 0) | (3, 0) => (4, 12),
        _ => {
            return Err(format!(
                ".npy format version {major}.{minor} is not supported"
            ))
        }
    };
    let Some(len) = bytes.get(8..8 + len_bytes) else {
        return Err("truncated: the file ends inside the .npy preamble".into());
    };
    let header_len = len
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | b as usize);
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "header of {header_len} bytes is longer than the {MAX_HEADER_BYTES} accepted"
        ));
    }
    let end = start + header_len;
    let Some(text) = bytes.get(start..end) else {
        return Err(format!(
            "truncated: the header declares {header_len} bytes, the file has {} after the preamble",
            bytes.len() - start.min(bytes.len())
        ));
    };
    let text = std::str::from_utf8(text).map_err(|_| "the header is not text".to_string())?;
    let (descr, fortran_order, shape) = parse_dict(text)?;
    Ok(Header {
        descr,
        fortran_order,
        shape,
        data_start: end,
    })
}

/// The element type of a `descr` string: `<f4`, `>f8`, `|u1`, `<i8`, … (`=` or no prefix:
/// this machine's order).
fn parse_descr(s: &str) -> std::result::Result<Descr, String> {
    let unsupported = || {
        format!(
            "element type '{}' is not supported (f4, f8 or i1…i8, u1…u8)",
            s.escape_debug()
        )
    };
    let (little, rest) = match s.as_bytes().first() {
        Some(b'<') => (true, &s[1..]),
        Some(b'>') => (false, &s[1..]),
        Some(b'|' | b'=') => (cfg!(target_endian = "little"), &s[1..]),
        _ => (cfg!(target_endian = "little"), s),
    };
    let kind = match rest.as_bytes().first() {
        Some(b'f') => Kind::Float,
        Some(b'i') => Kind::Signed,
        Some(b'u') => Kind::Unsigned,
        _ => return Err(unsupported()),
    };
    let size: usize = match &rest[1..] {
        "1" => 1,
        "2" => 2,
        "4" => 4,
        "8" => 8,
        _ => return Err(unsupported()),
    };
    if kind == Kind::Float && size < 4 {
        return Err(unsupported());
    }
    Ok(Descr { kind, size, little })
}

/// A cursor over the header text.
struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn skip_ws(&mut self) {
        let rest = &self.s[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Skips whitespace and takes `c` if it comes next.
    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.s[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "malformed header: expected '{c}' at byte {} of {:?}",
                self.pos,
                self.s.trim_end()
            ))
        }
    }

    /// A quoted string (no escapes: the keys and type strings of a header have none).
    fn string(&mut self) -> std::result::Result<&'a str, String> {
        self.skip_ws();
        let rest = &self.s[self.pos..];
        let q = match rest.chars().next() {
            Some(q @ ('\'' | '"')) => q,
            _ => {
                return Err(format!(
                    "malformed header: expected a string at byte {}",
                    self.pos
                ))
            }
        };
        let body = &rest[1..];
        let close = body
            .find(q)
            .ok_or_else(|| "malformed header: unterminated string".to_string())?;
        self.pos += close + 2;
        Ok(&body[..close])
    }

    /// A Python word (`True`, `False`).
    fn word(&mut self) -> &'a str {
        self.skip_ws();
        let rest = &self.s[self.pos..];
        let n = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        self.pos += n;
        &rest[..n]
    }

    /// A tuple (or list) of non-negative integers (Python 2's `3L` accepted).
    fn shape(&mut self) -> std::result::Result<Vec<usize>, String> {
        let close = if self.eat('(') {
            ')'
        } else if self.eat('[') {
            ']'
        } else {
            return Err("malformed header: 'shape' is not a tuple".into());
        };
        let mut dims = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(dims);
            }
            let w = self.word();
            let digits = w.strip_suffix('L').unwrap_or(w);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "malformed header: shape entry '{w}' is not a non-negative integer"
                ));
            }
            let d: usize = digits
                .parse()
                .map_err(|_| format!("shape entry {digits} is too large for this machine"))?;
            dims.push(d);
            if !self.eat(',') {
                self.expect(close)?;
                return Ok(dims);
            }
        }
    }
}

/// The `{'descr': …, 'fortran_order': …, 'shape': (…)}` dict, keys in any order, each once.
fn parse_dict(text: &str) -> std::result::Result<(Descr, bool, Vec<usize>), String> {
    let mut lx = Lexer { s: text, pos: 0 };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    lx.expect('{')?;
    while !lx.eat('}') {
        let key = lx.string()?;
        lx.expect(':')?;
        match key {
            "descr" if descr.is_none() => {
                lx.skip_ws();
                if lx.s[lx.pos..].starts_with('[') {
                    return Err("structured (record) arrays are not supported".into());
                }
                descr = Some(parse_descr(lx.string()?)?);
            }
            "fortran_order" if fortran.is_none() => {
                fortran = Some(match lx.word() {
                    "True" => true,
                    "False" => false,
                    w => {
                        return Err(format!(
                            "malformed header: fortran_order is '{}'",
                            w.escape_debug()
                        ))
                    }
                });
            }
            "shape" if shape.is_none() => shape = Some(lx.shape()?),
            "descr" | "fortran_order" | "shape" => {
                return Err(format!("malformed header: key '{key}' appears twice"));
            }
            _ => {
                return Err(format!(
                    "malformed header: unknown key '{}'",
                    key.escape_debug()
                ))
            }
        }
        if !lx.eat(',') {
            lx.expect('}')?;
            break;
        }
    }
    if !lx.s[lx.pos..].trim().is_empty() {
        return Err("malformed header: text after the dict".into());
    }
    match (descr, fortran, shape) {
        (Some(d), Some(f), Some(s)) => Ok((d, f, s)),
        (None, _, _) => Err("malformed header: no 'descr'".into()),
        (_, None, _) => Err("malformed header: no 'fortran_order'".into()),
        (_, _, None) => Err("malformed header: no 'shape'".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A version 1.0 `.npy` file with header dict `dict` (padded as NumPy pads) and `data`.
    fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut h = dict.as_bytes().to_vec();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(b' ');
        }
        h.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h);
        out.extend(data);
        out
    }

    fn err(bytes: &[u8]) -> String {
        Tensor::from_npy_bytes(bytes).unwrap_err().to_string()
    }

    #[test]
    fn a_header_claiming_2_pow_40_values_over_96_bytes_is_a_one_line_error() {
        let f = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }",
            &[0u8; 96],
        );
        assert_eq!(
            err(&f),
            "npy: truncated: header declares 1099511627776 values (4398046511104 bytes), file has 96 bytes of data"
        );
        // Through the file reader too, naming the file.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bomb.npy");
        std::fs::write(&p, &f).unwrap();
        let e = Tensor::read_npy(&p).unwrap_err().to_string();
        assert!(
            e.starts_with(&p.display().to_string()) && e.contains("truncated"),
            "{e}"
        );
    }

    #[test]
    fn overflowing_truncated_and_trailing_data_each_say_what_is_wrong() {
        let dict =
            |shape: &str| format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}}}");
        let big = format!("({}, {})", 1u64 << 33, 1u64 << 33);
        assert!(err(&npy(&dict(&big), &[])).contains("element count overflows"));
        let e = err(&npy(&dict(&format!("({},)", usize::MAX / 4)), &[]));
        assert!(e.contains("byte count overflows"), "{e}");
        let e = err(&npy(&dict("(99999999999999999999999,)"), &[]));
        assert!(e.contains("too large"), "{e}");
        let e = err(&npy(&dict("(2, 3)"), &[0u8; 40]));
        assert!(
            e.ends_with(
                "truncated: header declares 6 values (48 bytes), file has 40 bytes of data"
            ),
            "{e}"
        );
        let e = err(&npy(&dict("(2, 3)"), &[0u8; 50]));
        assert!(
            e.ends_with(
                "2 trailing bytes: header declares 6 values (48 bytes), file has 50 bytes of data"
            ),
            "{e}"
        );
        // A header longer than the file, or cut inside the preamble.
        let f = npy(&dict("(1,)"), &[0u8; 8]);
        assert!(err(&f[..30]).contains("truncated: the header declares"));
        assert!(err(&f[..9]).contains("preamble"));
        // Element types and versions it does not read.
        assert!(err(&npy(
            "{'descr': '<f2', 'fortran_order': False, 'shape': (1,)}",
            &[0, 0]
        ))
        .contains("element type '<f2' is not supported"));
        assert!(err(&npy(
            "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",
            &[0; 4]
        ))
        .contains("structured"));
        let mut v9 = f.clone();
        v9[6] = 9;
        assert!(err(&v9).contains("version 9.0"));
        for bad in [
            "{'descr': '<f4', 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
            "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}",
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
        ] {
            let e = err(&npy(bad, &[0; 4]));
            assert!(
                e.contains("malformed header") && e.lines().count() == 1,
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn header_spellings_numpy_writes_all_read() {
        let one = 1.5f32.to_le_bytes();
        for dict in [
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
            "{\"shape\": (1, ), \"fortran_order\": False, \"descr\": \"<f4\"}",
            "{'descr':'<f4','fortran_order':False,'shape':(1L,)}",
            "{'descr': '<f4', 'fortran_order': True, 'shape': [1]}",
        ] {
            let t = Tensor::from_npy_bytes(&npy(dict, &one)).unwrap();
            assert_eq!(
                (t.shape(), t.to_vec_f32().unwrap()),
                (&[1][..], vec![1.5]),
                "{dict}"
            );
        }
        // A scalar (shape ()), big-endian f8, and zero-length arrays.
        let t = Tensor::from_npy_bytes(&npy(
            "{'descr': '>f8', 'fortran_order': False, 'shape': ()}",
            &(-2.25f64).to_be_bytes(),
        ))
        .unwrap();
        assert_eq!((t.shape(), t.to_vec_f64().unwrap()), (&[][..], vec![-2.25]));
        let t = Tensor::from_npy_bytes(&npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5)}",
            &[],
        ))
        .unwrap();
        assert_eq!(t.shape(), &[0, 5]);
    }

    #[test]
    fn fortran_order_and_big_endian_read_as_numpy_means_them() {
        // ndarray-npy writes a transposed (F-contiguous) array with fortran_order True.
        let a = ndarray::Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 100 + j * 10 + k) as f64);
        let mut bytes = Vec::new();
        a.view().reversed_axes().write_npy(&mut bytes).unwrap();
        assert!(String::from_utf8_lossy(&bytes[..128]).contains("'fortran_order': True"));
        let t = Tensor::from_npy_bytes(&bytes).unwrap();
        assert_eq!(t.shape(), &[4, 3, 2]);
        let want: Vec<f64> = a.view().reversed_axes().iter().copied().collect();
        assert_eq!(t.to_vec_f64().unwrap(), want);
        // Big-endian integers.
        let data: Vec<u8> = [7i32, -9].iter().flat_map(|v| v.to_be_bytes()).collect();
        let t = Tensor::from_npy_bytes(&npy(
            "{'descr': '>i4', 'fortran_order': False, 'shape': (2,)}",
            &data,
        ))
        .unwrap();
        assert_eq!(t.to_vec_f64().unwrap(), [7.0, -9.0]);
    }

    /// A valid `.npy` file: a random dtype, byte order, layout and small shape.
    fn valid_npy() -> impl Strategy<Value = Vec<u8>> {
        let descr = prop::sample::select(vec![
            "<f4", ">f4", "<f8", ">f8", "|u1", "|i1", "<i2", ">u2", "<i4", "<u4", "<i8", ">u8",
        ]);
        (
            descr,
            prop::collection::vec(0usize..4, 0..4),
            any::<bool>(),
            any::<u64>(),
        )
            .prop_map(|(d, shape, fortran, seed)| {
                let size: usize = d[2..].parse().unwrap();
                let n: usize = shape.iter().product();
                let mut x = seed | 1;
                let mut data = Vec::new();
                for _ in 0..n {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Any float bits; small integers (signed ones of either sign).
                    let v = if d.contains('f') {
                        x
                    } else if d.contains('i') {
                        (x % 200).wrapping_sub(100)
                    } else {
                        x % 200
                    };
                    data.extend(&v.to_le_bytes()[..size]);
                    if d.starts_with('>') {
                        let at = data.len() - size;
                        data[at..].reverse();
                    }
                }
                let dims: Vec<String> = shape.iter().map(|s| format!("{s},")).collect();
                let f = if fortran { "True" } else { "False" };
                npy(
                    &format!(
                        "{{'descr': '{d}', 'fortran_order': {f}, 'shape': ({}), }}",
                        dims.concat()
                    ),
                    &data,
                )
            })
    }

    /// A valid file with a few bytes overwritten, cut, inserted or appended; or random bytes.
    fn mutated_npy() -> impl Strategy<Value = Vec<u8>> {
        let edit = (any::<prop::sample::Index>(), any::<u8>(), 0u8..5);
        prop_oneof![
            1 => prop::collection::vec(any::<u8>(), 0..160),
            1 => prop::collection::vec(any::<u8>(), 0..100).prop_map(|mut v| {
                let mut f = b"\x93NUMPY\x01\x00".to_vec();
                f.append(&mut v);
                f
            }),
            6 => (valid_npy(), prop::collection::vec(edit, 1..5)).prop_map(|(mut f, edits)| {
                for (at, byte, op) in edits {
                    let i = at.index(f.len() + 1);
                    match op {
                        0 | 1 if i < f.len() => f[i] = byte,
                        2 => f.truncate(i),
                        3 => f.insert(i, byte),
                        _ => f.extend(std::iter::repeat_n(byte, 1 + byte as usize % 9)),
                    }
                }
                f
            }),
            2 => (valid_npy(), "[0-9]{1,24}", any::<prop::sample::Index>()).prop_map(|(f, digits, at)| {
                // A shape entry replaced by a (possibly huge) number.
                let text = String::from_utf8_lossy(&f).into_owned();
                let Some(open) = text.find("'shape': (") else { return f };
                let i = open + 10 + at.index(4);
                let mut g = f[..i.min(f.len())].to_vec();
                g.extend(digits.as_bytes());
                g.extend(&f[i.min(f.len())..]);
                g
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Never a panic or an abort: an error, or a tensor whose shape is its data's.
        #[test]
        fn fuzzed_npy_bytes_give_an_error_or_a_tensor_matching_its_shape(f in mutated_npy()) {
            match Tensor::from_npy_bytes(&f) {
                Ok(t) => {
                    let n = t.shape().iter().product::<usize>();
                    prop_assert_eq!(t.to_vec_f64().unwrap().len(), n);
                    prop_assert!(n <= f.len(), "{} values from {} bytes", n, f.len());
                }
                Err(e) => prop_assert_eq!(e.to_string().lines().count(), 1),
            }
        }

        /// Unmutated, every valid file reads, with the values NumPy means.
        #[test]
        fn valid_npy_bytes_read_exactly(f in valid_npy()) {
            let t = Tensor::from_npy_bytes(&f).unwrap();
            let back = Tensor::from_npy_bytes(&t.to_npy_bytes().unwrap()).unwrap();
            prop_assert_eq!(t.shape(), back.shape());
            let (a, b) = (t.to_vec_f64().unwrap(), back.to_vec_f64().unwrap());
            prop_assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())));
        }
    }

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
