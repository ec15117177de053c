//! Files in and out, with the guarantees the command line promises.
//!
//! - **Reading** ([`read_file`]): only regular files ([`check_regular_file`]: a FIFO would block
//!   forever, a device such as `/dev/zero` would be read until memory runs out), read into a
//!   buffer reserved fallibly, so a file too big for memory is an error, never an abort.
//! - **Writing** ([`write_atomic`], [`Staged`]): every output goes to a temporary file in the
//!   destination's folder, is flushed to disk (`fsync`) and only then renamed over the
//!   destination, so a failed or killed run never leaves a half-written file and never destroys
//!   the file it was replacing. Temporary names are short and unique
//!   (`.{name, at most 48 bytes}.xai-tmp-{pid}-{counter}`, see [`TEMP_MARKER`]), so a legal
//!   255-byte output name still works and a leftover from a killed run is recognisable.
//! - **Interruption** ([`abandon_temp_files`]): every temporary file lives in one registry, so a
//!   signal handler can remove them all and forbid any later rename; a write in flight then fails
//!   and leaves the destination as it was. A run killed outright (SIGKILL) cannot clean up: the
//!   next run that writes into the same folder removes its leftovers ([`sweep_stale`]).

use crate::{Error, Result};
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The part of every temporary file name that marks it as ours:
/// `.{name}.xai-tmp-{pid}-{counter}`.
pub const TEMP_MARKER: &str = ".xai-tmp-";

/// Bytes of the destination's name kept in a temporary name (cut at a character boundary).
const NAME_PREFIX_BYTES: usize = 48;

fn file_err(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::File {
        path: path.display().to_string(),
        msg: msg.to_string(),
    }
}

/// **Errors** unless `path` (after following symbolic links) is a regular file: a missing
/// path, a folder, a FIFO (named pipe: reading it would block until a writer comes), a
/// character or block device (`/dev/zero` never ends) or a socket is refused with one line
/// naming the path and what it is. Every reader of this workspace calls it before opening a
/// path.
pub fn check_regular_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| file_err(path, e))?;
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(());
    }
    let what = if ft.is_dir() {
        "a folder"
    } else {
        special_kind(&ft)
    };
    Err(file_err(path, format!("is {what}, not a regular file")))
}

#[cfg(unix)]
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "a special file"
}

/// The bytes of the regular file `path`, at most `limit` of them.
///
/// **Errors** if `path` is not a regular file ([`check_regular_file`]), cannot be read, holds
/// more than `limit` bytes, or does not fit in memory (the buffer is reserved fallibly: an
/// error naming the size, not an allocation abort).
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    check_regular_file(path)?;
    let file = File::open(path).map_err(|e| file_err(path, e))?;
    // The path may have been swapped between the check and the open: check what was opened.
    let meta = file.metadata().map_err(|e| file_err(path, e))?;
    if !meta.is_file() {
        return Err(file_err(path, "is not a regular file"));
    }
    if meta.len() > limit {
        return Err(file_err(
            path,
            format!(
                "holds {} bytes, more than the {limit} this reader accepts",
                meta.len()
            ),
        ));
    }
    read_bounded(file, limit, meta.len(), path)
}

/// Reads all of `reader` (e.g. a gzip decoder), at most `limit` bytes, `expected` bytes
/// reserved up front; `path` names the source in errors.
///
/// **Errors** if reading fails, more than `limit` bytes come, or memory for them cannot be
/// reserved.
pub fn read_bounded(
    mut reader: impl Read,
    limit: u64,
    expected: u64,
    path: &Path,
) -> Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::new();
    let reserve = |buf: &mut Vec<u8>, n: usize| {
        buf.try_reserve_exact(n).map_err(|_| {
            file_err(
                path,
                format!(
                    "cannot allocate {} bytes to read it",
                    buf.len().saturating_add(n)
                ),
            )
        })
    };
    reserve(
        &mut buf,
        usize::try_from(expected.min(limit)).unwrap_or(usize::MAX),
    )?;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(buf),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(file_err(path, e)),
        };
        if (buf.len() + n) as u64 > limit {
            return Err(file_err(
                path,
                format!("holds more than the {limit} bytes this reader accepts"),
            ));
        }
        if buf.capacity() - buf.len() < n {
            let more = buf.len().max(n);
            reserve(&mut buf, more)?;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

// ---- all-or-nothing writes -------------------------------------------------------------------

/// Every temporary file not yet renamed into place, and whether the process is being torn down.
struct Registry {
    live: Vec<PathBuf>,
    abandoned: bool,
    /// Folders already swept of stale temporary files ([`sweep_stale`]).
    swept: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    live: Vec::new(),
    abandoned: false,
    swept: Vec::new(),
});
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The registry; a panic elsewhere while it was held leaves it usable (it holds only paths).
fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn interrupted(path: &Path) -> Error {
    file_err(path, "not written: the run was interrupted")
}

