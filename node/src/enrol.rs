//! Enrolment: a parent invites a new node, the new node joins.
//!
//! `invite` at a parent reserves a station (new or existing) and an ordinal, and returns a
//! one-time secret that expires; only its hash is stored. The new machine makes its own key (its
//! secret key never leaves it), presents the secret and its node id, and the parent answers with a
//! certificate signed by the parent, the certificates it knows (so the chain to the root can be
//! checked) and the network documents. `join` builds the new node's store from that answer.
//!
//! The transport (iroh, a ticket string) is `yizhan-sync`'s business; this module only keeps the
//! books.

use crate::cert::{Cert, CertBody, Members, check_may_issue};
use crate::clock::Clock;
use crate::error::{NodeError, Result};
use crate::invalid::Invalid;
use crate::network::{NETWORK_DOC_IDS, ROSTER_ID, Roster, Station, validate_code};
use crate::node::Node;
use crate::refusal::Refusal;
use crate::store::{DocType, Store};
use automerge::Automerge;
use ed25519_dalek::SigningKey;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::path::Path;

/// An invitation as created at the parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// The one-time secret (hex); only its hash is kept at the parent.
    pub secret: String,
    /// The station the new node will belong to.
    pub station: Station,
    /// The new node's ordinal at that station.
    pub ordinal: u32,
    /// When it expires (ms).
    pub expires_at: i64,
    /// The network's id.
    pub network_id: String,
    /// The network's root key.
    pub root_key: String,
    /// The inviting node.
    pub inviter: String,
}

/// What a parent sends a joining node.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The new node's certificate.
    pub cert: Cert,
    /// Certificates the parent knows (including its own chain).
    pub certs: Vec<Cert>,
    /// The network documents, saved.
    pub network_docs: Vec<(String, Vec<u8>)>,
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

/// Makes a new node secret key.
pub fn generate_secret() -> Result<[u8; 32]> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| NodeError::Io {
        path: "(system random source)".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(b)
}

/// The node id (hex public key) of a secret key.
pub fn node_id_of(secret: &[u8; 32]) -> String {
    hex::encode(SigningKey::from_bytes(secret).verifying_key().to_bytes())
}

