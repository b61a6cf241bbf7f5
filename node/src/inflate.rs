//! Automerge's compressed parts, measured before Automerge inflates them (issue #14).
//!
//! Automerge reads DEFLATE in two places: a compressed change chunk (the form in which a version 2
//! peer sends its changes, and in which Automerge saves an increment), and the deflated columns
//! of a document chunk. It inflates both whole, into memory, with no bound: a few kilobytes from
//! a peer can ask for gigabytes. Our own frames are bounded before they are unpacked
//! (`yizhan_sync::wire`), but what is inside a change or a document is Automerge's.
//!
//! So every Automerge byte string that comes from outside (a received change or document, a
//! sync-protocol message, a bundle, an enrolment's network documents) is walked here first:
//! [`Budget::check`] reads its chunk headers and column lists, inflates each compressed part
//! into a counter that stops at the budget (nothing is kept), and refuses the bytes before
//! Automerge reads them. One budget covers a whole received batch, so a frame of many small
//! bombs costs no more than one. Bytes it cannot walk are refused too: Automerge would refuse
//! them as well, after reading them.
//!
//! The walk follows Automerge's storage format as `automerge::storage` parses it: a chunk is the
//! magic bytes, a 4-byte checksum, a type byte and a LEB128 length; a document chunk's body starts
//! with its actors, its heads and two column lists (change columns, then op columns), each column
//! a LEB128 spec, whose bit 3 says it is deflated, and a LEB128 length; the columns' data follows
//! in the order listed.

use std::io::Read;

/// The most a received batch (a frame, a bundle group, an enrolment) may inflate to. A frame
/// carries at most 16 MiB, and Automerge's compression of a case rarely reaches 5 to 1: 64 MiB
/// leaves room for any real batch and bounds what a crafted one costs.
pub const MAX_INFLATED: u64 = 64 * 1024 * 1024;

/// Automerge's magic bytes, at the start of every chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// The chunk types (`automerge::storage::chunk::ChunkType`).
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
const COMPRESSED: u8 = 2;
const BUNDLE: u8 = 3;

/// A column spec's bit that says its data is deflated.
const DEFLATE_BIT: u64 = 0b1000;

/// The first byte of a sync-protocol message: version 1, version 2.
const SYNC_VERSIONS: [u8; 2] = [0x42, 0x43];

/// How much may still be inflated, shared by everything one batch brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    left: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self::new(MAX_INFLATED)
    }
}

impl Budget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Self {
        Self { left: bytes }
    }

    /// What is left.
    pub fn left(&self) -> u64 {
        self.left
    }

    /// Walks Automerge bytes (one or more chunks: a change, or a document and its increments)
    /// and takes what their compressed parts inflate to out of the budget; refuses them, with
    /// what is wrong, when that is more than is left or when they cannot be walked.
    pub fn check(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let (kind, body, after) = chunk(rest)?;
            match kind {
                DOCUMENT => self.document(body)?,
                COMPRESSED => self.inflate(body, "a compressed change")?,
                CHANGE | BUNDLE => {}
                other => return Err(format!("unknown Automerge chunk type {other}")),
            }
            rest = after;
        }
        Ok(())
    }

    /// Walks an Automerge sync-protocol message (`automerge::sync::Message`) and checks the
    /// changes it carries, as [`Budget::check`] does.
    pub fn check_sync_message(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut r = Reader(bytes);
        let version = r.take(1)?[0];
        if !SYNC_VERSIONS.contains(&version) {
            return Err(format!("not a sync message (first byte {version:#04x})"));
        }
        // Its heads, then the hashes it needs.
        for _ in 0..2 {
            let n = r.count(32)?;
            r.take_n(n, 32)?;
        }
        // What it has: per entry, the last synced heads and a Bloom filter.
        let haves = r.count(2)?;
        for _ in 0..haves {
            let n = r.count(32)?;
            r.take_n(n, 32)?;
            let len = r.len()?;
            r.take(len)?;
        }
        let changes = r.count(1)?;
        for _ in 0..changes {
            let len = r.len()?;
            self.check(r.take(len)?)?;
        }
        // The flags that may follow are not Automerge bytes.
        Ok(())
    }

    /// A document chunk's body: inflates its deflated columns.
    fn document(&mut self, body: &[u8]) -> Result<(), String> {
        let mut r = Reader(body);
        let actors = r.count(1)?;
        for _ in 0..actors {
            let len = r.len()?;
            r.take(len)?;
        }
        let heads = r.count(32)?;
        r.take_n(heads, 32)?;
        let change_columns = columns(&mut r)?;
        let op_columns = columns(&mut r)?;
        for (spec, len) in change_columns.into_iter().chain(op_columns) {
            let data = r.take(len)?;
            if spec & DEFLATE_BIT != 0 {
                self.inflate(data, "a document column")?;
            }
        }
        // What follows (the heads' indexes) is not compressed.
        Ok(())
    }

    /// Inflates `data` into a counter, at most one byte past what is left.
    fn inflate(&mut self, data: &[u8], what: &str) -> Result<(), String> {
        let mut inflater = flate2::read::DeflateDecoder::new(data).take(self.left + 1);
        let n = std::io::copy(&mut inflater, &mut std::io::sink())
            .map_err(|e| format!("{what} does not inflate: {e}"))?;
        if n > self.left {
            return Err(format!(
                "{what} inflates to more than the {} MiB a batch may hold",
                MAX_INFLATED / (1024 * 1024)
            ));
        }
        self.left -= n;
        Ok(())
    }
}

