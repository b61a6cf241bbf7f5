//! The protocol between in-memory replicas (`yizhan_sync::testing`): scope, the checks a replica
//! makes on received changes, refusals at hello, and what an idle reconnect costs.

use yizhan_node::case::Action;
use yizhan_node::replica::RemoteDoc;
use yizhan_node::station::Tier;
use yizhan_sync::SyncError;
use yizhan_sync::replica::Replica as _;
use yizhan_sync::testing::{MemNetwork, MemReplica, Pair};

/// City C, townships T1 and T2, village V1 under T1.
fn county(seed: u64) -> MemNetwork {
    let mut net = MemNetwork::new(seed);
    net.add_station("T1", Tier::Township, "C").unwrap();
    net.add_station("T2", Tier::Township, "C").unwrap();
    net.add_station("V1", Tier::Village, "T1").unwrap();
    net
}

fn sync(a: &mut MemReplica, b: &mut MemReplica) -> yizhan_sync::testing::Link {
    Pair::one_shot(a, b).unwrap().run(a, b).unwrap()
}

#[test]
fn in_memory_replicas_converge_within_scope() {
    let mut net = county(1);
    let [mut c, mut t1, mut v1] = net.replicas(["C", "T1", "V1"]).unwrap();
    let from_v1 = v1.new_case().unwrap();
    v1.act(&from_v1, &Action::Forward { to: "T1".into() })
        .unwrap();
    let kept_at_v1 = v1.new_case().unwrap();
    let to_t2 = c.new_case().unwrap();
    c.act(&to_t2, &Action::Forward { to: "T2".into() }).unwrap();
    let to_t1 = c.new_case().unwrap();
    c.act(&to_t1, &Action::Forward { to: "T1".into() }).unwrap();

    let first = sync(&mut v1, &mut t1);
    assert!(first.round_trips <= 4, "{first:?}");
    sync(&mut t1, &mut c);
    // The township accepts the village's case; the change reaches the village and the city.
    t1.act(&from_v1, &Action::Accept).unwrap();
    sync(&mut t1, &mut c);
    sync(&mut v1, &mut t1);

    let mut all = vec![
        from_v1.clone(),
        kept_at_v1.clone(),
        to_t2.clone(),
        to_t1.clone(),
    ];
    all.sort();
    assert_eq!(c.case_ids(), all);
    let mut t1_ids = vec![from_v1.clone(), kept_at_v1.clone(), to_t1.clone()];
    t1_ids.sort();
    assert_eq!(t1.case_ids(), t1_ids, "the township holds its subtree only");
    let mut v1_ids = vec![from_v1.clone(), kept_at_v1];
    v1_ids.sort();
    assert_eq!(
        v1.case_ids(),
        v1_ids,
        "the village holds its own cases only"
    );
    assert_eq!(c.heads_of_case(&from_v1), v1.heads_of_case(&from_v1));
    assert_eq!(
        c.status(&from_v1).unwrap().map(|s| s.as_str()),
        Some("accepted")
    );

    // Nothing new: an idle reconnect is a hello each way and the idles.
    let idle = sync(&mut v1, &mut t1);
    assert!(idle.bytes < 4_096 && idle.round_trips == 2, "{idle:?}");
}

#[test]
fn received_changes_are_checked_for_scope_and_author_and_refused_whole() {
    let mut net = county(2);
    let [mut c, mut t1, mut t2] = net.replicas(["C", "T1", "T2"]).unwrap();
    sync(&mut t1, &mut c);
    sync(&mut t2, &mut c);
    let at_t1 = t1.new_case().unwrap();
    let at_c = c.new_case().unwrap();
    let changes = |r: &mut MemReplica, id: &str| {
        RemoteDoc::changes(id, r.missing_changes(id, &[]).unwrap().unwrap())
    };
    let t1_id = t1.node_id().to_string();
    let c_id = c.node_id().to_string();
    let seq = t2.seq().unwrap();
    // A case on T1's route only is outside T2's scope: the whole batch (with an acceptable
    // case of the city's) is refused and nothing changes.
    let batch = vec![changes(&mut c, &at_c), changes(&mut t1, &at_t1)];
    let e = t2.apply_remote(&c_id, &batch).unwrap_err();
    assert!(e.to_string().contains("not in this station's scope"), "{e}");
    assert_eq!(t2.seq().unwrap(), seq);
    assert!(t2.case_ids().is_empty());
    // Another city node's case is outside T1's scope: the city does not take it from T1.
    let mut c2 = net.replica("C").unwrap();
    let at_c2 = c2.new_case().unwrap();
    c.add_certs(c2.members().certs().values().cloned().collect())
        .unwrap();
    let e = c
        .apply_remote(&t1_id, &[changes(&mut c2, &at_c2)])
        .unwrap_err();
    assert!(e.to_string().contains("sender's scope"), "{e}");
    // Changes by a node of another network are refused.
    let stranger_case = {
        let mut other = MemNetwork::new(99);
        let mut x = other.replica("C").unwrap();
        let id = x.new_case().unwrap();
        changes(&mut x, &id)
    };
    let e = c.apply_remote(&t1_id, &[stranger_case]).unwrap_err();
    assert!(e.to_string().contains("non-member"), "{e}");
    // T1's case relayed to T2 by the city: the city may send it, T2 may not hold it.
    let e = t2
        .apply_remote(&c_id, &[changes(&mut t1, &at_t1)])
        .unwrap_err();
    assert!(e.to_string().contains("scope"), "{e}");
}

#[test]
fn strangers_and_revoked_nodes_are_refused_at_hello() {
    let mut net = county(3);
    let [mut c, mut t1] = net.replicas(["C", "T1"]).unwrap();
    let mut stranger = MemNetwork::new(4).replica("C").unwrap();
    let e = Pair::one_shot(&mut stranger, &mut c)
        .unwrap()
        .run(&mut stranger, &mut c)
        .unwrap_err();
    assert!(matches!(e, SyncError::Unauthorized(..)), "a stranger: {e}");
    c.revoke(t1.node_id());
    let e = Pair::one_shot(&mut t1, &mut c)
        .unwrap()
        .run(&mut t1, &mut c)
        .unwrap_err();
    assert!(e.to_string().contains("revoked"), "{e}");
    assert!(t1.case_ids().is_empty() && c.case_ids().is_empty());
}
