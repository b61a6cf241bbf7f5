//! The SQLite store: documents, the change sequence, and the derived index.
//!
//! One SQLite file per node (`yizhan.sqlite3` in the data directory), in WAL mode so that the
//! command line can read and write while `serve` or the window runs on the same directory.
//!
//! **Documents** are kept as a compacted Automerge snapshot plus the incremental changes written
//! since; when the increments outgrow the snapshot the document is compacted in the same
//! transaction. **`seq`** is a per-node counter that increases on every document write, local or
//! received; each document row carries the `seq` of its last write, which is what sync asks
//! about ("what changed since N") and what tells a cached copy from a stale one.
//!
//! **Writers** open an immediate transaction, load the document inside it (from the cache when the
//! cached `seq` is still the stored one, otherwise from disk), change it, persist it and update the
//! index, then commit. Loading inside the write lock means two processes writing the same document
//! never build on different versions, which keeps Automerge's per-actor sequence numbers unique.
//! A failed transaction drops the changed document instead of returning it to the cache.
//!
//! The index tables (see [`index`]) are derived from the documents and can be rebuilt at any time.

pub mod index;
mod schema;

use crate::error::{NodeError, Result};
use automerge::{ActorId, Automerge, ChangeHash};
use lru::LruCache;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use schema::SCHEMA_VERSION;

/// The store file's name inside the data directory.
pub const STORE_FILE: &str = "yizhan.sqlite3";

/// Default number of documents kept in memory.
pub const DEFAULT_CACHE_DOCS: usize = 512;

/// What kind of document a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocType {
    /// A service case.
    Case,
    /// A network document (roster, catalog, calendar, settings).
    Network,
    /// A station's operator accounts (`acct/<STATION>`).
    Accounts,
    /// A station's password hashes (`cred/<STATION>`), which never leave the station.
    Credentials,
}

impl DocType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DocType::Case => "case",
            DocType::Network => "network",
            DocType::Accounts => "accounts",
            DocType::Credentials => "credentials",
        }
    }
}

/// A bounded in-memory cache of documents, each tagged with the `seq` it was stored at.
#[derive(Debug)]
pub(crate) struct DocCache {
    docs: LruCache<String, (Automerge, i64)>,
}

impl DocCache {
    fn new(capacity: usize) -> DocCache {
        DocCache {
            docs: LruCache::new(NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN)),
        }
    }

    /// Number of documents held.
    pub fn len(&self) -> usize {
        self.docs.len()
    }
}

/// The node's SQLite store.
#[derive(Debug)]
pub(crate) struct Store {
    conn: Connection,
    path: PathBuf,
    cache: DocCache,
    actor: ActorId,
    /// A write committed since the last checkpoint.
    unckpt: bool,
    /// The `seq` of the last document write committed by this process, published so that sync
    /// sessions offer a write as soon as it is committed instead of polling (writes by another
    /// process on the same directory are not seen here).
    seq_tx: tokio::sync::watch::Sender<i64>,
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL lets readers proceed during a write and keeps a committed transaction after a crash of
    // the process; `synchronous = NORMAL` syncs at checkpoints, which survives `kill -9` (only a
    // power cut can lose the last transactions, never corrupt the file).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -32_000)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoints run when the node is idle (`Store::checkpoint`, called by the store thread);
    // SQLite's own, inside a commit, only as a safety valve for long busy stretches (256 MiB).
    // A burst of received batches (a catch-up of thousands of cases) writes its WAL without
    // stopping to copy it back, and the copy, paid once per page however often the burst wrote
    // it, waits for the first quiet quarter second. The WAL file is cut back to 64 MiB after a
    // checkpoint, so a village laptop's disk does not keep the burst's size.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    conn.pragma_update(None, "journal_size_limit", WAL_KEPT_BYTES)?;
    Ok(())
}

/// WAL size (pages) at which a commit checkpoints inline; normally the idle checkpoint runs first.
/// It was 16,384 (64 MiB); a 5,000-document catch-up at 100,000 cases passed that and spent 17 %
/// of applying in the checkpoint (issue #14).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 65_536;

/// The size the WAL file is cut back to after a checkpoint (`journal_size_limit`).
const WAL_KEPT_BYTES: i64 = 64 * 1024 * 1024;

