//! A plain-UDP transfer for checking a link: no TCP, no QUIC, just numbered datagrams and
//! acknowledgements, so that what the relay counts can be compared byte for byte with what was
//! sent.
//!
//! The sender cuts `bytes` into datagrams of at most [`DATAGRAM`] bytes *including* the 9-byte
//! header (kind, sequence number, count), so the data datagrams add up to exactly `bytes` and a
//! loss-free link forwards exactly that many bytes. It keeps at most [`WINDOW`] datagrams
//! unacknowledged, which keeps the relay's queue from overflowing while still filling a
//! 64 kbit/s, 300 ms link; a datagram not acknowledged within the retransmission timeout (from a
//! smoothed round-trip estimate, Karn's rule) is sent again. When everything is acknowledged it
//! sends a few `F` datagrams so the receiver stops at once instead of waiting for its idle limit.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// The size of a full data datagram (QUIC's usual packet size).
pub const DATAGRAM: usize = 1200;

/// Datagrams in flight at most: 9,600 bytes, more than a 64 kbit/s × 300 ms link holds
/// (2,400 bytes) and less than the relay's default queue.
pub const WINDOW: usize = 8;

const HEADER: usize = 9;
const DATA: u8 = b'D';
const ACK: u8 = b'A';
const FIN: u8 = b'F';

/// What the sender saw.
#[derive(Debug, Clone, Serialize)]
pub struct SendReport {
    /// Payload bytes of the data datagrams (each counted once).
    pub bytes: u64,
    /// Data datagrams.
    pub datagrams: u64,
    /// Data datagrams sent again after a timeout.
    pub retransmits: u64,
    /// From the first datagram to the last acknowledgement.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
}

/// What the receiver saw.
#[derive(Debug, Clone, Serialize)]
pub struct RecvReport {
    /// Bytes of distinct data datagrams received.
    pub unique_bytes: u64,
    /// Distinct data datagrams.
    pub datagrams: u64,
    /// Data datagrams received more than once.
    pub duplicates: u64,
    /// From the first data datagram to the last new one.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// Whether the sender said it was done (otherwise the receiver gave up after its idle
    /// limit).
    pub finished: bool,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The sizes of the datagrams that carry `bytes`: full ones, then the remainder, never one
/// smaller than a header (a short tail is merged into the one before).
fn sizes(bytes: usize) -> Vec<usize> {
    let bytes = bytes.max(HEADER);
    let mut v = vec![DATAGRAM; bytes / DATAGRAM];
    let rest = bytes % DATAGRAM;
    if rest >= HEADER || v.is_empty() {
        v.push(rest.max(HEADER));
    } else if let Some(last) = v.last_mut() {
        // A full datagram plus a tiny tail is still under any MTU worth emulating.
        *last += rest;
    }
    v
}

/// The retransmission timeout as TCP computes it (RFC 6298): smoothed round trip plus four
/// times its variation, doubled after each timeout until a fresh sample arrives. The variation
/// term matters here: behind a 64 kbit/s cap the round trip grows from milliseconds to seconds as
/// the queue fills, and a timeout that lags behind resends datagrams that were only queued.
#[derive(Debug, Default)]
struct RttEstimate {
    srtt: Option<Duration>,
    rttvar: Duration,
    backoff: u32,
}

impl RttEstimate {
    fn sample(&mut self, rtt: Duration) {
        self.backoff = 0;
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(s) => {
                let err = s.abs_diff(rtt);
                self.rttvar = (self.rttvar * 3 + err) / 4;
                self.srtt = Some((s * 7 + rtt) / 8);
            }
        }
    }

    fn back_off(&mut self) {
        self.backoff = (self.backoff + 1).min(4);
    }

    fn rto(&self) -> Duration {
        // Generous before the first sample: a full queue at 64 kbit/s alone is two seconds.
        let base = self.srtt.map_or(Duration::from_secs(3), |s| {
            (s + (self.rttvar * 4).max(Duration::from_millis(100))).max(Duration::from_secs(1))
        });
        base * (1 << self.backoff)
    }
}

