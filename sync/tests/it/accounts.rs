//! Operator accounts across nodes (issue #12): department sign-offs only by that department's
//! reviewer, an offline event of an account disabled meanwhile flagged identically on every
//! node, accounts and password hashes kept within their scopes, and a 督办 from the city answered
//! by the village — real stores, real documents, the real session driven in memory.

use crate::common::{NOW, city, network, new_case, sync};
use yizhan_node::account::NewAccount;
use yizhan_node::case::Action;
use yizhan_node::case::fold::Problem;
use yizhan_node::inbox::Section;
use yizhan_node::role::Role;
use yizhan_node::{Clock, Node, NodeError, Refusal};

const HOUR: i64 = 3_600_000;

fn account(login: &str, name: &str, role: Role, dept: &str) -> NewAccount {
    NewAccount {
        login: login.into(),
        name: name.into(),
        phone: "0351-1234567".into(),
        role: Some(role),
        dept: dept.into(),
        station: String::new(),
    }
}

/// The station's first administrator (first run), signed in.
fn first_admin(node: &mut Node, login: &str) {
    node.add_account(
        &account(login, "管理员", Role::Admin, ""),
        Some("admin-pin"),
    )
    .unwrap();
    node.sign_in(login, "admin-pin").unwrap();
}

/// Adds an account with password `pin` at the node's station (as its signed-in administrator).
/// Asserts that `login` cannot sign in at `node` with `password`.
fn assert_sign_in_fails(node: &mut Node, login: &str, password: &str) {
    assert!(matches!(
        node.sign_in(login, password),
        Err(NodeError::SignInFailed)
    ));
}

fn add(node: &mut Node, login: &str, name: &str, role: Role, dept: &str) {
    node.add_account(&account(login, name, role, dept), Some("pin-1234"))
        .unwrap();
}

fn refusal(e: NodeError) -> Refusal {
    match e {
        NodeError::NotAllowed { reason, .. } => reason,
        other => panic!("expected a refusal, got {other}"),
    }
}

#[test]
fn a_department_signs_off_only_by_its_own_reviewer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = city(&tmp.path().join("c"));
    first_admin(&mut c, "admin");
    add(
        &mut c,
        "scjg",
        "市场监管审核员",
        Role::Reviewer,
        "市场监管局",
    );
    add(&mut c, "ck", "窗口张", Role::Clerk, "");
    c.sign_in("ck", "pin-1234").unwrap();
    let id = new_case(&mut c, "CT-002", "某某公司", false);
    c.act(&id, &Action::Accept, "").unwrap();
    // A clerk may not sign for a department: the message names the role needed.
    let e = c
        .act(
            &id,
            &Action::Approve {
                dept: "税务局".into(),
            },
            "",
        )
        .unwrap_err();
    assert!(e.to_string().contains("reviewer"), "{e}");
    assert!(matches!(refusal(e), Refusal::RoleNeeded { .. }));

    c.sign_in("scjg", "pin-1234").unwrap();
    let view = c
        .act(
            &id,
            &Action::Approve {
                dept: "市场监管局".into(),
            },
            "",
        )
        .unwrap();
    assert!(view.state.approvals["市场监管局"].approved);
    let last = view.doc.events.last().unwrap();
    assert_eq!(last.operator, "市场监管审核员");
    assert_eq!(last.by.as_ref().unwrap().dept, "市场监管局");
    let e = c
        .act(
            &id,
            &Action::Approve {
                dept: "公安局".into(),
            },
            "",
        )
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("reviewer") && text.contains("公安局"),
        "{text}"
    );
    assert_eq!(
        refusal(e),
        Refusal::OtherDepartment {
            dept: "公安局".into(),
            own: "市场监管局".into()
        }
    );
    // A reviewer does not complete cases either.
    assert!(c.act(&id, &Action::Complete, "").is_err());

    // Without a sign-in, nothing is written at a station that has accounts.
    c.sign_out();
    assert!(matches!(
        c.act(&id, &Action::Note { text: "x".into() }, "某人"),
        Err(NodeError::SignInRequired)
    ));
    assert_sign_in_fails(&mut c, "scjg", "wrong");
}

#[test]
fn an_offline_event_of_an_account_disabled_meanwhile_is_flagged_on_every_node() {
    let (_tmp, mut c, [mut t, mut v]) = network([("T", "township", "C"), ("V", "village", "T")]);
    first_admin(&mut t, "tadmin");
    first_admin(&mut v, "vadmin");
    add(&mut v, "li", "李代办", Role::Agent, "");
    v.sign_in("li", "pin-1234").unwrap();
    let id = new_case(&mut v, "TS-004", "王秀英", true);
    sync(&mut v, &mut t);
    sync(&mut t, &mut c);

    // The township's administrator disables the village's agent at noon ...
    t.set_clock(Clock::Fixed(NOW + 3 * HOUR));
    t.disable_account("V", "li", "离职").unwrap();
    // ... while the village, offline, still has the agent signed in at two o'clock.
    v.set_clock(Clock::Fixed(NOW + 5 * HOUR));
    v.act(&id, &Action::Forward { to: "T".into() }, "").unwrap();

    sync(&mut v, &mut t);
    sync(&mut t, &mut c);
    sync(&mut v, &mut t);
    let problems = |n: &mut Node| {
        let view = n.case(&id).unwrap();
        let flagged: Vec<(String, Option<Problem>)> = view
            .state
            .timeline
            .iter()
            .map(|e| (e.id.clone(), e.problem.clone()))
            .collect();
        (view.state.conflict(), view.state.holder, flagged)
    };
    let at_v = problems(&mut v);
    let at_t = problems(&mut t);
    let at_c = problems(&mut c);
    assert!(at_v.0, "the village flags it: {at_v:?}");
    assert_eq!(at_v, at_t);
    assert_eq!(at_t, at_c);
    let flagged = at_c.2.last().unwrap().1.clone();
    assert!(
        matches!(flagged, Some(Problem::Refused(Refusal::AccountDisabled { ref name, .. })) if name == "李代办"),
        "{flagged:?}"
    );
    // The forward was not applied: the case is still at the village, on every node.
    assert_eq!(at_c.1, "V");
    // The index agrees with the fold: the case is listed as a conflict everywhere.
    for n in [&mut v, &mut t, &mut c] {
        let filter = yizhan_node::query::CaseFilter {
            conflict_only: true,
            ..Default::default()
        };
        assert_eq!(n.count(&filter).unwrap(), 1);
    }
    // The disabled agent is signed out at the village by the sync, and cannot sign in again.
    assert!(v.signed_in().is_none());
    assert_sign_in_fails(&mut v, "li", "pin-1234");
}