fn not_a_store(path: &Path, reason: impl Into<String>) -> NodeError {
    NodeError::NotAStore {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Tells a damaged store from a file that never was one.
fn open_error(path: &Path, e: &rusqlite::Error) -> NodeError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => NodeError::Damaged {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        _ => not_a_store(path, e.to_string()),
    }
}

impl Store {
    /// Creates a new, empty store in `dir` (creating the directory). Fails if one exists.
    pub fn create(dir: &Path, actor: ActorId) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| NodeError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(STORE_FILE);
        if path.exists() {
            return Err(NodeError::AlreadyInitialised(dir.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        schema::create(&conn)?;
        Ok(Store {
            conn,
            path,
            cache: DocCache::new(DEFAULT_CACHE_DOCS),
            actor,
            unckpt: false,
            seq_tx: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Creates a store and fills it in one transaction. If anything fails, the half-made store
    /// files are removed, so that `init` or `join` can start over.
    pub fn create_with(
        dir: &Path,
        actor: ActorId,
        fill: impl FnOnce(&mut WriteTx<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut store = Store::create(dir, actor)?;
        let result = store.write(fill);
        let path = store.path.clone();
        drop(store);
        if result.is_err() {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        result
    }

    /// Opens the existing store in `dir`, migrating it to the current schema. Never creates one.
    pub fn open(dir: &Path) -> Result<Store> {
        let path = dir.join(STORE_FILE);
        if !path.is_file() {
            return Err(NodeError::NoStore(dir.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(&path, &e))?;
        // The first statement that touches the file tells a database from anything else.
        conn.busy_timeout(Duration::from_secs(10))?;
        let is_ours: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| open_error(&path, &e))?;
        if is_ours.is_none() {
            return Err(not_a_store(
                &path,
                "it is a SQLite database without Yizhan's tables",
            ));
        }
        let magic: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'magic'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| open_error(&path, &e))?;
        if magic.as_deref() != Some(schema::MAGIC) {
            return Err(not_a_store(
                &path,
                "its meta table does not identify a Yizhan store",
            ));
        }
        configure(&conn)?;
        schema::migrate(&conn)?;
        let actor_hex: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'node_id'", [], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| not_a_store(&path, "it has no node identity"))?;
        let actor_bytes = hex::decode(&actor_hex)
            .map_err(|_| not_a_store(&path, "its node identity is malformed"))?;
        Ok(Store {
            conn,
            path,
            cache: DocCache::new(DEFAULT_CACHE_DOCS),
            actor: ActorId::from(actor_bytes),
            unckpt: false,
            seq_tx: tokio::sync::watch::Sender::new(0),
        })
    }

    /// The store file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes the number of documents kept in memory.
    pub fn set_cache_capacity(&mut self, docs: usize) {
        self.cache
            .docs
            .resize(NonZeroUsize::new(docs.max(1)).unwrap_or(NonZeroUsize::MIN));
    }

    /// Documents currently cached.
    pub fn cached_docs(&self) -> usize {
        self.cache.len()
    }

    /// The read connection (for queries that need no transaction).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one immediate write transaction and commits it. Documents taken out of the
    /// cache inside `f` come back only if the transaction commits.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut WriteTx<'_>) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut wtx = WriteTx {
            tx,
            cache: &mut self.cache,
            actor: &self.actor,
            done: Vec::new(),
            last_seq: None,
        };
        let out = f(&mut wtx)?;
        if let Some(seq) = wtx.last_seq {
            wtx.tx
                .prepare_cached("UPDATE counters SET value = ?1 WHERE name = 'seq'")?
                .execute([seq])?;
        }
        let WriteTx {
            tx,
            cache,
            done,
            last_seq,
            ..
        } = wtx;
        tx.commit()?;
        self.unckpt = true;
        // The last `seq` taken is this commit's highest (documents given back untouched keep
        // their older ones).
        if let Some(top) = last_seq {
            self.seq_tx.send_if_modified(|cur| {
                let newer = top > *cur;
                if newer {
                    *cur = top;
                }
                newer
            });
        }
        for (id, doc, seq) in done {
            cache.docs.put(id, (doc, seq));
        }
        Ok(out)
    }

    /// What the store does when its thread has been idle for a moment: first it merges the
    /// search keys waiting in `search_keys_new`, a chunk per call ([`index::merge_new_keys`]),
    /// then it checkpoints the WAL. Returns whether there was anything to do.
    pub fn idle(&mut self) -> Result<bool> {
        if self.counter("new_keys")? > 0 {
            self.write(|wtx| index::merge_new_keys(wtx.sql(), index::MERGE_KEYS_IDLE))?;
            return Ok(true);
        }
        self.checkpoint()
    }

    /// Merges every search key still waiting (a chunk per transaction).
    pub fn merge_waiting_keys(&mut self) -> Result<()> {
        while self.counter("new_keys")? > 0 {
            self.write(|wtx| index::merge_new_keys(wtx.sql(), index::MERGE_KEYS_IDLE))?;
        }
        Ok(())
    }

    /// Copies committed WAL pages back into the database file (a passive checkpoint: it never
    /// waits for readers). The store thread calls it when idle, so that no user-facing commit pays
    /// for a checkpoint. Returns whether there was anything to do.
    pub fn checkpoint(&mut self) -> Result<bool> {
        if !self.unckpt {
            return Ok(false);
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        self.unckpt = false;
        Ok(true)
    }

    /// Reads a document (from the cache if current) and passes it to `f`.
    pub fn read_doc<T>(
        &mut self,
        doc_id: &str,
        f: impl FnOnce(&Automerge) -> Result<T>,
    ) -> Result<Option<T>> {
        let Some(seq) = doc_seq(&self.conn, doc_id)? else {
            return Ok(None);
        };
        let cached = self.cache.docs.get(doc_id).is_some_and(|(_, s)| *s == seq);
        if !cached {
            let doc = load_from(&self.conn, doc_id)?;
            self.cache.docs.put(doc_id.to_string(), (doc, seq));
        }
        match self.cache.docs.get(doc_id) {
            Some((doc, _)) => f(doc).map(Some),
            None => Ok(None),
        }
    }

    /// A document's bytes as stored: its snapshot followed by its increments, which
    /// `Automerge::load` reads as the one document (a document chunk, then change chunks). No
    /// Automerge work at all: what a peer that never held the document is sent (issue #14).
    pub fn saved_bytes(&self, doc_id: &str) -> Result<Option<Vec<u8>>> {
        if doc_seq(&self.conn, doc_id)?.is_none() {
            return Ok(None);
        }
        Ok(Some(read_stored(&self.conn, doc_id)?.into_bytes()))
    }

    /// Reads a document from disk without touching the cache, for a large document read once
    /// into a view of its own (the catalog), which would otherwise push useful cases out.
    pub fn read_doc_uncached<T>(
        &self,
        doc_id: &str,
        f: impl FnOnce(&Automerge) -> Result<T>,
    ) -> Result<Option<T>> {
        if doc_seq(&self.conn, doc_id)?.is_none() {
            return Ok(None);
        }
        f(&load_from(&self.conn, doc_id)?).map(Some)
    }

    /// A meta value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// The current node-wide `seq`.
    pub fn seq(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT value FROM counters WHERE name = 'seq'", [], |r| {
                r.get(0)
            })?)
    }

    /// Follows the `seq` of every document write this store commits, starting from the stored one.
    pub fn subscribe_seq(&self) -> Result<tokio::sync::watch::Receiver<i64>> {
        let stored = self.seq()?;
        self.seq_tx.send_if_modified(|cur| {
            let newer = stored > *cur;
            if newer {
                *cur = stored;
            }
            newer
        });
        Ok(self.seq_tx.subscribe())
    }

    /// A named counter (`seq`, `certs`).
    pub fn counter(&self, name: &str) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0))
    }

    /// Every stored certificate. A row that does not parse is skipped with a warning: the
    /// certificate can be learned again from a peer.
    pub fn certs(&self) -> Result<Vec<crate::cert::Cert>> {
        let mut stmt = self
            .conn
            .prepare("SELECT node_id, cert FROM certs ORDER BY node_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (node, text) = row?;
            match crate::cert::Cert::from_json(&text) {
                Ok(c) => out.push(c),
                Err(e) => {
                    tracing::warn!(node = %crate::cert::short(&node), "unreadable stored certificate: {e}")
                }
            }
        }
        Ok(out)
    }

    /// `seq` of each network document, to notice changes made beside this process.
    pub fn doc_seqs(&self, ids: &[&str]) -> Result<Vec<Option<i64>>> {
        ids.iter().map(|id| doc_seq(&self.conn, id)).collect()
    }

    /// The ids of every stored document of a type, and the highest `seq` among them (`None`
    /// when there is none): the node re-reads the accounts when that `seq` moves.
    pub(crate) fn docs_of_type(&self, doc_type: DocType) -> Result<(Vec<String>, Option<i64>)> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc_id, seq FROM docs WHERE doc_type = ?1 ORDER BY doc_id")?;
        let rows = stmt
            .query_map([doc_type.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let max = rows.iter().map(|r| r.1).max();
        Ok((rows.into_iter().map(|r| r.0).collect(), max))
    }

    /// The highest `seq` among the documents of a type.
    pub(crate) fn max_seq_of_type(&self, doc_type: DocType) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT max(seq) FROM docs WHERE doc_type = ?1",
            [doc_type.as_str()],
            |r| r.get(0),
        )?)
    }

    /// Bytes stored for a document: (snapshot, increments, number of increments).
    pub fn doc_sizes(&self, doc_id: &str) -> Result<Option<(i64, i64, i64)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT length(snapshot), incr_bytes, (SELECT count(*) FROM doc_changes c WHERE c.doc_id = d.doc_id)
                 FROM docs d WHERE doc_id = ?1",
                [doc_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }
}

