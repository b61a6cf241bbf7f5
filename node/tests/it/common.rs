//! Helpers shared by the integration tests of `yizhan-node`: networks, stations, intake forms,
//! hand-built case documents and the agreement of the SQL light filter with the fold.

use chrono::NaiveDate;
use std::path::Path;
use yizhan_node::account::NewAccount;
use yizhan_node::case::doc::{Applicant, CaseDoc, ItemSnapshot};
use yizhan_node::catalog::{Catalog, ServiceItem};
use yizhan_node::network::Station;
use yizhan_node::query::CaseFilter;
use yizhan_node::role::Role;
use yizhan_node::{Clock, InitParams, NewCase, Node, NodeError};

/// The city station every test network is created with.
pub const CITY: &str = "C01";
/// A township under the city.
pub const TOWN: &str = "T01";
/// A village under the township.
pub const VILLAGE: &str = "V01";

/// A fixed clock at an RFC 3339 time.
pub fn clock(rfc3339: &str) -> Clock {
    Clock::fixed_from_rfc3339(rfc3339).expect("a valid RFC 3339 time")
}

/// A fixed clock at 10:00 China time on `day` (`YYYY-MM-DD`).
pub fn morning(day: &str) -> Clock {
    clock(&format!("{day}T10:00:00+08:00"))
}

/// A date from `YYYY-MM-DD`.
pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a valid date")
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub fn ms(rfc3339: &str) -> i64 {
    clock(rfc3339).now_ms()
}

/// A new network in `dir` whose node is the city `C01`, with township `T01` and village `V01`.
/// Adds an account with the tests' password, `pin-1234`; `dept` (a reviewer's department) and
/// `phone` may be empty.
pub fn add_account(node: &mut Node, login: &str, name: &str, role: Role, dept: &str, phone: &str) {
    node.add_account(
        &NewAccount {
            login: login.into(),
            name: name.into(),
            role: Some(role),
            dept: dept.into(),
            phone: phone.into(),
            ..NewAccount::default()
        },
        Some("pin-1234"),
    )
    .expect("an account");
}

/// [`init_city`] with its first administrator (`admin`, with `phone`) added and signed in, in a
/// new temporary directory that lives as long as the first value.
pub fn city_with_admin(clock: Clock, phone: &str) -> (tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut city = init_city(dir.path(), clock);
    add_account(&mut city, "admin", "管理员", Role::Admin, "", phone);
    city.sign_in("admin", "pin-1234").expect("sign in");
    (dir, city)
}

pub fn init_city(dir: &Path, clock: Clock) -> Node {
    let mut node = Node::init(
        dir,
        clock,
        &InitParams::new("测试市政务服务网", CITY, "测试市政务服务中心"),
    )
    .expect("init");
    node.add_station(Station {
        code: TOWN.into(),
        name: "北格镇便民服务中心".into(),
        tier: yizhan_node::station::Tier::Township,
        parent: CITY.into(),
    })
    .expect("add township");
    node.add_station(Station {
        code: VILLAGE.into(),
        name: "张村便民服务站".into(),
        tier: yizhan_node::station::Tier::Village,
        parent: TOWN.into(),
    })
    .expect("add village");
    node
}

/// Reopens the store in `dir` as a node of `station`.
///
/// A test that needs cases of several stations in one store (without syncing them between
/// enrolled nodes, see [`enrol`]) rewrites the `station` entry of the store's meta table, which
/// [`Node::open`] reads the node's identity from, and reopens the store. The node keeps its key,
/// so its Automerge actor stays the same: that is safe because every write still goes through
/// the one store.
pub fn reopen_as(node: Node, dir: &Path, station: &str) -> Node {
    let clock = node.clock();
    drop(node);
    let changed = store_file(dir)
        .execute(
            "UPDATE meta SET value = ?1 WHERE key = 'station'",
            [station],
        )
        .expect("rewrite the station");
    assert_eq!(changed, 1);
    let node = Node::open(dir, clock).expect("reopen");
    assert_eq!(node.identity().station, station);
    node
}

/// Asserts that event `id` is kept on the timeline without being applied, for a reason naming
/// `word`.
pub fn assert_not_applied(state: &yizhan_node::case::fold::CaseState, id: &str, word: &str) {
    let entry = state
        .timeline
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("event {id} is not on the timeline"));
    assert!(!entry.applied, "event {id} was applied");
    let problem = entry.problem.as_ref().map(ToString::to_string);
    assert!(
        problem.as_deref().is_some_and(|p| p.contains(word)),
        "event {id}: {problem:?} does not name {word}"
    );
}

/// Takes in a case of `item` for `name`; returns its id.
pub fn new_case_id(node: &mut Node, item: &str, name: &str) -> String {
    node.new_case(&intake(item, name)).expect("intake").doc.id
}