/// Splits the first chunk off `bytes`: its type, its body and what follows it.
fn chunk(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let mut r = Reader(bytes);
    if r.take(4)? != MAGIC {
        return Err("not an Automerge chunk (wrong magic bytes)".into());
    }
    r.take(4)?; // the checksum
    let kind = r.take(1)?[0];
    let len = r.len()?;
    let body = r.take(len)?;
    Ok((kind, body, r.0))
}

/// A column list: each column's spec and the length of its data.
fn columns(r: &mut Reader<'_>) -> Result<Vec<(u64, usize)>, String> {
    // A column takes at least two bytes to list, which bounds the count before anything is
    // allocated for it.
    let n = r.count(2)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let spec = r.leb128()?;
        if spec > u64::from(u32::MAX) {
            return Err("a column spec is out of range".into());
        }
        out.push((spec, r.len()?));
    }
    Ok(out)
}

/// A cursor over bytes being walked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err("Automerge bytes end early".into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn take_n(&mut self, n: usize, size: usize) -> Result<&'a [u8], String> {
        self.take(n.checked_mul(size).ok_or("Automerge bytes end early")?)
    }

    /// An unsigned LEB128 number, as Automerge writes it (at most 64 bits).
    fn leb128(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.take(1)?[0];
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                break;
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a number in Automerge bytes is too large".into())
    }

    /// A length, which must fit in what is left.
    fn len(&mut self) -> Result<usize, String> {
        let n = usize::try_from(self.leb128()?).unwrap_or(usize::MAX);
        if n > self.0.len() {
            return Err("Automerge bytes end early".into());
        }
        Ok(n)
    }

    /// A count of items each at least `min` bytes long, which must fit in what is left.
    fn count(&mut self, min: usize) -> Result<usize, String> {
        let n = usize::try_from(self.leb128()?).unwrap_or(usize::MAX);
        if n.saturating_mul(min) > self.0.len() {
            return Err("Automerge bytes end early".into());
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};
    use std::io::Write;

    /// A document with text long enough for Automerge to compress its columns and changes.
    fn doc(paragraphs: usize) -> AutoCommit {
        let mut d = AutoCommit::new();
        for i in 0..paragraphs {
            d.put(ROOT, format!("p{i}"), "材料齐全，予以受理。".repeat(20))
                .expect("put");
            d.commit();
        }
        d
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).expect("deflate");
        e.finish().expect("deflate")
    }

    /// A chunk of `kind` around `body`, with a checksum Automerge would not accept (the walk does
    /// not read it: a bomb is refused before anything checks it).
    fn chunk_of(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend([0, 0, 0, 0, kind]);
        leb(&mut out, body.len() as u64);
        out.extend(body);
        out
    }

    fn leb(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn everything_automerge_writes_is_walked_and_counted() {
        let mut d = doc(40);
        let compressed = d.save();
        let plain = d.save_nocompress();
        let heads = d.get_heads();
        d.put(ROOT, "later", "补正材料已收到".repeat(40))
            .expect("put");
        d.commit();
        let increment = d.save_after(&heads);
        let mut change = d.get_last_local_change().expect("a change");
        let raw = change.raw_bytes().to_vec();
        let deflated_change = change.bytes().into_owned();
        let mut whole = compressed.clone();
        whole.extend(&increment);
        let mut sync_state = automerge::sync::State::new();
        let message =
            automerge::sync::SyncDoc::generate_sync_message(d.document(), &mut sync_state)
                .expect("a first message")
                .encode();
        for (what, bytes, inflates) in [
            ("compressed document", &compressed, true),
            ("uncompressed document", &plain, false),
            ("document and increment", &whole, true),
            ("raw change", &raw, false),
            ("compressed change", &deflated_change, true),
        ] {
            let mut b = Budget::default();
            b.check(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(b.left() < MAX_INFLATED, inflates, "{what}");
        }
        Budget::default()
            .check_sync_message(&message)
            .expect("a sync message");
        // A compressed document inflates to about what the uncompressed one holds.
        let mut b = Budget::default();
        b.check(&compressed).expect("walks");
        let inflated = MAX_INFLATED - b.left();
        assert!(inflated > 0 && inflated < plain.len() as u64, "{inflated}");
    }

    #[test]
    fn a_compressed_change_that_inflates_past_the_budget_is_refused_without_keeping_it() {
        // 1 GiB of zeros deflates to about a megabyte: refused after counting 64 MiB of it.
        let zeros = vec![0u8; 64 * 1024 * 1024];
        let mut stream =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..16 {
            stream.write_all(&zeros).expect("deflate");
        }
        let bomb = chunk_of(COMPRESSED, &stream.finish().expect("deflate"));
        drop(zeros);
        assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
        let e = Budget::default().check(&bomb).expect_err("a bomb");
        assert!(e.contains("inflates to more than the 64 MiB"), "{e}");
        // The budget is the batch's: two halves of it pass one at a time and not together.
        let half = chunk_of(COMPRESSED, &deflate(&vec![0u8; 40 * 1024 * 1024]));
        Budget::default().check(&half).expect("one half");
        let mut batch = Budget::default();
        batch.check(&half).expect("the first half");
        assert!(batch.check(&half).is_err());
    }

    #[test]
    fn a_deflated_document_column_is_counted_and_a_bomb_in_one_is_refused() {
        let bomb = deflate(&vec![7u8; 80 * 1024 * 1024]);
        let mut body = Vec::new();
        leb(&mut body, 1); // one actor
        leb(&mut body, 16);
        body.extend([1u8; 16]);
        leb(&mut body, 0); // no heads
        leb(&mut body, 1); // one change column, deflated
        leb(&mut body, (1 << 4) | DEFLATE_BIT | 1);
        leb(&mut body, bomb.len() as u64);
        leb(&mut body, 0); // no op columns
        body.extend(&bomb);
        let e = Budget::default()
            .check(&chunk_of(DOCUMENT, &body))
            .expect_err("a bomb");
        assert!(e.contains("a document column inflates"), "{e}");
        // The same column, small, is counted.
        let mut small = Budget::default();
        let column = deflate(&[7u8; 1000]);
        let mut body = Vec::new();
        for v in [0, 0, 1, (1 << 4) | DEFLATE_BIT | 1, column.len() as u64, 0] {
            leb(&mut body, v);
        }
        body.extend(&column);
        small.check(&chunk_of(DOCUMENT, &body)).expect("walks");
        assert_eq!(MAX_INFLATED - small.left(), 1000);
    }

    #[test]
    fn bytes_that_cannot_be_walked_are_refused_with_what_is_wrong() {
        let cases: [(&[u8], &str); 5] = [
            (b"not automerge", "wrong magic bytes"),
            (&[0x85, 0x6f, 0x4a, 0x83, 0, 0], "end early"),
            (&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 9, 0], "chunk type 9"),
            (&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 5, 1], "end early"),
            (
                &[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2, 3, 0xff, 0xff, 0xff],
                "does not inflate",
            ),
        ];
        for (bytes, why) in cases {
            let e = Budget::default().check(bytes).expect_err("refused");
            assert!(e.contains(why), "{bytes:?}: {e}");
        }
        let e = Budget::default()
            .check_sync_message(&[0x41])
            .expect_err("not a sync message");
        assert!(e.contains("not a sync message"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// The walk never panics and never reads past the input, whatever it is given.
        #[test]
        fn any_bytes_are_walked_or_refused(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = Budget::default().check(&bytes);
            let _ = Budget::default().check_sync_message(&bytes);
            let mut chunked = MAGIC.to_vec();
            chunked.extend(&bytes);
            let _ = Budget::default().check(&chunked);
        }
    }
}