/// A store closing merges the search keys a burst left waiting: a one-shot process (the command
/// line, a bundle import) may never be idle, and a search reads one table faster than two.
impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.merge_waiting_keys() {
            tracing::warn!("search keys left waiting at close: {e}");
        }
    }
}

/// An open write transaction with access to the document cache.
#[allow(missing_debug_implementations)]
pub(crate) struct WriteTx<'a> {
    tx: Transaction<'a>,
    cache: &'a mut DocCache,
    actor: &'a ActorId,
    /// Documents written (or given back), for the cache at commit, with their `seq`.
    done: Vec<(String, Automerge, i64)>,
    /// The last `seq` taken in this transaction, written back to `counters` once, at its end:
    /// a received batch takes thousands, and an update of the counter row for each was a tenth
    /// of writing a new document (issue #14).
    last_seq: Option<i64>,
}

impl WriteTx<'_> {
    /// The SQLite transaction, for index updates in the same commit.
    pub fn sql(&self) -> &Transaction<'_> {
        &self.tx
    }

    /// Takes a document for changing: from the cache if current, else from disk; `None` if absent.
    /// The document's actor is this node's.
    pub fn take_doc(&mut self, doc_id: &str) -> Result<Option<Automerge>> {
        let Some(seq) = doc_seq(&self.tx, doc_id)? else {
            return Ok(None);
        };
        let mut doc = match self.cache.docs.pop(doc_id) {
            Some((doc, s)) if s == seq => doc,
            _ => load_from(&self.tx, doc_id)?,
        };
        doc.set_actor(self.actor.clone());
        Ok(Some(doc))
    }

    /// [`WriteTx::take_doc`] without loading: the cached document if current, else its stored
    /// bytes for the caller to load ([`Held::load`]) off the store's thread.
    pub fn take_doc_unloaded(&mut self, doc_id: &str) -> Result<Option<Held>> {
        let Some(seq) = doc_seq(&self.tx, doc_id)? else {
            return Ok(None);
        };
        Ok(Some(match self.cache.docs.pop(doc_id) {
            Some((doc, s)) if s == seq => Held::Loaded(doc),
            _ => Held::Stored(read_stored(&self.tx, doc_id)?),
        }))
    }

    /// This node's actor, for documents loaded outside [`WriteTx::take_doc`].
    pub fn actor(&self) -> &ActorId {
        self.actor
    }

    /// Reads a document without touching the cache (for whole-store passes such as a reindex,
    /// which would otherwise evict every useful cached document).
    pub fn with_doc_uncached<T>(
        &self,
        doc_id: &str,
        f: impl FnOnce(&Automerge) -> Result<T>,
    ) -> Result<T> {
        let doc = load_from(&self.tx, doc_id)?;
        f(&doc)
    }

    /// Returns a document taken with [`WriteTx::take_doc`] unchanged, so that it goes back to
    /// the cache at commit without being written.
    pub fn put_back(&mut self, doc_id: &str, doc: Automerge) -> Result<()> {
        if let Some(seq) = doc_seq(&self.tx, doc_id)? {
            self.done.push((doc_id.to_string(), doc, seq));
        }
        Ok(())
    }

    /// A new, empty document with this node's actor.
    pub fn new_doc(&self) -> Automerge {
        Automerge::new().with_actor(self.actor.clone())
    }

    /// Persists a document after a change: appends the changes since `before` (or writes a
    /// snapshot for a new document), compacts when the increments outgrow the snapshot, bumps
    /// `seq`. The document returns to the cache when the transaction commits.
    pub fn put_doc(
        &mut self,
        doc_id: &str,
        doc_type: DocType,
        doc: Automerge,
        before: Option<&[ChangeHash]>,
    ) -> Result<()> {
        let saved = match before {
            None => doc.save_nocompress(),
            Some(before) => doc.save_after(before),
        };
        self.put_doc_saved(doc_id, doc_type, doc, before, saved)
    }

    /// [`WriteTx::put_doc`] with the document already saved: `saved` is its snapshot
    /// (`save_nocompress`) for a new document, else the increment since `before`
    /// (`save_after`). Saving is the CPU part of writing, so a batch applied on worker threads
    /// saves there and leaves only the SQL to the store's thread.
    pub fn put_doc_saved(
        &mut self,
        doc_id: &str,
        doc_type: DocType,
        doc: Automerge,
        before: Option<&[ChangeHash]>,
        saved: Vec<u8>,
    ) -> Result<()> {
        if before.is_none() {
            let heads = doc.get_heads();
            return self.put_new_doc_saved(doc_id, doc_type, &heads, saved, Some(doc));
        }
        let seq = self.next_seq()?;
        let heads_blob = encode_heads(&doc.get_heads());
        let incr = saved;
        let (snap_len, incr_bytes): (i64, i64) = self
            .tx
            .prepare_cached("SELECT length(snapshot), incr_bytes FROM docs WHERE doc_id = ?1")?
            .query_row([doc_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let new_incr = incr_bytes + i64::try_from(incr.len()).unwrap_or(i64::MAX);
        if new_incr > snap_len {
            let snapshot = doc.save_nocompress();
            self.tx
                .execute("DELETE FROM doc_changes WHERE doc_id = ?1", [doc_id])?;
            self.tx.execute(
                "UPDATE docs SET snapshot = ?2, incr_bytes = 0, heads = ?3, seq = ?4 WHERE doc_id = ?1",
                params![doc_id, snapshot, heads_blob, seq],
            )?;
        } else {
            if !incr.is_empty() {
                self.tx
                    .prepare_cached("INSERT INTO doc_changes (doc_id, data) VALUES (?1, ?2)")?
                    .execute(params![doc_id, incr])?;
            }
            self.tx
                .prepare_cached(
                    "UPDATE docs SET incr_bytes = ?2, heads = ?3, seq = ?4 WHERE doc_id = ?1",
                )?
                .execute(params![doc_id, new_incr, heads_blob, seq])?;
        }
        self.done.push((doc_id.to_string(), doc, seq));
        Ok(())
    }

    /// Writes a new document already saved (`saved`: its snapshot, which `Automerge::load`
    /// reads), with its heads, and bumps `seq`. `doc` goes to the cache at commit when given; a
    /// large received batch leaves it out, so that its documents neither push useful ones out of
    /// the cache nor are dropped on this thread (issue #14's profile: a tenth of applying).
    pub fn put_new_doc_saved(
        &mut self,
        doc_id: &str,
        doc_type: DocType,
        heads: &[ChangeHash],
        saved: Vec<u8>,
        doc: Option<Automerge>,
    ) -> Result<()> {
        let seq = self.next_seq()?;
        self.tx
            .prepare_cached(
                "INSERT INTO docs (doc_id, doc_type, snapshot, incr_bytes, heads, seq) VALUES (?1, ?2, ?3, 0, ?4, ?5)",
            )?
            .execute(params![doc_id, doc_type.as_str(), saved, encode_heads(heads), seq])?;
        if let Some(doc) = doc {
            self.done.push((doc_id.to_string(), doc, seq));
        }
        Ok(())
    }

    /// The next `seq`, taken; [`Store::write`] writes the last one back before it commits.
    fn next_seq(&mut self) -> Result<i64> {
        let last = match self.last_seq {
            Some(seq) => seq,
            None => self
                .tx
                .prepare_cached("SELECT value FROM counters WHERE name = 'seq'")?
                .query_row([], |r| r.get(0))?,
        };
        self.last_seq = Some(last + 1);
        Ok(last + 1)
    }

    /// Sets a meta value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// A meta value, read inside the transaction.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }
}

fn doc_seq(conn: &Connection, doc_id: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT seq FROM docs WHERE doc_id = ?1")?
        .query_row([doc_id], |r| r.get(0))
        .optional()?)
}

