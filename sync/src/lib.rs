//! Yizhan sync.
//!
//! This crate will hold the sans-I/O sync protocol core and the thin iroh adapter (issue #3). For
//! now it only names the protocol so that the binary and the docs can refer to it.

/// The ALPN of the sync protocol; the number changes with any incompatible wire change.
pub const ALPN: &[u8] = b"yizhan/sync/1";

#[cfg(test)]
mod tests {
    #[test]
    fn alpn_is_versioned() {
        assert!(super::ALPN.ends_with(b"/1"));
    }
}
