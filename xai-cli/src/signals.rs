//! SIGINT, SIGTERM and SIGHUP end a run as any error does: one line on stderr, a non-zero exit
//! (128 + the signal's number, as a shell reports a killed command), and no file left behind —
//! every temporary file of an output not yet renamed into place is removed, and no output is
//! renamed after the signal ([`xai_tensor::fs::abandon_temp_files`]), so each destination holds
//! its old content or its complete new content.
//!
//! The handler only writes the signal's number to a pipe (async-signal-safe); a thread reading
//! the pipe does the clean-up as ordinary code (locks, allocation). A handler, not a blocked
//! signal mask, because OpenBLAS starts its threads before `main`, with signals unblocked. A
//! signal ignored when xai starts (`nohup`, a background job's SIGINT) stays ignored.

#[cfg(unix)]
use std::sync::atomic::AtomicI32;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the end of the process has been claimed, by `main` (its result) or by a signal.
static LAST_WORD: AtomicBool = AtomicBool::new(false);

/// Claims the one stderr line and the exit code of this process; `false` when a signal
/// claimed them first (its thread then prints the line and exits: the caller must wait for
/// that, printing nothing). `main` calls it once its command returns, so an error caused by
/// the interruption ("not written: the run was interrupted") is never a second line, and a
/// signal arriving after the command ended changes nothing.
pub fn claim_last_word() -> bool {
    !LAST_WORD.swap(true, Ordering::SeqCst)
}

/// The pipe's write end, for the handler (-1 until installed).
#[cfg(unix)]
static PIPE: AtomicI32 = AtomicI32::new(-1);

/// Installs the handlers and starts the thread that acts on them. Call first in `main`.
#[cfg(unix)]
pub fn install() {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe writes two descriptors into `fds`; fcntl only changes their flags.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return; // keep the default actions
        }
        for fd in fds {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
        // A full pipe (thousands of signals) drops a byte rather than block the handler.
        let flags = libc::fcntl(fds[1], libc::F_GETFL);
        libc::fcntl(fds[1], libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let [read_fd, write_fd] = fds;
    PIPE.store(write_fd, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut sig = 0u8;
            // SAFETY: reads one byte into `sig`.
            let n = unsafe { libc::read(read_fd, (&mut sig as *mut u8).cast(), 1) };
            if n == 1 {
                interrupted(sig.into());
            }
            if n == 0 {
                return;
            }
        });
    if spawned.is_err() {
        return; // no thread to act: keep the default actions
    }
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sigaction structs are plain data; the handler is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

#[cfg(not(unix))]
pub fn install() {}

/// The handler: the signal's number into the pipe, errno kept (write is async-signal-safe).
#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE.load(Ordering::Relaxed);
    let byte = sig as u8;
    // SAFETY: errno is this thread's; write takes a valid one-byte buffer.
    unsafe {
        let errno = errno_location();
        let saved = errno.map(|e| *e);
        libc::write(fd, (&byte as *const u8).cast(), 1);
        if let (Some(e), Some(v)) = (errno, saved) {
            *e = v;
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn errno_location() -> Option<*mut libc::c_int> {
    // SAFETY: returns this thread's errno address.
    Some(unsafe { libc::__errno_location() })
}

#[cfg(any(target_os = "macos", target_os = "ios"))]
fn errno_location() -> Option<*mut libc::c_int> {
    // SAFETY: returns this thread's errno address.
    Some(unsafe { libc::__error() })
}

#[cfg(all(
    unix,
    not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios"
    ))
))]
fn errno_location() -> Option<*mut libc::c_int> {
    None
}

/// Removes the temporary files, says so in one line and exits with 128 + `sig`; does nothing
/// when `main` has already claimed the end (its command has returned and its outputs are
/// settled).
#[cfg(unix)]
fn interrupted(sig: libc::c_int) {
    if !claim_last_word() {
        return;
    }
    xai_tensor::fs::abandon_temp_files();
    let name = match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    };
    crate::progress::clear_line();
    eprintln!("error: interrupted by {name}; outputs not yet in place were discarded");
    // _exit, not exit: worker threads may be inside BLAS, whose exit handlers must not race
    // them; stderr is unbuffered and every output file is already settled.
    // SAFETY: ends the process.
    unsafe { libc::_exit(128 + sig) }
}