impl Node {
    /// Creates an invitation for a node of `station` (an existing station, or a new one to
    /// create), valid for `valid_days`.
    pub fn invite(&mut self, station: Station, valid_days: u32) -> Result<Invite> {
        self.refresh()?;
        validate_code("code", &station.code)?;
        if !(1..=90).contains(&valid_days) {
            return Err(NodeError::invalid(
                "valid days",
                Invalid::Between { min: 1, max: 90 },
            ));
        }
        let me = self.station()?.clone();
        let station = match self.roster().station(&station.code) {
            Some(existing) => {
                if existing.tier != station.tier || existing.parent != station.parent {
                    return Err(NodeError::invalid(
                        "code",
                        Invalid::StationExistsAs {
                            code: existing.code.clone(),
                            tier: existing.tier.as_str().to_string(),
                            parent: existing.parent.clone(),
                        },
                    ));
                }
                existing.clone()
            }
            None => {
                // Validate the new station exactly as the roster would.
                let mut probe = self.roster().clone();
                probe.add_station(station.clone())?;
                station
            }
        };
        check_may_issue(&me, &station).map_err(|_| {
            NodeError::not_allowed(
                "invite",
                Refusal::MayNotEnrol {
                    issuer_tier: me.tier(),
                    issuer: me.code.clone(),
                    subject_tier: station.tier(),
                    subject: station.code.clone(),
                },
            )
        })?;
        // The city records a new station in the roster at once; a township's new village is
        // known from its certificate until the city adds it.
        if me.tier() == crate::station::Tier::City && self.roster().station(&station.code).is_none()
        {
            self.add_station(station.clone())?;
        }
        let secret = hex::encode(generate_secret()?);
        let now = self.clock().now_ms();
        let expires_at = now + i64::from(valid_days) * 86_400_000;
        let from_certs = self
            .members()
            .certs()
            .values()
            .filter(|c| c.body.station.code == station.code)
            .map(|c| c.body.ordinal)
            .max();
        let conn = self.store().conn();
        let from_invites: Option<u32> = conn
            .query_row(
                "SELECT max(ordinal) FROM invites WHERE station = ?1",
                [&station.code],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let ordinal = from_certs.unwrap_or(0).max(from_invites.unwrap_or(0)) + 1;
        let station_json = serde_json::to_string(&station).unwrap_or_default();
        conn.execute(
            "INSERT INTO invites (secret_hash, station, ordinal, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![hash_secret(&secret), station_json, ordinal, expires_at, now],
        )?;
        Ok(Invite {
            secret,
            station,
            ordinal,
            expires_at,
            network_id: self.identity().network_id.clone(),
            root_key: self.members().root_key().to_string(),
            inviter: self.identity().node_id.clone(),
        })
    }

    /// Redeems an invitation for the node `joiner`: checks the secret, marks it used, issues the
    /// certificate. All in one transaction; a refused redemption changes nothing.
    pub fn redeem_invite(&mut self, secret: &str, joiner: &str) -> Result<Enrolment> {
        self.refresh()?;
        crate::cert::parse_key(joiner)?;
        let now = self.clock().now_ms();
        let hash = hash_secret(secret);
        let row: Option<(String, u32, i64, Option<String>)> = self
            .store()
            .conn()
            .query_row(
                "SELECT station, ordinal, expires_at, used_by FROM invites WHERE secret_hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (station_json, ordinal, expires_at, used_by) =
            row.ok_or_else(|| NodeError::not_allowed("join", Refusal::TicketUnknown))?;
        if used_by.is_some_and(|by| by != joiner) {
            return Err(NodeError::not_allowed("join", Refusal::TicketUsed));
        }
        if now > expires_at {
            return Err(NodeError::not_allowed("join", Refusal::TicketExpired));
        }
        let station: Station =
            serde_json::from_str(&station_json).map_err(|e| NodeError::CorruptDocument {
                doc: "invites".into(),
                reason: e.to_string(),
            })?;
        let signing = SigningKey::from_bytes(&self.secret_key()?);
        let cert = Cert::issue(
            &signing,
            CertBody {
                network_id: self.identity().network_id.clone(),
                node_id: joiner.to_string(),
                station,
                ordinal,
                issuer: String::new(),
                issued_at: now,
            },
        );
        self.members().clone().verify(&cert)?;
        let mut network_docs = Vec::new();
        for id in NETWORK_DOC_IDS {
            if let Some(bytes) = self.with_doc(id, |d| Ok(d.save()))? {
                network_docs.push((id.to_string(), bytes));
            }
        }
        self.store().conn().execute(
            "UPDATE invites SET used_by = ?2 WHERE secret_hash = ?1",
            params![hash, joiner],
        )?;
        self.add_certs(vec![cert.clone()])?;
        let certs = self.members().certs().values().cloned().collect();
        Ok(Enrolment {
            cert,
            certs,
            network_docs,
        })
    }

    /// Enrols a new node of `station` in `dir` on this machine, without a network: the invite
    /// here, the new node's own key, the redemption and the join, the same steps a ticket takes
    /// over the network. For tests, local tools and in-process counties; the invitation is
    /// valid for a day and used at once.
    pub fn enrol_here(&mut self, station: Station, dir: &Path, clock: Clock) -> Result<Node> {
        let invite = self.invite(station, 1)?;
        let secret = generate_secret()?;
        let enrolment = self.redeem_invite(&invite.secret, &node_id_of(&secret))?;
        Node::join(
            dir,
            clock,
            &secret,
            &invite.network_id,
            &invite.root_key,
            &enrolment,
        )
    }

    /// Creates the store of a node that joins with `enrolment`, under `secret`. `root_key` and
    /// `network_id` come from the ticket and must match what the parent sent.
    pub fn join(
        dir: &Path,
        clock: Clock,
        secret: &[u8; 32],
        network_id: &str,
        root_key: &str,
        enrolment: &Enrolment,
    ) -> Result<Node> {
        let node_id = node_id_of(secret);
        let bad = |why: &str| NodeError::BadCertificate(why.to_string());
        if enrolment.cert.body.node_id != node_id {
            return Err(bad("the parent certified another node"));
        }
        if enrolment.cert.body.network_id != network_id {
            return Err(bad("the parent belongs to another network"));
        }
        let mut members = Members::new(network_id, root_key);
        let failed = members.add_all(enrolment.certs.clone());
        if let Some((_, e)) = failed.into_iter().next() {
            return Err(e);
        }
        members.verify(&enrolment.cert)?;
        let mut docs = Vec::new();
        let mut budget = crate::inflate::Budget::default();
        for (id, bytes) in &enrolment.network_docs {
            if !NETWORK_DOC_IDS.contains(&id.as_str()) {
                return Err(NodeError::Rejected {
                    doc: id.clone(),
                    reason: "not a network document".into(),
                });
            }
            budget.check(bytes).map_err(|reason| NodeError::Rejected {
                doc: id.clone(),
                reason,
            })?;
            let doc = Automerge::load(bytes).map_err(|e| NodeError::Rejected {
                doc: id.clone(),
                reason: e.to_string(),
            })?;
            docs.push((id.clone(), doc));
        }
        if docs.len() != NETWORK_DOC_IDS.len() {
            return Err(NodeError::Rejected {
                doc: "network".into(),
                reason: "a network document is missing".into(),
            });
        }
        let roster_doc = docs.iter().find(|(id, _)| id == ROSTER_ID).map(|(_, d)| d);
        let roster: Roster = match roster_doc {
            Some(d) => autosurgeon::hydrate(d).map_err(|e| NodeError::Rejected {
                doc: ROSTER_ID.into(),
                reason: e.to_string(),
            })?,
            None => {
                return Err(NodeError::Rejected {
                    doc: ROSTER_ID.into(),
                    reason: "missing".into(),
                });
            }
        };
        if roster.root_key != root_key || roster.network_id != network_id {
            return Err(bad("the roster does not match the ticket's network"));
        }
        let cert = enrolment.cert.clone();
        let actor = automerge::ActorId::from(hex::decode(&node_id).unwrap_or_default());
        Store::create_with(dir, actor, |wtx| {
            wtx.set_meta("node_id", &node_id)?;
            wtx.set_meta("secret_key", &hex::encode(secret))?;
            wtx.set_meta("station", &cert.body.station.code)?;
            wtx.set_meta("ordinal", &cert.body.ordinal.to_string())?;
            wtx.set_meta("network_id", network_id)?;
            wtx.set_meta("root_key", root_key)?;
            for c in members.certs().values() {
                crate::node::store_cert(wtx, c)?;
            }
            for (id, doc) in docs {
                wtx.put_doc(&id, DocType::Network, doc, None)?;
            }
            Ok(())
        })?;
        Node::open(dir, clock)
    }
}
