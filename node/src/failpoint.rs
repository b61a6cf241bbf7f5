//! Failpoints: named places in the write paths where a unit test can make something happen (a
//! second process writing, a crash that leaves work undone) at exactly the moment that matters.
//!
//! A test arms a failpoint on its own thread with [`arm`]; the code under test calls [`hit`] at
//! the named place, which runs the armed action and tells the caller that the failpoint fired.
//! Release builds and integration tests compile `hit` to `false`, so the write paths pay nothing.
//!
//! The failpoints:
//!
//! - [`NETWORK_EDIT_BEFORE_WRITE`]: a network-document edit has read the network documents into
//!   memory and is about to open its write transaction (what another process or a sync batch
//!   can change meanwhile).
//! - [`SKIP_REINDEX`]: a calendar or settings change is about to rebuild the index in its write
//!   transaction; when armed, the rebuild is skipped, as if the process had died between the
//!   document write and the rebuild (the state an interrupted sync or an old version can leave).

/// The notice sender has claimed a notice and is about to deliver it (issue #15).
pub const NOTICE_BEFORE_SEND: &str = "notice-before-send";
/// The notice sender has delivered a notice and is about to record it as sent.
pub const NOTICE_AFTER_SEND: &str = "notice-after-send";

/// A failpoint of the real binary, for end-to-end tests that kill the process at a precise
/// moment: in a debug build, `YIZHAN_FAILPOINT=<name>` makes the thread that reaches `name`
/// print `failpoint <name> reached` on stderr and stop there for good, so that the test can
/// kill the process with SIGKILL exactly there. Release builds compile it to nothing.
pub fn pause_if_armed(name: &'static str) {
    #[cfg(debug_assertions)]
    if std::env::var("YIZHAN_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name} reached");
        loop {
            std::thread::park();
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// A network-document edit is about to open its write transaction.
pub(crate) const NETWORK_EDIT_BEFORE_WRITE: &str = "network-edit-before-write";
/// The index rebuild that follows a calendar or settings change is skipped.
pub(crate) const SKIP_REINDEX: &str = "skip-reindex";

#[cfg(test)]
pub(crate) use armed::{arm, hit};

/// Failpoints are armed only in the crate's unit tests; everywhere else nothing fires.
#[cfg(not(test))]
#[inline(always)]
pub(crate) fn hit(_name: &'static str) -> bool {
    false
}

#[cfg(test)]
mod armed {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    type Action = Box<dyn FnMut()>;

    thread_local! {
        static ARMED: RefCell<BTreeMap<&'static str, Action>> = RefCell::new(BTreeMap::new());
    }

    /// Disarms its failpoint when dropped, so that a failing test does not leave it armed.
    pub(crate) struct Armed(&'static str);

    impl Drop for Armed {
        fn drop(&mut self) {
            ARMED.with(|a| a.borrow_mut().remove(self.0));
        }
    }

    /// Arms the failpoint `name` on this thread: every [`hit`] runs `action` until the guard drops.
    pub(crate) fn arm(name: &'static str, action: impl FnMut() + 'static) -> Armed {
        ARMED.with(|a| a.borrow_mut().insert(name, Box::new(action)));
        Armed(name)
    }

    /// Runs the action armed at `name`, if any; returns whether one was.
    pub(crate) fn hit(name: &'static str) -> bool {
        // The action is taken out while it runs, so that it may itself run code that passes the
        // same failpoint without recursing.
        let Some(mut action) = ARMED.with(|a| a.borrow_mut().remove(name)) else {
            return false;
        };
        action();
        ARMED.with(|a| {
            a.borrow_mut().entry(name).or_insert(action);
        });
        true
    }
}