#[test]
fn accounts_stay_in_scope_and_password_hashes_never_leave_their_station() {
    // The last is a second node of village V1: the station's passwords work there too.
    let (_tmp, mut c, [mut t, mut v1, mut v2, mut v1b]) = network([
        ("T", "township", "C"),
        ("V1", "village", "T"),
        ("V2", "village", "T"),
        ("V1", "village", "T"),
    ]);
    first_admin(&mut c, "cadmin");
    first_admin(&mut t, "tadmin");
    first_admin(&mut v1, "admin1");
    first_admin(&mut v2, "admin2");
    for _ in 0..2 {
        sync(&mut v1, &mut t);
        sync(&mut v2, &mut t);
        sync(&mut t, &mut c);
        sync(&mut v1b, &mut v1);
    }
    let has = |n: &Node, doc: &str| n.heads_of(doc).unwrap().is_some();
    // The city sees every account; a township its own, its villages' and the city's.
    for doc in ["acct/C", "acct/T", "acct/V1", "acct/V2"] {
        assert!(has(&c, doc), "the city lacks {doc}");
        assert!(has(&t, doc), "the township lacks {doc}");
    }
    // A village sees its own and its ancestors' accounts, never another village's.
    assert!(has(&v1, "acct/V1") && has(&v1, "acct/T") && has(&v1, "acct/C"));
    assert!(!has(&v1, "acct/V2"), "village V1 holds V2's accounts");
    assert!(!has(&v2, "acct/V1"), "village V2 holds V1's accounts");
    // Password hashes stay at their station: V1's reach its second node, nowhere else.
    assert!(has(&v1b, "cred/V1"));
    for (n, name) in [(&c, "city"), (&t, "township"), (&v2, "village V2")] {
        assert!(!has(n, "cred/V1"), "the {name} holds V1's password hashes");
    }
    assert!(!has(&t, "cred/C") && !has(&v1, "cred/T"));
    // The second node of V1 signs its administrator in with the password set on the first.
    assert_eq!(v1b.sign_in("admin1", "admin-pin").unwrap().station, "V1");
    // The accounts of V1 are visible at the township, without the hashes.
    assert_eq!(t.accounts().of_station("V1").len(), 1);
    assert!(!t.has_password(&t.accounts().of_station("V1")[0].id));
}

#[test]
fn a_supervision_sent_at_the_city_reaches_the_village_and_its_reply_comes_back() {
    let (_tmp, mut c, [mut t, mut v]) = network([("T", "township", "C"), ("V", "village", "T")]);
    first_admin(&mut c, "cadmin");
    add(&mut c, "dc", "督办员", Role::Supervisor, "");
    first_admin(&mut v, "vadmin");
    add(&mut v, "li", "李代办", Role::Agent, "");
    v.sign_in("li", "pin-1234").unwrap();
    // A village case the village itself handles, never forwarded.
    let id = new_case(&mut v, "VL-006", "王秀英", false);
    sync(&mut v, &mut t);
    sync(&mut t, &mut c);

    // A clerk may not send a 督办, a supervisor may.
    let e = c
        .act(
            &id,
            &Action::Supervise {
                reason: "逾期".into(),
                reply_days: 2,
            },
            "",
        )
        .unwrap_err();
    assert!(matches!(refusal(e), Refusal::RoleNeeded { .. }));
    c.sign_in("dc", "pin-1234").unwrap();
    let view = c
        .act(
            &id,
            &Action::Supervise {
                reason: "群众反映等候过久，请说明".into(),
                reply_days: 2,
            },
            "",
        )
        .unwrap();
    let sup = view.state.supervisions[0].id.clone();
    sync(&mut t, &mut c);
    sync(&mut v, &mut t);

    let inbox = v.inbox().unwrap();
    assert_eq!(inbox.count(Section::Supervised), 1);
    v.act(
        &id,
        &Action::ReplySupervision {
            to: sup,
            text: "已于当日办结并电话告知".into(),
        },
        "",
    )
    .unwrap();
    assert_eq!(v.inbox().unwrap().count(Section::Supervised), 0);
    sync(&mut v, &mut t);
    sync(&mut t, &mut c);
    let at_city = c.case(&id).unwrap();
    let reply = at_city.state.supervisions[0].reply.clone().unwrap();
    assert_eq!(reply.station, "V");
    assert_eq!(reply.operator, "李代办");
    assert!(!at_city.state.conflict());
}
