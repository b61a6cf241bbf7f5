//! Bundles: sync on a USB stick.
//!
//! `bundle export` writes, for every document in scope for the target station (or this node's
//! whole scope), its complete change history, plus the certificates needed to check every author.
//! Complete histories make a bundle self-contained, so bundles can be imported any number of
//! times and in any order: what is already known changes nothing. `bundle import` applies a bundle
//! with the same checks as sync (authors, scope) in one transaction; documents outside the
//! importing station's scope are skipped, and a bundle from another network is refused.
//!
//! **Format (version 3).** A sequence of frames, each a little-endian `u32` length and that many
//! bytes of postcard: first a [`Header`] (network, author, certificates), then the documents in
//! [`Frame::Packed`] groups — about [`GROUP_BYTES`] of uncompressed changes, postcard-encoded
//! together and compressed with zstd as one ([`crate::wire`]), so what every case repeats is
//! stored once per group — then [`Frame::End`] with the number of documents, which tells a
//! complete file from a truncated one. Export writes each group as soon as it is full and
//! import reads one frame at a time, so neither holds the encoded file in memory; import keeps
//! the decoded documents, which it applies in one transaction. A frame is at most [`MAX_FRAME`]
//! bytes and a group unpacks to at most [`MAX_FRAME`] bytes, checked before anything is
//! allocated, so neither a damaged length nor a compression bomb makes the reader allocate more.
//! Each group decodes on its own.
//!
//! Version 2 files (issue #11: one [`Frame::Doc`] per document, each change in Automerge's own
//! compressed form) and version 1 files (one postcard value, written before issue #11) are
//! still read.
//!
//! The file is written to a temporary name and renamed, so a bundle is never half-written.

use crate::SyncError;
use crate::proto::DocChanges;
use crate::wire::{self, Packed};
use serde::{Deserialize, Serialize};
use std::io::{BufRead as _, Read, Write};
use std::path::Path;
use yizhan_node::Node;
use yizhan_node::cert::Cert;
use yizhan_node::network::NETWORK_DOC_IDS;
use yizhan_node::replica::{Applied, RemoteDoc, Scope};

const MAGIC: &str = "yizhan-bundle";
const VERSION: u32 = 3;
/// The version of bundles with one uncompressed frame per document, still read.
const VERSION_2: u32 = 2;
/// The version of bundles written as one postcard value, still read.
const VERSION_1: u32 = 1;
/// How many bytes of uncompressed changes a packed group holds (a document larger than this is
/// a group of its own). Larger groups compress a little better and cost the reader more memory
/// per frame; at 4 MiB a county's backlog compresses within 2 % of one group for everything.
pub const GROUP_BYTES: usize = 4 * 1024 * 1024;
/// The largest bundle accepted.
pub const MAX_BUNDLE: u64 = 4 * 1024 * 1024 * 1024;
/// The largest frame (one document's history, or the header) read or written.
pub const MAX_FRAME: u32 = 512 * 1024 * 1024;

/// The first frame of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    magic: String,
    version: u32,
    /// The network's id.
    network_id: String,
    /// The node that wrote it.
    from: String,
    /// The station it was made for, if any.
    for_station: Option<String>,
    /// When (ms).
    created_at: i64,
    /// Certificates (JSON) to check every author.
    certs: Vec<String>,
}

/// Every frame after the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Frame {
    /// One document with its complete history (version 2).
    Doc(DocChanges),
    /// The end of the bundle, with the number of documents before it.
    End { docs: u64 },
    /// Documents with their complete histories, encoded together (a `Vec<DocChanges>`) and
    /// compressed as one (version 3).
    Packed(Packed),
}

/// A bundle as read: its header and its documents.
///
/// A version 1 bundle is this whole struct as one postcard value: postcard writes a struct as its
/// fields one after another, so the header's fields followed by the documents are exactly the
/// flat layout version 1 wrote.
#[derive(Debug, Deserialize)]
struct Bundle {
    header: Header,
    docs: Vec<DocChanges>,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// Documents written.
    pub docs: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// Documents in the bundle.
    pub docs: usize,
    /// Documents that changed here.
    pub changed: usize,
    /// Documents already up to date.
    pub unchanged: usize,
    /// Documents skipped as outside this station's scope.
    pub out_of_scope: usize,
}

