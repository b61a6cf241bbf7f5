//! Helpers shared by the sync integration tests: real stores, enrolment without a network, and an
//! in-memory driver for two sans-I/O sessions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use yizhan_node::network::Station;
use yizhan_node::query::CaseFilter;
use yizhan_node::{Clock, InitParams, Node};
use yizhan_sync::proto::{self, Msg};
use yizhan_sync::session::Session;

/// 2026-03-02T09:00:00+08:00.
pub const NOW: i64 = 1_772_413_200_000;

/// A station description.
pub fn station(code: &str, tier: &str, parent: &str) -> Station {
    Station {
        code: code.into(),
        name: format!("{code}站"),
        tier: tier.parse().expect("a tier"),
        parent: parent.into(),
    }
}

/// A new network whose city station is `C`.
pub fn city(dir: &Path) -> Node {
    Node::init(
        dir,
        Clock::Fixed(NOW),
        &InitParams {
            network_name: "测试市".into(),
            code: "C".into(),
            name: "测试市政务服务中心".into(),
        },
    )
    .unwrap()
}

/// Enrols a node for `st` at `parent` without a network: invite, redeem, join.
pub fn enrol(parent: &mut Node, st: Station, dir: &Path) -> Node {
    let invite = parent.invite(st, 7).unwrap();
    let secret = yizhan_node::enrol::generate_secret().unwrap();
    let joiner = yizhan_node::enrol::node_id_of(&secret);
    let enrolment = parent.redeem_invite(&invite.secret, &joiner).unwrap();
    Node::join(
        dir,
        Clock::Fixed(NOW),
        &secret,
        &invite.network_id,
        &invite.root_key,
        &enrolment,
    )
    .unwrap()
}

/// What one in-memory session moved.
#[derive(Debug, Default)]
pub struct Link {
    /// Bytes of every frame, both ways.
    pub bytes: usize,
    /// Frames, both ways.
    pub frames: usize,
    /// Turns until both sides were quiet.
    pub rounds: usize,
    /// Round trips as the two sessions counted them (the sum of both sides').
    pub round_trips: usize,
}

/// Runs a one-shot session between `a` (dialer) and `b` through encoded frames until both are
/// idle; the first error either side hits is returned.
pub fn try_sync(a: &mut Node, b: &mut Node) -> Result<Link, String> {
    let a_id = a.identity().node_id.clone();
    let b_id = b.identity().node_id.clone();
    let mut sa = Session::new(a, &b_id);
    let mut sb = Session::new(b, &a_id);
    let mut to_b: Vec<Msg> = sa.start(a).map_err(|e| e.to_string())?;
    let mut to_a: Vec<Msg> = Vec::new();
    let mut link = Link::default();
    for _ in 0..200 {
        if to_b.is_empty() && to_a.is_empty() {
            break;
        }
        link.rounds += 1;
        for m in std::mem::take(&mut to_b) {
            let frame = proto::encode(&m);
            link.bytes += frame.len();
            link.frames += 1;
            to_a.extend(
                sb.handle(b, proto::decode_frame(&frame).unwrap())
                    .map_err(|e| e.to_string())?,
            );
        }
        for m in std::mem::take(&mut to_a) {
            let frame = proto::encode(&m);
            link.bytes += frame.len();
            link.frames += 1;
            to_b.extend(
                sa.handle(a, proto::decode_frame(&frame).unwrap())
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    if !(sa.is_done() && sb.is_done()) {
        return Err(format!("sessions did not finish: {sa:?} {sb:?}"));
    }
    link.round_trips = sa.stats().round_trips + sb.stats().round_trips;
    Ok(link)
}

/// [`try_sync`] that must succeed.
pub fn sync(a: &mut Node, b: &mut Node) -> Link {
    try_sync(a, b).unwrap()
}

/// Every case id a node holds, sorted.
pub fn ids(node: &mut Node) -> Vec<String> {
    let mut v: Vec<String> = node
        .list(&CaseFilter {
            limit: 10_000,
            ..CaseFilter::default()
        })
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    v.sort();
    v
}