fn corrupt(doc_id: &str, reason: impl std::fmt::Display) -> NodeError {
    NodeError::CorruptDocument {
        doc: doc_id.to_string(),
        reason: reason.to_string(),
    }
}

fn load_from(conn: &Connection, doc_id: &str) -> Result<Automerge> {
    read_stored(conn, doc_id)?.load(doc_id)
}

/// A stored document's snapshot and increments, as read from SQL (no Automerge work).
fn read_stored(conn: &Connection, doc_id: &str) -> Result<StoredDoc> {
    let snapshot: Vec<u8> = conn
        .prepare_cached("SELECT snapshot FROM docs WHERE doc_id = ?1")?
        .query_row([doc_id], |r| r.get(0))?;
    let mut stmt =
        conn.prepare_cached("SELECT data FROM doc_changes WHERE doc_id = ?1 ORDER BY id")?;
    let increments = stmt
        .query_map([doc_id], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(StoredDoc {
        snapshot,
        increments,
    })
}

/// A document as stored, not loaded yet: loading is the CPU part of reading a document, which a
/// received batch leaves to its worker threads ([`WriteTx::take_doc_unloaded`]).
#[derive(Debug)]
pub(crate) struct StoredDoc {
    snapshot: Vec<u8>,
    increments: Vec<Vec<u8>>,
}

impl StoredDoc {
    /// Loads the document: the snapshot, then each increment.
    pub(crate) fn load(self, doc_id: &str) -> Result<Automerge> {
        let mut doc = Automerge::load(&self.snapshot).map_err(|e| corrupt(doc_id, e))?;
        for data in &self.increments {
            doc.load_incremental(data).map_err(|e| corrupt(doc_id, e))?;
        }
        Ok(doc)
    }

    /// The stored bytes as one: the snapshot followed by the increments.
    fn into_bytes(self) -> Vec<u8> {
        let mut bytes = self.snapshot;
        for data in self.increments {
            bytes.extend_from_slice(&data);
        }
        bytes
    }
}

/// A document taken out for a write: loaded (from the cache) or as stored.
#[derive(Debug)]
pub(crate) enum Held {
    /// The cached document.
    Loaded(Automerge),
    /// Its stored bytes, to be loaded where the CPU is.
    Stored(StoredDoc),
}

impl Held {
    /// The document, loaded if need be, with `actor` as its actor (as [`WriteTx::take_doc`]).
    pub(crate) fn load(self, doc_id: &str, actor: &ActorId) -> Result<Automerge> {
        let mut doc = match self {
            Held::Loaded(doc) => doc,
            Held::Stored(stored) => stored.load(doc_id)?,
        };
        doc.set_actor(actor.clone());
        Ok(doc)
    }
}

fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(heads.len() * 32);
    for h in heads {
        out.extend_from_slice(&h.0);
    }
    out
}

/// Creates the store's schema on a bare connection, for unit tests of modules that keep their
/// own tables (the outbox).
#[cfg(test)]
#[allow(clippy::expect_used)]
pub(crate) fn schema_for_tests(conn: &Connection) {
    schema::create(conn).expect("the schema is created");
}
