//! Enrolment tickets: what `yizhan invite` prints and `yizhan join` takes.
//!
//! A ticket carries everything a new machine needs to reach its parent and to trust it: the
//! network's id and root key, the parent's node id and addresses, the station it will belong to,
//! and the one-time secret. It is JSON, base64url-encoded behind a `yz1` prefix so that it
//! survives being pasted into a chat or a terminal.

use crate::SyncError;
use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "yz1";

/// An enrolment ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The network's id.
    pub network_id: String,
    /// The network's name (for display).
    pub network_name: String,
    /// The network's root key (hex).
    pub root_key: String,
    /// The inviting node's id.
    pub inviter: String,
    /// Addresses of the inviting node (`ip:port`).
    pub addrs: Vec<String>,
    /// The station code the new node will belong to.
    pub station: String,
    /// Its name.
    pub station_name: String,
    /// Its tier (a ticket naming an unknown tier does not decode).
    pub tier: yizhan_node::station::Tier,
    /// The one-time secret.
    pub secret: String,
    /// When it expires (ms since the Unix epoch).
    pub expires_at: i64,
}

impl Ticket {
    /// Invites a new node of `station` at `node` (valid `valid_days` days) and makes the ticket
    /// to hand over, naming where `node` can be reached (`addrs`): what `yizhan invite`, the
    /// sync panel's invite tool and the county kit all do.
    pub fn invite(
        node: &mut yizhan_node::Node,
        station: yizhan_node::network::Station,
        valid_days: u32,
        addrs: Vec<String>,
    ) -> yizhan_node::Result<Ticket> {
        let inv = node.invite(station, valid_days)?;
        Ok(Ticket::from_invite(
            &inv,
            &node.roster().network_name,
            addrs,
        ))
    }

    /// The ticket of an invitation made at a node of the network `network_name`.
    pub fn from_invite(
        inv: &yizhan_node::enrol::Invite,
        network_name: &str,
        addrs: Vec<String>,
    ) -> Ticket {
        Ticket {
            network_id: inv.network_id.clone(),
            network_name: network_name.to_string(),
            root_key: inv.root_key.clone(),
            inviter: inv.inviter.clone(),
            addrs,
            station: inv.station.code.clone(),
            station_name: inv.station.name.clone(),
            tier: inv.station.tier,
            secret: inv.secret.clone(),
            expires_at: inv.expires_at,
        }
    }

    /// The text form.
    pub fn encode(&self) -> String {
        format!(
            "{PREFIX}{}",
            BASE64URL_NOPAD.encode(serde_json::to_string(self).unwrap_or_default().as_bytes())
        )
    }

    /// Parses the text form.
    pub fn decode(text: &str) -> Result<Ticket, SyncError> {
        let text = text.trim();
        let body = text.strip_prefix(PREFIX).ok_or_else(|| {
            SyncError::BadTicket("it does not start with yz1 (copy the whole ticket)".into())
        })?;
        if body.len() > 16 * 1024 {
            return Err(SyncError::BadTicket("it is too long".into()));
        }
        let bytes = BASE64URL_NOPAD
            .decode(body.as_bytes())
            .map_err(|_| SyncError::BadTicket("it is damaged (not base64)".into()))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SyncError::BadTicket(format!("it is damaged ({e})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        Ticket {
            network_id: "n".into(),
            network_name: "测试市".into(),
            root_key: "00".repeat(32),
            inviter: "11".repeat(32),
            addrs: vec!["127.0.0.1:4433".into()],
            station: "V01".into(),
            station_name: "张村".into(),
            tier: yizhan_node::station::Tier::Village,
            secret: "ab".repeat(32),
            expires_at: 1,
        }
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let t = ticket();
        let text = t.encode();
        assert!(text.starts_with("yz1"));
        assert_eq!(Ticket::decode(&format!("  {text}\n")).unwrap(), t);
        assert!(
            Ticket::decode("hello")
                .unwrap_err()
                .to_string()
                .contains("yz1")
        );
        assert!(Ticket::decode(&text[..text.len() - 5]).is_err());
        assert!(
            Ticket::decode("yz1!!!!")
                .unwrap_err()
                .to_string()
                .contains("damaged")
        );
    }
}
