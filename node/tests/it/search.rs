//! Search the way a clerk searches (issue #10): by the ID number or its last 4–6 characters, the
//! phone or its last 4 digits, any part of the applicant's name, the case number or its trailing
//! segments; results never carry the ID number or phone; the keys survive a rebuild, an upgrade
//! and a VACUUM; paging and sorting are those of every other list.

use crate::common::CITY;
use std::path::Path;
use yizhan_node::case::Action;
use yizhan_node::diagnostics::NO_PARAMS;
use yizhan_node::query::{CaseFilter, CaseRow, Sort};
use yizhan_node::{NewCase, Node};

/// The villager the tests look for.
const NAME: &str = "王秀英";
const ID17: &str = "11010519491231002";
const PHONE: &str = "13812345678";

fn applicant(name: &str, id17: Option<&str>, phone: &str) -> NewCase {
    let mut n = crate::common::intake("CT-001", name);
    n.id_number = id17.map(crate::common::id_number).unwrap_or_default();
    n.phone = phone.into();
    n
}

/// A city node with 王秀英's case first (counter 001) and a few others around it that share
/// nothing a test searches for with her, except where a test says so. Returns the node and her
/// case's id and number.
fn station(dir: &Path) -> (Node, String, String) {
    let mut node = crate::common::init_city(dir, crate::common::morning("2026-03-02"));
    let ours = node
        .new_case(&applicant(NAME, Some(ID17), "138 1234 5678"))
        .expect("intake");
    node.new_cases(&[
        applicant("李秀兰", Some("11010519800101876"), "13900001111"),
        applicant("王建国", Some("14010519700505321"), "13722223333"),
        applicant("张伟", None, ""),
        applicant("太原市恒达建筑工程有限公司", None, "0351-7654321"),
    ])
    .expect("intake");
    (node, ours.doc.id, ours.doc.number)
}

fn search(node: &mut Node, q: &str) -> Vec<CaseRow> {
    let f = CaseFilter {
        search: Some(q.into()),
        limit: 1000,
        ..CaseFilter::default()
    };
    let rows = node.list(&f).expect("list");
    assert_eq!(
        node.count(&f).expect("count"),
        rows.len() as u64,
        "count and list disagree for {q:?}"
    );
    rows
}

fn names(rows: &[CaseRow]) -> Vec<&str> {
    rows.iter().map(|r| r.applicant.as_str()).collect()
}

#[test]
fn finds_the_case_by_id_phone_name_and_number_parts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, id, number) = station(dir.path());
    let full_id = crate::common::id_number(ID17);
    assert!(full_id.ends_with('X'), "the test ID ends in X: {full_id}");
    let segments: Vec<&str> = number.split('-').collect();
    assert_eq!(segments.len(), 4, "{number}");
    assert_eq!(segments[3], "001");
    let tail = segments[1..].join("-");
    let last = |n: usize| full_id[full_id.len() - n..].to_string();
    for q in [
        last(4),
        last(4).to_lowercase(),
        last(5),
        last(6),
        full_id.clone(),
        format!("  {full_id}  "),
        PHONE[PHONE.len() - 4..].to_string(),
        PHONE.to_string(),
        "138 1234 5678".to_string(),
        "138-1234-5678".to_string(),
        "秀英".to_string(),
        NAME.to_string(),
        number.clone(),
        number.to_lowercase(),
        tail,
        "1-001".to_string(),
        "001".to_string(),
    ] {
        let rows = search(&mut node, &q);
        assert_eq!(
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            vec![id.as_str()],
            "search {q:?} found {:?}",
            names(&rows)
        );
    }
}

