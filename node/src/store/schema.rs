//! The store's schema and its numbered migrations.
//!
//! `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`; `meta.schema_version` records
//! where a store is. A store written by a newer Yizhan is refused rather than guessed at.

use crate::error::{NodeError, Result};
use rusqlite::Connection;

/// Written into `meta.magic`; tells a Yizhan store from any other SQLite file.
pub const MAGIC: &str = "yizhan-store";

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

// Statements that two migrations run word for word, written once. Like the migrations themselves
// they never change: a store upgraded through them must end with the schema a new store is
// created with.

/// The case table's columns of migration 1 from `number` to `follow_up_due`, made again by
/// migration 5 between a different key and different last columns.
macro_rules! case_columns {
    () => {
        r#"        number         TEXT NOT NULL,
        item_code      TEXT NOT NULL,
        item_name      TEXT NOT NULL,
        kind           TEXT NOT NULL,
        status         TEXT NOT NULL,
        outcome        TEXT,
        conflict       INTEGER NOT NULL,
        origin         TEXT NOT NULL,
        holder         TEXT NOT NULL,
        township       TEXT NOT NULL,
        village        TEXT NOT NULL,
        applicant_name TEXT NOT NULL,
        delegated      INTEGER NOT NULL,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        accepted_on    TEXT,
        clock          INTEGER NOT NULL,
        due_on         TEXT,
        yellow_on      TEXT,
        legal_due_on   TEXT,
        frozen_light   INTEGER,
        stopped_on     TEXT,
        on_time        INTEGER,
        rating         INTEGER,
        follow_up_due  TEXT,
"#
    };
}

/// The case index's list indexes of migration 1, made again by migration 5.
macro_rules! case_list_indexes {
    () => {
        r#"    CREATE INDEX cases_number ON cases (number);
    CREATE INDEX cases_created ON cases (created_at);
    CREATE INDEX cases_township_created ON cases (township, created_at);
    CREATE INDEX cases_village_created ON cases (village, created_at);
    CREATE INDEX cases_holder_created ON cases (holder, created_at);
    CREATE INDEX cases_status_created ON cases (status, created_at);
    CREATE INDEX cases_item_created ON cases (item_code, created_at);
"#
    };
}

/// The statistics indexes of migration 3, made again by migration 5.
macro_rules! case_stats_indexes {
    () => {
        r#"    CREATE INDEX cases_follow_up ON cases (township, village, item_code, follow_up_due)
        WHERE follow_up_due IS NOT NULL;
    CREATE INDEX cases_open_created ON cases (created_at, clock, due_on, yellow_on, legal_due_on, frozen_light)
        WHERE clock IN (1, 2);
    CREATE INDEX cases_township_status_created ON cases (township, status, created_at);
    CREATE INDEX cases_village_status_created ON cases (village, status, created_at);
    CREATE INDEX cases_holder_status_due ON cases (holder, status, due_on IS NULL, due_on, created_at);
"#
    };
}

