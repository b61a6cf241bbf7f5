//! The county kit (issue #11): a network's stations as real nodes in this process — real SQLite
//! stores on their store threads, real iroh endpoints on 127.0.0.1, enrolled through tickets
//! redeemed over the network exactly as `yizhan invite` / `yizhan join` do it — with every
//! child–parent link a continuous session that can be cut and healed, and a seeded workload.
//!
//! One kit serves the demo county (`yizhan demo`), the scenarios, the benchmarks and the tests,
//! so that a county is built one way. It links no test-only crate, so the `yizhan` binary can
//! depend on it.
//!
//! A link is cut by stopping the child's session task (the connection drops, the parent's side
//! ends) and healed by starting it again; the child then catches up from its watermarks. Cutting
//! the session rather than the packets is honest on one loopback interface: iroh would route
//! around a packet filter on the same host, so link *quality* (delay, loss, bandwidth) needs the
//! scenarios' namespace lab.
//!
//! The county is built inside a tokio runtime and remembers it: links can then be switched from
//! any thread (the window's, a test's).

mod member;
pub mod rng;
pub mod staff;
pub mod workload;

pub use member::Member;
pub use rng::Rng;

use anyhow::{Result, anyhow};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tokio::task::JoinHandle;
use yizhan_node::handle::NodeThread;
use yizhan_node::network::Station;
use yizhan_node::{Clock, InitParams, Node};

/// One station of a layout: code, name, tier, parent code (empty for the city).
pub type StationRow = (&'static str, &'static str, &'static str, &'static str);

/// A county's stations, each parent before its children; the first is the city.
pub type Layout = &'static [StationRow];

/// The one county shape of the scenarios, the tests and the demo: a city, two townships, two
/// villages under each. Each row: code, tier, parent, the name in the scenarios, the name in the
/// demo (a county of its own, so a screenshot never reads like a scenario's log).
#[rustfmt::skip]
const STATIONS: [(&str, &str, &str, &str, &str); 7] = [
    ("C", "city", "", "市政务服务中心", "清河市政务服务中心"),
    ("T1", "township", "C", "北格镇便民服务中心", "东岭镇便民服务中心"),
    ("T2", "township", "C", "西温庄乡便民服务中心", "西湾乡便民服务中心"),
    ("V11", "village", "T1", "北格村便民服务站", "桃园村便民服务站"),
    ("V12", "village", "T1", "张花村便民服务站", "柳树村便民服务站"),
    ("V21", "village", "T2", "西温庄村便民服务站", "石桥村便民服务站"),
    ("V22", "village", "T2", "郝家堡村便民服务站", "河口村便民服务站"),
];

/// The county shape with the names of the scenarios (`demo == false`) or of the demo.
const fn named(demo: bool) -> [StationRow; 7] {
    let mut rows = [("", "", "", ""); 7];
    let mut i = 0;
    while i < rows.len() {
        let (code, tier, parent, scenario, shown) = STATIONS[i];
        rows[i] = (code, if demo { shown } else { scenario }, tier, parent);
        i += 1;
    }
    rows
}

/// The county of the scenarios and tests.
pub const COUNTY: Layout = &named(false);

/// The county of `yizhan demo`: the same stations under the names of an imagined county.
pub const DEMO_COUNTY: Layout = &named(true);

/// The roster entry of a layout row; a tier the layout misspells is an error naming it.
pub fn station_of(row: &StationRow) -> Result<Station> {
    let &(code, name, tier, parent) = row;
    Ok(Station {
        code: code.into(),
        name: name.into(),
        tier: tier.parse()?,
        parent: parent.into(),
    })
}

/// One link, the child dialing its parent.
#[derive(Debug)]
pub struct Link {
    /// The dialing member.
    pub child: usize,
    /// The member it dials.
    pub parent: usize,
    session: Option<JoinHandle<()>>,
}

impl Link {
    /// Whether the link is up (its session task runs; the session itself may be redialing).
    pub fn is_up(&self) -> bool {
        self.session.is_some()
    }
}

/// A running county.
#[derive(Debug)]
pub struct County {
    /// Where the stores live, one directory per member.
    pub dir: PathBuf,
    /// Every node, the city first.
    pub members: Vec<Member>,
    /// Every link.
    pub links: Vec<Link>,
    /// Members taken out of the county (revoked): no link, skipped by [`County::active`].
    pub retired: BTreeSet<usize>,
    layout: Layout,
    clock: Clock,
    rt: tokio::runtime::Handle,
    closed: bool,
}