/// Sends `bytes` to `to` from `sock`, paced by acknowledgements; fails after `limit`.
pub async fn send(
    sock: &UdpSocket,
    to: SocketAddr,
    bytes: usize,
    limit: Duration,
) -> Result<SendReport> {
    let sizes = sizes(bytes);
    let count = u32::try_from(sizes.len())?;
    let started = Instant::now();
    let deadline = started + limit;
    let mut sent_at: Vec<Option<Instant>> = vec![None; sizes.len()];
    let mut resent = vec![false; sizes.len()];
    let mut acked = vec![false; sizes.len()];
    let mut unacked_in_flight = 0usize;
    let mut next = 0usize;
    let mut done = 0usize;
    let mut retransmits = 0u64;
    let mut rtt = RttEstimate::default();
    let mut buf = vec![0u8; 64];
    let mut datagram = vec![0u8; DATAGRAM * 2];
    let frame = |seq: usize, buf: &mut Vec<u8>| -> usize {
        let len = sizes[seq];
        buf.resize(len, 0);
        buf[0] = DATA;
        buf[1..5].copy_from_slice(&(seq as u32).to_be_bytes());
        buf[5..9].copy_from_slice(&count.to_be_bytes());
        len
    };
    while done < sizes.len() {
        if Instant::now() > deadline {
            bail!(
                "probe: {done} of {} datagrams acknowledged after {} s",
                sizes.len(),
                limit.as_secs()
            );
        }
        while unacked_in_flight < WINDOW && next < sizes.len() {
            let len = frame(next, &mut datagram);
            sock.send_to(&datagram[..len], to).await?;
            sent_at[next] = Some(Instant::now());
            unacked_in_flight += 1;
            next += 1;
        }
        let rto = rtt.rto();
        let oldest = sent_at
            .iter()
            .zip(&acked)
            .filter_map(|(s, a)| if *a { None } else { *s })
            .min();
        let wake = oldest.map_or(deadline, |t| (t + rto).min(deadline));
        match tokio::time::timeout_at(wake, sock.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => {
                if n < 5 || buf[0] != ACK {
                    continue;
                }
                let seq = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
                if seq >= sizes.len() || acked[seq] {
                    continue;
                }
                acked[seq] = true;
                done += 1;
                unacked_in_flight -= 1;
                if let (Some(t), false) = (sent_at[seq], resent[seq]) {
                    rtt.sample(t.elapsed());
                }
            }
            Ok(Err(e)) => {
                // An ICMP error from an earlier send surfaces here; the next timeout resends.
                if e.kind() != std::io::ErrorKind::ConnectionRefused {
                    return Err(e.into());
                }
            }
            Err(_) => {
                let now = Instant::now();
                for seq in 0..next {
                    let expired = !acked[seq] && sent_at[seq].is_some_and(|t| t + rto <= now);
                    if expired {
                        let len = frame(seq, &mut datagram);
                        sock.send_to(&datagram[..len], to).await?;
                        sent_at[seq] = Some(Instant::now());
                        resent[seq] = true;
                        retransmits += 1;
                    }
                }
                rtt.back_off();
            }
        }
    }
    let elapsed = started.elapsed();
    for _ in 0..3 {
        sock.send_to(&[FIN], to).await?;
    }
    Ok(SendReport {
        bytes: sizes.iter().sum::<usize>() as u64,
        datagrams: sizes.len() as u64,
        retransmits,
        elapsed,
    })
}

/// Receives one transfer on `sock`, acknowledging every data datagram to its source; ends at the
/// sender's `F` or after `idle` without a datagram.
pub async fn receive(sock: UdpSocket, idle: Duration) -> Result<RecvReport> {
    let mut seen = HashSet::new();
    let mut unique_bytes = 0u64;
    let mut duplicates = 0u64;
    let mut first: Option<Instant> = None;
    let mut last_new = Instant::now();
    let mut buf = vec![0u8; 65_535];
    let mut finished = false;
    loop {
        let (n, from) = match tokio::time::timeout(idle, sock.recv_from(&mut buf)).await {
            Ok(Ok(x)) => x,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => break,
        };
        if n >= 1 && buf[0] == FIN {
            finished = true;
            break;
        }
        if n < HEADER || buf[0] != DATA {
            continue;
        }
        let now = Instant::now();
        first.get_or_insert(now);
        let seq = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
        if seen.insert(seq) {
            unique_bytes += n as u64;
            last_new = now;
        } else {
            duplicates += 1;
        }
        let mut ack = [ACK, 0, 0, 0, 0];
        ack[1..5].copy_from_slice(&seq.to_be_bytes());
        // A lost acknowledgement is repaired by the sender's retransmission, so a failed send
        // here is not an error.
        let _ = sock.send_to(&ack, from).await;
    }
    Ok(RecvReport {
        unique_bytes,
        datagrams: seen.len() as u64,
        duplicates,
        elapsed: first.map_or(Duration::ZERO, |f| last_new.saturating_duration_since(f)),
        finished,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagram_sizes_add_up_to_the_transfer() {
        for bytes in [0, 1, 9, 10, 1199, 1200, 1201, 1205, 1209, 2400, 65_536] {
            let s = sizes(bytes);
            assert_eq!(s.iter().sum::<usize>(), bytes.max(HEADER), "{bytes}");
            assert!(s.iter().all(|n| (HEADER..DATAGRAM + HEADER).contains(n)));
        }
    }
}
