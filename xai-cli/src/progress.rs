//! Progress on stderr, in one place: bars and spinners drawn only when stderr is a terminal
//! and `--quiet` was not given (stdout carries results only).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silences every progress display of this process (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether progress is drawn: stderr is a terminal and `--quiet` was not given.
pub fn enabled() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// Erases a bar or spinner drawn on the current stderr line (before a last message printed
/// while one may be showing: an interruption).
pub fn clear_line() {
    if enabled() {
        use std::io::Write;
        let _ = std::io::stderr().write_all(b"\r\x1b[2K");
    }
}

fn target() -> ProgressDrawTarget {
    if enabled() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A bar of `len` steps counting `unit`s: `MESSAGE [=====>    ] 3/10 UNIT 2s`, cleared when
/// dropped (an error ends it too). Print results meanwhile with `bar.suspend(|| println!(..))`.
pub fn bar(len: u64, unit: &str) -> ProgressBar {
    let bar =
        ProgressBar::with_draw_target(Some(len), target()).with_finish(ProgressFinish::AndClear);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{msg:>12}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{elapsed}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// A spinner for one long step whose length is unknown: `⠋ MESSAGE 2s, 1200 model rows`,
/// ticking by itself; the rows are those the methods and metrics have sent through the model
/// so far ([`xai_passive::rows_done`], counted from the spinner's start). Cleared when dropped
/// or with `finish_and_clear`.
pub fn spinner(msg: impl Into<String>) -> ProgressBar {
    let s = ProgressBar::with_draw_target(None, target()).with_finish(ProgressFinish::AndClear);
    let first = xai_passive::rows_done();
    s.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}, {rows} model rows")
            .map(|st| {
                st.with_key(
                    "rows",
                    move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{}", xai_passive::rows_done() - first);
                    },
                )
            })
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    s.set_message(msg.into());
    if enabled() {
        s.enable_steady_tick(Duration::from_millis(100));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hides_every_display() {
        set_quiet(true);
        assert!(!enabled());
        assert!(bar(3, "steps").is_hidden());
        assert!(spinner("x").is_hidden());
        set_quiet(false);
    }
}
