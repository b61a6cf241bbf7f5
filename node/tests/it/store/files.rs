//! Bad directories and files are refused with clear errors, `init` never overwrites a store, and
//! several handles on one directory see each other's writes.

use crate::common::CITY;
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::Path;
use yizhan_node::case::Action;
use yizhan_node::catalog::Catalog;
use yizhan_node::query::CaseFilter;
use yizhan_node::store::STORE_FILE;
use yizhan_node::{InitParams, Node, NodeError};

fn params() -> InitParams {
    InitParams::new("测试市政务服务网", CITY, "测试市政务服务中心")
}

fn open(dir: &Path) -> Result<Node, NodeError> {
    Node::open(dir, crate::common::morning("2026-03-02"))
}

fn not_a_store(result: Result<Node, NodeError>) -> String {
    match result {
        Err(e @ NodeError::NotAStore { .. }) => e.to_string(),
        other => panic!("expected NotAStore, got {other:?}"),
    }
}

#[test]
fn opening_a_directory_without_a_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    for d in [dir.path().to_path_buf(), dir.path().join("missing")] {
        let err = open(&d).unwrap_err();
        assert!(matches!(err, NodeError::NoStore(ref p) if p == &d), "{err}");
        assert!(err.to_string().contains("yizhan init"), "{err}");
    }
    // Opening never creates a store.
    assert!(!dir.path().join(STORE_FILE).exists());
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn opening_random_bytes_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut bytes = vec![0u8; 8192];
    rng.fill_bytes(&mut bytes);
    let path = dir.path().join(STORE_FILE);
    std::fs::write(&path, &bytes).unwrap();
    let msg = not_a_store(open(dir.path()));
    assert!(msg.contains("is not a Yizhan store"), "{msg}");
    assert!(msg.contains(STORE_FILE), "{msg}");
    // The file is left as it was.
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // Text is not a store either.
    std::fs::write(&path, "这不是数据库\n").unwrap();
    let msg = not_a_store(open(dir.path()));
    assert!(msg.contains("is not a Yizhan store"), "{msg}");
}

#[test]
fn opening_another_sqlite_database_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(STORE_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('x');")
            .unwrap();
    }
    let msg = not_a_store(open(dir.path()));
    assert!(msg.contains("without Yizhan's tables"), "{msg}");

    // A `meta` table alone does not make it ours.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('magic', 'something-else');",
        )
        .unwrap();
    }
    let msg = not_a_store(open(dir.path()));
    assert!(msg.contains("does not identify a Yizhan store"), "{msg}");

    // An empty file is an empty database, not a store.
    std::fs::write(&path, b"").unwrap();
    let msg = not_a_store(open(dir.path()));
    assert!(msg.contains("without Yizhan's tables"), "{msg}");
}

