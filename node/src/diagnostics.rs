//! What the benchmarks and the tests measure and arrange, without the store itself: query plans
//! and timings of the node's own SQL, the document cache, a document's stored sizes, the WAL,
//! per-connection tuning, and the bulk load of generated cases.
//!
//! Nothing here is for the command line or the window. The reads refuse any statement that could
//! write (SQLite's own read-only test), so they cannot bypass an invariant; the two ways that do
//! change the store are named for what they are for: [`Node::bulk_load`] (benchmarks and
//! migrations; it keeps `seq` and writes the index in the same transaction) and
//! [`Diagnostics::apply_what_if`] (schema experiments on a scratch copy).

use crate::error::{NodeError, Result};
use crate::node::Node;
use crate::store::DocType;
use crate::store::index::{self, IndexRow};
use automerge::{Automerge, ChangeHash};
use rusqlite::ToSql;
use rusqlite::types::Value;
use std::time::Instant;

/// No parameters, for the reads below.
pub const NO_PARAMS: &[Value] = &[];

/// One generated case, ready to store: its document and its index row, computed by the caller
/// with [`crate::case::doc::write_case`] and [`crate::index_row`].
#[derive(Debug)]
pub struct BulkCase {
    /// The document id (the case's `id`).
    pub id: String,
    /// The case document.
    pub doc: Automerge,
    /// Its index row.
    pub row: IndexRow,
}

/// Bytes stored for one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocSizes {
    /// The snapshot's bytes.
    pub snapshot: i64,
    /// The increments' bytes since the snapshot.
    pub increments: i64,
    /// How many increments there are.
    pub increment_count: i64,
}

/// A WAL checkpoint's mode (SQLite's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// Copies what it can without waiting for readers.
    Passive,
    /// Copies everything and truncates the WAL file.
    Truncate,
}

/// What a WAL checkpoint reports: whether it was blocked, the WAL's pages, the pages copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointResult {
    /// Whether another connection kept the checkpoint from finishing.
    pub busy: bool,
    /// Pages in the WAL.
    pub wal_pages: i64,
    /// Pages copied back into the database file.
    pub copied_pages: i64,
}

/// The per-connection settings a benchmark may tune; none of them changes what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tuning {
    /// `PRAGMA mmap_size` in bytes.
    MmapSize,
    /// `PRAGMA cache_size` (negative: KiB).
    CacheSize,
    /// `PRAGMA wal_autocheckpoint` in pages (0: off).
    WalAutocheckpoint,
}

impl Tuning {
    fn pragma(self) -> &'static str {
        match self {
            Tuning::MmapSize => "mmap_size",
            Tuning::CacheSize => "cache_size",
            Tuning::WalAutocheckpoint => "wal_autocheckpoint",
        }
    }
}

/// A borrowed view of a node for benchmarks and tests ([`Node::diagnostics`]).
#[derive(Debug)]
pub struct Diagnostics<'a> {
    node: &'a mut Node,
}

impl Node {
    /// The benchmarks' and tests' view of this node (see [`crate::diagnostics`]).
    #[doc(hidden)]
    pub fn diagnostics(&mut self) -> Diagnostics<'_> {
        Diagnostics { node: self }
    }

    /// Stores generated cases, `cases.len()` at a time in one transaction: each document gets
    /// the next `seq` and its index row is written beside it, as every other write does. For
    /// benchmarks and migrations, which build documents elsewhere (in parallel, from a plan) and
    /// must not pay for one transaction per case; a row that is not its document's is refused.
    #[doc(hidden)]
    pub fn bulk_load(&mut self, cases: Vec<BulkCase>) -> Result<()> {
        self.store.write(|wtx| {
            let mut keys = index::PendingKeys::default();
            for case in cases {
                if case.row.doc_id != case.id {
                    return Err(NodeError::CorruptDocument {
                        doc: case.id,
                        reason: format!("its index row is that of {}", case.row.doc_id),
                    });
                }
                wtx.put_doc(&case.id, DocType::Case, case.doc, None)?;
                index::upsert_deferring_keys(wtx.sql(), &case.row, &mut keys)?;
            }
            keys.write(wtx.sql())
        })
    }
}