/// Removes every temporary file of this process (written or being written) and makes every
/// later [`write_atomic`] or [`Staged::commit`] fail, so that no destination changes after
/// this call. For signal handlers (run on a thread, not in the signal context); returns how
/// many files it removed.
pub fn abandon_temp_files() -> usize {
    let mut reg = registry();
    reg.abandoned = true;
    let live = std::mem::take(&mut reg.live);
    live.iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count()
}

/// Removes from `dir` the temporary files that runs killed before they could clean up (SIGKILL,
/// a power cut) left behind: names `.{prefix}.xai-tmp-{pid}-{counter}` whose process `pid` no
/// longer runs. Files of running processes (this one, a concurrent xai) are kept. Linux only
/// (`/proc` tells which processes run); elsewhere nothing is removed. Returns how many files it
/// removed.
pub fn sweep_stale(dir: &Path) -> usize {
    if !Path::new("/proc/self").exists() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let me = std::process::id();
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temp_pid) else {
            continue;
        };
        let dead = pid != me && !Path::new("/proc").join(pid.to_string()).exists();
        let file = e.file_type().map(|t| t.is_file()).unwrap_or(false);
        if dead && file && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The process id in a temporary file name `.{prefix}.xai-tmp-{pid}-{counter}`, or `None` when
/// the name is not one.
fn temp_pid(name: &str) -> Option<u32> {
    let (head, tail) = name.rsplit_once(TEMP_MARKER)?;
    let (pid, counter) = tail.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if head.starts_with('.') && digits(pid) && digits(counter) {
        pid.parse().ok()
    } else {
        None
    }
}

/// The folder a file is written into (`.` for a bare name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A temporary sibling of `dest`: `.{name prefix}.xai-tmp-{pid}-{counter}`, created exclusively
/// (never an existing file) and registered before anyone can see it.
fn create_temp(dest: &Path) -> Result<(PathBuf, File)> {
    let name = dest
        .file_name()
        .ok_or_else(|| file_err(dest, "is not a file path"))?
        .to_string_lossy();
    let mut cut = name.len().min(NAME_PREFIX_BYTES);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let dir = parent_dir(dest);
    // Leftovers of killed runs go the first time this process writes into a folder.
    let first = {
        let mut reg = registry();
        let first = !reg.swept.iter().any(|d| d == dir);
        if first {
            reg.swept.push(dir.to_path_buf());
        }
        first
    };
    if first {
        sweep_stale(dir);
    }
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = OsString::from(".");
        tmp_name.push(&name[..cut]);
        tmp_name.push(format!("{TEMP_MARKER}{}-{n}", std::process::id()));
        let tmp = dir.join(tmp_name);
        // Created and registered under the lock: a signal handler that takes the lock sees
        // every temporary file that exists.
        let mut reg = registry();
        if reg.abandoned {
            return Err(interrupted(dest));
        }
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => {
                reg.live.push(tmp.clone());
                return Ok((tmp, f));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(file_err(dest, e)),
        }
    }
    Err(file_err(dest, "cannot create a temporary file beside it"))
}

/// Removes a temporary file and forgets it.
fn discard(tmp: &Path) {
    let mut reg = registry();
    reg.live.retain(|p| p != tmp);
    let _ = std::fs::remove_file(tmp);
}

/// Outputs written to temporary files, renamed into place together by [`commit`](Self::commit):
/// a run stages every output after each fallible step and commits at the end, so a failure
/// leaves every destination as it was. Dropped uncommitted, it removes its temporary files
/// (and the folders [`create_dir_all`](Self::create_dir_all) made, when empty).
#[derive(Debug, Default)]
pub struct Staged {
    /// (temporary file, destination), in the order staged.
    files: Vec<(PathBuf, PathBuf)>,
    /// Folders created for the outputs, deepest last.
    created_dirs: Vec<PathBuf>,
}