/// Writes a bundle for `for_station` (or this node's whole scope) to `out`.
pub fn export(
    node: &mut Node,
    out: &Path,
    for_station: Option<&str>,
) -> Result<ExportReport, SyncError> {
    let scope = match for_station {
        Some(code) => {
            if node.roster().station(code).is_none() {
                return Err(yizhan_node::NodeError::UnknownStation(code.to_string()).into());
            }
            node.scope_of(code)
        }
        None => Scope::All,
    };
    let heads = node.changed_since(0, &scope, usize::MAX)?;
    let header = Header {
        magic: MAGIC.into(),
        version: VERSION,
        network_id: node.identity().network_id.clone(),
        from: node.identity().node_id.clone(),
        for_station: for_station.map(str::to_string),
        created_at: node.clock().now_ms(),
        certs: node.members().certs().values().map(Cert::to_json).collect(),
    };
    let tmp = out.with_extension("partial");
    let failed = |e: &dyn std::fmt::Display| {
        let _ = std::fs::remove_file(&tmp);
        SyncError::Io(format!("cannot write {}: {e}", out.display()))
    };
    let file = std::fs::File::create(&tmp).map_err(|e| failed(&e))?;
    let mut w = std::io::BufWriter::new(file);
    let mut bytes = write_frame(&mut w, &header).map_err(|e| failed(&e))?;
    let docs = heads.len();
    let mut group = Vec::new();
    let mut group_bytes = 0;
    for d in heads {
        // Each document is read from the store into the group, and the group is written as soon
        // as it is full: memory holds one group, not the file.
        let changes = node.changes_for(&d.doc_id, &[]).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
        group_bytes += changes.iter().map(Vec::len).sum::<usize>();
        group.push(DocChanges {
            id: d.doc_id,
            changes,
        });
        if group_bytes >= GROUP_BYTES {
            bytes += write_group(&mut w, std::mem::take(&mut group)).map_err(|e| failed(&e))?;
            group_bytes = 0;
        }
    }
    bytes += write_group(&mut w, group).map_err(|e| failed(&e))?;
    bytes += write_frame(&mut w, &Frame::End { docs: docs as u64 }).map_err(|e| failed(&e))?;
    let file = w.into_inner().map_err(|e| failed(&e.error()))?;
    file.sync_all().map_err(|e| failed(&e))?;
    drop(file);
    std::fs::rename(&tmp, out).map_err(|e| failed(&e))?;
    Ok(ExportReport { docs, bytes })
}

/// Why a frame could not be written.
#[derive(Debug)]
enum WriteError {
    Io(std::io::Error),
    Encode(postcard::Error),
    TooLarge(usize),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Io(e) => write!(f, "{e}"),
            WriteError::Encode(e) => write!(f, "cannot encode the bundle: {e}"),
            WriteError::TooLarge(n) => write!(
                f,
                "a document's history is {n} bytes, more than a bundle frame holds ({MAX_FRAME})"
            ),
        }
    }
}

/// Writes a group of documents as one packed frame (each as its own frame if the group does not
/// compress); returns the bytes written.
fn write_group(w: &mut impl Write, group: Vec<DocChanges>) -> Result<u64, WriteError> {
    if group.is_empty() {
        return Ok(0);
    }
    let body = postcard::to_stdvec(&group).map_err(WriteError::Encode)?;
    if body.len() <= MAX_FRAME as usize
        && let Some(p) = wire::compress(&body)
    {
        return write_frame(w, &Frame::Packed(p));
    }
    let mut bytes = 0;
    for d in group {
        bytes += write_frame(w, &Frame::Doc(d))?;
    }
    Ok(bytes)
}

/// Writes one frame; returns the bytes written.
fn write_frame(w: &mut impl Write, value: &impl Serialize) -> Result<u64, WriteError> {
    let bytes = postcard::to_stdvec(value).map_err(WriteError::Encode)?;
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|n| *n <= MAX_FRAME)
        .ok_or(WriteError::TooLarge(bytes.len()))?;
    w.write_all(&len.to_le_bytes()).map_err(WriteError::Io)?;
    w.write_all(&bytes).map_err(WriteError::Io)?;
    Ok(4 + u64::from(len))
}

fn damaged(path: &Path) -> SyncError {
    SyncError::BadBundle(format!(
        "{} is not a Yizhan bundle (or it is damaged)",
        path.display()
    ))
}

/// Reads one frame's bytes; `None` at the end of the file.
fn read_frame_bytes(r: &mut impl Read, path: &Path) -> Result<Option<Vec<u8>>, SyncError> {
    let io = |e: std::io::Error| SyncError::Io(format!("cannot read {}: {e}", path.display()));
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io(e)),
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(damaged(path));
    }
    let mut bytes = Vec::new();
    r.take(u64::from(len)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() != len as usize {
        return Err(damaged(path));
    }
    Ok(Some(bytes))
}

