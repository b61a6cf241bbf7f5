//! Membership certificates: who belongs to the network, at which station.
//!
//! The network has a root key, made by `init` and kept at the first city node. Every node holds
//! a certificate naming its node id (its Ed25519 public key, also its Automerge actor id), its
//! station (code, name, tier, parent) and its ordinal within the station, signed by the node that
//! enrolled it; the first city node's certificate is signed by the root key. Following issuers up
//! to the root proves membership without asking anyone, so a township can enrol a village while
//! the city is unreachable, and any node can check the author of any change it receives.
//!
//! Who may issue: the root issues city nodes; a city node issues nodes of any station; a township
//! node issues nodes of its own station and of villages directly under it; a village node issues
//! nothing. Stations that first appear in a certificate (a village enrolled by its township) join
//! the station tree of every node that verifies the certificate.

use crate::error::{NodeError, Result};
use crate::network::Station;
use crate::station::Tier;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const CONTEXT: &[u8] = b"yizhan/cert/1\0";
/// Longest issuer chain accepted (root → city → township → village is 3).
const MAX_DEPTH: usize = 6;

/// The signed part of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertBody {
    /// The network's id.
    pub network_id: String,
    /// The certified node (hex Ed25519 public key).
    pub node_id: String,
    /// The node's station.
    pub station: Station,
    /// The node's number within its station.
    pub ordinal: u32,
    /// The issuer: a node id, or the root key (hex).
    pub issuer: String,
    /// When it was issued (ms since the Unix epoch).
    pub issued_at: i64,
}

/// A membership certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cert {
    /// What is certified.
    pub body: CertBody,
    /// The issuer's Ed25519 signature over the body (hex).
    pub sig: String,
}

fn body_bytes(body: &CertBody) -> Vec<u8> {
    let mut out = CONTEXT.to_vec();
    // serde_json writes struct fields in declaration order, so the encoding is deterministic.
    out.extend(serde_json::to_vec(body).unwrap_or_default());
    out
}

fn bad(reason: impl Into<String>) -> NodeError {
    NodeError::BadCertificate(reason.into())
}

/// Parses a hex Ed25519 public key.
pub fn parse_key(hex_key: &str) -> Result<VerifyingKey> {
    let bytes = hex::decode(hex_key).map_err(|_| bad(format!("key {hex_key:?} is not hex")))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| bad(format!("key {hex_key:?} is not 32 bytes")))?;
    VerifyingKey::from_bytes(&arr)
        .map_err(|_| bad(format!("key {hex_key:?} is not a valid Ed25519 key")))
}

impl Cert {
    /// Issues a certificate signed by `issuer`.
    pub fn issue(issuer: &SigningKey, body_without_issuer: CertBody) -> Cert {
        let mut body = body_without_issuer;
        body.issuer = hex::encode(issuer.verifying_key().to_bytes());
        let sig = issuer.sign(&body_bytes(&body));
        Cert {
            body,
            sig: hex::encode(sig.to_bytes()),
        }
    }

    /// Checks the signature against the issuer key named in the body.
    pub fn check_signature(&self) -> Result<()> {
        let key = parse_key(&self.body.issuer)?;
        let sig_bytes = hex::decode(&self.sig).map_err(|_| bad("signature is not hex"))?;
        let sig = ed25519_dalek::Signature::from_slice(&sig_bytes)
            .map_err(|_| bad("signature is malformed"))?;
        key.verify_strict(&body_bytes(&self.body), &sig)
            .map_err(|_| {
                bad(format!(
                    "certificate of node {} has a bad signature",
                    short(&self.body.node_id)
                ))
            })
    }

    /// The compact text form used in tickets and on the wire.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses the text form.
    pub fn from_json(s: &str) -> Result<Cert> {
        serde_json::from_str(s).map_err(|e| bad(format!("certificate is malformed: {e}")))
    }
}

/// The first 8 hex digits of a node id, for messages.
pub fn short(node_id: &str) -> &str {
    node_id.get(..8).unwrap_or(node_id)
}

/// The certificates a node knows, and what they prove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    root_key: String,
    network_id: String,
    certs: BTreeMap<String, Cert>,
}

impl Members {
    /// An empty set for a network with this root key.
    pub fn new(network_id: &str, root_key: &str) -> Members {
        Members {
            root_key: root_key.to_string(),
            network_id: network_id.to_string(),
            certs: BTreeMap::new(),
        }
    }

    /// The network's root key (hex).
    pub fn root_key(&self) -> &str {
        &self.root_key
    }

    /// Every known certificate, by node id.
    pub fn certs(&self) -> &BTreeMap<String, Cert> {
        &self.certs
    }

    /// Adds a certificate after verifying its chain against what is already known. Adding a
    /// certificate already known is a no-op.
    pub fn add(&mut self, cert: Cert) -> Result<bool> {
        if self.certs.get(&cert.body.node_id) == Some(&cert) {
            return Ok(false);
        }
        self.verify(&cert)?;
        self.certs.insert(cert.body.node_id.clone(), cert);
        Ok(true)
    }

