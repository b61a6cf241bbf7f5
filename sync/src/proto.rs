//! The wire format of the sync protocol (`yizhan/sync/2`) and of enrolment (`yizhan/enrol/1`).
//!
//! Every message is one frame: a 4-byte big-endian length, then the message encoded with
//! postcard. From protocol version 3 on (negotiated in the hello, see [`crate::session`]), a
//! message may travel compressed as a whole inside [`Msg::Packed`] ([`crate::wire`]); the
//! variants before it are encoded exactly as version 2 encodes them, so a version 2 peer reads
//! every frame a version 3 node sends it. Version 4 adds [`Msg::Saved`] after it, sent only to
//! peers that speak version 4. A frame longer than [`MAX_FRAME`] is refused before anything is
//! allocated for it; a frame that does not decode closes the connection. Decoding never panics
//! on any input (a fuzz target and a property test check that).

use serde::{Deserialize, Serialize};
use yizhan_node::replica::RemoteDoc;

/// The longest frame accepted, in bytes.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// The most documents offered in one `Have`.
pub const MAX_HAVE: usize = 2_000;
/// Aim for `Changes` / `Sync` frames of about this size; a single document may exceed it. Each
/// frame is committed on arrival, so this is also how much a link that drops mid-transfer can
/// lose: 256 KiB is half a minute at 64 kbit/s, and costs a fast link nothing measurable (a
/// transaction per frame instead of per 2 MiB).
pub const TARGET_BATCH_BYTES: usize = 256 * 1024;
/// The same aim for packed frames (protocol version 3), counted in uncompressed changes: packed,
/// a frame of cases shrinks about fivefold, to about what a version 2 frame is on the wire, and
/// the receiver commits a quarter as many transactions.
pub const TARGET_RAW_BATCH_BYTES: usize = 1024 * 1024;

/// Number of buckets in a [`Msg::Buckets`] summary.
pub const BUCKETS: usize = 256;

/// A change hash.
pub type Hash = [u8; 32];

/// A document and its heads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocHeads {
    /// Document id.
    pub id: String,
    /// Heads.
    pub heads: Vec<Hash>,
}

/// A document's encoded changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChanges {
    /// Document id.
    pub id: String,
    /// Encoded Automerge changes.
    pub changes: Vec<Vec<u8>>,
}

/// Changes received are applied as the store's [`RemoteDoc`]s.
impl From<DocChanges> for RemoteDoc {
    fn from(d: DocChanges) -> RemoteDoc {
        RemoteDoc::changes(d.id, d.changes)
    }
}

/// A whole document, as stored: for a peer that never held it (version 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocSaved {
    /// Document id.
    pub id: String,
    /// The document's bytes: a document chunk, possibly followed by change chunks, as
    /// `Automerge::load` reads them.
    pub bytes: Vec<u8>,
}

/// Whole documents received are applied as the store's [`RemoteDoc`]s.
impl From<DocSaved> for RemoteDoc {
    fn from(d: DocSaved) -> RemoteDoc {
        RemoteDoc::saved(d.id, d.bytes)
    }
}

/// One Automerge sync-protocol message for one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocSync {
    /// Document id.
    pub id: String,
    /// An encoded `automerge::sync::Message`.
    pub message: Vec<u8>,
}

