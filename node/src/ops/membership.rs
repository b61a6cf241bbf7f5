//! Membership: verified certificates, revocation (the city any node, a township its villages'),
//! this node's secret key (which never leaves it) and the addresses `serve` listens on.

use crate::cert::Cert;
use crate::error::{NodeError, Result};
use crate::failpoint;
use crate::invalid::Invalid;
use crate::network::{ROSTER_ID, Roster};
use crate::node::Node;
use crate::ops::check_text;
use crate::ops::network_edit::{adopt_stations, edit_network};
use crate::refusal::Refusal;
use crate::station::Tier;
use crate::store::WriteTx;

/// Implements [`Node::member`].
pub(crate) fn member<'a>(node: &'a Node, node_id: &str) -> Result<&'a Cert> {
    member_of(&node.net.members, &node.net.roster, node_id)
}

/// The certificate of a node that may take part, by the given certificates and roster: known,
/// verified and not revoked (also what the workers that check a received batch ask).
pub(crate) fn member_of<'a>(
    members: &'a crate::cert::Members,
    roster: &Roster,
    node_id: &str,
) -> Result<&'a Cert> {
    if roster.is_revoked(node_id) {
        return Err(NodeError::BadCertificate(format!(
            "node {} has been revoked",
            crate::cert::short(node_id)
        )));
    }
    members.get(node_id).ok_or_else(|| {
        NodeError::BadCertificate(format!(
            "node {} is not a member",
            crate::cert::short(node_id)
        ))
    })
}

/// Implements [`Node::add_certs`].
pub(crate) fn add_certs(
    node: &mut Node,
    certs: Vec<Cert>,
) -> Result<(usize, Vec<(Cert, NodeError)>)> {
    node.refresh()?;
    let mut members = node.net.members.clone();
    let before = members.certs().len();
    let failed = members.add_all(certs);
    let added: Vec<Cert> = members
        .certs()
        .values()
        .filter(|c| node.net.members.get(&c.body.node_id) != Some(*c))
        .cloned()
        .collect();
    if !added.is_empty() {
        node.store.write(|wtx| {
            for c in &added {
                store_cert(wtx, c)?;
            }
            Ok(())
        })?;
        node.refresh()?;
    }
    Ok((members.certs().len() - before, failed))
}

/// Implements [`Node::secret_key`].
pub(crate) fn secret_key(node: &Node) -> Result<[u8; 32]> {
    let hex_key = node
        .store
        .meta("secret_key")?
        .ok_or_else(|| NodeError::NotAStore {
            path: node.store.path().to_path_buf(),
            reason: "it has no secret key".into(),
        })?;
    hex::decode(hex_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| NodeError::NotAStore {
            path: node.store.path().to_path_buf(),
            reason: "its secret key is malformed".into(),
        })
}

/// Implements [`Node::listen_addrs`].
pub(crate) fn listen_addrs(node: &Node) -> Result<Vec<String>> {
    Ok(node
        .store
        .meta("listen_addrs")?
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// Implements [`Node::set_listen_addrs`].
pub(crate) fn set_listen_addrs(node: &mut Node, addrs: &[String]) -> Result<()> {
    node.store
        .write(|wtx| wtx.set_meta("listen_addrs", &addrs.join(",")))
}

/// Implements [`Node::revoke`].
pub(crate) fn revoke(node: &mut Node, node_id: &str, reason: &str) -> Result<()> {
    node.refresh()?;
    crate::cert::parse_key(node_id)
        .map_err(|_| NodeError::invalid("node id", Invalid::NotANodeId))?;
    if node_id == node.identity.node_id {
        return Err(NodeError::invalid("node id", Invalid::RevokeSelf));
    }
    if node.net.members.get(node_id).is_none() && !node.net.roster.members.contains_key(node_id) {
        return Err(NodeError::invalid(
            "node id",
            Invalid::NotAMember(crate::cert::short(node_id).to_string()),
        ));
    }
    check_text("reason", reason, 500)?;
    let me = node.station()?.clone();
    match me.tier() {
        Tier::City => {}
        // A township revokes the nodes it is the parent of, and changes nothing else.
        Tier::Township => {
            let target = node
                .net
                .members
                .get(node_id)
                .map(|c| c.body.station.clone());
            match target {
                Some(st) if st.code == me.code || st.parent == me.code => {}
                _ => {
                    return Err(NodeError::not_allowed(
                        "revoke",
                        Refusal::TownshipRevokeScope,
                    ));
                }
            }
        }
        Tier::Village => {
            return Err(NodeError::not_allowed(
                "revoke",
                Refusal::VillageMayNotRevoke,
            ));
        }
    }
    let revocation = crate::network::Revocation {
        by: node.identity.node_id.clone(),
        at: node.clock.now_ms(),
        reason: reason.to_string(),
    };
    let members = &node.net.members;
    failpoint::hit(failpoint::NETWORK_EDIT_BEFORE_WRITE);
    node.store.write(|wtx| {
        edit_network(wtx, ROSTER_ID, |roster: &mut Roster| {
            // The city adopts into the roster the stations it knows from certificates, as it
            // does when adding a station; a township changes nothing but the revocation.
            if me.tier() == Tier::City {
                adopt_stations(roster, members);
            }
            roster.revoked.insert(node_id.to_string(), revocation);
            Ok(())
        })
        .map(|_| ())
    })?;
    node.refresh()
}

/// Stores a verified certificate and bumps the `certs` counter so other processes re-read them.
pub(crate) fn store_cert(wtx: &mut WriteTx<'_>, cert: &Cert) -> Result<()> {
    wtx.sql().execute(
        "INSERT OR REPLACE INTO certs (node_id, station, cert) VALUES (?1, ?2, ?3)",
        rusqlite::params![cert.body.node_id, cert.body.station.code, cert.to_json()],
    )?;
    wtx.sql().execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'certs'",
        [],
    )?;
    Ok(())
}
