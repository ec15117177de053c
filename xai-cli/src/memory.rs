//! The memory budget (`--max-memory`). The binary's allocator counts the bytes held in large
//! allocations (from [`TRACKED`] bytes: tensors, buffers, files read); an allocation that would
//! take them past the budget, or one the system refuses, ends the run at once with one line
//! naming the figures — before the memory is touched — instead of an abort ("memory allocation
//! of … bytes failed") or the kernel's OOM killer. Temporary files are removed first, so no
//! output changes. The default budget is 90% of the machine's physical memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Allocations from this size on are counted (smaller ones cannot add up to a problem faster
/// than the large ones they accompany, and stay off the shared counter).
pub const TRACKED: usize = 1 << 16;

/// Bytes held in tracked allocations.
static HELD: AtomicUsize = AtomicUsize::new(0);
/// The budget in bytes (`usize::MAX` until [`set_limit`]).
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Set by the first refusal: the run is ending.
static ENDING: AtomicBool = AtomicBool::new(false);

/// The system allocator with the budget.
pub struct Budgeted;

/// Counts `n` more bytes unless that passes the budget.
fn reserve(n: usize) -> bool {
    let before = HELD.fetch_add(n, Ordering::Relaxed);
    if before.saturating_add(n) > LIMIT.load(Ordering::Relaxed) {
        HELD.fetch_sub(n, Ordering::Relaxed);
        return false;
    }
    true
}

fn release(n: usize) {
    HELD.fetch_sub(n, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` with the same arguments; the counter only
// decides whether to forward.
unsafe impl GlobalAlloc for Budgeted {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        tracked(l.size(), || System.alloc(l))
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        tracked(l.size(), || System.alloc_zeroed(l))
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        if l.size() >= TRACKED {
            release(l.size());
        }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = tracked(new, || System.realloc(p, l, new));
        if l.size() >= TRACKED && !q.is_null() {
            release(l.size());
        }
        q
    }
}

/// Runs `get` for an allocation of `n` bytes, counted when tracked; refuses past the budget
/// or when the system has no memory.
fn tracked(n: usize, get: impl FnOnce() -> *mut u8) -> *mut u8 {
    if n < TRACKED || ENDING.load(Ordering::Relaxed) {
        // Small, or the run is ending (the refusal's own small allocations): not counted.
        let p = get();
        if !p.is_null() && n >= TRACKED {
            HELD.fetch_add(n, Ordering::Relaxed);
        }
        return p;
    }
    if !reserve(n) {
        refuse(n, false);
    }
    let p = get();
    if p.is_null() {
        release(n);
        refuse(n, true);
    }
    p
}

/// Sets the budget.
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// The default budget: 90% of physical memory (no limit where the system does not say).
pub fn default_limit() -> usize {
    // SAFETY: sysconf only reads system configuration.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || size <= 0 {
        return usize::MAX;
    }
    ((pages as u128 * size as u128) * 9 / 10).min(usize::MAX as u128) as usize
}

/// Writes `bytes` for people: `1.5 GiB`, `32.0 TiB`.
fn write_human(w: &mut impl std::fmt::Write, bytes: usize) -> std::fmt::Result {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        write!(w, "{bytes} B")
    } else {
        write!(w, "{v:.1} {}", UNITS[u])
    }
}

/// A size on the command line: bytes, or a number with a binary unit `K`, `M`, `G`, `T`
/// (optionally followed by `iB` or `B`): `512M`, `1.5G`, `16GiB`.
///
/// **Errors** unless it is a finite size of at least 1 MiB.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let scale: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024f64.powi(2),
        "G" | "GB" | "GIB" => 1024f64.powi(3),
        "T" | "TB" | "TIB" => 1024f64.powi(4),
        _ => {
            return Err(format!(
                "--max-memory must be a size such as 16G or 512M, got '{s}'"
            ))
        }
    };
    let v = num
        .parse::<f64>()
        .ok()
        .map(|v| v * scale)
        .filter(|v| v.is_finite() && *v >= (1 << 20) as f64 && *v <= usize::MAX as f64)
        .ok_or_else(|| {
            format!("--max-memory must be a size of at least 1M (e.g. 16G), got '{s}'")
        })?;
    Ok(v as usize)
}

/// A fixed buffer to format the refusal into without allocating.
struct Line {
    buf: [u8; 320],
    len: usize,
}

impl std::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Ends the run: temporary files removed, one line on stderr, exit code 1.
fn refuse(n: usize, by_system: bool) -> ! {
    if ENDING.swap(true, Ordering::SeqCst) || !crate::signals::claim_last_word() {
        // Another thread (a refusal or a signal) is ending the run.
        loop {
            std::thread::park();
        }
    }
    xai_tensor::fs::abandon_temp_files();
    let mut line = Line {
        buf: [0; 320],
        len: 0,
    };
    let held = HELD.load(Ordering::Relaxed);
    let _ = write!(line, "error: an allocation of ");
    let _ = write_human(&mut line, n);
    if by_system {
        let _ = write!(line, " was refused by the system (this run holds ");
        let _ = write_human(&mut line, held);
        let _ = writeln!(line, ")");
    } else {
        let _ = write!(line, " would take this run to ");
        let _ = write_human(&mut line, held.saturating_add(n));
        let _ = write!(line, ", past its memory limit of ");
        let _ = write_human(&mut line, LIMIT.load(Ordering::Relaxed));
        let _ = writeln!(line, " (--max-memory)");
    }
    // SAFETY: writes our own buffer to stderr and ends the process without unwinding.
    unsafe {
        libc::write(2, line.buf.as_ptr().cast(), line.len);
        libc::_exit(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units_and_refuse_nonsense() {
        assert_eq!(parse_size("16G"), Ok(16 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("2097152"), Ok(2 << 20));
        for bad in [
            "",
            "-1G",
            "0",
            "1K",
            "nan",
            "infG",
            "1e3G",
            "12 furlongs",
            "99999999999T",
        ] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.starts_with("--max-memory must be"), "{bad}: {e}");
        }
        let human = |b: usize| {
            let mut s = String::new();
            write_human(&mut s, b).unwrap();
            s
        };
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(35 << 40), "35.0 TiB");
        assert_eq!(human(12), "12 B");
    }
}