impl Staged {
    /// Nothing staged yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `bytes` to a temporary file beside `dest` and flushes it to disk. A destination
    /// staged twice keeps the later bytes.
    ///
    /// **Errors** if the file cannot be written (its folder missing included; the temporary
    /// file is removed), or after [`abandon_temp_files`].
    pub fn add(&mut self, dest: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
        let dest = dest.as_ref();
        let (tmp, mut file) = create_temp(dest)?;
        let written = file
            .write_all(bytes)
            .and_then(|_| file.sync_all())
            .and_then(|_| keep_permissions(dest, &file));
        drop(file);
        if let Err(e) = written {
            discard(&tmp);
            return Err(file_err(dest, e));
        }
        if let Some(i) = self.files.iter().position(|(_, d)| d == dest) {
            let (old, _) = self.files.remove(i);
            discard(&old);
        }
        self.files.push((tmp, dest.to_path_buf()));
        Ok(())
    }

    /// Destinations staged so far, in order.
    pub fn destinations(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(_, d)| d.as_path())
    }

    /// Renames every staged file over its destination, in the order staged, and flushes the
    /// folders.
    ///
    /// **Errors** after [`abandon_temp_files`] (nothing is renamed) or if a rename fails (the
    /// files not yet renamed are removed; the ones before it are in place).
    pub fn commit(mut self) -> Result<()> {
        let files = std::mem::take(&mut self.files);
        let mut dirs: Vec<&Path> = Vec::new();
        {
            let mut reg = registry();
            for (k, (tmp, dest)) in files.iter().enumerate() {
                if reg.abandoned {
                    return Err(interrupted(dest));
                }
                if let Err(e) = std::fs::rename(tmp, dest) {
                    for (t, _) in &files[k..] {
                        reg.live.retain(|p| p != t);
                        let _ = std::fs::remove_file(t);
                    }
                    return Err(file_err(dest, e));
                }
                reg.live.retain(|p| p != tmp);
                let dir = parent_dir(dest);
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        self.created_dirs.clear();
        // The renames themselves reach the disk with the folder's entry (best effort: some
        // file systems cannot sync a folder).
        for dir in dirs {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Creates the folder `dir` and the missing ones above it (for outputs to be staged in);
    /// dropped uncommitted, the stage removes the folders it made that are still empty.
    ///
    /// **Errors** if a folder cannot be created (a regular file in the way, no permission).
    pub fn create_dir_all(&mut self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let mut missing = Vec::new();
        let mut d = Some(dir);
        while let Some(p) = d.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
            missing.push(p.to_path_buf());
            d = p.parent();
        }
        for p in missing.into_iter().rev() {
            match std::fs::create_dir(&p) {
                Ok(()) => self.created_dirs.push(p),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(file_err(&p, e)),
            }
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            discard(tmp);
        }
        for d in self.created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d); // only when empty
        }
    }
}

