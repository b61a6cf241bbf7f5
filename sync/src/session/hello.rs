//! Step 1, the hello: the peer's certificate chain verified, the version both speak settled,
//! the watermarks exchanged, and the first offers (or a bucket summary) sent.

use super::buckets::{REPAIR_MIN, bucket_hashes};
use super::*;

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_hello<R: Replica + ?Sized>(
        &mut self,
        node: &mut R,
        version: u32,
        network_id: &str,
        chain: &[String],
        peer_seq: i64,
        since: i64,
        digest: Hash,
    ) -> Result<Vec<Msg>, SyncError> {
        if self.hello_received {
            return Err(SyncError::Protocol("a second hello".into()));
        }
        // The acceptor takes the dialer's version when it speaks it; the dialer takes the
        // acceptor's answer, which is never above what it offered.
        if !(MIN_VERSION..=self.version).contains(&version) {
            return Err(SyncError::Unauthorized(
                Denial::Version,
                format!(
                    "peer speaks protocol version {version}, this node {MIN_VERSION} to {}",
                    self.version
                ),
            ));
        }
        self.version = version;
        if network_id != self.network_id {
            return Err(SyncError::Unauthorized(
                Denial::OtherNetwork,
                "the peer belongs to another network".into(),
            ));
        }
        if node.is_revoked(&self.peer) {
            return Err(SyncError::Unauthorized(
                Denial::Revoked,
                format!("node {} has been revoked", short(&self.peer)),
            ));
        }
        let certs: Vec<Cert> = chain
            .iter()
            .map(|c| Cert::from_json(c))
            .collect::<Result<_, _>>()?;
        let leaf = certs.first().ok_or_else(|| {
            SyncError::Unauthorized(Denial::NotMember, "the peer sent no certificate".into())
        })?;
        if leaf.body.node_id != self.peer {
            return Err(SyncError::Unauthorized(
                Denial::NotMember,
                "the peer's certificate is for another node".into(),
            ));
        }
        let (_, failed) = node.add_certs(certs.clone())?;
        if let Some((_, e)) = failed
            .into_iter()
            .find(|(c, _)| c.body.node_id == self.peer)
        {
            return Err(SyncError::Unauthorized(Denial::NotMember, e.to_string()));
        }
        let cert = node
            .member(&self.peer)
            .map_err(|e| SyncError::Unauthorized(Denial::NotMember, e.to_string()))?;
        self.peer_scope = Some(node.scope_of(&cert.body.station.code));
        self.peer_cert = Some(cert);
        self.hello_received = true;
        node.record_contact(&self.peer, Contact::Connected)?;
        let my_seq = node.seq()?;
        // A watermark beyond this node's seq means this store was replaced: start over.
        self.offered_upto = if since > my_seq || since < 0 {
            0
        } else {
            since
        };
        node.set_acked_seq(&self.peer, self.offered_upto)?;
        self.peer_since = self.offered_upto;
        self.peer_hello_seq = peer_seq;
        let mut out = Vec::new();
        if !self.hello_sent {
            out.push(self.hello(node)?);
        }
        let mine = certs_digest(node);
        if digest != mine {
            out.push(Msg::Certs {
                certs: node.members().certs().values().map(Cert::to_json).collect(),
            });
        }
        self.certs_shared = Some(mine);
        if self.offered_upto == 0 {
            // No watermark: summarise instead of listing every document's heads; the peer asks
            // only for the buckets that differ.
            let all = node.changed_since(0, &self.scope()?.clone(), usize::MAX)?;
            if all.len() >= REPAIR_MIN {
                self.bucket_upto = Some(my_seq);
                out.push(Msg::Buckets {
                    hashes: bucket_hashes(&all),
                    upto: my_seq,
                });
                return Ok(out);
            }
        }
        out.extend(self.offers(node)?);
        Ok(out)
    }
}
