#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::path::Path;
use yizhan_node::network::Station;
use yizhan_node::{Clock, InitParams, NewCase, Node};
use yizhan_node::case::Action;
use yizhan_sync::proto::{self, Msg};
use yizhan_sync::session::Session;
const NOW: i64 = 1_772_413_200_000;
fn st(code: &str, tier: &str, parent: &str) -> Station { Station { code: code.into(), name: format!("{code}站"), tier: tier.into(), parent: parent.into() } }
fn enrol(parent: &mut Node, s: Station, dir: &Path) -> Node {
    let invite = parent.invite(s, 7).unwrap();
    let secret = yizhan_node::enrol::generate_secret().unwrap();
    let joiner = yizhan_node::enrol::node_id_of(&secret);
    let e = parent.redeem_invite(&invite.secret, &joiner).unwrap();
    Node::join(dir, Clock::Fixed(NOW), &secret, &invite.network_id, &invite.root_key, &e).unwrap()
}
#[test]
fn scratch() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Node::init(&tmp.path().join("c"), Clock::Fixed(NOW), &InitParams { network_name: "n".into(), code: "C".into(), name: "c".into() }).unwrap();
    let mut t1 = enrol(&mut c, st("T1", "township", "C"), &tmp.path().join("t1"));
    let mut v1 = enrol(&mut t1, st("V1", "village", "T1"), &tmp.path().join("v1"));
    let _v2 = enrol(&mut t1, st("V2", "village", "T1"), &tmp.path().join("v2"));
    for i in 0..3 {
        let id = v1.new_case(&NewCase { item_code: "TS-004".into(), applicant_name: format!("a{i}"), ..Default::default() }).unwrap().doc.id;
        if i < 2 { v1.act(&id, &Action::Forward { to: "T1".into() }, "x").unwrap(); }
    }
    let a = &mut v1; let b = &mut t1;
    let a_id = a.identity().node_id.clone();
    let b_id = b.identity().node_id.clone();
    let mut sa = Session::new(a, &b_id);
    let mut sb = Session::new(b, &a_id);
    let mut to_b: Vec<Msg> = sa.start(a).unwrap();
    let mut to_a: Vec<Msg> = Vec::new();
    for _ in 0..20 {
        if to_b.is_empty() && to_a.is_empty() { break; }
        for m in std::mem::take(&mut to_b) {
            eprintln!("A->B {}", short(&m));
            to_a.extend(sb.handle(b, m).unwrap());
        }
        for m in std::mem::take(&mut to_a) {
            eprintln!("B->A {}", short(&m));
            to_b.extend(sa.handle(a, m).unwrap());
        }
    }
    let _ = proto::MAX_FRAME;
}
fn short(m: &Msg) -> String {
    match m {
        Msg::Hello { since, seq, .. } => format!("Hello since={since} seq={seq}"),
        Msg::Certs { certs } => format!("Certs {}", certs.len()),
        Msg::Have { docs, upto } => format!("Have {} upto={upto} {:?}", docs.len(), docs.iter().map(|d| d.id.clone()).collect::<Vec<_>>()),
        Msg::Want { docs } => format!("Want {}", docs.len()),
        Msg::Changes { docs } => format!("Changes {}", docs.len()),
        Msg::Sync { docs } => format!("Sync {}", docs.len()),
        Msg::Idle { upto } => format!("Idle {upto}"),
        Msg::Refused { reason } => format!("Refused {reason}"),
    }
}
