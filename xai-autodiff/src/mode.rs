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
/// The flag is per thread: work sent to rayon must call this inside each task.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(false, f)
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