/// A connection of its own on the store file in `dir`, as another process (or an older version
/// of the program) would have: how a test damages an index or steps a store back to an older
/// schema without reaching into the node.
pub fn store_file(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join(yizhan_node::store::STORE_FILE)).expect("open the file")
}

/// Runs `sql` on the store file in `dir` through [`store_file`].
pub fn raw_sql(dir: &Path, sql: &str) {
    store_file(dir).execute_batch(sql).expect("raw SQL");
}

/// A node of an existing station (`T01` or `V01`) enrolled at `parent` without a network: invite,
/// redeem, join, into its own store in `dir`.
pub fn enrol(parent: &mut Node, station: &str, dir: &Path) -> Node {
    let st = parent
        .roster()
        .station(station)
        .expect("the station is in the roster")
        .clone();
    let invite = parent.invite(st, 7).expect("invite");
    let secret = yizhan_node::enrol::generate_secret().expect("a secret key");
    let joiner = yizhan_node::enrol::node_id_of(&secret);
    let enrolment = parent
        .redeem_invite(&invite.secret, &joiner)
        .expect("redeem the invitation");
    let node = Node::join(
        dir,
        parent.clock(),
        &secret,
        &invite.network_id,
        &invite.root_key,
        &enrolment,
    )
    .expect("join");
    assert_eq!(node.identity().station, station);
    node
}

/// A valid resident ID number from its first 17 digits (the check digit computed).
pub fn id_number(first17: &str) -> String {
    let check = yizhan_node::idcard::check_digit(first17).expect("17 digits");
    format!("{first17}{check}")
}

/// An intake form for `item` with a plain applicant.
pub fn intake(item: &str, name: &str) -> NewCase {
    NewCase {
        item_code: item.into(),
        applicant_name: name.into(),
        operator: "窗口一号".into(),
        ..NewCase::default()
    }
}

/// The item as a case would record it at intake.
pub fn snapshot(item: &ServiceItem) -> ItemSnapshot {
    item.snapshot()
}

/// The snapshot of an item of the default catalog.
pub fn default_item(code: &str) -> ItemSnapshot {
    snapshot(
        Catalog::default_catalog()
            .get(code)
            .expect("the item is in the default catalog"),
    )
}

/// A fresh case document with no events.
pub fn case_doc(id: &str, item: ItemSnapshot, origin: &str, created_at: i64) -> CaseDoc {
    CaseDoc::new(
        id.into(),
        format!("{origin}-260302-1001"),
        created_at,
        origin,
        "node-0",
        item,
        Applicant::named("王秀英"),
    )
}

/// The reason of a `NotAllowed` error; panics on any other result.
pub fn not_allowed<T: std::fmt::Debug>(result: Result<T, NodeError>) -> (&'static str, String) {
    match result {
        Err(NodeError::NotAllowed { action, reason }) => (action, reason.to_string()),
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

/// Checks that the light filter of the SQL list agrees with the light of the fold for every case,
/// on the node's current day.
pub fn assert_lights_agree(node: &mut Node) {
    use yizhan_node::case::deadline::ALL_LIGHTS;
    let all = node
        .list(&CaseFilter {
            limit: 10_000,
            ..CaseFilter::default()
        })
        .expect("list");
    let today = node.today();
    for row in &all {
        let view = node.case(&row.id).expect("case");
        assert_eq!(
            row.light.as_deref(),
            view.light.map(|l| l.as_str()),
            "the list's light differs from the fold's for {} on {today}",
            row.number
        );
        for light in ALL_LIGHTS {
            let listed = node
                .list(&CaseFilter {
                    light: Some(light),
                    search: Some(row.number.clone()),
                    limit: 10_000,
                    ..CaseFilter::default()
                })
                .expect("list by light");
            assert_eq!(
                listed.iter().any(|r| r.id == row.id),
                view.light == Some(light),
                "filtering by {} disagrees with the fold for {} on {today} (fold: {:?})",
                light.as_str(),
                row.number,
                view.light
            );
        }
    }
    for light in ALL_LIGHTS {
        let filter = CaseFilter {
            light: Some(light),
            limit: 10_000,
            ..CaseFilter::default()
        };
        let listed = node.list(&filter).expect("list by light");
        let folded = all
            .iter()
            .filter(|r| r.light.as_deref() == Some(light.as_str()))
            .count();
        assert_eq!(listed.len(), folded, "{} on {today}", light.as_str());
        assert_eq!(node.count(&filter).expect("count"), folded as u64);
        assert!(
            listed
                .iter()
                .all(|r| r.light.as_deref() == Some(light.as_str()))
        );
    }
}
