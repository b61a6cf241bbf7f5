//! The bounds a sync's bytes are measured against (issue #14).
//!
//! - **Automerge encoding**: the missing changes as Automerge encodes each one on its own
//!   (`Change::bytes`: each column deflated on its own, nothing below 256 bytes). What Yizhan
//!   sent before protocol version 3, and what a per-document peer sends.
//! - **Lower bound**: the same changes, uncompressed (`Change::raw_bytes`), one after the other
//!   and compressed together by `xz -9` — what a perfect batch compressor could reach, as no
//!   frame-by-frame protocol can do better than the whole backlog compressed at once.
//!
//! `xz` is the xz-utils program, run as a child process: a benchmark-only figure does not
//! justify building liblzma into the tree (the `xz2` crate compiles it from C), and the pure Rust
//! `lzma-rs` compressor finds no matches, so it would not be the xz -9 figure the issue names.
//! xz-utils is on every Debian and Ubuntu system (priority required); without it the bound is
//! reported as missing, never guessed.

use anyhow::Result;
use automerge::{Change, ChangeHash};
use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use yizhan_node::NodeHandle;

/// What the changes a peer lacks weigh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// Changes.
    pub changes: usize,
    /// Bytes in Automerge's encoding, change by change.
    pub encoded: usize,
    /// Bytes uncompressed.
    pub raw: usize,
    /// Bytes of the uncompressed changes compressed together by `xz -9` (`None` without `xz`).
    pub xz: Option<usize>,
}

/// The length of a change in Automerge's own (compressed) encoding.
pub(crate) fn encoded_len(raw: &[u8]) -> usize {
    match Change::try_from(raw) {
        Ok(mut c) => c.bytes().len(),
        Err(_) => raw.len(),
    }
}

/// The bounds of the changes of `ids` that a peer holding `theirs` (by document, `None`: the
/// peer lacks it) lacks, read at `h`; the xz bound only with `xz` (it takes about a second per
/// MB).
pub(crate) fn bounds(
    h: &NodeHandle,
    ids: &[String],
    theirs: &[Option<Vec<ChangeHash>>],
    xz: bool,
) -> Result<Bounds> {
    let pairs: Vec<(String, Vec<ChangeHash>)> = ids
        .iter()
        .cloned()
        .zip(theirs.iter().map(|t| t.clone().unwrap_or_default()))
        .collect();
    let (mut b, all) = crate::bench_sync::call(h, move |node| {
        let mut b = Bounds::default();
        let mut all = Vec::new();
        for (id, th) in &pairs {
            for c in node.changes_for(id, th)? {
                b.changes += 1;
                b.encoded += encoded_len(&c);
                b.raw += c.len();
                all.extend_from_slice(&c);
            }
        }
        Ok((b, all))
    })?;
    if xz {
        b.xz = xz9(&all);
    }
    Ok(b)
}

/// The size of `data` compressed by `xz -9` (`None` if `xz` cannot be run).
pub(crate) fn xz9(data: &[u8]) -> Option<usize> {
    let mut child = Command::new("xz")
        .args(["-9", "--format=xz", "--threads=1", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let mut stdout = child.stdout.take()?;
    // Write from another thread: xz's output pipe would fill while this one still writes.
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut n = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    let wrote = writer.join().ok()?.is_ok();
    let ok = child.wait().ok()?.success();
    (wrote && ok).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xz_compresses_repetition_and_reports_its_size() {
        let data = b"individual business registration; materials: id card, licence\n".repeat(2_000);
        // A machine without xz reports no bound; with it, repetition shrinks a lot.
        if let Some(n) = xz9(&data) {
            assert!(n > 0 && n * 50 < data.len(), "{n} of {}", data.len());
        }
    }
}
