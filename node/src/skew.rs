//! This node's clock against the city's (issue #11).
//!
//! Village laptops with wrong clocks are common (a flat CMOS battery). Events are dated by their
//! author's clock, so a clock two days fast would date a village's events two days late. Each
//! node therefore estimates its offset from the city's clock and dates what it records by the
//! corrected time:
//!
//! - Every `Hello` carries the sender's wall time and the sender's own estimated offset (the city
//!   says 0: it is the reference).
//! - A node takes the estimate from its parent station's nodes (a village from its township, a
//!   township from the city) or from any city node: `offset = local now − (peer now − peer
//!   offset)`. The link's one-way delay is ignored: it is seconds at most, and the warning is
//!   about minutes.
//! - The estimate is a local setting in the store's meta table, never synced; a node that never
//!   met its parent has none and uses its own clock.
//! - [`Node::now_ms`] and [`Node::today`] are the corrected time; the window and `status` warn
//!   when the offset is beyond [`WARN_AFTER_MS`].
//!
//! The order of the log does not depend on any of this: events are ordered by a hybrid logical
//! stamp (`Event::order`), so a wrong clock can neither reorder causally related events nor move
//! another node's dates.

use crate::Result;
use crate::node::Node;
use crate::station::Tier;

/// Beyond this offset from the city's clock the window and `status` warn (5 minutes).
pub const WARN_AFTER_MS: i64 = 5 * 60_000;

const META_OFFSET: &str = "clock.offset_ms";
const META_MEASURED: &str = "clock.measured_at";

/// This node's clock against the city's, as last estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockOffset {
    /// Local clock minus the city's clock, in milliseconds (positive: this clock is fast).
    pub offset_ms: i64,
    /// When it was estimated, by the local clock (ms).
    pub measured_at: i64,
}

impl ClockOffset {
    /// Whether the clock is off by more than [`WARN_AFTER_MS`].
    pub fn warns(&self) -> bool {
        self.offset_ms.abs() > WARN_AFTER_MS
    }

    /// Whether this clock is ahead of the city's.
    pub fn fast(&self) -> bool {
        self.offset_ms > 0
    }

    /// The size of the offset in whole days, hours and minutes, for words.
    pub fn days_hours_minutes(&self) -> (i64, i64, i64) {
        let minutes = self.offset_ms.abs() / 60_000;
        (minutes / 1_440, minutes / 60 % 24, minutes % 60)
    }
}

impl Node {
    /// This node's estimated offset from the city's clock; `None` until it has met a node of its
    /// parent station (the city itself is the reference and has none).
    pub fn clock_offset(&self) -> Option<ClockOffset> {
        let read = |key| {
            self.store
                .meta(key)
                .ok()
                .flatten()
                .and_then(|v| v.parse::<i64>().ok())
        };
        Some(ClockOffset {
            offset_ms: read(META_OFFSET)?,
            measured_at: read(META_MEASURED)?,
        })
    }

    /// What this node tells its peers of its own offset in `Hello`: 0 at the city (the
    /// reference), the estimate elsewhere, nothing before there is one.
    pub fn clock_offset_for_peers(&self) -> Option<i64> {
        match self.station().map(|s| s.tier()) {
            Ok(Tier::City) => Some(0),
            _ => self.clock_offset().map(|o| o.offset_ms),
        }
    }

    /// Now by the city's clock, as estimated here (the local clock when there is no estimate).
    /// Events and intake are dated by it.
    pub fn now_ms(&self) -> i64 {
        let raw = self.clock.now_ms();
        raw - self.clock_offset().map_or(0, |o| o.offset_ms)
    }

