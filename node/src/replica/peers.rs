//! The peers a node remembers and its own sync settings: addresses, watermarks (what each peer
//! has offered and acknowledged), the last contact and error, the per-document sync states, and
//! this machine's listen address, mDNS and relay (local, never synced).

use super::Scope;
use crate::error::{NodeError, Result};
use crate::invalid::Invalid;
use crate::node::Node;
use rusqlite::{OptionalExtension, params};

/// A peer as remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    /// Its node id.
    pub node_id: String,
    /// Addresses to dial (`ip:port`).
    pub addrs: Vec<String>,
    /// Its station, once known.
    pub station: String,
    /// Its `seq` up to which everything it offered is committed here.
    pub received_seq: i64,
    /// This node's `seq` up to which the peer has everything in its scope, as last known.
    pub acked_seq: i64,
    /// The last completed exchange with it (ms): this node held everything it had offered.
    pub last_contact: Option<i64>,
    /// The last error, if the last attempt failed.
    pub last_error: Option<String>,
}

/// A node's own sync settings ([`Node::sync_config`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncConfig {
    /// Where to listen (`IP:PORT`); `None` for the port last listened on, or any.
    pub listen: Option<String>,
    /// Announce and find nodes on the local network with mDNS.
    pub mdns: bool,
    /// The city's relay server URL, if it runs one.
    pub relay: Option<String>,
}

/// What happened in a contact with a peer, for [`Node::record_contact`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// The peer's hello was verified: a connection is up.
    Connected,
    /// An exchange completed: this node holds everything the peer offered, nothing outstanding.
    Synced,
    /// The attempt failed; the text says why (a sync error's kind and detail).
    Failed(&'a str),
}