/// A sync-protocol message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// The first message each side sends.
    Hello {
        /// Protocol version ([`crate::session::VERSION`]).
        version: u32,
        /// The network's id.
        network_id: String,
        /// The sender's certificate (JSON), then its issuers' up to the root.
        chain: Vec<String>,
        /// The sender's `seq` now.
        seq: i64,
        /// The sender's watermark of the receiver: it has everything the receiver wrote up to
        /// this `seq` (in scope).
        since: i64,
        /// A digest of every certificate the sender knows, to skip the exchange when equal.
        certs_digest: Hash,
        /// The sender's wall clock now (ms since the Unix epoch), uncorrected.
        now_ms: i64,
        /// The sender's estimated offset from the city's clock (0 at the city; none before it
        /// has one): with `now_ms`, the receiver estimates its own offset (`yizhan_node::skew`).
        clock_offset_ms: Option<i64>,
    },
    /// Certificates the receiver may not know (JSON).
    Certs {
        /// The certificates.
        certs: Vec<String>,
    },
    /// Documents written after the receiver's watermark, up to `upto`, with their heads.
    Have {
        /// The documents (at most [`MAX_HAVE`]).
        docs: Vec<DocHeads>,
        /// Every document the sender wrote up to this `seq` (in scope) has been offered.
        upto: i64,
    },
    /// The sender lacks something of these offered documents; here are its heads (empty when it
    /// lacks the document). The receiver answers with exactly the missing changes when it knows
    /// every head listed, and with Automerge's sync protocol when the histories diverged.
    Want {
        /// The documents and the sender's heads.
        docs: Vec<DocHeads>,
    },
    /// A summary instead of a full offer, when the receiver has no watermark of the sender (first
    /// contact, or a lost watermark): every document in scope for both, hashed with its heads
    /// into [`BUCKETS`] buckets. The receiver asks for the buckets that differ from its own.
    Buckets {
        /// One hash per bucket.
        hashes: Vec<[u8; 16]>,
        /// The sender's `seq` the summary was taken at.
        upto: i64,
    },
    /// The buckets whose documents the sender wants offered in full.
    BucketWant {
        /// Bucket numbers.
        buckets: Vec<u16>,
    },
    /// Changes the receiver lacks, computed from heads it offered.
    Changes {
        /// The documents.
        docs: Vec<DocChanges>,
    },
    /// Automerge sync-protocol messages, for documents whose histories have diverged or that
    /// the sender lacks.
    Sync {
        /// The messages.
        docs: Vec<DocSync>,
    },
    /// The sender has nothing more to send and is waiting for nothing.
    Idle {
        /// Every document the sender wrote up to this `seq` (in the receiver's scope) has been
        /// offered to the receiver or came from it: the receiver may move its watermark here.
        upto: i64,
    },
    /// The sender refuses to continue.
    Refused {
        /// Why, as data.
        kind: crate::Denial,
        /// Why, in words.
        reason: String,
    },
    /// The sender holds every document the receiver wrote up to this `seq` (in the sender's
    /// scope): the receiver's count of what the sender still lacks starts after it. Sent
    /// whenever the sender's watermark of the receiver moves, so both sides know, after an
    /// exchange, that nothing is pending.
    Ack {
        /// The receiver's `seq`.
        upto: i64,
    },
    /// Another message compressed as a whole (version 3; [`crate::wire`]). Postcard numbers
    /// variants in order: every variant before this one is numbered as version 2 numbers it, and
    /// variants after it are only sent to peers of the version that added them.
    Packed(crate::wire::Packed),
    /// Whole documents the receiver asked for without holding them (a `Want` with no heads), as
    /// the sender stores them (version 4): the sender reads them without any Automerge work, and
    /// the receiver loads each once instead of applying its changes one by one.
    Saved {
        /// The documents.
        docs: Vec<DocSaved>,
    },
}

/// A request on the enrolment protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The ticket's one-time secret.
    pub secret: String,
}

/// The answer on the enrolment protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinReply {
    /// Welcome: the certificate, the known certificates, the network documents.
    Welcome {
        /// The new node's certificate (JSON).
        cert: String,
        /// Certificates the parent knows (JSON).
        certs: Vec<String>,
        /// The network documents: id and saved bytes.
        docs: Vec<(String, Vec<u8>)>,
    },
    /// Refused.
    Refused {
        /// Why.
        reason: String,
    },
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The announced length is over the limit.
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    /// The bytes are not a message.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// Encodes a message as a frame (length prefix included).
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let body = postcard::to_stdvec(msg).unwrap_or_default();
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Checks a frame's announced length.
pub fn check_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        Err(FrameError::TooLarge(len))
    } else {
        Ok(len)
    }
}