#[test]
fn name_parts_find_every_name_that_contains_them() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, _, _) = station(dir.path());
    node.new_cases(&[
        applicant("欧阳秀英", None, ""),
        applicant("欧阳秀兰", None, ""),
        applicant("Mary Smith", None, ""),
    ])
    .unwrap();
    let mut found = |q: &str| {
        let mut n: Vec<String> = names(&search(&mut node, q))
            .into_iter()
            .map(String::from)
            .collect();
        n.sort();
        n
    };
    assert_eq!(found("秀英"), ["欧阳秀英", "王秀英"]);
    assert_eq!(found("阳秀英"), ["欧阳秀英"]);
    assert_eq!(found("欧阳秀英"), ["欧阳秀英"]);
    assert_eq!(found("欧阳"), ["欧阳秀兰", "欧阳秀英"]);
    assert_eq!(found("王"), ["王建国", "王秀英"]);
    assert_eq!(found("伟"), ["张伟"]);
    assert_eq!(found("恒达建筑"), ["太原市恒达建筑工程有限公司"]);
    assert_eq!(found("smith"), ["Mary Smith"]);
    // Each pair of the query is in some name (王秀英, 李秀兰), but no name holds the whole.
    assert!(found("王秀兰").is_empty());
    // A pair of the query is in no name.
    assert!(found("秀英欧阳").is_empty());
}

#[test]
fn what_matches_nothing_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, _, _) = station(dir.path());
    for q in [
        "9999",
        "张三丰",
        "秀梅",
        // A middle part of the ID number or the phone is not a key.
        "0519",
        "1234",
        // Neither is the station code or the date alone, nor a name triple of another name.
        CITY,
        "王秀兰",
    ] {
        let rows = search(&mut node, q);
        assert!(rows.is_empty(), "search {q:?} found {:?}", names(&rows));
    }
}

#[test]
fn results_never_carry_the_id_number_or_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, _, _) = station(dir.path());
    let full_id = crate::common::id_number(ID17);
    let f = CaseFilter {
        search: Some(full_id.clone()),
        ..CaseFilter::default()
    };
    let rows = node.list(&f).unwrap();
    assert_eq!(rows.len(), 1);
    let json = serde_json::to_string(&rows).unwrap();
    for secret in [full_id.as_str(), PHONE, &full_id[4..14], "1234 5678"] {
        assert!(!json.contains(secret), "{json}");
    }
    // The filter as it would be logged says how long the search is, not what it is.
    let logged = format!("{f:?}");
    assert!(!logged.contains(&full_id[..14]), "{logged}");
    // And the index stores only hashes: no column of `search_keys` holds the ID or the phone.
    let text = node
        .diagnostics()
        .integer(
            "SELECT count(*) FROM search_keys WHERE typeof(term) != 'integer' OR typeof(created) != 'integer' OR typeof(case_row) != 'integer'",
            NO_PARAMS,
        )
        .unwrap();
    assert_eq!(text, 0);
}