fn check_version(magic: &str, version: u32, path: &Path) -> Result<(), SyncError> {
    if magic != MAGIC {
        return Err(SyncError::BadBundle(format!(
            "{} is not a Yizhan bundle",
            path.display()
        )));
    }
    if ![VERSION, VERSION_2, VERSION_1].contains(&version) {
        return Err(SyncError::BadBundle(format!(
            "bundle version {version} is not supported"
        )));
    }
    Ok(())
}

/// Reads and checks a bundle file, a frame at a time.
fn read(path: &Path) -> Result<Bundle, SyncError> {
    let io = |e: std::io::Error| SyncError::Io(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_BUNDLE {
        return Err(SyncError::BadBundle(format!(
            "{} is larger than a bundle can be",
            path.display()
        )));
    }
    let mut r = std::io::BufReader::new(file.take(MAX_BUNDLE));
    // A version 1 file is one postcard value, which begins with the magic's length (13) and the
    // magic; a version 2 file begins with the header frame's four-byte length.
    let is_v1 = {
        let buf = r.fill_buf().map_err(io)?;
        buf.len() > MAGIC.len()
            && usize::from(buf[0]) == MAGIC.len()
            && &buf[1..=MAGIC.len()] == MAGIC.as_bytes()
    };
    if is_v1 {
        return read_v1(r, path);
    }
    let header_bytes = read_frame_bytes(&mut r, path)?.ok_or_else(|| damaged(path))?;
    let header: Header = postcard::from_bytes(&header_bytes).map_err(|_| damaged(path))?;
    check_version(&header.magic, header.version, path)?;
    let mut docs = Vec::new();
    loop {
        let bytes = read_frame_bytes(&mut r, path)?.ok_or_else(|| damaged(path))?;
        match postcard::from_bytes::<Frame>(&bytes).map_err(|_| damaged(path))? {
            Frame::Doc(d) => docs.push(d),
            Frame::Packed(p) if header.version >= VERSION => {
                // Bounded before allocating, like a frame's length (see `wire::decompress`).
                let body = wire::decompress(&p, MAX_FRAME as usize).map_err(|_| damaged(path))?;
                let group: Vec<DocChanges> =
                    postcard::from_bytes(&body).map_err(|_| damaged(path))?;
                docs.extend(group);
            }
            Frame::Packed(_) => return Err(damaged(path)),
            Frame::End { docs: n } if n == docs.len() as u64 => break,
            Frame::End { .. } => return Err(damaged(path)),
        }
    }
    Ok(Bundle { header, docs })
}

/// Reads a version 1 bundle, which is one postcard value and so read whole.
fn read_v1(mut r: impl Read, path: &Path) -> Result<Bundle, SyncError> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .map_err(|e| SyncError::Io(format!("cannot read {}: {e}", path.display())))?;
    let b: Bundle = postcard::from_bytes(&bytes).map_err(|_| damaged(path))?;
    check_version(&b.header.magic, b.header.version, path)?;
    Ok(b)
}