#[test]
fn a_store_from_a_newer_yizhan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(crate::common::init_city(
        dir.path(),
        crate::common::morning("2026-03-02"),
    ));
    {
        let conn = rusqlite::Connection::open(dir.path().join(STORE_FILE)).unwrap();
        conn.execute(
            "UPDATE meta SET value = '999' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    }
    match open(dir.path()) {
        Err(e @ NodeError::SchemaTooNew { found: 999, .. }) => {
            assert!(e.to_string().contains("upgrade Yizhan"), "{e}");
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read the directory")
        .map(|e| {
            let e = e.expect("a directory entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read a file"),
            )
        })
        .collect()
}

#[test]
fn init_twice_is_refused_and_leaves_the_first_store_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = crate::common::init_city(dir.path(), crate::common::morning("2026-03-02"));
    let id = crate::common::new_case_id(&mut first, "CT-001", "韩立新");
    let identity = first.identity().clone();
    let seq = first.seq().unwrap();
    let dump = first.index_dump().unwrap();

    // While the first node is open …
    let err = Node::init(dir.path(), crate::common::morning("2026-03-03"), &params()).unwrap_err();
    assert!(
        matches!(err, NodeError::AlreadyInitialised(ref p) if p == dir.path()),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("already holds") && msg.contains(&dir.path().display().to_string()),
        "{msg}"
    );
    assert_eq!(first.seq().unwrap(), seq);
    drop(first);

    // … and after it is closed: not a byte changes.
    let before = files(dir.path());
    let err = Node::init(dir.path(), crate::common::morning("2026-03-03"), &params()).unwrap_err();
    assert!(matches!(err, NodeError::AlreadyInitialised(_)), "{err}");
    assert_eq!(files(dir.path()), before);

    let mut node = open(dir.path()).unwrap();
    assert_eq!(node.identity(), &identity);
    assert_eq!(node.seq().unwrap(), seq);
    assert_eq!(node.index_dump().unwrap(), dump);
    assert_eq!(node.case(&id).unwrap().doc.applicant.name, "韩立新");
}

#[test]
fn two_handles_on_one_directory_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = crate::common::init_city(dir.path(), crate::common::morning("2026-03-02"));
    let mut b = open(dir.path()).unwrap();

    // A case written by one is seen by the other, by id, by number and in lists.
    let v = a
        .new_case(&crate::common::intake("CT-001", "曹文静"))
        .unwrap();
    assert_eq!(b.case(&v.doc.number).unwrap().doc.id, v.doc.id);
    assert_eq!(b.list(&CaseFilter::default()).unwrap().len(), 1);
    assert_eq!(b.seq().unwrap(), a.seq().unwrap());

    // A network change made by the other is seen after a refresh (and by every operation, which
    // refreshes first).
    let mut items: Vec<_> = a.catalog().items().cloned().collect();
    let mut new_item = items[0].clone();
    new_item.code = "CT-999".into();
    new_item.name = "新增测试事项".into();
    new_item.tier = yizhan_node::station::Tier::City;
    items.push(new_item);
    b.import_catalog(&Catalog::from_items(items).unwrap())
        .unwrap();
    assert!(a.catalog().get("CT-999").is_none(), "not yet refreshed");
    a.refresh().unwrap();
    assert!(a.catalog().get("CT-999").is_some());
    b.add_station(yizhan_node::network::Station {
        code: "T02".into(),
        name: "南关镇便民服务中心".into(),
        tier: yizhan_node::station::Tier::Township,
        parent: CITY.into(),
    })
    .unwrap();
    // `act` refreshes by itself: the new station is a valid forward target at once.
    let w = a
        .new_case(&crate::common::intake("CT-999", "曹文华"))
        .unwrap();
    a.act(&w.doc.id, &Action::Forward { to: "T02".into() }, "窗口")
        .unwrap();
    assert!(a.roster().station("T02").is_some());

    // Writes alternate between the handles on the same case; each builds on the latest version,
    // even though the writer's cached copy is stale.
    let id = v.doc.id.clone();
    a.case(&id).unwrap();
    b.case(&id).unwrap();
    for i in 0..10 {
        let (w, r) = if i % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        w.act(
            &id,
            &Action::Note {
                text: format!("备注{i}"),
            },
            "窗口",
        )
        .unwrap();
        assert_eq!(r.case(&id).unwrap().doc.events.len(), i + 1);
    }
    a.act(&id, &Action::Accept, "窗口").unwrap();
    b.act(&id, &Action::Complete, "窗口").unwrap();
    let va = a.case(&id).unwrap();
    let vb = b.case(&id).unwrap();
    assert_eq!(va.doc, vb.doc);
    assert_eq!(va.doc.events.len(), 12);
    let texts: Vec<String> = va
        .doc
        .events
        .iter()
        .filter_map(|e| e.fields.get("text").cloned())
        .collect();
    assert_eq!(
        texts,
        (0..10).map(|i| format!("备注{i}")).collect::<Vec<_>>()
    );
    assert_eq!(va.state.status, yizhan_node::case::Status::Completed);
    assert!(!va.state.conflict());

    // Case numbers stay unique when both handles take cases in on the same day.
    let mut numbers = std::collections::BTreeSet::new();
    for i in 0..6 {
        let h = if i % 2 == 0 { &mut a } else { &mut b };
        let made = h
            .new_cases(&[
                crate::common::intake("CT-001", "甲"),
                crate::common::intake("CT-001", "乙"),
            ])
            .unwrap();
        for v in made {
            assert!(
                numbers.insert(v.doc.number.clone()),
                "{} reused",
                v.doc.number
            );
        }
    }

    // A third handle, opened from scratch, reads the same document and the same index.
    let mut c = open(dir.path()).unwrap();
    assert_eq!(c.case(&id).unwrap().doc, va.doc);
    assert_eq!(c.index_dump().unwrap(), a.index_dump().unwrap());
    c.reindex().unwrap();
    assert_eq!(c.index_dump().unwrap(), a.index_dump().unwrap());
}
