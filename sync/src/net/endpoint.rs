//! The iroh endpoint as every Yizhan node binds it: no public relays, the rural keep-alive and
//! idle timeouts, and mDNS or the city's relay where the station's settings ask for them.

use super::*;

fn transport_config() -> QuicTransportConfig {
    // Rural links drop for minutes or hours. Keep-alives every 5 s notice a dead link quickly; a
    // 30 s idle timeout frees the connection, and the dialer's backoff brings it back when the
    // link returns, resuming from the persisted watermark.
    let mut b = QuicTransportConfig::builder().keep_alive_interval(Duration::from_secs(5));
    if let Ok(t) = Duration::from_secs(30).try_into() {
        b = b.max_idle_timeout(Some(t));
    }
    b.build()
}

/// How a node finds and is found by others, beyond the addresses it is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Announce and look up nodes on the local network with mDNS (where multicast works).
    pub mdns: bool,
    /// A relay server run by the city (`iroh-relay`), for links where direct paths fail.
    pub relay_url: Option<String>,
}

/// Binds an iroh endpoint the way every Yizhan node does (no public relays unless `discovery`
/// names the city's, the rural keep-alive and idle timeouts) and accepting `alpns`. Public so
/// that the comparison benchmark's per-document peer runs on exactly the same transport.
pub async fn bind_endpoint(
    secret: &[u8; 32],
    listen: SocketAddr,
    alpns: Vec<Vec<u8>>,
    discovery: &Discovery,
) -> Result<Endpoint, SyncError> {
    let relay_mode = match &discovery.relay_url {
        None => RelayMode::Disabled,
        Some(url) => {
            let url: iroh::RelayUrl = url
                .parse()
                .map_err(|e| SyncError::Io(format!("invalid relay URL {url:?}: {e}")))?;
            RelayMode::Custom(iroh::RelayMap::from(url))
        }
    };
    let mut builder = Endpoint::builder(presets::Minimal)
        .secret_key(SecretKey::from_bytes(secret))
        .relay_mode(relay_mode)
        .alpns(alpns)
        .transport_config(transport_config());
    if discovery.mdns {
        builder = builder.address_lookup(
            iroh_mdns_address_lookup::MdnsAddressLookup::builder().service_name("yizhan"),
        );
    }
    builder
        .bind_addr(listen)
        .map_err(|e| SyncError::Io(format!("cannot listen on {listen}: {e}")))?
        .bind()
        .await
        .map_err(|e| SyncError::Io(format!("cannot start the endpoint: {e}")))
}