/// A replaced file keeps its permission bits.
fn keep_permissions(dest: &Path, tmp: &File) -> std::io::Result<()> {
    match std::fs::metadata(dest) {
        Ok(m) if m.is_file() => tmp.set_permissions(m.permissions()),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` all or nothing: a temporary file beside it, flushed to disk, then
/// renamed over it ([`Staged`] with one file).
///
/// **Errors** if the file cannot be written; `path` is then as it was, and no temporary file
/// is left.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut staged = Staged::new();
    staged.add(path, bytes)?;
    staged.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_first_write_into_a_folder_removes_the_leftovers_of_killed_runs_only() {
        if !Path::new("/proc/self").exists() {
            eprintln!("skipped: no /proc to tell which processes run");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        // Above Linux's largest pid_max (2^22): no such process.
        let dead = format!(".m.json{TEMP_MARKER}4194999-3");
        let kept = [
            format!(".m.json{TEMP_MARKER}{me}-7"),   // this process
            format!(".m.json{TEMP_MARKER}1-0"),      // init runs
            format!(".m.json{TEMP_MARKER}x1-0"),     // not a pid
            format!("m.json{TEMP_MARKER}4194999-3"), // not hidden
            "notes.txt".to_string(),
        ];
        for n in kept.iter().chain([&dead]) {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        assert_eq!(temp_pid(&dead), Some(4_194_999));
        write_atomic(&dir.path().join("out.npy"), b"new").unwrap();
        let mut want: Vec<String> = kept.to_vec();
        want.push("out.npy".into());
        want.sort();
        assert_eq!(names(dir.path()), want);
    }

    #[test]
    fn special_files_are_refused_with_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_regular_file(dir.path()).unwrap_err().to_string();
        assert!(e.ends_with("is a folder, not a regular file"), "{e}");
        let e = read_file(&dir.path().join("missing"), u64::MAX)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing") && e.lines().count() == 1, "{e}");
        #[cfg(unix)]
        {
            let e = read_file(Path::new("/dev/zero"), u64::MAX)
                .unwrap_err()
                .to_string();
            assert_eq!(e, "/dev/zero: is a character device, not a regular file");
            let fifo = dir.path().join("pipe");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            extern "C" {
                fn mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
            }
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { mkfifo(c.as_ptr(), 0o600) }, 0);
            // Would block forever if it were opened.
            let e = read_file(&fifo, u64::MAX).unwrap_err().to_string();
            assert!(
                e.ends_with("is a FIFO (named pipe), not a regular file"),
                "{e}"
            );
            // A symbolic link to a regular file is that file.
            let target = dir.path().join("t");
            std::fs::write(&target, b"abc").unwrap();
            let link = dir.path().join("l");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            assert_eq!(read_file(&link, u64::MAX).unwrap(), b"abc");
        }
    }

    #[test]
    fn reads_respect_their_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![7u8; 3 << 20]).unwrap();
        assert_eq!(read_file(&p, 3 << 20).unwrap().len(), 3 << 20);
        let e = read_file(&p, 1000).unwrap_err().to_string();
        assert!(e.contains("more than the 1000"), "{e}");
        // A stream longer than it claims (a decompressor) is cut at the limit.
        let e = read_bounded(&[0u8; 5000][..], 4096, 0, &p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than the 4096 bytes"), "{e}");
        assert_eq!(
            read_bounded(&[1u8; 4096][..], 4096, 10, &p).unwrap().len(),
            4096
        );
    }

    #[test]
    fn writes_replace_all_or_nothing_and_leave_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.npy");
        write_atomic(&out, b"old").unwrap();
        write_atomic(&out, b"new").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"new");
        // Into a folder that is a file: refused, nothing left behind.
        let e = write_atomic(&out.join("x"), b"z").unwrap_err().to_string();
        assert!(e.lines().count() == 1, "{e}");
        // Over a folder: the rename fails, the temporary file goes.
        std::fs::create_dir(dir.path().join("d")).unwrap();
        assert!(write_atomic(&dir.path().join("d"), b"z").is_err());
        assert_eq!(names(dir.path()), ["d", "out.npy"]);
        assert_eq!(std::fs::read(&out).unwrap(), b"new");
    }

    #[test]
    fn a_255_byte_name_is_written_with_a_short_unique_temp_name() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{}.npy", "é".repeat(125)); // 254 bytes, multi-byte characters
        let out = dir.path().join(&long);
        write_atomic(&out, b"x").unwrap();
        assert_eq!(names(dir.path()), std::slice::from_ref(&long));
        let (a, _) = create_temp(&out).unwrap();
        let (b, _) = create_temp(&out).unwrap();
        let an = a.file_name().unwrap().to_string_lossy().into_owned();
        assert_ne!(a, b);
        assert!(an.len() < 100 && an.contains(TEMP_MARKER), "{an}");
        assert!(an.contains(&format!("-{}-", std::process::id())), "{an}");
        discard(&a);
        discard(&b);
        assert_eq!(names(dir.path()), [long]);
    }

    #[test]
    fn a_dropped_stage_removes_its_files_and_the_folders_it_made() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("keep.json");
        std::fs::write(&keep, b"old").unwrap();
        let mut s = Staged::new();
        s.add(&keep, b"new").unwrap();
        assert!(s.add(dir.path().join("png/deep/a.png"), b"img").is_err());
        s.create_dir_all(dir.path().join("png/deep")).unwrap();
        s.add(dir.path().join("png/deep/a.png"), b"img").unwrap();
        assert_eq!(s.destinations().count(), 2);
        drop(s);
        assert_eq!(names(dir.path()), ["keep.json"]);
        assert_eq!(std::fs::read(&keep).unwrap(), b"old");
        // Committed, every file is in place.
        let mut s = Staged::new();
        s.add(&keep, b"new").unwrap();
        s.create_dir_all(dir.path().join("png")).unwrap();
        s.add(dir.path().join("png/a.png"), b"img").unwrap();
        s.commit().unwrap();
        assert_eq!(std::fs::read(&keep).unwrap(), b"new");
        assert_eq!(names(&dir.path().join("png")), ["a.png"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("script");
        std::fs::write(&out, b"a").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o751)).unwrap();
        write_atomic(&out, b"b").unwrap();
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o751);
    }
}