    /// Adds many certificates in any order (issuers before the nodes they issued are not needed
    /// first). Returns the ones that could not be verified, with why.
    pub fn add_all(&mut self, certs: Vec<Cert>) -> Vec<(Cert, NodeError)> {
        let mut pending = certs;
        loop {
            let before = pending.len();
            let mut still = Vec::new();
            let mut errors = Vec::new();
            for c in pending {
                match self.add(c.clone()) {
                    Ok(_) => {}
                    Err(e) => {
                        still.push(c.clone());
                        errors.push((c, e));
                    }
                }
            }
            if still.is_empty() || still.len() == before {
                return errors;
            }
            pending = still;
        }
    }

    /// Verifies a certificate's chain up to the root.
    pub fn verify(&self, cert: &Cert) -> Result<()> {
        let mut cur = cert.clone();
        for _ in 0..MAX_DEPTH {
            if cur.body.network_id != self.network_id {
                return Err(bad(format!(
                    "certificate of node {} is for another network",
                    short(&cur.body.node_id)
                )));
            }
            cur.check_signature()?;
            if cur.body.issuer == self.root_key {
                return if cur.body.station.tier() == Tier::City {
                    Ok(())
                } else {
                    Err(bad("the root key only certifies city nodes"))
                };
            }
            let issuer = self.certs.get(&cur.body.issuer).ok_or_else(|| {
                bad(format!(
                    "certificate of node {} was issued by unknown node {}",
                    short(&cur.body.node_id),
                    short(&cur.body.issuer)
                ))
            })?;
            check_may_issue(&issuer.body.station, &cur.body.station)?;
            cur = issuer.clone();
        }
        Err(bad("certificate chain is too long"))
    }

    /// The certificate of a node, if known.
    pub fn get(&self, node_id: &str) -> Option<&Cert> {
        self.certs.get(node_id)
    }

    /// Stations named by known certificates.
    pub fn stations(&self) -> impl Iterator<Item = &Station> {
        self.certs.values().map(|c| &c.body.station)
    }
}

/// Whether a node at station `issuer` may certify a node at station `subject`.
pub fn check_may_issue(issuer: &Station, subject: &Station) -> Result<()> {
    let ok = match issuer.tier() {
        Tier::City => true,
        Tier::Township => {
            subject.code == issuer.code
                || (subject.tier() == Tier::Village && subject.parent == issuer.code)
        }
        Tier::Village => false,
    };
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "a {} station ({}) may not enrol a node of {} station {}",
            issuer.tier(),
            issuer.code,
            subject.tier(),
            subject.code
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn station(code: &str, tier: &str, parent: &str) -> Station {
        Station {
            code: code.into(),
            name: code.into(),
            tier: tier.parse().expect("a tier"),
            parent: parent.into(),
        }
    }

    fn body(node: &SigningKey, st: Station) -> CertBody {
        CertBody {
            network_id: "net".into(),
            node_id: hex::encode(node.verifying_key().to_bytes()),
            station: st,
            ordinal: 1,
            issuer: String::new(),
            issued_at: 0,
        }
    }

    #[test]
    fn chain_root_city_township_village_verifies_in_any_order() {
        let (root, city, town, vill) = (key(1), key(2), key(3), key(4));
        let c_city = Cert::issue(&root, body(&city, station("C", "city", "")));
        let c_town = Cert::issue(&city, body(&town, station("T", "township", "C")));
        let c_vill = Cert::issue(&town, body(&vill, station("V", "village", "T")));
        let mut m = Members::new("net", &hex::encode(root.verifying_key().to_bytes()));
        let failed = m.add_all(vec![c_vill.clone(), c_town, c_city]);
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(m.certs().len(), 3);
        assert!(m.verify(&c_vill).is_ok());
    }

    #[test]
    fn forged_and_overreaching_certificates_are_refused() {
        let (root, city, town, vill, other) = (key(1), key(2), key(3), key(4), key(5));
        let mut m = Members::new("net", &hex::encode(root.verifying_key().to_bytes()));
        m.add(Cert::issue(&root, body(&city, station("C", "city", ""))))
            .unwrap();
        m.add(Cert::issue(
            &city,
            body(&town, station("T", "township", "C")),
        ))
        .unwrap();
        let tampered = {
            let mut c = Cert::issue(&town, body(&vill, station("V", "village", "T")));
            c.body.station.tier = Tier::City;
            c
        };
        let elsewhere = {
            let mut b = body(&vill, station("V", "village", "T"));
            b.network_id = "other".into();
            Cert::issue(&town, b)
        };
        let village = |issuer: &SigningKey, parent: &str| {
            Cert::issue(issuer, body(&vill, station("V", "village", parent)))
        };
        // Each refusal with the words its reason must contain (none asked of the last).
        for (what, cert, reason) in [
            (
                "another township's village",
                village(&town, "T2"),
                "may not enrol",
            ),
            ("an unknown issuer", village(&other, "T"), "unknown node"),
            ("a tampered body", tampered, "bad signature"),
            ("another network", elsewhere, "another network"),
            ("the root makes only city nodes", village(&root, "T"), ""),
        ] {
            let err = m.add(cert).expect_err(what);
            assert!(err.to_string().contains(reason), "{what}: {err}");
        }
    }

    #[test]
    fn json_round_trips_and_garbage_is_an_error() {
        let c = Cert::issue(&key(1), body(&key(2), station("C", "city", "")));
        assert_eq!(Cert::from_json(&c.to_json()).unwrap(), c);
        assert!(Cert::from_json("{\"body\":1}").is_err());
        assert!(parse_key("zz").is_err());
        assert!(parse_key("00").is_err());
    }
}