    /// Takes the wall time a peer sent in its `Hello`, with the peer's own offset from the city,
    /// and updates this node's estimate when the peer is a reference for it (a node of this
    /// station's parent, or of the city). Returns whether the estimate changed.
    pub fn observe_peer_clock(
        &mut self,
        peer: &str,
        peer_now_ms: i64,
        peer_offset_ms: Option<i64>,
    ) -> Result<bool> {
        let Some(peer_offset) = peer_offset_ms else {
            return Ok(false);
        };
        let me = self.station()?;
        if me.tier() == Tier::City {
            return Ok(false);
        }
        let parent = me.parent.clone();
        let Ok(cert) = self.member(peer) else {
            return Ok(false);
        };
        let peer_station = cert.body.station.code.clone();
        let peer_is_city = self
            .roster()
            .station(&peer_station)
            .is_some_and(|s| s.tier() == Tier::City);
        if peer_station != parent && !peer_is_city {
            return Ok(false);
        }
        let local = self.clock.now_ms();
        let offset = local - peer_now_ms.saturating_sub(peer_offset);
        if self.clock_offset().map(|o| o.offset_ms) == Some(offset) {
            return Ok(false);
        }
        self.store.write(|wtx| {
            wtx.set_meta(META_OFFSET, &offset.to_string())?;
            wtx.set_meta(META_MEASURED, &local.to_string())
        })?;
        if offset.abs() > WARN_AFTER_MS {
            tracing::warn!(
                "this computer's clock is {} s off the city's (estimated from {peer_station}); \
                 dates are recorded by the city's time",
                offset / 1000
            );
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::network::Station;
    use crate::{Clock, InitParams, NewCase};
    use std::path::Path;

    /// 2026-03-02T09:00:00+08:00, a Monday.
    const T0: i64 = 1_772_413_200_000;
    const DAY: i64 = 86_400_000;

    fn station(code: &str, tier: Tier, parent: &str) -> Station {
        Station::new(code, &format!("{code}站"), tier, parent)
    }

    fn join(city: &mut Node, st: Station, dir: &Path, now: i64) -> Node {
        city.enrol_here(st, dir, Clock::Fixed(now)).unwrap()
    }

    /// A city, a township with a right clock and two villages under it, one of them with a
    /// clock two days fast.
    fn county(dir: &Path) -> (Node, Node, Node, Node) {
        let mut city = Node::init(
            &dir.join("city"),
            Clock::Fixed(T0),
            &InitParams::new("测试市", "C", "测试市政务服务中心"),
        )
        .unwrap();
        let town = join(
            &mut city,
            station("T", Tier::Township, "C"),
            &dir.join("t"),
            T0,
        );
        let fast = join(
            &mut city,
            station("V", Tier::Village, "T"),
            &dir.join("v"),
            T0 + 2 * DAY,
        );
        let other = join(
            &mut city,
            station("W", Tier::Village, "T"),
            &dir.join("w"),
            T0,
        );
        (city, town, fast, other)
    }

    #[test]
    fn a_village_two_days_fast_learns_it_from_its_township_and_dates_by_the_city() {
        let dir = tempfile::tempdir().unwrap();
        let (city, mut town, mut fast, other) = county(dir.path());
        assert_eq!(
            city.clock_offset_for_peers(),
            Some(0),
            "the city is the reference"
        );
        assert_eq!(town.clock_offset_for_peers(), None, "not measured yet");
        let city_id = city.identity().node_id.clone();
        let town_id = town.identity().node_id.clone();

        // Before it meets its parent, the fast village dates by its own clock.
        assert_eq!(fast.now_ms(), T0 + 2 * DAY);

        // The township hears the city's hello: its clock is right.
        assert!(town.observe_peer_clock(&city_id, T0, Some(0)).unwrap());
        assert_eq!(town.clock_offset().unwrap().offset_ms, 0);
        assert!(!town.clock_offset().unwrap().warns());

        // Another village is no reference for the fast one; its township is.
        let other_id = other.identity().node_id.clone();
        assert!(!fast.observe_peer_clock(&other_id, T0, Some(0)).unwrap());
        assert!(fast.clock_offset().is_none());
        let offered = town.clock_offset_for_peers();
        assert!(fast.observe_peer_clock(&town_id, T0, offered).unwrap());
        let offset = fast.clock_offset().unwrap();
        assert_eq!(offset.offset_ms, 2 * DAY);
        assert!(offset.warns());
        assert_eq!(fast.now_ms(), T0);
        assert_eq!(fast.today(), crate::clock::china_date(T0));

        // What it takes in is dated by the city's time.
        let view = fast
            .new_case(&NewCase {
                item_code: "TS-004".into(),
                applicant_name: "王秀英".into(),
                operator: "代办员".into(),
                ..NewCase::default()
            })
            .unwrap();
        assert_eq!(view.doc.created_at, T0);
    }

    #[test]
    fn a_peer_without_an_estimate_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (_city, town, mut fast, _other) = county(dir.path());
        let town_id = town.identity().node_id.clone();
        assert!(!fast.observe_peer_clock(&town_id, T0, None).unwrap());
        assert!(fast.clock_offset().is_none());
    }
}