/// Pages of a search, with other filters and every order, are the matching rows of the whole
/// list in the same order.
#[test]
fn search_pages_and_sorts_like_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = crate::common::init_city(dir.path(), crate::common::morning("2026-03-02"));
    // Batches share their creation time, so the id breaks ties, as in every list.
    for day in ["2026-03-02", "2026-03-03", "2026-03-04"] {
        node.set_clock(crate::common::morning(day));
        let batch: Vec<NewCase> = (0..17)
            .map(|i| {
                let name = match i % 3 {
                    0 => "王秀英",
                    1 => "李秀英",
                    _ => "赵建国",
                };
                applicant(name, None, "")
            })
            .collect();
        let views = node.new_cases(&batch).unwrap();
        for v in views.iter().step_by(4) {
            node.act(&v.doc.id, &Action::Accept, "窗口").unwrap();
        }
    }
    for sort in [Sort::Newest, Sort::Oldest, Sort::Due] {
        for status in [None, Some(yizhan_node::case::Status::Accepted)] {
            let all = node
                .list(&CaseFilter {
                    status,
                    sort,
                    limit: 10_000,
                    ..CaseFilter::default()
                })
                .unwrap();
            let want: Vec<String> = all
                .into_iter()
                .filter(|r| r.applicant.contains("秀英"))
                .map(|r| r.id)
                .collect();
            assert!(want.len() >= 6, "{sort:?} {status:?}: {}", want.len());
            let mut got = Vec::new();
            for page in 0.. {
                let rows = node
                    .list(&CaseFilter {
                        status,
                        sort,
                        search: Some("秀英".into()),
                        limit: 5,
                        offset: page * 5,
                        ..CaseFilter::default()
                    })
                    .unwrap();
                if rows.is_empty() {
                    break;
                }
                got.extend(rows.into_iter().map(|r| r.id));
            }
            assert_eq!(got, want, "{sort:?} {status:?}");
            let counted = node
                .count(&CaseFilter {
                    status,
                    search: Some("秀英".into()),
                    ..CaseFilter::default()
                })
                .unwrap();
            assert_eq!(counted, want.len() as u64);
        }
    }
    // A date range narrows a search to the cases created in it.
    let one_day = node
        .list(&CaseFilter {
            search: Some("王秀英".into()),
            created_from: Some(crate::common::date("2026-03-03")),
            created_to: Some(crate::common::date("2026-03-03")),
            limit: 100,
            ..CaseFilter::default()
        })
        .unwrap();
    assert_eq!(one_day.len(), 6);
    assert!(one_day.iter().all(|r| r.number.contains("-260303-")));
}

/// A store from before the search keys (schema 4) gets them on its first open; until then, and
/// whatever SQLite does to row numbers, a key never points at another person's case.
#[test]
fn keys_are_rebuilt_on_upgrade_and_survive_vacuum() {
    let dir = tempfile::tempdir().unwrap();
    let (node, id, _) = station(dir.path());
    let clock = node.clock();
    let dump = node.index_dump().unwrap();
    drop(node);
    {
        // What migration 5 leaves behind on a store that had cases: no keys yet, and the rebuild
        // asked for.
        crate::common::raw_sql(
            dir.path(),
            "DELETE FROM search_keys; DELETE FROM search_keys_new; UPDATE cases SET search_sig = 0;
             INSERT INTO meta (key, value) VALUES ('reindex', 'test');",
        );
    }
    let mut node = Node::open(dir.path(), clock).unwrap();
    assert_eq!(node.index_dump().unwrap(), dump);
    assert_eq!(node.diagnostics().meta("reindex").unwrap(), None);
    assert_eq!(search(&mut node, "5678")[0].id, id);

    // VACUUM renumbers rows of tables without an INTEGER PRIMARY KEY; `cases` has one.
    crate::common::raw_sql(
        dir.path(),
        "DELETE FROM cases WHERE applicant_name = '李秀兰'; VACUUM;",
    );
    node.reindex().unwrap();
    crate::common::raw_sql(dir.path(), "VACUUM");
    assert_eq!(node.index_dump().unwrap(), dump);
    assert_eq!(search(&mut node, "002X")[0].id, id);
}

/// An index whose keys for a case are wrong (stale or foreign) is put right by the next write
/// of that case.
#[test]
fn a_case_with_wrong_keys_gets_its_own_back_on_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, id, _) = station(dir.path());
    let dump = node.index_dump().unwrap();
    let bogus = yizhan_node::search::key("8888");
    crate::common::store_file(dir.path())
        .execute(
            "INSERT INTO search_keys (term, created, case_row)
             SELECT ?1, created_at, row_id FROM cases WHERE doc_id = ?2",
            rusqlite::params![bogus, id],
        )
        .unwrap();
    crate::common::store_file(dir.path())
        .execute("UPDATE cases SET search_sig = 42 WHERE doc_id = ?1", [&id])
        .unwrap();
    assert_eq!(search(&mut node, "8888").len(), 1);
    node.act(&id, &Action::Accept, "窗口").unwrap();
    assert!(search(&mut node, "8888").is_empty());
    assert_eq!(search(&mut node, "秀英")[0].id, id);
    // Only the handling columns differ from before the action.
    let keys = |d: &[String]| -> Vec<String> {
        d.iter()
            .filter(|l| l.starts_with("search_keys:"))
            .cloned()
            .collect()
    };
    assert_eq!(keys(&node.index_dump().unwrap()), keys(&dump));
}

