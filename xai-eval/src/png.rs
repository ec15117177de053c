//! A dependency-free PNG writer (8-bit RGB, stored deflate blocks) and a minimal line chart,
//! enough for the sanity-check plot without a plotting crate.

use std::io::Write;
use std::path::Path;

/// An RGB image, row-major, white when created.
#[derive(Clone, Debug)]
pub struct Canvas {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width·height` RGB triples.
    pub pixels: Vec<[u8; 3]>,
}

impl Canvas {
    /// A white canvas.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: vec![[255; 3]; width * height],
        }
    }

    /// Sets a pixel (ignored outside the canvas).
    pub fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = c;
        }
    }

    /// A line from (x0, y0) to (x1, y1), `thick` pixels wide (Bresenham, square pen).
    pub fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: [u8; 3], thick: i64) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            for ox in 0..thick {
                for oy in 0..thick {
                    self.set(x + ox - thick / 2, y + oy - thick / 2, c);
                }
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// The PNG encoding: signature, IHDR, one IDAT of stored (uncompressed) deflate blocks,
    /// IEND.
    pub fn to_png(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.height * (1 + 3 * self.width));
        for row in self.pixels.chunks(self.width.max(1)) {
            raw.push(0); // filter: none
            raw.extend(row.iter().flatten());
        }
        let mut z = vec![0x78, 0x01];
        let mut blocks = raw.chunks(65535).peekable();
        if blocks.peek().is_none() {
            z.extend([1, 0, 0, 0xff, 0xff]);
        }
        while let Some(b) = blocks.next() {
            z.push(blocks.peek().is_none() as u8);
            let len = b.len() as u16;
            z.extend(len.to_le_bytes());
            z.extend((!len).to_le_bytes());
            z.extend(b);
        }
        z.extend(adler32(&raw).to_be_bytes());
        let mut ihdr = Vec::new();
        ihdr.extend((self.width as u32).to_be_bytes());
        ihdr.extend((self.height as u32).to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
        for (kind, data) in [(b"IHDR", &ihdr), (b"IDAT", &z), (b"IEND", &Vec::new())] {
            out.extend((data.len() as u32).to_be_bytes());
            let mut chunk = kind.to_vec();
            chunk.extend(data);
            out.extend(&chunk);
            out.extend(crc32(&chunk).to_be_bytes());
        }
        out
    }

    /// Writes the PNG file.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        std::fs::File::create(path)?.write_all(&self.to_png())
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// Series colours of [`line_chart`], in order (blue, orange, green, red, purple).
pub const COLOURS: [[u8; 3]; 5] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
];

/// A line chart of `series` (each a list of y values at x = 0, 1, …) on a y axis from `y_min`
/// to `y_max`: axes, grid lines at every x and at y quarters, one [`COLOURS`] line per series
/// with a dot at each point. No text (the legend goes beside it, e.g. in a markdown table).
pub fn line_chart(
    series: &[Vec<f64>],
    y_min: f64,
    y_max: f64,
    width: usize,
    height: usize,
) -> Canvas {
    let mut c = Canvas::new(width, height);
    let (l, r, t, b) = (40i64, width as i64 - 20, 20i64, height as i64 - 40);
    let n = series.iter().map(Vec::len).max().unwrap_or(0).max(2);
    let px = |i: usize| l + ((r - l) as f64 * i as f64 / (n - 1) as f64).round() as i64;
    let span = if y_max > y_min { y_max - y_min } else { 1.0 };
    let py = |v: f64| b - ((b - t) as f64 * ((v - y_min) / span).clamp(0.0, 1.0)).round() as i64;
    let grid = [225, 225, 225];
    for i in 0..n {
        c.line((px(i), t), (px(i), b), grid, 1);
    }
    for q in 0..=4 {
        let y = py(y_min + span * q as f64 / 4.0);
        c.line((l, y), (r, y), grid, 1);
    }
    c.line((l, b), (r, b), [0; 3], 2);
    c.line((l, t), (l, b), [0; 3], 2);
    if y_min < 0.0 && y_max > 0.0 {
        c.line((l, py(0.0)), (r, py(0.0)), [120; 3], 1);
    }
    for (s, ys) in series.iter().enumerate() {
        let col = COLOURS[s % COLOURS.len()];
        let pts: Vec<(i64, i64)> = ys
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, &v)| (px(i), py(v)))
            .collect();
        for w in pts.windows(2) {
            c.line(w[0], w[1], col, 2);
        }
        for &p in &pts {
            c.line(p, p, col, 6);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_structure_and_checksums() {
        // Known values: CRC-32 of "IEND" and Adler-32 of "Wikipedia".
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        let png = line_chart(
            &[vec![1.0, 0.5, 0.2], vec![1.0, 0.9, -0.1]],
            -0.2,
            1.0,
            120,
            80,
        )
        .to_png();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 120);
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
    }
}
