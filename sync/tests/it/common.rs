//! Helpers shared by the sync integration tests: real stores, enrolment without a network, seeded
//! text, and one-shot exchanges through the shared in-memory driver (`yizhan_sync::testing`).

use std::path::Path;
use tempfile::TempDir;
use yizhan_node::network::Station;
use yizhan_node::query::CaseFilter;
use yizhan_node::{Clock, InitParams, NewCase, Node};
use yizhan_sync::testing::{Link, Pair};

/// 2026-03-02T09:00:00+08:00, a Monday.
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
        &InitParams::new("测试市", "C", "测试市政务服务中心"),
    )
    .unwrap()
}

/// Enrols a node of station `code` at `parent` without a network: invite, redeem, join. The
/// station is `parent`'s own (a second node of it) or a new one directly below it.
pub fn enrol(parent: &mut Node, code: &str, tier: &str, dir: &Path) -> Node {
    let here = parent.identity().station.clone();
    let above = if code == here {
        parent
            .roster()
            .station(&here)
            .map(|s| s.parent.clone())
            .unwrap_or_default()
    } else {
        here
    };
    parent
        .enrol_here(station(code, tier, &above), dir, Clock::Fixed(NOW))
        .unwrap()
}

/// A network in a new temporary directory, returned first so that it outlives the nodes: the
/// city `C`, then each `(code, tier, at)` enrolled in order by the first node of station `at` (a
/// second node of that station when `code == at`).
pub fn network<const N: usize>(enrolled: [(&str, &str, &str); N]) -> (TempDir, Node, [Node; N]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut nodes = vec![city(&dir.join("c"))];
    for (i, (code, tier, at)) in enrolled.into_iter().enumerate() {
        let parent = nodes
            .iter()
            .position(|n| n.identity().station == at)
            .unwrap_or_else(|| panic!("no node of station {at} enrols {code}"));
        let node_dir = dir.join(format!("{}-{i}", code.to_lowercase()));
        let node = enrol(&mut nodes[parent], code, tier, &node_dir);
        nodes.push(node);
    }
    let city = nodes.remove(0);
    let Ok(enrolled) = nodes.try_into() else {
        unreachable!("one node for each enrolled station")
    };
    (tmp, city, enrolled)
}

/// Takes in `n` cases of item TS-004 at `node`, for applicants named `{prefix}{i}`.
pub fn take_in(node: &mut Node, n: usize, prefix: &str) {
    let batch: Vec<NewCase> = (0..n)
        .map(|i| NewCase {
            item_code: "TS-004".into(),
            applicant_name: format!("{prefix}{i}"),
            ..NewCase::default()
        })
        .collect();
    node.new_cases(&batch).unwrap();
}

/// A new case of `item` for `name` at `node`; returns its id.
pub fn new_case(node: &mut Node, item: &str, name: &str, delegated: bool) -> String {
    node.new_case(&NewCase {
        item_code: item.into(),
        applicant_name: name.into(),
        delegated,
        ..NewCase::default()
    })
    .unwrap()
    .doc
    .id
}

/// Runs a one-shot exchange between `a` (dialer) and `b` (acceptor, continuous as over iroh) in
/// turns until nothing is in flight; the first error either side hits is returned.
pub fn try_sync(a: &mut Node, b: &mut Node) -> Result<Link, String> {
    let mut pair = Pair::one_shot(a, b).map_err(|e| e.to_string())?;
    pair.run(a, b).map_err(|e| e.to_string())
}

/// [`try_sync`] that must succeed.
pub fn sync(a: &mut Node, b: &mut Node) -> Link {
    try_sync(a, b).unwrap()
}

/// Every case id a node holds, sorted.
pub fn ids(node: &mut Node) -> Vec<String> {
    let mut v: Vec<String> = node
        .list(&CaseFilter {
            limit: 100_000,
            ..CaseFilter::default()
        })
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    v.sort();
    v
}

/// Seeded text that does not compress: random CJK characters (3 bytes each in UTF-8).
pub struct Text(pub u64);

impl Text {
    /// The next `chars` characters.
    pub fn take(&mut self, chars: usize) -> String {
        (0..chars)
            .map(|_| {
                // xorshift64*
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32;
                char::from_u32(0x4e00 + (r % 0x51a5) as u32).unwrap()
            })
            .collect()
    }
}