/// A burst's keys wait in a small table until the idle store merges them into the big one, a
/// chunk at a time in key order (issue #14): a search finds the same cases before, during and
/// after the merge, and the index is the same as a rebuild's throughout. A case taken in while
/// nothing waits goes straight to the big table.
#[test]
fn keys_waiting_to_be_merged_are_found_before_during_and_after_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = crate::common::init_city(dir.path(), crate::common::morning("2026-03-02"));
    let mut burst = vec![
        applicant(NAME, Some(ID17), "138 1234 5678"),
        applicant("王建国", Some("14010519700505321"), "13722223333"),
        applicant("太原市恒达建筑工程有限公司", None, "0351-7654321"),
    ];
    burst.extend((0..100).map(|i| applicant(&format!("申请人{i}"), None, "")));
    let taken = node.new_cases(&burst).unwrap();
    let (id, number) = (taken[0].doc.id.clone(), taken[0].doc.number.clone());
    let waiting = |node: &mut Node| {
        node.diagnostics()
            .integer("SELECT count(*) FROM search_keys_new", NO_PARAMS)
            .unwrap()
    };
    let queries = [
        NAME,
        "秀英",
        "5678",
        "002X",
        number.as_str(),
        "王",
        "有限公司",
        "申请人",
    ];
    let found = |node: &mut Node| -> Vec<Vec<String>> {
        queries
            .iter()
            .map(|q| search(node, q).into_iter().map(|r| r.id).collect())
            .collect()
    };
    let before = found(&mut node);
    assert_eq!(before[0], vec![id]);
    assert_eq!(before[7].len(), 100);
    let total = waiting(&mut node);
    assert!(total > 1_000, "the burst's keys wait: {total}");
    let dump = node.index_dump().unwrap();

    // 400 keys at a time: every step leaves the searches and the index as they were.
    let mut left = total;
    while left > 0 {
        let now = node.diagnostics().merge_search_keys(400).unwrap();
        assert_eq!(now, (left - 400).max(0));
        left = now;
        assert_eq!(found(&mut node), before);
        assert_eq!(node.index_dump().unwrap(), dump);
    }
    let merged = node
        .diagnostics()
        .integer("SELECT count(*) FROM search_keys", NO_PARAMS)
        .unwrap();
    assert_eq!(merged, total);

    // One case while nothing waits: straight to the big table.
    node.new_case(&applicant("赵秀英", None, "13600005678"))
        .unwrap();
    assert_eq!(waiting(&mut node), 0);
    assert_eq!(search(&mut node, "赵秀英").len(), 1);

    // A burst of 120 cases named `{prefix}{i}`, whose keys wait.
    let burst = |node: &mut Node, prefix: &str| {
        let cases: Vec<_> = (0..120)
            .map(|i| applicant(&format!("{prefix}{i}"), None, ""))
            .collect();
        node.new_cases(&cases).unwrap();
        assert!(waiting(node) > 0);
    };

    // Another burst waits, and the idle store merges it, then checkpoints.
    burst(&mut node, "后来者");
    assert_eq!(search(&mut node, "后来者").len(), 120);
    while node.diagnostics().idle().unwrap() {}
    assert_eq!(waiting(&mut node), 0);
    assert_eq!(search(&mut node, "后来者").len(), 120);
    assert_eq!(search(&mut node, "秀英").len(), 2);

    // A burst left waiting is merged when the store closes.
    burst(&mut node, "最后");
    let clock = node.clock();
    drop(node);
    let mut node = Node::open(dir.path(), clock).unwrap();
    assert_eq!(waiting(&mut node), 0);
    assert_eq!(search(&mut node, "最后").len(), 120);
}
