//! The in-memory network: a root key, stations, and nodes with real certificates whose keys are
//! derived from a seed.

use super::NOW;
use super::replica::MemReplica;
use automerge::ActorId;
use ed25519_dalek::SigningKey;
use yizhan_node::cert::{Cert, CertBody, Members};
use yizhan_node::network::{Roster, Station};
use yizhan_node::station::Tier;
use yizhan_node::{NodeError, Result};

/// A deterministic 32-byte key for `(seed, n)`.
fn derive_key(seed: u64, n: u64) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"yizhan/testing/key\0");
    h.update(seed.to_le_bytes());
    h.update(n.to_le_bytes());
    h.finalize().into()
}

fn node_id(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

/// A network made in memory: its root key, its stations and the nodes enrolled so far.
#[derive(Debug)]
pub struct MemNetwork {
    seed: u64,
    keys: u64,
    network_id: String,
    root: SigningKey,
    roster: Roster,
    /// The first city node, which certifies every other node (the root certifies only cities).
    issuer: Option<(SigningKey, Cert)>,
}

impl MemNetwork {
    /// A network whose city station is `C`; `seed` decides every key.
    pub fn new(seed: u64) -> MemNetwork {
        let root = SigningKey::from_bytes(&derive_key(seed, 0));
        let network_id = format!("mem-{seed:016x}");
        let roster = Roster::new(
            network_id.clone(),
            "测试市".into(),
            node_id(&root),
            station("C", Tier::City, ""),
        );
        MemNetwork {
            seed,
            keys: 1,
            network_id,
            root,
            roster,
            issuer: None,
        }
    }

    /// Adds a station below `parent`, with the roster's own checks.
    pub fn add_station(&mut self, code: &str, tier: Tier, parent: &str) -> Result<()> {
        self.roster.add_station(station(code, tier, parent))
    }

    /// One new node of each station in `codes`, in order (see [`MemNetwork::replica`]).
    pub fn replicas<const N: usize>(&mut self, codes: [&str; N]) -> Result<[MemReplica; N]> {
        let mut nodes = Vec::with_capacity(N);
        for code in codes {
            nodes.push(self.replica(code)?);
        }
        Ok(nodes
            .try_into()
            .unwrap_or_else(|_| unreachable!("one node per code")))
    }

    /// A new node of station `code` with a certificate chained to the root, holding no
    /// documents. It knows the stations added so far.
    pub fn replica(&mut self, code: &str) -> Result<MemReplica> {
        let st = self
            .roster
            .station(code)
            .cloned()
            .ok_or_else(|| NodeError::UnknownStation(code.to_string()))?;
        let key = SigningKey::from_bytes(&derive_key(self.seed, self.keys));
        self.keys += 1;
        let ordinal = u32::try_from(self.keys).unwrap_or(u32::MAX);
        let body = |issuer: String| CertBody {
            network_id: self.network_id.clone(),
            node_id: node_id(&key),
            station: st.clone(),
            ordinal,
            issuer,
            issued_at: NOW,
        };
        let mut chain = Vec::new();
        let cert = match &self.issuer {
            Some((issuer, issuer_cert)) => {
                chain.push(issuer_cert.clone());
                Cert::issue(issuer, body(node_id(issuer)))
            }
            None if st.tier() == Tier::City => {
                let cert = Cert::issue(&self.root, body(node_id(&self.root)));
                self.issuer = Some((key.clone(), cert.clone()));
                cert
            }
            None => {
                return Err(NodeError::BadCertificate(
                    "the first node of a network is a city node".into(),
                ));
            }
        };
        chain.push(cert);
        let mut members = Members::new(&self.network_id, &node_id(&self.root));
        if let Some((c, e)) = members.add_all(chain).into_iter().next() {
            return Err(NodeError::BadCertificate(format!(
                "{}: {e}",
                c.body.node_id
            )));
        }
        Ok(MemReplica::new(
            node_id(&key),
            ActorId::from(key.verifying_key().to_bytes().to_vec()),
            &self.network_id,
            code,
            members,
            self.roster.clone(),
        ))
    }
}

fn station(code: &str, tier: Tier, parent: &str) -> Station {
    Station::new(code, &format!("{code}站"), tier, parent)
}