const MIGRATIONS: &[&str] = &[
    // 1: documents, the change sequence and the case index.
    concat!(
        r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO counters (name, value) VALUES ('seq', 0);

    CREATE TABLE docs (
        doc_id     TEXT PRIMARY KEY,
        doc_type   TEXT NOT NULL,
        snapshot   BLOB NOT NULL,
        incr_bytes INTEGER NOT NULL,
        heads      BLOB NOT NULL,
        seq        INTEGER NOT NULL
    );
    CREATE INDEX docs_seq ON docs (seq);
    CREATE TABLE doc_changes (
        id     INTEGER PRIMARY KEY,
        doc_id TEXT NOT NULL REFERENCES docs (doc_id) ON DELETE CASCADE,
        data   BLOB NOT NULL
    );
    CREATE INDEX doc_changes_doc ON doc_changes (doc_id);

    CREATE TABLE cases (
        doc_id         TEXT PRIMARY KEY,
"#,
        case_columns!(),
        r#"        consults       INTEGER NOT NULL
    );
"#,
        case_list_indexes!(),
        r#"    CREATE INDEX cases_applicant ON cases (applicant_name);
    -- Cases under supervision (clock running or paused): few compared to all cases, and the only
    -- ones with a light, so light filters and light statistics read this small index.
    CREATE INDEX cases_open ON cases (township, village, item_code, clock, due_on, yellow_on, legal_due_on, frozen_light, created_at)
        WHERE clock IN (1, 2);
    CREATE INDEX cases_follow_up ON cases (follow_up_due) WHERE follow_up_due IS NOT NULL;
    CREATE INDEX cases_conflict ON cases (created_at) WHERE conflict = 1;

    CREATE TABLE case_route (
        station TEXT NOT NULL,
        doc_id  TEXT NOT NULL,
        PRIMARY KEY (station, doc_id)
    ) WITHOUT ROWID;
    CREATE INDEX case_route_doc ON case_route (doc_id);
    CREATE TABLE case_depts (
        doc_id   TEXT NOT NULL,
        dept     TEXT NOT NULL,
        decision TEXT NOT NULL,
        PRIMARY KEY (doc_id, dept)
    ) WITHOUT ROWID;

    -- Counters kept in step with `cases` in the same transaction, so that statistics over a
    -- million cases read a few thousand rows instead of scanning the table.
    CREATE TABLE case_counts (
        township  TEXT NOT NULL,
        village   TEXT NOT NULL,
        item_code TEXT NOT NULL,
        kind      TEXT NOT NULL,
        status    TEXT NOT NULL,
        on_time   INTEGER NOT NULL,
        rating    INTEGER NOT NULL,
        delegated INTEGER NOT NULL,
        conflict  INTEGER NOT NULL,
        consults  INTEGER NOT NULL,
        n         INTEGER NOT NULL,
        PRIMARY KEY (township, village, item_code, kind, status, on_time, rating, delegated, conflict)
    ) WITHOUT ROWID;
    CREATE TABLE dept_counts (
        dept     TEXT NOT NULL,
        township TEXT NOT NULL,
        decision TEXT NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (dept, township, decision)
    ) WITHOUT ROWID;
    "#,
    ),
    // 2: membership certificates, peers and their sync progress, enrolment invitations.
    r#"
    CREATE TABLE certs (
        node_id TEXT PRIMARY KEY,
        station TEXT NOT NULL,
        cert    TEXT NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO counters (name, value) VALUES ('certs', 0);
    CREATE TABLE peers (
        node_id      TEXT PRIMARY KEY,
        addrs        TEXT NOT NULL DEFAULT '',
        station      TEXT NOT NULL DEFAULT '',
        -- The peer's `seq` up to which every document it offered has been committed here.
        received_seq INTEGER NOT NULL DEFAULT 0,
        -- This node's `seq` up to which the peer has everything in its scope, as last known.
        acked_seq    INTEGER NOT NULL DEFAULT 0,
        last_contact INTEGER,
        last_error   TEXT,
        added_at     INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE invites (
        secret_hash TEXT PRIMARY KEY,
        station     TEXT NOT NULL,
        ordinal     INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        created_at  INTEGER NOT NULL,
        used_by     TEXT
    ) WITHOUT ROWID;
    "#,
    // 3: indexes for statistics and lists at a million cases (bench-store).
    concat!(
        r#"
    DROP INDEX cases_follow_up;
"#,
        case_stats_indexes!(),
    ),
    // 4: Automerge sync-protocol state per peer and document (only for documents whose histories
    // diverged; the rest sync by heads).
    r#"
    CREATE TABLE sync_states (
        peer   TEXT NOT NULL,
        doc_id TEXT NOT NULL,
        state  BLOB NOT NULL,
        PRIMARY KEY (peer, doc_id)
    ) WITHOUT ROWID;
    "#,
    // 5: search keys (`crate::search`): hashed terms (ID number and its last 4–6 characters,
    // phone and its last 4 digits, name characters and pairs, case number parts) with the case's
    // creation time, so that the first page of a search walks one key's rows in list order.
    //
    // A key refers to its case's row by number, six times smaller than the case id. SQLite's
    // VACUUM may renumber the rows of a table without an INTEGER PRIMARY KEY, which would point
    // keys at other people's cases, so `cases` is rebuilt here with one (`row_id`), its rows
    // copied and their numbers kept. Its indexes are made again as migrations 1 and 3 left them,
    // except `cases_applicant`, whose only use (the name-prefix search) the keys replace.
    // `search_sig` fingerprints the keys written for a row; 0 means none yet. The keys come from
    // the documents, so an upgraded store rebuilds its index once (`meta.reindex`, which
    // `Node::open` acts on); until then every list works and searches find nothing.
    concat!(
        r#"
    CREATE TABLE cases_v5 (
        row_id         INTEGER PRIMARY KEY,
        doc_id         TEXT NOT NULL UNIQUE,
"#,
        case_columns!(),
        r#"        consults       INTEGER NOT NULL,
        search_sig     INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO cases_v5 (row_id, doc_id, number, item_code, item_name, kind, status, outcome, conflict, origin, holder, township, village, applicant_name, delegated, created_at, updated_at, accepted_on, clock, due_on, yellow_on, legal_due_on, frozen_light, stopped_on, on_time, rating, follow_up_due, consults)
        SELECT rowid, doc_id, number, item_code, item_name, kind, status, outcome, conflict, origin, holder, township, village, applicant_name, delegated, created_at, updated_at, accepted_on, clock, due_on, yellow_on, legal_due_on, frozen_light, stopped_on, on_time, rating, follow_up_due, consults FROM cases;
    DROP TABLE cases;
    ALTER TABLE cases_v5 RENAME TO cases;
"#,
        case_list_indexes!(),
        r#"    CREATE INDEX cases_open ON cases (township, village, item_code, clock, due_on, yellow_on, legal_due_on, frozen_light, created_at)
        WHERE clock IN (1, 2);
    CREATE INDEX cases_conflict ON cases (created_at) WHERE conflict = 1;
"#,
        case_stats_indexes!(),
        r#"
    CREATE TABLE search_keys (
        term     INTEGER NOT NULL,
        created  INTEGER NOT NULL,
        case_row INTEGER NOT NULL,
        PRIMARY KEY (term, created, case_row)
    ) WITHOUT ROWID;
    INSERT OR REPLACE INTO meta (key, value) VALUES ('reindex', 'search keys (schema 5)');
    "#,
    ),
    // 6: provisional due dates (counted into a year the calendar has no rule for). The columns
    // are derived from the documents, so existing rows are marked for a rebuild: `Node::open`
    // reindexes while `meta.reindex` is set.
    r#"
    ALTER TABLE cases ADD COLUMN due_provisional INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cases ADD COLUMN legal_provisional INTEGER NOT NULL DEFAULT 0;
    -- Cases under supervision with a provisional due date: few (only around a year's end), read
    -- by the statistics.
    CREATE INDEX cases_provisional ON cases (township, village, item_code, created_at)
        WHERE clock IN (1, 2) AND (due_provisional = 1 OR legal_provisional = 1);
    INSERT INTO meta (key, value) VALUES ('reindex', 'provisional due dates (schema 6)')
        ON CONFLICT (key) DO UPDATE SET value = value || '; ' || excluded.value;
    "#,
    // 7: operator accounts (issue #12). The accounts and credentials documents are found by
    // type; the cases an account acted on are listed so that disabling it re-derives only those;
    // the index gains who decided a case, the working days it took and its open 督办 notices;
    // failed sign-ins are counted per login to delay the next attempt. The new columns are
    // derived from the documents, so existing rows are marked for a rebuild.
    r#"
    CREATE INDEX docs_type_seq ON docs (doc_type, seq);
    CREATE TABLE case_actors (
        account TEXT NOT NULL,
        doc_id  TEXT NOT NULL,
        PRIMARY KEY (account, doc_id)
    ) WITHOUT ROWID;
    CREATE INDEX case_actors_doc ON case_actors (doc_id);
    ALTER TABLE cases ADD COLUMN decided_by TEXT NOT NULL DEFAULT '';
    ALTER TABLE cases ADD COLUMN decided_by_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE cases ADD COLUMN handling_days INTEGER;
    ALTER TABLE cases ADD COLUMN supervisions_open INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX cases_decided_by ON cases (decided_by) WHERE decided_by <> '';
    CREATE INDEX cases_supervised ON cases (holder) WHERE supervisions_open > 0;
    CREATE TABLE sign_in_failures (
        station  TEXT NOT NULL,
        login    TEXT NOT NULL,
        failures INTEGER NOT NULL,
        last_at  INTEGER NOT NULL,
        PRIMARY KEY (station, login)
    ) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('reindex', 'operators and 督办 (schema 7)')
        ON CONFLICT (key) DO UPDATE SET value = value || '; ' || excluded.value;
    "#,
    // 8: the notice outbox (issue #15). A row is written in the transaction of the event it
    // tells about (or of the sync batch that brought an event this node must send), so a notice
    // is never lost between the event and its delivery. It is local to this node and never
    // synced: only the node named by the event's `notices_by` holds it. `id` is the idempotency
    // key sent with every attempt. Rows are kept once sent: they are what the case shows.
    r#"
    CREATE TABLE outbox (
        id          TEXT PRIMARY KEY,
        case_id     TEXT NOT NULL,
        case_number TEXT NOT NULL,
        kind        TEXT NOT NULL,
        phone       TEXT NOT NULL,
        text        TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        state       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER NOT NULL,
        last_error  TEXT NOT NULL DEFAULT '',
        sent_at     INTEGER
    );
    CREATE INDEX outbox_due ON outbox (next_at) WHERE state = 'queued';
    CREATE INDEX outbox_case ON outbox (case_id);
    "#,
    // 9: new search keys go to a small table first and are merged into `search_keys` in key
    // order when the node is idle, or inside a write once they pass `index::MERGE_KEYS_AT`
    // (issue #14). A case's keys are hashes spread over the whole table, so a batch that wrote
    // them to `search_keys` dirtied nearly every page of it at every commit; the small table's
    // pages are few, and a merge writes each page of the big one once. Queries read both while
    // the small one holds any key (`query.rs`); the counter says how many it holds.
    r#"
    CREATE TABLE search_keys_new (
        term     INTEGER NOT NULL,
        created  INTEGER NOT NULL,
        case_row INTEGER NOT NULL,
        PRIMARY KEY (term, created, case_row)
    ) WITHOUT ROWID;
    INSERT INTO counters (name, value) VALUES ('new_keys', 0);
    "#,
];

/// Creates the schema in an empty database.
pub fn create(conn: &Connection) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    for m in MIGRATIONS {
        tx.execute_batch(m)?;
    }
    // A new store has no cases whose index a migration would have to rebuild.
    tx.execute("DELETE FROM meta WHERE key = 'reindex'", [])?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('magic', ?1)",
        [MAGIC],
    )?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

/// Brings an existing store up to [`SCHEMA_VERSION`], one numbered migration at a time.
pub fn migrate(conn: &Connection) -> Result<()> {
    let found: i64 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get::<_, String>(0),
        )?
        .parse()
        .map_err(|_| NodeError::CorruptDocument {
            doc: "meta".into(),
            reason: "schema_version is not a number".into(),
        })?;
    if found > SCHEMA_VERSION {
        return Err(NodeError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    for (i, m) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.execute_batch(m)?;
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [(i + 1).to_string()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::OptionalExtension as _;

    /// The schema objects of a database, as SQLite records them.
    fn objects(conn: &Connection) -> Vec<(String, Option<String>)> {
        let mut stmt = conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("rows")
    }

    #[test]
    fn migration_5_keeps_every_case_row_and_its_number_and_asks_for_a_rebuild() {
        // A store as schema 4 left it, with two cases whose row numbers have a gap.
        let old = Connection::open_in_memory().expect("open");
        for m in &MIGRATIONS[..4] {
            old.execute_batch(m).expect("migrations 1-4");
        }
        old.execute_batch(
            "INSERT INTO meta (key, value) VALUES ('magic', 'yizhan-store'), ('schema_version', '4');
             INSERT INTO cases (rowid, doc_id, number, item_code, item_name, kind, status, conflict, origin, holder,
                 township, village, applicant_name, delegated, created_at, updated_at, clock, consults)
             VALUES (3, 'a', 'C01-260302-1-001', 'CT-001', '事项', 'promised', 'submitted', 0, 'C01', 'C01', '', '',
                 '王秀英', 0, 1, 1, 0, 0),
                    (7, 'b', 'C01-260302-1-002', 'CT-001', '事项', 'promised', 'accepted', 0, 'C01', 'C01', '', '',
                 '李四', 0, 2, 2, 1, 0);",
        )
        .expect("a schema 4 store");
        migrate(&old).expect("migrate");
        let rows: Vec<(i64, String, String, i64)> = old
            .prepare("SELECT row_id, doc_id, status, search_sig FROM cases ORDER BY row_id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("rows");
        assert_eq!(
            rows,
            vec![
                (3, "a".into(), "submitted".into(), 0),
                (7, "b".into(), "accepted".into(), 0)
            ]
        );
        let flag: String = old
            .query_row("SELECT value FROM meta WHERE key = 'reindex'", [], |r| {
                r.get(0)
            })
            .expect("the rebuild is asked for");
        assert!(flag.contains("search"), "{flag}");

        // The migrated schema is the one a new store gets.
        let new = Connection::open_in_memory().expect("open");
        create(&new).expect("create");
        assert_eq!(objects(&old), objects(&new));
        let flag: Option<String> = new
            .query_row("SELECT value FROM meta WHERE key = 'reindex'", [], |r| {
                r.get(0)
            })
            .optional()
            .expect("meta");
        assert_eq!(flag, None, "a new store has nothing to rebuild");
    }
}