impl County {
    /// Builds `layout` under `dir` on `clock`: the city initialises the network
    /// `network_name`, every other station is enrolled at its parent through a ticket, and every
    /// link is up. Must be called inside a tokio runtime, which the county keeps using.
    pub async fn build(
        dir: &Path,
        layout: Layout,
        network_name: &str,
        clock: Clock,
    ) -> Result<County> {
        let (first, rest) = layout
            .split_first()
            .ok_or_else(|| anyhow!("an empty layout"))?;
        let city = Node::init(
            &dir.join(first.0),
            clock,
            &InitParams::new(network_name, first.0, first.1),
        )?;
        let mut county = County {
            dir: dir.to_path_buf(),
            members: vec![Member::start(first.0, city).await?],
            links: Vec::new(),
            retired: BTreeSet::new(),
            layout,
            clock,
            rt: tokio::runtime::Handle::current(),
            closed: false,
        };
        for &(code, _, _, parent) in rest {
            county.add(code, code, parent).await?;
        }
        Ok(county)
    }

    /// Enrols a node `name` of the layout's station `code` at the member named `at` (through a
    /// ticket, over the network), and links it to `at`.
    pub async fn add(&mut self, name: &str, code: &str, at: &str) -> Result<usize> {
        let row = self
            .layout
            .iter()
            .find(|s| s.0 == code)
            .ok_or_else(|| anyhow!("no station {code} in the layout"))?;
        let p = self.index(at)?;
        let member = self.members[p]
            .enrol(&self.dir.join(name), name, &station_of(row)?, self.clock)
            .await?;
        self.members.push(member);
        let child = self.members.len() - 1;
        self.links.push(Link {
            child,
            parent: p,
            session: None,
        });
        self.set_link(self.links.len() - 1, true);
        Ok(child)
    }

    /// The layout the county was built from.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// A member by name.
    pub fn index(&self, name: &str) -> Result<usize> {
        self.members
            .iter()
            .position(|m| m.name == name)
            .ok_or_else(|| anyhow!("no member {name}"))
    }

    /// The link whose child is `name`.
    pub fn link_of(&self, name: &str) -> Result<usize> {
        let c = self.index(name)?;
        self.links
            .iter()
            .position(|l| l.child == c)
            .ok_or_else(|| anyhow!("{name} has no link"))
    }

    /// Takes a member out of the county: its link is cut for good.
    pub fn retire(&mut self, m: usize) {
        for l in 0..self.links.len() {
            if self.links[l].child == m {
                self.set_link(l, false);
            }
        }
        self.retired.insert(m);
    }

    /// Cuts or heals a link; from any thread.
    pub fn set_link(&mut self, l: usize, up: bool) {
        let Some(link) = self.links.get_mut(l) else {
            return;
        };
        if up && (self.closed || self.retired.contains(&link.child)) {
            return;
        }
        match (up, link.session.take()) {
            (true, None) => {
                let child = self.members[link.child].net.clone();
                let parent = &self.members[link.parent];
                let (peer, addrs) = (parent.id.clone(), parent.addrs.clone());
                link.session = Some(
                    self.rt
                        .spawn(async move { child.keep_synced(peer, addrs).await }),
                );
            }
            (true, Some(running)) => link.session = Some(running),
            // Dropping the session's future drops its connection: the parent's side ends too.
            (false, Some(running)) => running.abort(),
            (false, None) => {}
        }
    }

    /// Cuts or heals every link.
    pub fn set_all(&mut self, up: bool) {
        for l in 0..self.links.len() {
            self.set_link(l, up);
        }
    }

    /// The members still in the county, with their indexes.
    pub fn active(&self) -> impl Iterator<Item = (usize, &Member)> {
        self.members
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.retired.contains(i))
    }

    /// Whether [`County::close`] has run.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Marks the county closed (its endpoints were shut down by the caller, one by one) and cuts
    /// every link.
    pub fn close(&mut self) {
        self.set_all(false);
        self.closed = true;
    }

    /// Takes every member out, dropping its store handle and endpoint, and returns the store
    /// threads to wait for (once the caller's own handles are gone).
    pub fn stop(&mut self) -> Vec<NodeThread> {
        self.close();
        self.members.drain(..).map(Member::stop).collect()
    }

    /// Stops every session and endpoint (the store threads end when the members are dropped).
    pub async fn shutdown(&mut self) {
        self.set_all(false);
        if !self.closed {
            self.closed = true;
            for m in &self.members {
                m.net.shutdown().await;
            }
        }
    }
}