/// Imports a bundle file: all of it that is in scope, or nothing.
pub fn import(node: &mut Node, path: &Path) -> Result<ImportReport, SyncError> {
    let Bundle { header, docs } = read(path)?;
    if header.network_id != node.identity().network_id {
        return Err(SyncError::BadBundle(
            "the bundle comes from another network".into(),
        ));
    }
    let certs: Vec<Cert> = header
        .certs
        .iter()
        .filter_map(|c| Cert::from_json(c).ok())
        .collect();
    node.add_certs(certs)?;
    node.member(&header.from)
        .map_err(|e| SyncError::BadBundle(format!("the bundle's author: {e}")))?;
    let docs: Vec<RemoteDoc> = docs.into_iter().map(RemoteDoc::from).collect();
    let n = docs.len();
    let cases = docs
        .iter()
        .filter(|d| !NETWORK_DOC_IDS.contains(&d.doc_id.as_str()))
        .count();
    let Applied {
        changed,
        unchanged,
        out_of_scope,
        ..
    } = node.apply_bundle(&header.from, &docs)?;
    if cases > 0 && out_of_scope == cases {
        return Err(SyncError::BadBundle(format!(
            "every case in the bundle is outside this station's scope (it was made for {})",
            header.for_station.as_deref().unwrap_or("another station")
        )));
    }
    Ok(ImportReport {
        docs: n,
        changed,
        unchanged,
        out_of_scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_longer_than_the_limit_or_the_file_is_refused_before_it_is_read() {
        let path = Path::new("test.bundle");
        let mut too_long = (MAX_FRAME + 1).to_le_bytes().to_vec();
        too_long.extend_from_slice(b"abc");
        let err = read_frame_bytes(&mut &too_long[..], path).expect_err("too long");
        assert!(err.to_string().contains("not a Yizhan bundle"), "{err}");
        let mut short = 100u32.to_le_bytes().to_vec();
        short.extend_from_slice(b"abc");
        assert!(read_frame_bytes(&mut &short[..], path).is_err());
        assert_eq!(read_frame_bytes(&mut &[][..], path).expect("end"), None);
        let mut frame = Vec::new();
        write_frame(&mut frame, &Frame::End { docs: 3 }).expect("write");
        let bytes = read_frame_bytes(&mut &frame[..], path)
            .expect("read")
            .expect("a frame");
        assert_eq!(
            postcard::from_bytes::<Frame>(&bytes).expect("decode"),
            Frame::End { docs: 3 }
        );
    }

    fn header(version: u32) -> Header {
        Header {
            magic: MAGIC.into(),
            version,
            network_id: "n".into(),
            from: "f".into(),
            for_station: None,
            created_at: 1,
            certs: vec![],
        }
    }

    fn doc(i: usize) -> DocChanges {
        DocChanges {
            id: format!("case-{i}"),
            changes: vec![format!("个体工商户设立登记 materials id-card licence {i}").into_bytes()],
        }
    }

    #[test]
    fn a_version_2_bundle_is_still_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v2.bundle");
        let mut file = Vec::new();
        write_frame(&mut file, &header(VERSION_2)).expect("header");
        let docs: Vec<DocChanges> = (0..3).map(doc).collect();
        for d in &docs {
            write_frame(&mut file, &Frame::Doc(d.clone())).expect("doc");
        }
        write_frame(&mut file, &Frame::End { docs: 3 }).expect("end");
        std::fs::write(&path, file).expect("write");
        let read = read(&path).map_err(|e| e.to_string()).expect("reads");
        assert_eq!(read.docs, docs);
    }

    #[test]
    fn packed_groups_read_back_and_a_version_2_file_may_not_hold_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let docs: Vec<DocChanges> = (0..500).map(doc).collect();
        let mut file = Vec::new();
        write_frame(&mut file, &header(VERSION)).expect("header");
        let written = write_group(&mut file, docs.clone()).expect("group");
        write_frame(&mut file, &Frame::End { docs: 500 }).expect("end");
        let plain: usize = docs.iter().map(|d| d.changes[0].len()).sum();
        assert!(
            (written as usize) * 5 < plain,
            "{written} bytes for {plain}"
        );
        let path = dir.path().join("v3.bundle");
        std::fs::write(&path, &file).expect("write");
        assert_eq!(
            read(&path).map_err(|e| e.to_string()).expect("reads").docs,
            docs
        );
        // The same frames under a version 2 header are not a bundle that version wrote.
        let mut old = Vec::new();
        write_frame(&mut old, &header(VERSION_2)).expect("header");
        write_group(&mut old, docs).expect("group");
        write_frame(&mut old, &Frame::End { docs: 500 }).expect("end");
        let path = dir.path().join("v2-packed.bundle");
        std::fs::write(&path, &old).expect("write");
        assert!(read(&path).is_err());
    }

    #[test]
    fn a_packed_group_that_unpacks_to_more_than_it_says_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let body = postcard::to_stdvec(&(0..2000).map(doc).collect::<Vec<_>>()).expect("encode");
        let mut p = wire::compress(&body).expect("compresses");
        p.len = 1000;
        let mut file = Vec::new();
        write_frame(&mut file, &header(VERSION)).expect("header");
        write_frame(&mut file, &Frame::Packed(p.clone())).expect("group");
        write_frame(&mut file, &Frame::End { docs: 2000 }).expect("end");
        let path = dir.path().join("bomb.bundle");
        std::fs::write(&path, &file).expect("write");
        assert!(read(&path).is_err());
        // And one announcing more than a frame may hold is refused before allocating.
        p.len = u32::MAX;
        let mut file = Vec::new();
        write_frame(&mut file, &header(VERSION)).expect("header");
        write_frame(&mut file, &Frame::Packed(p)).expect("group");
        std::fs::write(&path, &file).expect("write");
        assert!(read(&path).is_err());
    }

    #[test]
    fn a_version_1_bundle_is_still_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.bundle");
        let docs = vec![DocChanges {
            id: "d".into(),
            changes: vec![vec![1, 2, 3]],
        }];
        // Version 1's fields one after another: magic, version, network, author, station, time,
        // certificates, documents.
        let old = (
            MAGIC,
            VERSION_1,
            "n",
            "f",
            None::<String>,
            1i64,
            Vec::<String>::new(),
            &docs,
        );
        std::fs::write(&path, postcard::to_stdvec(&old).expect("encode")).expect("write");
        let read = read(&path).map_err(|e| e.to_string()).expect("reads");
        assert_eq!(read.header.network_id, "n");
        assert_eq!(read.docs, docs);
    }
}
