//! Thread-local recording state: whether ops are recorded, and the scope (layer name) that
//! new graph nodes are tagged with, so gradient rules can tell layers apart.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static SCOPE: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// Whether ops on this thread are recorded for differentiation.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` with recording switched on or off, restoring the previous state afterwards
/// (also on panic or early return).
pub fn with_grad_mode<R>(enabled: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(enabled)));
    f()
}

/// Runs `f` without recording: inference and perturbation methods pay nothing for the graph.
/// The flag is per thread: work sent to rayon carries it with [`RecordingContext`].
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(false, f)
}

/// Runs `f` with recording on (PyTorch's `enable_grad`): code that needs gradients wraps
/// itself in this, so it works inside a caller's [`no_grad`] too.
pub fn enable_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(true, f)
}

/// The scope that new nodes are tagged with.
pub fn current_scope() -> Option<Arc<str>> {
    SCOPE.with(|s| s.borrow().clone())
}

/// Runs `f` with nodes tagged `name` (a layer's name), restoring the previous scope after.
pub fn with_scope<R>(name: &Arc<str>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<str>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SCOPE.with(|s| *s.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(SCOPE.with(|s| s.borrow_mut().replace(name.clone())));
    f()
}

/// This thread's recording state (grad mode and scope), captured to be carried into work that
/// runs on other threads.
///
/// The state is per thread, and a rayon worker that waits inside a parallel op steals other
/// queued tasks: without this, a task could run under the flags of whatever its worker was
/// doing (a `no_grad` forward of another caller, say) and silently record nothing. Every task
/// that builds graph nodes therefore runs inside [`RecordingContext::enter`] of the context
/// its caller captured.
#[derive(Clone, Debug)]
pub struct RecordingContext {
    grad_enabled: bool,
    scope: Option<Arc<str>>,
}

impl RecordingContext {
    /// The calling thread's grad mode and scope.
    pub fn current() -> Self {
        Self {
            grad_enabled: is_grad_enabled(),
            scope: current_scope(),
        }
    }

    /// Runs `f` under this context, restoring the thread's own state afterwards (also on
    /// panic or early return).
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(bool, Option<Arc<str>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                GRAD_ENABLED.with(|g| g.set(self.0));
                SCOPE.with(|s| *s.borrow_mut() = self.1.take());
            }
        }
        let _restore = Restore(
            GRAD_ENABLED.with(|g| g.replace(self.grad_enabled)),
            SCOPE.with(|s| std::mem::replace(&mut *s.borrow_mut(), self.scope.clone())),
        );
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_carries_mode_and_scope_and_restores_the_thread_state() {
        let name: Arc<str> = Arc::from("layer");
        let ctx = no_grad(|| with_scope(&name, RecordingContext::current));
        let seen = std::thread::spawn(move || {
            let inside = ctx.enter(|| (is_grad_enabled(), current_scope()));
            (inside, is_grad_enabled(), current_scope())
        })
        .join()
        .unwrap();
        assert_eq!(seen.0, (false, Some(name)));
        assert_eq!((seen.1, seen.2), (true, None));
    }
}