impl Node {
    /// Every remembered peer.
    pub fn peers(&self) -> Result<Vec<PeerRow>> {
        let conn = self.store_ref().conn();
        let mut stmt = conn.prepare(
            "SELECT node_id, addrs, station, received_seq, last_contact, last_error, acked_seq FROM peers
             ORDER BY station, node_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PeerRow {
                node_id: r.get(0)?,
                addrs: r
                    .get::<_, String>(1)?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                station: r.get(2)?,
                received_seq: r.get(3)?,
                last_contact: r.get(4)?,
                last_error: r.get(5)?,
                acked_seq: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// One remembered peer.
    pub fn peer(&self, node_id: &str) -> Result<Option<PeerRow>> {
        Ok(self.peers()?.into_iter().find(|p| p.node_id == node_id))
    }

    /// Remembers a peer and its addresses (merged with those already known).
    pub fn add_peer(&mut self, node_id: &str, addrs: &[String]) -> Result<()> {
        crate::cert::parse_key(node_id)
            .map_err(|_| NodeError::invalid("node id", Invalid::NotANodeId))?;
        if node_id == self.identity().node_id {
            return Err(NodeError::invalid("node id", Invalid::ThisNode));
        }
        let mut all = self.peer(node_id)?.map(|p| p.addrs).unwrap_or_default();
        for a in addrs {
            if !all.contains(a) {
                all.push(a.clone());
            }
        }
        let now = self.clock().now_ms();
        let station = self.member_station(node_id);
        self.store().conn().execute(
            "INSERT INTO peers (node_id, addrs, station, added_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(node_id) DO UPDATE SET addrs = excluded.addrs,
                 station = CASE WHEN excluded.station = '' THEN peers.station ELSE excluded.station END",
            params![node_id, all.join(","), station, now],
        )?;
        Ok(())
    }

    /// The station of a member node, or "" for a node whose certificate is not known here (the
    /// peers table then keeps the station it had).
    fn member_station(&self, node_id: &str) -> String {
        self.members()
            .get(node_id)
            .map(|c| c.body.station.code.clone())
            .unwrap_or_default()
    }

    /// Records the outcome of a contact with a peer: a verified connection clears the last
    /// error; a completed exchange ([`Contact::Synced`]) is what "last contact" means (this node
    /// was confirmed up to date with the peer then), so a station cut off for an hour shows an
    /// hour-old contact even if a connection was attempted meanwhile.
    pub fn record_contact(&mut self, node_id: &str, contact: Contact<'_>) -> Result<()> {
        let now = self.clock().now_ms();
        let station = self.member_station(node_id);
        let conn = self.store().conn();
        conn.execute(
            "INSERT INTO peers (node_id, station, added_at) VALUES (?1, ?2, ?3) ON CONFLICT(node_id) DO NOTHING",
            params![node_id, station, now],
        )?;
        match contact {
            Contact::Connected => conn.execute(
                "UPDATE peers SET last_error = NULL, station = CASE WHEN ?2 = '' THEN station ELSE ?2 END
                 WHERE node_id = ?1",
                params![node_id, station],
            )?,
            Contact::Synced => conn.execute(
                "UPDATE peers SET last_contact = ?2, last_error = NULL, station = CASE WHEN ?3 = '' THEN station ELSE ?3 END
                 WHERE node_id = ?1",
                params![node_id, now, station],
            )?,
            Contact::Failed(e) => conn.execute("UPDATE peers SET last_error = ?2 WHERE node_id = ?1", params![node_id, e])?,
        };
        Ok(())
    }

    /// Advances the watermark of what has been received from a peer (never moves it back).
    pub fn set_received_seq(&mut self, node_id: &str, seq: i64) -> Result<()> {
        let now = self.clock().now_ms();
        let conn = self.store().conn();
        conn.execute(
            "INSERT INTO peers (node_id, added_at) VALUES (?1, ?2) ON CONFLICT(node_id) DO NOTHING",
            params![node_id, now],
        )?;
        conn.execute(
            "UPDATE peers SET received_seq = max(received_seq, ?2) WHERE node_id = ?1",
            params![node_id, seq],
        )?;
        Ok(())
    }

    /// Records how far a peer has everything this node wrote in its scope (never moves back).
    pub fn set_acked_seq(&mut self, node_id: &str, seq: i64) -> Result<()> {
        self.store().conn().execute(
            "UPDATE peers SET acked_seq = max(acked_seq, ?2) WHERE node_id = ?1",
            params![node_id, seq],
        )?;
        Ok(())
    }

    /// How many documents written here a peer has not been sent yet (in its scope).
    pub fn pending_for(&self, peer: &PeerRow) -> Result<usize> {
        let scope = if peer.station.is_empty() {
            Scope::Stations(Vec::new())
        } else {
            self.scope_of(&peer.station)
        };
        Ok(self.changed_since(peer.acked_seq, &scope, 1_000_000)?.len())
    }

    /// The persisted Automerge sync state with a peer for a document, if any.
    pub fn sync_state(&self, peer: &str, doc_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .store_ref()
            .conn()
            .query_row(
                "SELECT state FROM sync_states WHERE peer = ?1 AND doc_id = ?2",
                params![peer, doc_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Persists the Automerge sync state with a peer for a document.
    pub fn set_sync_state(&mut self, peer: &str, doc_id: &str, state: &[u8]) -> Result<()> {
        self.store().conn().execute(
            "INSERT INTO sync_states (peer, doc_id, state) VALUES (?1, ?2, ?3)
             ON CONFLICT(peer, doc_id) DO UPDATE SET state = excluded.state",
            params![peer, doc_id, state],
        )?;
        Ok(())
    }

    /// This node's own sync settings (where it listens, LAN discovery, the city's relay): local
    /// to this machine, never synced. Unset fields are `None`.
    pub fn sync_config(&self) -> Result<SyncConfig> {
        let store = self.store_ref();
        Ok(SyncConfig {
            listen: store.meta("sync.listen")?.filter(|s| !s.is_empty()),
            mdns: store.meta("sync.mdns")?.is_some_and(|s| s == "1"),
            relay: store.meta("sync.relay")?.filter(|s| !s.is_empty()),
        })
    }

    /// Saves this node's sync settings. The listen address must be `IP:PORT` and the relay an
    /// `http(s)://` URL; a refused value writes nothing.
    pub fn set_sync_config(&mut self, config: &SyncConfig) -> Result<()> {
        if let Some(l) = &config.listen
            && l.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(NodeError::invalid("listen address", Invalid::NotAnAddress));
        }
        if let Some(r) = &config.relay
            && !(r.starts_with("http://") || r.starts_with("https://"))
        {
            return Err(NodeError::invalid("relay", Invalid::NotAUrl));
        }
        let listen = config.listen.clone().unwrap_or_default();
        let mdns = if config.mdns { "1" } else { "0" };
        let relay = config.relay.clone().unwrap_or_default();
        self.store().write(|wtx| {
            wtx.set_meta("sync.listen", &listen)?;
            wtx.set_meta("sync.mdns", mdns)?;
            wtx.set_meta("sync.relay", &relay)
        })
    }

    /// Forgets the watermark for a peer, so the next sync reconciles everything in scope.
    pub fn reset_received_seq(&mut self, node_id: &str) -> Result<()> {
        self.store().conn().execute(
            "UPDATE peers SET received_seq = 0 WHERE node_id = ?1",
            [node_id],
        )?;
        Ok(())
    }
}