/// Decodes a frame body (without the length prefix).
pub fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FrameError> {
    let (msg, rest) =
        postcard::take_from_bytes(body).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(FrameError::Malformed(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    Ok(msg)
}

/// Decodes a whole frame (length prefix included), as a fuzz target and tests use it.
pub fn decode_frame(frame: &[u8]) -> Result<Msg, FrameError> {
    let header: [u8; 4] = frame
        .get(..4)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| FrameError::Malformed("short frame".into()))?;
    let len = check_len(header)?;
    let body = frame.get(4..).unwrap_or_default();
    if body.len() != len {
        return Err(FrameError::Malformed(format!(
            "frame says {len} bytes, has {}",
            body.len()
        )));
    }
    decode(body)
}

/// The approximate encoded size of a message, for batching.
pub fn size_of(msg: &Msg) -> usize {
    match msg {
        Msg::Changes { docs } => docs
            .iter()
            .map(|d| d.id.len() + d.changes.iter().map(|c| c.len() + 4).sum::<usize>() + 8)
            .sum(),
        Msg::Sync { docs } => docs.iter().map(|d| d.id.len() + d.message.len() + 8).sum(),
        Msg::Saved { docs } => docs.iter().map(|d| d.id.len() + d.bytes.len() + 8).sum(),
        Msg::Have { docs, .. } | Msg::Want { docs } => docs
            .iter()
            .map(|d| d.id.len() + 32 * d.heads.len() + 4)
            .sum(),
        Msg::Packed(p) => p.bytes.len() + 8,
        _ => 64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hash() -> impl Strategy<Value = Hash> {
        proptest::array::uniform32(any::<u8>())
    }

    fn msg() -> impl Strategy<Value = Msg> {
        let s = || "[a-z0-9/-]{0,40}";
        prop_oneof![
            (
                any::<u32>(),
                s(),
                proptest::collection::vec(s(), 0..4),
                any::<i64>(),
                any::<i64>(),
                hash()
            )
                .prop_map(|(version, network_id, chain, seq, since, certs_digest)| {
                    Msg::Hello {
                        version,
                        network_id,
                        chain,
                        seq,
                        since,
                        certs_digest,
                        now_ms: seq.wrapping_mul(31),
                        clock_offset_ms: (since % 3 != 0).then_some(since),
                    }
                }),
            proptest::collection::vec(s(), 0..4).prop_map(|certs| Msg::Certs { certs }),
            (
                proptest::collection::vec((s(), proptest::collection::vec(hash(), 0..3)), 0..5),
                any::<i64>()
            )
                .prop_map(|(docs, upto)| Msg::Have {
                    docs: docs
                        .into_iter()
                        .map(|(id, heads)| DocHeads { id, heads })
                        .collect(),
                    upto
                }),
            proptest::collection::vec(
                (
                    s(),
                    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..3)
                ),
                0..4
            )
            .prop_map(|docs| Msg::Changes {
                docs: docs
                    .into_iter()
                    .map(|(id, changes)| DocChanges { id, changes })
                    .collect()
            }),
            // Documents with bytes: Automerge sync messages, or whole documents.
            (
                proptest::collection::vec(
                    (s(), proptest::collection::vec(any::<u8>(), 0..64)),
                    0..4
                ),
                any::<bool>()
            )
                .prop_map(|(docs, whole)| {
                    let docs = docs.into_iter();
                    if whole {
                        Msg::Saved {
                            docs: docs.map(|(id, bytes)| DocSaved { id, bytes }).collect(),
                        }
                    } else {
                        Msg::Sync {
                            docs: docs.map(|(id, message)| DocSync { id, message }).collect(),
                        }
                    }
                }),
            proptest::collection::vec((s(), proptest::collection::vec(hash(), 0..3)), 0..5)
                .prop_map(|docs| Msg::Want {
                    docs: docs
                        .into_iter()
                        .map(|(id, heads)| DocHeads { id, heads })
                        .collect()
                }),
            any::<i64>().prop_map(|upto| Msg::Idle { upto }),
            (
                proptest::collection::vec(proptest::array::uniform16(any::<u8>()), 0..4),
                any::<i64>()
            )
                .prop_map(|(hashes, upto)| Msg::Buckets { hashes, upto }),
            proptest::collection::vec(any::<u16>(), 0..8)
                .prop_map(|buckets| Msg::BucketWant { buckets }),
            s().prop_map(|reason| Msg::Refused {
                kind: crate::Denial::Revoked,
                reason
            }),
            any::<i64>().prop_map(|upto| Msg::Ack { upto }),
        ]
    }

    proptest! {
        #[test]
        fn every_message_round_trips(m in msg()) {
            let frame = encode(&m);
            prop_assert_eq!(decode_frame(&frame), Ok(m));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_frame(&bytes);
            let _ = decode::<Msg>(&bytes);
            let _ = decode::<JoinReply>(&bytes);
        }

        #[test]
        fn truncated_frames_are_errors(m in msg(), cut in 1usize..16) {
            let frame = encode(&m);
            let cut = cut.min(frame.len());
            prop_assert!(decode_frame(&frame[..frame.len() - cut]).is_err());
        }
    }

    #[test]
    fn oversized_frames_are_refused_before_reading() {
        assert_eq!(
            check_len(u32::MAX.to_be_bytes()),
            Err(FrameError::TooLarge(u32::MAX as usize))
        );
        assert!(check_len(((MAX_FRAME + 1) as u32).to_be_bytes()).is_err());
        assert_eq!(check_len((MAX_FRAME as u32).to_be_bytes()), Ok(MAX_FRAME));
    }

    #[test]
    fn a_huge_announced_vector_does_not_allocate() {
        // A Certs message claiming 2^60 entries must fail fast, not try to allocate.
        let mut body = vec![1u8];
        body.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(decode::<Msg>(&body).is_err());
    }
}
