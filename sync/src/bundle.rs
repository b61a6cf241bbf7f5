//! Bundles: sync on a USB stick.
//!
//! `bundle export` writes, for every document in scope for the target station (or this node's
//! whole scope), its complete change history, plus the certificates needed to check every author.
//! Complete histories make a bundle self-contained, so bundles can be imported any number of
//! times and in any order: what is already known changes nothing. `bundle import` applies a bundle
//! with the same checks as sync (authors, scope) in one transaction; documents outside the
//! importing station's scope are skipped, and a bundle from another network is refused.
//!
//! The file is written to a temporary name and renamed, so a bundle is never half-written.

use crate::SyncError;
use crate::proto::DocChanges;
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::Path;
use yizhan_node::Node;
use yizhan_node::cert::Cert;
use yizhan_node::network::NETWORK_DOC_IDS;
use yizhan_node::replica::{Applied, RemoteDoc, Scope};

const MAGIC: &str = "yizhan-bundle";
const VERSION: u32 = 1;
/// The largest bundle accepted.
pub const MAX_BUNDLE: u64 = 4 * 1024 * 1024 * 1024;

/// A bundle file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    magic: String,
    version: u32,
    /// The network's id.
    pub network_id: String,
    /// The node that wrote it.
    pub from: String,
    /// The station it was made for, if any.
    pub for_station: Option<String>,
    /// When (ms).
    pub created_at: i64,
    /// Certificates (JSON) to check every author.
    pub certs: Vec<String>,
    /// Documents with their complete histories.
    pub docs: Vec<DocChanges>,
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
    let mut docs = Vec::with_capacity(heads.len());
    for d in heads {
        let changes = node.changes_for(&d.doc_id, &[])?;
        docs.push(DocChanges {
            id: d.doc_id,
            changes,
        });
    }
    let bundle = Bundle {
        magic: MAGIC.into(),
        version: VERSION,
        network_id: node.identity().network_id.clone(),
        from: node.identity().node_id.clone(),
        for_station: for_station.map(str::to_string),
        created_at: node.clock().now_ms(),
        certs: node.members().certs().values().map(Cert::to_json).collect(),
        docs,
    };
    let bytes = postcard::to_stdvec(&bundle)
        .map_err(|e| SyncError::Io(format!("cannot encode the bundle: {e}")))?;
    let tmp = out.with_extension("partial");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, out)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        SyncError::Io(format!("cannot write {}: {e}", out.display()))
    })?;
    Ok(ExportReport {
        docs: bundle.docs.len(),
        bytes: bytes.len() as u64,
    })
}

/// Reads and checks a bundle file.
pub fn read(path: &Path) -> Result<Bundle, SyncError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| SyncError::Io(format!("cannot read {}: {e}", path.display())))?;
    if meta.len() > MAX_BUNDLE {
        return Err(SyncError::BadBundle(format!(
            "{} is larger than a bundle can be",
            path.display()
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| SyncError::Io(format!("cannot read {}: {e}", path.display())))?;
    let bundle: Bundle = postcard::from_bytes(&bytes).map_err(|_| {
        SyncError::BadBundle(format!(
            "{} is not a Yizhan bundle (or it is damaged)",
            path.display()
        ))
    })?;
    if bundle.magic != MAGIC {
        return Err(SyncError::BadBundle(format!(
            "{} is not a Yizhan bundle",
            path.display()
        )));
    }
    if bundle.version != VERSION {
        return Err(SyncError::BadBundle(format!(
            "bundle version {} is not supported",
            bundle.version
        )));
    }
    Ok(bundle)
}

/// Imports a bundle file: all of it that is in scope, or nothing.
pub fn import(node: &mut Node, path: &Path) -> Result<ImportReport, SyncError> {
    let bundle = read(path)?;
    if bundle.network_id != node.identity().network_id {
        return Err(SyncError::BadBundle(
            "the bundle comes from another network".into(),
        ));
    }
    let certs: Vec<Cert> = bundle
        .certs
        .iter()
        .filter_map(|c| Cert::from_json(c).ok())
        .collect();
    node.add_certs(certs)?;
    node.member(&bundle.from)
        .map_err(|e| SyncError::BadBundle(format!("the bundle's author: {e}")))?;
    let docs: Vec<RemoteDoc> = bundle
        .docs
        .into_iter()
        .map(|d| RemoteDoc {
            doc_id: d.id,
            changes: d.changes,
        })
        .collect();
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
    } = node.apply_bundle(&bundle.from, &docs)?;
    if cases > 0 && out_of_scope == cases {
        return Err(SyncError::BadBundle(format!(
            "every case in the bundle is outside this station's scope (it was made for {})",
            bundle.for_station.as_deref().unwrap_or("another station")
        )));
    }
    Ok(ImportReport {
        docs: n,
        changed,
        unchanged,
        out_of_scope,
    })
}
