//! Enrolment over the network: the inviting node's `yizhan/enrol/1` handler, which redeems a
//! ticket's secret and answers with the certificate and the network documents, and [`join`],
//! the joining side.

use super::*;

#[derive(Debug, Clone)]
pub(super) struct EnrolProtocol {
    pub(super) handle: NodeHandle,
}

impl ProtocolHandler for EnrolProtocol {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let joiner = node_id_hex(&connection.remote_id());
        let (mut send, mut recv) = connection.accept_bi().await?;
        let reply = match read_frame::<JoinRequest>(&mut recv).await {
            Ok(Some((req, _))) => {
                let j = joiner.clone();
                match on_store(&self.handle, move |node| {
                    node.redeem_invite(&req.secret, &j)
                })
                .await
                {
                    Ok(e) => JoinReply::Welcome {
                        cert: e.cert.to_json(),
                        certs: e.certs.iter().map(Cert::to_json).collect(),
                        docs: e.network_docs,
                    },
                    Err(e) => {
                        tracing::warn!(node = %short(&joiner), "enrolment refused: {e}");
                        JoinReply::Refused {
                            reason: e.to_string(),
                        }
                    }
                }
            }
            Ok(None) => JoinReply::Refused {
                reason: "empty request".into(),
            },
            Err(e) => JoinReply::Refused {
                reason: e.to_string(),
            },
        };
        let _ = send.write_all(&proto::encode(&reply)).await;
        let _ = send.finish();
        connection.closed().await;
        Ok(())
    }
}

/// Joins a network with a ticket: makes this machine's key, reaches the inviter, receives the
/// certificate and the network documents, and creates the store in `dir`.
pub async fn join(ticket: &Ticket, dir: &Path, clock: Clock) -> Result<Node, SyncError> {
    if clock.now_ms() > ticket.expires_at {
        return Err(SyncError::BadTicket(
            "it has expired; ask for a new one".into(),
        ));
    }
    let secret = generate_secret()?;
    let endpoint = bind_endpoint(
        &secret,
        SocketAddr::from(([0, 0, 0, 0], 0)),
        vec![],
        &Discovery::default(),
    )
    .await?;
    let mut addr = EndpointAddr::new(public_key(&ticket.inviter)?);
    for a in &ticket.addrs {
        if let Ok(sa) = a.parse::<SocketAddr>() {
            addr = addr.with_ip_addr(sa);
        }
    }
    let conn = endpoint
        .connect(addr, ENROL_ALPN)
        .await
        .map_err(|e| SyncError::Unreachable(format!("cannot reach the inviting station: {e}")))?;
    let (mut send, mut recv) = conn
        .open_bi()
        .await
        .map_err(|e| SyncError::Io(e.to_string()))?;
    send.write_all(&proto::encode(&JoinRequest {
        secret: ticket.secret.clone(),
    }))
    .await
    .map_err(|e| SyncError::Io(format!("write: {e}")))?;
    let _ = send.finish();
    let reply = read_frame::<JoinReply>(&mut recv).await?;
    conn.close(0u32.into(), b"thanks");
    endpoint.close().await;
    let (cert, certs, docs) = match reply {
        Some((JoinReply::Welcome { cert, certs, docs }, _)) => (cert, certs, docs),
        Some((JoinReply::Refused { reason }, _)) => {
            return Err(SyncError::Refused(Denial::Other, reason));
        }
        None => {
            return Err(SyncError::Io(
                "the inviting station closed without answering".into(),
            ));
        }
    };
    let enrolment = Enrolment {
        cert: Cert::from_json(&cert)?,
        certs: certs
            .iter()
            .map(|c| Cert::from_json(c))
            .collect::<Result<_, _>>()?,
        network_docs: docs,
    };
    if enrolment.cert.body.node_id != node_id_of(&secret) {
        return Err(SyncError::Unauthorized(
            Denial::NotMember,
            "the inviting station certified another node".into(),
        ));
    }
    let mut node = Node::join(
        dir,
        clock,
        &secret,
        &ticket.network_id,
        &ticket.root_key,
        &enrolment,
    )?;
    node.add_peer(&ticket.inviter, &ticket.addrs)?;
    // Everything in the new store came from the inviter: nothing is pending for it.
    let seq = node.seq()?;
    node.set_acked_seq(&ticket.inviter, seq)?;
    Ok(node)
}