impl Diagnostics<'_> {
    fn read_only<'c>(conn: &'c rusqlite::Connection, sql: &str) -> Result<rusqlite::Statement<'c>> {
        let stmt = conn.prepare(sql)?;
        if stmt.readonly() {
            Ok(stmt)
        } else {
            Err(NodeError::Sqlite(rusqlite::Error::InvalidQuery))
        }
    }

    /// SQLite's query plan for a read-only statement, one line per step.
    pub fn explain<P: ToSql>(&self, sql: &str, params: &[P]) -> Result<Vec<String>> {
        let conn = self.node.store.conn();
        Self::read_only(conn, sql)?;
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                r.get::<_, String>(3)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Runs a read-only statement `runs` times, reading every row; returns each run's
    /// milliseconds and the row count.
    pub fn time_query<P: ToSql>(
        &self,
        sql: &str,
        params: &[P],
        runs: usize,
    ) -> Result<(Vec<f64>, usize)> {
        let mut stmt = Self::read_only(self.node.store.conn(), sql)?;
        let mut samples = Vec::with_capacity(runs);
        let mut rows = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let mut q = stmt.query(rusqlite::params_from_iter(params.iter()))?;
            let mut n = 0;
            while q.next()?.is_some() {
                n += 1;
            }
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
            rows = n;
        }
        Ok((samples, rows))
    }

    /// Every row of a read-only statement, each as its columns.
    pub fn rows<P: ToSql>(&self, sql: &str, params: &[P]) -> Result<Vec<Vec<Value>>> {
        let mut stmt = Self::read_only(self.node.store.conn(), sql)?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                (0..width).map(|i| r.get::<_, Value>(i)).collect()
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The first column of the first row of a read-only statement, as an integer.
    pub fn integer<P: ToSql>(&self, sql: &str, params: &[P]) -> Result<i64> {
        let mut stmt = Self::read_only(self.node.store.conn(), sql)?;
        Ok(stmt.query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?)
    }

    /// A value of the store's meta table.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.node.store.meta(key)
    }

    /// Bytes stored for a document, `None` if there is none.
    pub fn doc_sizes(&self, doc_id: &str) -> Result<Option<DocSizes>> {
        Ok(self
            .node
            .store
            .doc_sizes(doc_id)?
            .map(|(snapshot, increments, increment_count)| DocSizes {
                snapshot,
                increments,
                increment_count,
            }))
    }

    /// A document's heads as read through the cache, `None` if there is no such document.
    pub fn doc_heads(&mut self, doc_id: &str) -> Result<Option<Vec<ChangeHash>>> {
        self.node.store.read_doc(doc_id, |d| Ok(d.get_heads()))
    }

    /// Changes the number of documents kept in memory.
    pub fn set_cache_capacity(&mut self, docs: usize) {
        self.node.store.set_cache_capacity(docs);
    }

    /// Documents currently in memory.
    pub fn cached_docs(&self) -> usize {
        self.node.store.cached_docs()
    }

    /// A per-connection setting's current value.
    pub fn tuning(&self, what: Tuning) -> Result<i64> {
        Ok(self
            .node
            .store
            .conn()
            .pragma_query_value(None, what.pragma(), |r| r.get(0))?)
    }

    /// Sets a per-connection setting (for this connection only; nothing stored changes).
    pub fn tune(&self, what: Tuning, value: i64) -> Result<()> {
        Ok(self
            .node
            .store
            .conn()
            .pragma_update(None, what.pragma(), value)?)
    }

    /// Does what the store thread does when idle ([`crate::store::Store::idle`]: a chunk of the
    /// search keys waiting to be merged, else a WAL checkpoint); whether there was anything to do.
    pub fn idle(&mut self) -> Result<bool> {
        self.node.store.idle()
    }

    /// Merges up to `limit` waiting search keys, in key order, as the idle store does a chunk at
    /// a time; returns how many still wait.
    pub fn merge_search_keys(&mut self, limit: i64) -> Result<i64> {
        self.node
            .store
            .write(|wtx| index::merge_new_keys(wtx.sql(), limit))
    }

    /// Runs a WAL checkpoint now.
    pub fn wal_checkpoint(&self, mode: Checkpoint) -> Result<CheckpointResult> {
        let sql = match mode {
            Checkpoint::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
            Checkpoint::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        };
        let (busy, wal_pages, copied_pages): (i64, i64, i64) =
            self.node
                .store
                .conn()
                .query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(CheckpointResult {
            busy: busy != 0,
            wal_pages,
            copied_pages,
        })
    }

    /// Runs SQL that changes the schema (an extra index, `ANALYZE`), for the benchmark's what-if
    /// experiments on a scratch copy of a store. It bypasses every invariant: never on a store
    /// that is kept.
    pub fn apply_what_if(&self, sql: &str) -> Result<()> {
        Ok(self.node.store.conn().execute_batch(sql)?)
    }

    /// Makes this process's node act as another station of the roster until it is dropped, so
    /// that a generator writes each case with its real origin and acts as the station holding it
    /// from one store. Nothing is stored: reopening the node gives its own station back.
    pub fn act_as_station(&mut self, code: &str) -> Result<()> {
        if self.node.roster().station(code).is_none() {
            return Err(NodeError::UnknownStation(code.to_string()));
        }
        self.node.identity.station = code.to_string();
        Ok(())
    }
}
